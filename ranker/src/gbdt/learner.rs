//! The histogram tree learner: grows one tree leaf-wise (always splitting the
//! leaf whose best split lowers the loss most, LightGBM's strategy) from
//! gradients and hessians over binned features.
//!
//! Each leaf keeps a histogram (sum of gradients, of hessians and a count per
//! bin of every feature). Splitting a leaf builds the histogram of the smaller
//! child from its rows and gets the larger one by subtraction from the parent.
//! Histograms are built one feature per task, each over its rows in order, so
//! the result does not depend on the number of threads.

use rayon::prelude::*;

use super::bins::BinnedMatrix;
use super::tree::{Node, Tree};

/// What limits a tree's growth (LightGBM's defaults in [`Default`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    /// Most leaves per tree.
    pub num_leaves: usize,
    /// Fewest training rows in a leaf.
    pub min_data_in_leaf: usize,
    /// Smallest sum of hessians in a leaf.
    pub min_sum_hessian_in_leaf: f64,
    /// L2 penalty on leaf outputs (λ in −G / (H + λ)).
    pub lambda_l2: f64,
    /// A split must lower the loss by more than this.
    pub min_gain_to_split: f64,
    /// Deepest leaf (root depth 0); `None` for no limit.
    pub max_depth: Option<usize>,
    /// Multiplies every leaf output.
    pub learning_rate: f64,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            num_leaves: 31,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            max_depth: None,
            learning_rate: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
    left: Bin,
}

#[derive(Debug)]
struct Leaf {
    begin: usize,
    end: usize,
    total: Bin,
    depth: usize,
    hist: Option<Vec<Bin>>,
    best: Option<Split>,
    /// The node pointing at this leaf and whether it is that node's left child.
    parent: Option<(usize, bool)>,
}

/// Grows trees over one binned matrix; reusable across boosting rounds.
#[derive(Debug)]
pub struct TreeLearner<'a> {
    x: &'a BinnedMatrix,
    indices: Vec<u32>,
    scratch: Vec<u32>,
    /// Histograms no leaf holds any more, for reuse.
    pool: Vec<Vec<Bin>>,
}

/// Rows per task when a histogram is built in parallel; the partial
/// histograms of fixed-size chunks are summed in chunk order, so the result
/// does not depend on the number of threads.
const CHUNK_ROWS: usize = 8192;

impl<'a> TreeLearner<'a> {
    /// A learner over `x`.
    pub fn new(x: &'a BinnedMatrix) -> Self {
        Self {
            x,
            indices: (0..x.rows as u32).collect(),
            scratch: Vec::with_capacity(x.rows),
            pool: Vec::new(),
        }
    }

    /// Grows one tree; `features` says which features may split (feature
    /// sampling). Returns the tree and, for each leaf, the training rows it
    /// holds (so the booster can update scores without predicting).
    pub fn grow(
        &mut self,
        grad: &[f64],
        hess: &[f64],
        features: &[bool],
        p: &TreeParams,
    ) -> (Tree, Vec<Vec<u32>>) {
        let rows = self.x.rows;
        for (i, r) in self.indices.iter_mut().enumerate() {
            *r = i as u32;
        }
        let total = sum_rows(&self.indices, grad, hess);
        let mut root_hist = take_hist(&mut self.pool, self.x.total_bins());
        fill_histogram(self.x, &self.indices, grad, hess, total, &mut root_hist);
        let mut leaves = vec![Leaf {
            begin: 0,
            end: rows,
            total,
            depth: 0,
            best: None,
            hist: Some(root_hist),
            parent: None,
        }];
        leaves[0].best = self.best_split(&leaves[0], features, p);
        let mut nodes: Vec<Node> = Vec::new();
        while leaves.len() < p.num_leaves {
            let Some((li, split)) = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.map(|s| (i, s)))
                .fold(None, |acc: Option<(usize, Split)>, (i, s)| match acc {
                    Some((_, b)) if b.gain >= s.gain => acc,
                    _ => Some((i, s)),
                })
            else {
                break;
            };
            if split.gain <= p.min_gain_to_split {
                break;
            }
            // Partition the leaf's rows, stably: left first.
            let (begin, end) = (leaves[li].begin, leaves[li].end);
            let codes = self.x.feature(split.feature);
            self.scratch.clear();
            let mut w = begin;
            for k in begin..end {
                let r = self.indices[k];
                if usize::from(codes[r as usize]) <= split.bin {
                    self.indices[w] = r;
                    w += 1;
                } else {
                    self.scratch.push(r);
                }
            }
            self.indices[w..end].copy_from_slice(&self.scratch);
            let mid = w;

            let node = nodes.len();
            let new_leaf = leaves.len();
            nodes.push(Node {
                feature: split.feature as u32,
                threshold: self.x.bins[split.feature].upper(split.bin),
                left: !(li as i32),
                right: !(new_leaf as i32),
                gain: split.gain,
                count: (end - begin) as u32,
            });
            if let Some((pn, is_left)) = leaves[li].parent {
                if is_left {
                    nodes[pn].left = node as i32;
                } else {
                    nodes[pn].right = node as i32;
                }
            }
            let parent_total = leaves[li].total;
            let right_total = Bin {
                g: parent_total.g - split.left.g,
                h: parent_total.h - split.left.h,
                n: parent_total.n - split.left.n,
            };
            let depth = leaves[li].depth + 1;
            let parent_hist = leaves[li].hist.take();
            let (small_is_left, small) = if mid - begin <= end - mid {
                (true, &self.indices[begin..mid])
            } else {
                (false, &self.indices[mid..end])
            };
            let small_total = if small_is_left {
                split.left
            } else {
                right_total
            };
            let mut small_hist = take_hist(&mut self.pool, self.x.total_bins());
            fill_histogram(self.x, small, grad, hess, small_total, &mut small_hist);
            let large_hist = match parent_hist {
                Some(mut ph) => {
                    for (a, b) in ph.iter_mut().zip(&small_hist) {
                        a.g -= b.g;
                        a.h -= b.h;
                        a.n -= b.n;
                    }
                    ph
                }
                None => {
                    let (large, large_total) = if small_is_left {
                        (&self.indices[mid..end], right_total)
                    } else {
                        (&self.indices[begin..mid], split.left)
                    };
                    let mut h = take_hist(&mut self.pool, self.x.total_bins());
                    fill_histogram(self.x, large, grad, hess, large_total, &mut h);
                    h
                }
            };
            let (lh, rh) = if small_is_left {
                (small_hist, large_hist)
            } else {
                (large_hist, small_hist)
            };
            leaves[li] = Leaf {
                begin,
                end: mid,
                total: split.left,
                depth,
                hist: Some(lh),
                best: None,
                parent: Some((node, true)),
            };
            leaves.push(Leaf {
                begin: mid,
                end,
                total: right_total,
                depth,
                hist: Some(rh),
                best: None,
                parent: Some((node, false)),
            });
            for l in [li, new_leaf] {
                let best = self.best_split(&leaves[l], features, p);
                leaves[l].best = best;
                if best.is_none() {
                    if let Some(h) = leaves[l].hist.take() {
                        self.pool.push(h);
                    }
                }
            }
        }
        let values = leaves
            .iter()
            .map(|l| -l.total.g / (l.total.h + p.lambda_l2) * p.learning_rate)
            .collect();
        let members = leaves
            .iter()
            .map(|l| self.indices[l.begin..l.end].to_vec())
            .collect();
        for l in leaves {
            if let Some(h) = l.hist {
                self.pool.push(h);
            }
        }
        (
            Tree {
                nodes,
                leaves: values,
            },
            members,
        )
    }

    fn best_split(&self, leaf: &Leaf, features: &[bool], p: &TreeParams) -> Option<Split> {
        let hist = leaf.hist.as_ref()?;
        if leaf.end - leaf.begin < 2 * p.min_data_in_leaf.max(1)
            || p.max_depth.is_some_and(|d| leaf.depth >= d)
        {
            return None;
        }
        let t = leaf.total;
        let score = |g: f64, h: f64| g * g / (h + p.lambda_l2);
        let parent = score(t.g, t.h);
        let mut best: Option<Split> = None;
        for f in 0..self.x.bins.len() {
            let nb = self.x.offsets[f + 1] - self.x.offsets[f];
            if nb <= 1 || !features[f] {
                continue;
            }
            let h = &hist[self.x.offsets[f]..self.x.offsets[f + 1]];
            let mut left = Bin::default();
            for (b, bin) in h.iter().enumerate().take(nb - 1) {
                left.g += bin.g;
                left.h += bin.h;
                left.n += bin.n;
                let (rn, rh, rg) = (t.n - left.n, t.h - left.h, t.g - left.g);
                if (left.n as usize) < p.min_data_in_leaf || left.h < p.min_sum_hessian_in_leaf {
                    continue;
                }
                if (rn as usize) < p.min_data_in_leaf || rh < p.min_sum_hessian_in_leaf {
                    break;
                }
                let gain = score(left.g, left.h) + score(rg, rh) - parent;
                if best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b,
                        gain,
                        left,
                    });
                }
            }
        }
        best.filter(|s| s.gain.is_finite())
    }
}

fn take_hist(pool: &mut Vec<Vec<Bin>>, len: usize) -> Vec<Bin> {
    pool.pop().unwrap_or_else(|| vec![Bin::default(); len])
}

/// Fills `hist` with the sums of `rows` (whose totals are `total`): one
/// pass over the rows' sparse entries, then each feature's most frequent bin
/// as the total minus its other bins.
fn fill_histogram(
    x: &BinnedMatrix,
    rows: &[u32],
    grad: &[f64],
    hess: &[f64],
    total: Bin,
    hist: &mut [Bin],
) {
    let add = |rows: &[u32], hist: &mut [Bin]| {
        for &r in rows {
            let r = r as usize;
            let (g, h) = (grad[r], hess[r]);
            for &i in x.sparse_row(r) {
                let b = &mut hist[i as usize];
                b.g += g;
                b.h += h;
                b.n += 1;
            }
        }
    };
    hist.fill(Bin::default());
    if rows.len() >= 2 * CHUNK_ROWS {
        let parts: Vec<Vec<Bin>> = rows
            .par_chunks(CHUNK_ROWS)
            .map(|c| {
                let mut h = vec![Bin::default(); hist.len()];
                add(c, &mut h);
                h
            })
            .collect();
        for p in parts {
            for (a, b) in hist.iter_mut().zip(p) {
                a.g += b.g;
                a.h += b.h;
                a.n += b.n;
            }
        }
    } else {
        add(rows, hist);
    }
    for f in 0..x.bins.len() {
        let range = x.offsets[f]..x.offsets[f + 1];
        if range.len() <= 1 {
            continue;
        }
        let d = x.offsets[f] + usize::from(x.default_bin[f]);
        let mut rest = Bin::default();
        for (i, b) in hist[range].iter().enumerate() {
            if x.offsets[f] + i != d {
                rest.g += b.g;
                rest.h += b.h;
                rest.n += b.n;
            }
        }
        hist[d] = Bin {
            g: total.g - rest.g,
            h: total.h - rest.h,
            n: total.n - rest.n,
        };
    }
}

fn sum_rows(rows: &[u32], grad: &[f64], hess: &[f64]) -> Bin {
    let mut t = Bin::default();
    for &r in rows {
        t.g += grad[r as usize];
        t.h += hess[r as usize];
        t.n += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::matrix::FeatureMatrix;

    #[test]
    fn a_step_function_is_found_exactly() {
        // y = 1 where x0 > 0.5, else 0; x1 is noise. Gradients of squared
        // loss at 0 are −y, hessians 1.
        let n = 200;
        let mut values = Vec::new();
        let mut grad = Vec::new();
        for i in 0..n {
            let x0 = i as f32 / n as f32;
            let x1 = ((i * 37) % 11) as f32;
            values.extend([x0, x1]);
            grad.push(if x0 > 0.5 { -1.0 } else { 0.0 });
        }
        let x = FeatureMatrix::new(2, values).unwrap();
        let b = BinnedMatrix::new(&x, 255, 1);
        let mut learner = TreeLearner::new(&b);
        let p = TreeParams {
            num_leaves: 2,
            learning_rate: 1.0,
            ..TreeParams::default()
        };
        let (tree, members) = learner.grow(&grad, &vec![1.0; n], &[true, true], &p);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].feature, 0);
        assert!(
            (tree.nodes[0].threshold - 0.5025).abs() < 0.01,
            "{}",
            tree.nodes[0].threshold
        );
        assert_eq!(tree.predict(&[0.9, 0.0]), 1.0);
        assert_eq!(tree.predict(&[0.1, 0.0]), 0.0);
        assert_eq!(members.iter().map(Vec::len).sum::<usize>(), n);
        // Same tree when the only useful feature is masked: a split on noise or none.
        let (t2, _) = learner.grow(&grad, &vec![1.0; n], &[false, true], &p);
        assert!(t2.nodes.iter().all(|nd| nd.feature == 1));
    }

    #[test]
    fn leaves_respect_min_data_and_max_leaves() {
        let n = 500;
        let values: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32).collect();
        let grad: Vec<f64> = values.iter().map(|&v| (v as f64 / 50.0).sin()).collect();
        let x = FeatureMatrix::new(1, values.clone()).unwrap();
        let b = BinnedMatrix::new(&x, 255, 3);
        let mut learner = TreeLearner::new(&b);
        let p = TreeParams {
            num_leaves: 8,
            min_data_in_leaf: 40,
            ..TreeParams::default()
        };
        let (tree, members) = learner.grow(&grad, &vec![1.0; n], &[true], &p);
        assert_eq!(tree.leaves.len(), 8);
        assert!(tree.validate(1).is_ok());
        for (leaf, rows) in members.iter().enumerate() {
            assert!(rows.len() >= 40);
            for &r in rows {
                assert_eq!(tree.leaf_of(&[values[r as usize]]), leaf);
            }
        }
    }
}
