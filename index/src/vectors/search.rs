//! Search: exact scans as blocked matrix products, graph walks over the f32
//! or compact rows, and exact re-scoring of compact candidates.

use std::collections::BinaryHeap;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

use super::{SearchOptions, Storage, VectorIndex, DEFAULT_UPPER_BEAM};
use crate::error::{Error, Result};
use crate::hnsw::{Against, Graph, Scorer, Space};
use crate::huge::HugeArray;
use crate::kernels::dot::{dot, dot_f16, dot_i8, prefetch};

/// Queries per matrix product.
const QUERY_BLOCK: usize = 128;
/// Rows per matrix product (a 4096 × 384 f32 block is 6 MiB).
pub(super) const ROW_BLOCK: usize = 4096;

/// The f16 or int8 copy of the rows (in memory advised for huge pages, as
/// the graph walks it at random): scanned by exact search, walked by the
/// graph; results are re-scored from the f32 rows either way.
pub(super) enum Compact {
    None,
    /// IEEE half floats, as bits.
    F16(HugeArray<u16>),
    /// Codes; row value = code × scales\[dimension\] / 127.
    Int8 {
        scales: Vec<f32>,
        data: HugeArray<i8>,
    },
}

/// One graph search; `skip` rows guide the walk but are never returned.
fn walk<S: Scorer>(
    g: &Graph,
    q: &S,
    k: usize,
    ef: usize,
    beam: usize,
    skip: Option<&[bool]>,
) -> Vec<(usize, f32)> {
    match skip {
        None => g.search_by(q, k, ef, beam, |_| true),
        Some(s) => g.search_by(q, k, ef, beam, |r| !s[r as usize]),
    }
}

/// A query against f16 rows.
struct AgainstF16<'a> {
    rows: &'a [u16],
    dim: usize,
    q: &'a [f32],
}

impl Scorer for AgainstF16<'_> {
    fn rows(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }
    #[inline]
    fn sim(&self, r: u32) -> f32 {
        let s = r as usize * self.dim;
        dot_f16(self.q, &self.rows[s..s + self.dim])
    }
    #[inline]
    fn prefetch(&self, r: u32) {
        let s = r as usize * self.dim;
        prefetch(&self.rows[s..s + self.dim]);
    }
}

/// A query against int8 rows: `q` holds query × step per dimension.
struct AgainstI8<'a> {
    rows: &'a [i8],
    dim: usize,
    q: Vec<f32>,
}

impl Scorer for AgainstI8<'_> {
    fn rows(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }
    #[inline]
    fn sim(&self, r: u32) -> f32 {
        let s = r as usize * self.dim;
        dot_i8(&self.q, &self.rows[s..s + self.dim])
    }
    #[inline]
    fn prefetch(&self, r: u32) {
        let s = r as usize * self.dim;
        prefetch(&self.rows[s..s + self.dim]);
    }
}

/// Bounded best-k collector (min-heap on score, ties to the lower row).
struct TopK {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Scored>>,
    /// The worst score kept once full (a cheap first test).
    floor: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored(f32, usize);
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            floor: f32::NEG_INFINITY,
        }
    }
    /// [`TopK::push`] behind a comparison with the current floor.
    #[inline]
    fn offer(&mut self, score: f32, row: usize) {
        if score >= self.floor {
            self.push(score, row);
        }
    }
    #[inline]
    fn push(&mut self, score: f32, row: usize) {
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(Scored(score, row)));
        } else if let Some(min) = self.heap.peek() {
            if Scored(score, row) > min.0 {
                self.heap.pop();
                self.heap.push(std::cmp::Reverse(Scored(score, row)));
            }
        }
        if self.heap.len() == self.k {
            self.floor = self.heap.peek().map_or(f32::NEG_INFINITY, |m| m.0 .0);
        }
    }
    fn into_sorted(self) -> Vec<(usize, f32)> {
        let mut v: Vec<Scored> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|s| (s.1, s.0)).collect()
    }
}

impl VectorIndex {
    /// The `k` nearest live rows (by inner product) of each query, best
    /// first. `mask` (one flag per row) restricts the rows (filtered search).
    pub fn search_batch(
        &self,
        queries: &[Vec<f32>],
        k: usize,
        mask: Option<&[bool]>,
        opts: SearchOptions,
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        if let Some(q) = queries.iter().find(|q| q.len() != self.dim) {
            return Err(Error::InvalidArgument(format!(
                "query vector has dimension {}, index has {}",
                q.len(),
                self.dim
            )));
        }
        if let Some(m) = mask {
            if m.len() != self.ids.len() {
                return Err(Error::InvalidArgument(format!(
                    "filter mask has {} rows, index {}",
                    m.len(),
                    self.ids.len()
                )));
            }
        }
        if self.live == 0 || k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let rescore = if opts.rescore == 0 { 4 } else { opts.rescore };
        let quantized = self.config.storage != Storage::F32;
        let depth = if quantized { (k * rescore).max(40) } else { k };
        // Rows to skip: deleted, or outside the filter.
        let skip: Option<std::borrow::Cow<'_, [bool]>> = match mask {
            None if self.live == self.ids.len() => None,
            None => Some(std::borrow::Cow::Borrowed(&self.deleted)),
            Some(m) => Some(std::borrow::Cow::Owned(
                m.iter()
                    .zip(&self.deleted)
                    .map(|(&keep, &dead)| dead || !keep)
                    .collect(),
            )),
        };
        let skip = skip.as_deref();
        // A filter that keeps few rows leaves the graph walk wading through
        // rejected nodes: below 5 % of the live rows the exact scan is cheaper.
        let selective = mask.is_some()
            && skip.is_some_and(|s| s.iter().filter(|&&x| !x).count() * 20 < self.live);
        let first = match (&self.hnsw, opts.exact || selective) {
            (Some(g), false) => self.hnsw_search(g, queries, depth, skip, opts),
            _ => self.scan(queries, depth, skip),
        };
        if !quantized {
            return Ok(first);
        }
        Ok(first
            .into_iter()
            .zip(queries)
            .map(|(cands, q)| {
                let mut top = TopK::new(k);
                for (r, _) in cands {
                    top.push(dot(self.vector(r), q), r);
                }
                top.into_sorted()
            })
            .collect())
    }

    fn hnsw_search(
        &self,
        g: &Graph,
        queries: &[Vec<f32>],
        depth: usize,
        skip: Option<&[bool]>,
        opts: SearchOptions,
    ) -> Vec<Vec<(usize, f32)>> {
        let ef = opts
            .ef_search
            .or(self.config.hnsw.map(|p| p.ef_search))
            .unwrap_or(100)
            .max(depth);
        let beam = opts
            .upper_beam
            .or(self.config.hnsw.map(|p| p.upper_beam))
            .unwrap_or(DEFAULT_UPPER_BEAM);
        let dim = self.dim;
        let one = |q: &Vec<f32>| match &self.compact {
            Compact::None => {
                let data = self.matrix.as_slice();
                let a = Against {
                    space: Space { data, dim },
                    q,
                };
                walk(g, &a, depth, ef, beam, skip)
            }
            Compact::F16(rows) => walk(g, &AgainstF16 { rows, dim, q }, depth, ef, beam, skip),
            Compact::Int8 { scales, data } => {
                let a = AgainstI8 {
                    rows: data,
                    dim,
                    q: q.iter().zip(scales).map(|(x, s)| x * s / 127.0).collect(),
                };
                walk(g, &a, depth, ef, beam, skip)
            }
        };
        queries.par_iter().map(one).collect()
    }

    /// Exact scan: blocks of rows × blocks of queries as matrix products.
    /// `skip`: rows never returned (deleted or filtered out).
    fn scan(
        &self,
        queries: &[Vec<f32>],
        k: usize,
        skip: Option<&[bool]>,
    ) -> Vec<Vec<(usize, f32)>> {
        let n = self.ids.len();
        let dim = self.dim;
        let data = self.matrix.as_slice();
        let mut out = Vec::with_capacity(queries.len());
        let mut buf: Vec<f32> = Vec::new();
        // int8 → f32: one multiplication a value.
        let step: Vec<f32> = match &self.compact {
            Compact::Int8 { scales, .. } => scales.iter().map(|s| s / 127.0).collect(),
            _ => Vec::new(),
        };
        for block in queries.chunks(QUERY_BLOCK) {
            let flat: Vec<f32> = block.iter().flatten().copied().collect();
            let q = MatRef::from_column_major_slice(&flat, dim, block.len());
            let mut tops: Vec<TopK> = block.iter().map(|_| TopK::new(k)).collect();
            let mut scores = Mat::<f32>::zeros(ROW_BLOCK.min(n), block.len());
            for start in (0..n).step_by(ROW_BLOCK) {
                let end = (start + ROW_BLOCK).min(n);
                let rows = end - start;
                let slice: &[f32] = match &self.compact {
                    Compact::None => &data[start * dim..end * dim],
                    Compact::F16(h) => {
                        use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
                        buf.resize(rows * dim, 0.0);
                        h[start * dim..end * dim]
                            .reinterpret_cast::<half::f16>()
                            .convert_to_f32_slice(&mut buf);
                        &buf
                    }
                    Compact::Int8 { data, .. } => {
                        buf.clear();
                        for row in data[start * dim..end * dim].chunks_exact(dim) {
                            buf.extend(row.iter().zip(&step).map(|(&x, s)| f32::from(x) * s));
                        }
                        &buf
                    }
                };
                let corpus = MatRef::from_column_major_slice(slice, dim, rows);
                let mut dst = scores.as_mut().subrows_mut(0, rows);
                matmul(
                    dst.as_mut(),
                    Accum::Replace,
                    corpus.transpose(),
                    q,
                    1.0f32,
                    Par::rayon(0),
                );
                // Top-k per query, the queries split over the threads.
                let scores = &scores;
                tops.par_iter_mut().enumerate().for_each(|(j, top)| {
                    let col = scores.col(j).subrows(0, rows);
                    let copied: Vec<f32>;
                    let col: &[f32] = match col.try_as_col_major() {
                        Some(c) => c.as_slice(),
                        None => {
                            copied = col.iter().copied().collect();
                            &copied
                        }
                    };
                    match skip {
                        None => {
                            for (i, &x) in col.iter().enumerate() {
                                top.offer(x, start + i);
                            }
                        }
                        Some(skip) => {
                            for (i, &x) in col.iter().enumerate() {
                                if !skip[start + i] {
                                    top.offer(x, start + i);
                                }
                            }
                        }
                    }
                });
            }
            out.extend(tops.into_iter().map(TopK::into_sorted));
        }
        out
    }
}
