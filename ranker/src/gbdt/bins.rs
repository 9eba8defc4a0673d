//! Feature binning: every feature is cut once, before any tree, into at most
//! `max_bin` bins of roughly equal counts (LightGBM's `src/io/bin.cpp` does the
//! same job); the tree learner then works on small bin codes instead of floats.
//!
//! A bin is closed on the right: value `v` falls into the first bin whose upper
//! bound is `>= v`. Upper bounds sit half way between the last distinct value
//! of a bin and the first of the next, so a split "bin ≤ b" is the same test as
//! "value ≤ upper(b)" on values never seen in training.

use super::matrix::FeatureMatrix;

/// The cut points of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// Upper bound of each bin but the last (whose bound is +∞), increasing.
    pub uppers: Vec<f64>,
}

impl FeatureBins {
    /// Number of bins (at least 1).
    pub fn len(&self) -> usize {
        self.uppers.len() + 1
    }

    /// True when the feature has a single bin (one distinct value): no split
    /// can use it.
    pub fn is_empty(&self) -> bool {
        self.uppers.is_empty()
    }

    /// The bin of a value. NaN goes to bin 0, as it goes left at prediction.
    pub fn bin_of(&self, v: f32) -> usize {
        let v = f64::from(v);
        if v.is_nan() {
            return 0;
        }
        self.uppers.partition_point(|&u| u < v)
    }

    /// The upper bound of bin `b` (+∞ for the last).
    pub fn upper(&self, b: usize) -> f64 {
        self.uppers.get(b).copied().unwrap_or(f64::INFINITY)
    }

    /// Cuts one feature's values into at most `max_bin` bins, each holding at
    /// least `min_data_in_bin` values where the data allows (greedy
    /// equal-frequency over the sorted distinct values; a value more frequent
    /// than a bin's share gets a bin of its own).
    pub fn fit(values: &mut [f32], max_bin: usize, min_data_in_bin: usize) -> Self {
        let max_bin = max_bin.max(2);
        values.sort_unstable_by(f32::total_cmp);
        let mut distinct: Vec<(f32, usize)> = Vec::new();
        for &v in values.iter().filter(|v| !v.is_nan()) {
            match distinct.last_mut() {
                Some((last, n)) if *last == v => *n += 1,
                _ => distinct.push((v, 1)),
            }
        }
        if distinct.len() <= 1 {
            return Self { uppers: Vec::new() };
        }
        let total: usize = distinct.iter().map(|d| d.1).sum();
        let min_data_in_bin = min_data_in_bin.max(1);
        let mut uppers = Vec::new();
        if distinct.len() <= max_bin {
            // One bin per distinct value, merging rare ones forward.
            let mut in_bin = 0;
            for w in distinct.windows(2) {
                in_bin += w[0].1;
                if in_bin >= min_data_in_bin {
                    uppers.push(midpoint(w[0].0, w[1].0));
                    in_bin = 0;
                }
            }
        } else {
            let mut remaining = total;
            let mut bins_left = max_bin;
            let mut in_bin = 0;
            for w in distinct.windows(2) {
                in_bin += w[0].1;
                let share = (remaining as f64 / bins_left as f64).max(min_data_in_bin as f64);
                // Close the bin once it reaches its share, or early when the
                // next value alone would overfill it.
                let next_big = w[1].1 as f64 >= share && in_bin >= min_data_in_bin;
                if (in_bin as f64 >= share || next_big) && bins_left > 1 {
                    uppers.push(midpoint(w[0].0, w[1].0));
                    remaining -= in_bin;
                    bins_left -= 1;
                    in_bin = 0;
                }
            }
        }
        Self { uppers }
    }
}

fn midpoint(a: f32, b: f32) -> f64 {
    (f64::from(a) + f64::from(b)) / 2.0
}

/// Every feature's bins and every row's bin codes, twice: by feature
/// (`codes[f * rows + r]`, to partition a leaf's rows on a split) and by row,
/// sparse (each row's bins other than its feature's most frequent one, as
/// indices into one histogram of all features' bins), so that a histogram
/// costs one pass over the non-default entries of a leaf's rows; the
/// most frequent bin's sums come from the leaf's totals (LightGBM's trick for
/// sparse features).
#[derive(Debug, Clone)]
pub struct BinnedMatrix {
    /// Rows.
    pub rows: usize,
    /// The cut points of each feature.
    pub bins: Vec<FeatureBins>,
    /// Bin codes, feature-major.
    pub codes: Vec<u8>,
    /// Where each feature's bins start in a histogram (`offsets[f]..offsets[f + 1]`).
    pub offsets: Vec<usize>,
    /// The most frequent bin of each feature.
    pub default_bin: Vec<u8>,
    /// Row `r`'s sparse entries are `row_bins[row_ptr[r]..row_ptr[r + 1]]`.
    pub row_ptr: Vec<usize>,
    /// Histogram indices (`offsets[f] + bin`) of the non-default entries.
    pub row_bins: Vec<u32>,
}

impl BinnedMatrix {
    /// Bins a matrix (`max_bin` at most 256, so a code fits a byte).
    pub fn new(x: &FeatureMatrix, max_bin: usize, min_data_in_bin: usize) -> Self {
        let max_bin = max_bin.clamp(2, 256);
        let rows = x.rows();
        let cols = x.cols();
        let mut codes = vec![0u8; rows * cols];
        let mut bins = Vec::with_capacity(cols);
        let mut default_bin = Vec::with_capacity(cols);
        let mut offsets = Vec::with_capacity(cols + 1);
        let mut column = Vec::with_capacity(rows);
        let mut at = 0;
        for f in 0..cols {
            column.clear();
            column.extend((0..rows).map(|r| x.get(r, f)));
            let fb = FeatureBins::fit(&mut column, max_bin, min_data_in_bin);
            let mut counts = vec![0usize; fb.len()];
            for (r, c) in codes[f * rows..(f + 1) * rows].iter_mut().enumerate() {
                // `bin_of` < max_bin <= 256 by construction.
                let b = fb.bin_of(x.get(r, f));
                counts[b] += 1;
                *c = b as u8;
            }
            let most = (0..counts.len())
                .max_by_key(|&b| (counts[b], usize::MAX - b))
                .unwrap_or(0);
            default_bin.push(most as u8);
            offsets.push(at);
            at += fb.len();
            bins.push(fb);
        }
        offsets.push(at);
        let mut row_ptr = Vec::with_capacity(rows + 1);
        let mut row_bins = Vec::new();
        row_ptr.push(0);
        for r in 0..rows {
            for f in 0..cols {
                let c = codes[f * rows + r];
                // A feature of one bin can never split: leave it out.
                if bins[f].len() > 1 && c != default_bin[f] {
                    row_bins.push((offsets[f] + usize::from(c)) as u32);
                }
            }
            row_ptr.push(row_bins.len());
        }
        Self {
            rows,
            bins,
            codes,
            offsets,
            default_bin,
            row_ptr,
            row_bins,
        }
    }

    /// The codes of feature `f`, one per row.
    pub fn feature(&self, f: usize) -> &[u8] {
        &self.codes[f * self.rows..(f + 1) * self.rows]
    }

    /// Bins of all features together (the length of a histogram).
    pub fn total_bins(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Row `r`'s non-default entries.
    pub fn sparse_row(&self, r: usize) -> &[u32] {
        &self.row_bins[self.row_ptr[r]..self.row_ptr[r + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        let mut v = vec![0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0, 0.0];
        let b = FeatureBins::fit(&mut v, 255, 1);
        assert_eq!(b.uppers, vec![0.5, 1.5]);
        assert_eq!(b.bin_of(0.0), 0);
        assert_eq!(b.bin_of(0.5), 0);
        assert_eq!(b.bin_of(0.51), 1);
        assert_eq!(b.bin_of(7.0), 2);
        assert_eq!(b.bin_of(f32::NAN), 0);
    }

    #[test]
    fn rare_values_merge_and_constants_have_one_bin() {
        let mut v = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let b = FeatureBins::fit(&mut v, 255, 3);
        assert_eq!(b.uppers, vec![2.5]);
        let mut c = vec![3.0; 10];
        assert!(FeatureBins::fit(&mut c, 255, 3).is_empty());
    }

    #[test]
    fn many_values_fill_at_most_max_bin_bins_of_similar_size() {
        let mut v: Vec<f32> = (0..10_000).map(|i| (i as f32).sqrt()).collect();
        let b = FeatureBins::fit(&mut v.clone(), 16, 3);
        assert!(b.len() <= 16 && b.len() >= 14, "{} bins", b.len());
        let mut counts = vec![0usize; b.len()];
        for x in &mut v {
            counts[b.bin_of(*x)] += 1;
        }
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*hi < 2 * *lo + 10, "{counts:?}");
    }

    #[test]
    fn sparse_rows_hold_the_non_default_bins() {
        let x = FeatureMatrix::new(2, vec![0.0, 5.0, 0.0, 5.0, 1.0, 5.0, 0.0, 6.0]).unwrap();
        let b = BinnedMatrix::new(&x, 255, 1);
        assert_eq!(b.default_bin, vec![0, 0]);
        assert_eq!(b.offsets, vec![0, 2, 4]);
        assert!(b.sparse_row(0).is_empty());
        assert_eq!(b.sparse_row(2), &[1]);
        assert_eq!(b.sparse_row(3), &[3]);
        assert_eq!(b.total_bins(), 4);
    }

    #[test]
    fn a_frequent_value_gets_its_own_bin() {
        let mut v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        v.extend(std::iter::repeat_n(0.0, 5000));
        let b = FeatureBins::fit(&mut v, 8, 3);
        assert_eq!(b.bin_of(0.0), 0);
        assert_eq!(b.bin_of(1.0), 1, "{:?}", b.uppers);
    }
}
