//! An HNSW graph (Malkov & Yashunin, "Efficient and robust approximate
//! nearest neighbor search using Hierarchical Navigable Small World graphs",
//! 2016) over the rows of a vector folder's f32 matrix, by inner product.
//!
//! Why our own and not a crate: ADR 0004. In short, the graph only stores
//! links; the vectors stay in the memory-mapped matrix the exact scan reads,
//! distances use the CPU's widest SIMD ([`crate::kernels::dot`]), `ef_search` is a
//! per-query argument, and deleted rows stay in the graph as waypoints but
//! never in results (hnswlib's "mark deleted"), so an incremental build only
//! inserts the new rows.
//!
//! - Levels: row `r` gets level `⌊-ln(u) · mL⌋` with `mL = 1/ln(M)` and `u`
//!   a hash of `r` (deterministic; the same row always gets the same level).
//! - Insertion (Algorithm 1): greedy descent to the row's level, then on each
//!   level a beam search of width `ef_construction` (Algorithm 2) and the
//!   neighbour-selection heuristic (Algorithm 4, without extending or keeping
//!   pruned candidates, as hnswlib); `M` links a level, `2·M` on level 0;
//!   a neighbour whose list overflows is re-pruned with the same heuristic.
//!   Rows are inserted in parallel (rayon), each node's lists behind a lock.
//! - Search: greedy descent, then a beam search of width `max(ef, k)` on
//!   level 0 in which every node is a waypoint but only allowed rows
//!   (not deleted, inside the filter) enter the results.
//!
//! File `hnsw.bin`, little-endian: `HYHNSW01`, rows u64, M u32, level-0
//! capacity u32, ef_construction u32, entry row u32 (`u32::MAX`: empty),
//! top level u32, then one level byte a row (255: not in the graph), the
//! level-0 lists (rows × (1 + capacity) u32: count, then links), the length
//! of the upper lists (u64) and the upper lists (for each row with level ≥ 1,
//! in row order, level × (1 + M) u32).
//!
//! The files: this one (the graph and its search), [`build`] (levels,
//! insertion, neighbour selection), [`file`] (`hnsw.bin`).

mod build;
mod file;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::huge::HugeArray;
use crate::kernels::dot::{dot, prefetch};

const MAGIC: &[u8; 8] = b"HYHNSW01";
/// Level byte of a row that is not in the graph.
const ABSENT: u8 = u8::MAX;
const NO_ENTRY: u32 = u32::MAX;
/// Levels are capped here (a level above 15 needs ~M^15 rows).
const MAX_LEVEL: usize = 15;

/// The rows of an f32 matrix.
#[derive(Clone, Copy)]
pub(crate) struct Space<'a> {
    pub data: &'a [f32],
    pub dim: usize,
}

impl<'a> Space<'a> {
    #[inline]
    fn row(&self, r: u32) -> &'a [f32] {
        let s = r as usize * self.dim;
        &self.data[s..s + self.dim]
    }
    fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
}

/// One query against the stored rows: what a walk needs. The f32 rows
/// ([`Against`]) serve builds and f32 indexes; indexes with f16 or int8
/// storage walk their compact rows (`crate::vectors`) and re-score exactly.
pub(crate) trait Scorer {
    /// Rows stored (sizes the visited set).
    fn rows(&self) -> usize;
    /// Similarity (inner product) of the query to row `r`.
    fn sim(&self, r: u32) -> f32;
    /// Asks the CPU to start loading row `r`.
    fn prefetch(&self, r: u32);
}

/// A query against f32 rows.
#[derive(Clone, Copy)]
pub(crate) struct Against<'a> {
    pub space: Space<'a>,
    pub q: &'a [f32],
}

impl Scorer for Against<'_> {
    #[inline]
    fn rows(&self) -> usize {
        self.space.rows()
    }
    #[inline]
    fn sim(&self, r: u32) -> f32 {
        dot(self.q, self.space.row(r))
    }
    #[inline]
    fn prefetch(&self, r: u32) {
        prefetch(self.space.row(r));
    }
}

/// A candidate: similarity to the query and row. Ordered by similarity,
/// ties to the lower row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cand {
    s: f32,
    r: u32,
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.s.total_cmp(&o.s).then(o.r.cmp(&self.r))
    }
}

/// Per-thread buffers reused across searches (the visited set is a tag per
/// row: a row is visited when its tag equals the current epoch).
#[derive(Default)]
struct Scratch {
    /// 16-bit tags: half the cache footprint of 32-bit ones (200 KB for
    /// 100k rows), cleared once every 65,535 searches.
    tags: Vec<u16>,
    epoch: u16,
    cand: BinaryHeap<Cand>,
    res: BinaryHeap<Reverse<Cand>>,
    links: Vec<u32>,
}

impl Scratch {
    fn reset(&mut self, n: usize) {
        if self.tags.len() < n {
            self.tags.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.tags.fill(0);
            self.epoch = 1;
        }
        self.cand.clear();
        self.res.clear();
    }
    /// The results of the last beam search, best first (emptying them).
    fn take_best(&mut self) -> Vec<Cand> {
        let mut found: Vec<Cand> = self.res.drain().map(|c| c.0).collect();
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
    }

    /// Marks `r` visited; false when it already was.
    #[inline]
    fn visit(&mut self, r: u32) -> bool {
        let t = &mut self.tags[r as usize];
        if *t == self.epoch {
            false
        } else {
            *t = self.epoch;
            true
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entered on this thread (not expected): use a fresh buffer.
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Where a beam search reads the neighbours of a node.
trait Links {
    /// Replaces `out` with the neighbours of `r` on `level`.
    fn neighbours(&self, r: u32, level: usize, out: &mut Vec<u32>);
    /// Hints that the neighbours of `r` on `level` will be read soon.
    fn prefetch(&self, _r: u32, _level: usize) {}
}

/// Beam search on one level (Algorithm 2). Leaves the best `ef` allowed rows
/// in `s.res`. (The hot loop's inputs stay plain arguments.)
#[allow(clippy::too_many_arguments)]
fn search_layer<S: Scorer, L: Links, A: Fn(u32) -> bool>(
    q: &S,
    links: &L,
    entries: &[Cand],
    ef: usize,
    level: usize,
    allowed: A,
    s: &mut Scratch,
) {
    s.reset(q.rows());
    for &e in entries {
        if s.visit(e.r) {
            s.cand.push(e);
            if allowed(e.r) {
                s.res.push(Reverse(e));
                if s.res.len() > ef {
                    s.res.pop();
                }
            }
        }
    }
    let mut floor = if s.res.len() >= ef {
        s.res.peek().map_or(f32::NEG_INFINITY, |w| w.0.s)
    } else {
        f32::NEG_INFINITY
    };
    let mut nbs = std::mem::take(&mut s.links);
    while let Some(c) = s.cand.pop() {
        if c.s < floor {
            break;
        }
        links.neighbours(c.r, level, &mut nbs);
        // The next candidate's list, while this one's neighbours are scored.
        if let Some(next) = s.cand.peek() {
            links.prefetch(next.r, level);
        }
        // Unvisited neighbours only; their first cache lines requested
        // before the first distance (a 384-d row is 24 lines; the hardware
        // prefetcher follows the rest). Measured against prefetching whole
        // rows, or one to four neighbours ahead: no better, within noise.
        nbs.retain(|&nb| s.visit(nb));
        for &nb in &nbs {
            q.prefetch(nb);
        }
        for &nb in &nbs {
            let sim = q.sim(nb);
            if s.res.len() < ef || sim > floor {
                let c = Cand { s: sim, r: nb };
                s.cand.push(c);
                if allowed(nb) {
                    s.res.push(Reverse(c));
                    if s.res.len() > ef {
                        s.res.pop();
                    }
                    if s.res.len() >= ef {
                        floor = s.res.peek().map_or(f32::NEG_INFINITY, |w| w.0.s);
                    }
                }
            }
        }
    }
    s.links = nbs;
}

/// Greedy walk on one level: moves to the best neighbour until none is better.
fn greedy<S: Scorer, L: Links>(
    q: &S,
    links: &L,
    mut cur: Cand,
    level: usize,
    buf: &mut Vec<u32>,
) -> Cand {
    loop {
        links.neighbours(cur.r, level, buf);
        let mut moved = false;
        for &nb in buf.iter() {
            let s = q.sim(nb);
            if s > cur.s {
                cur = Cand { s, r: nb };
                moved = true;
            }
        }
        if !moved {
            return cur;
        }
    }
}

/// A built HNSW graph over the rows of one matrix.
pub(crate) struct Graph {
    m: usize,
    m0: usize,
    ef_construction: usize,
    levels: Vec<u8>,
    /// Level 0: a row's slot is `[count, link × m0]` (read at random by
    /// every search, hence huge pages).
    base: HugeArray<u32>,
    /// Where a row's upper lists start in `upper` (`usize::MAX`: level 0).
    upper_at: Vec<usize>,
    /// Levels 1..=level of each such row, `[count, link × m]` each.
    upper: Vec<u32>,
    entry: u32,
    top: usize,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("rows", &self.levels.len())
            .field("nodes", &self.nodes())
            .field("m", &self.m)
            .field("top", &self.top)
            .finish()
    }
}

impl Links for Graph {
    #[inline]
    fn neighbours(&self, r: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(self.list(r, level));
    }
    #[inline]
    fn prefetch(&self, r: u32, level: usize) {
        if level == 0 {
            prefetch(self.slot0(r as usize));
        }
    }
}

impl Graph {
    /// Rows in the graph.
    pub fn nodes(&self) -> usize {
        self.levels.iter().filter(|&&l| l != ABSENT).count()
    }

    /// Whether row `r` is in the graph.
    pub fn contains(&self, r: usize) -> bool {
        self.levels.get(r).is_some_and(|&l| l != ABSENT)
    }

    /// Row `r`'s level-0 slot: `[count, link × m0]`.
    #[inline]
    fn slot0(&self, r: usize) -> &[u32] {
        let s = r * (self.m0 + 1);
        &self.base[s..s + self.m0 + 1]
    }

    /// The links of `r` on `level` (empty when `r` has no such level).
    #[inline]
    fn list(&self, r: u32, level: usize) -> &[u32] {
        let r = r as usize;
        if level == 0 {
            let slot = self.slot0(r);
            return &slot[1..=slot[0] as usize];
        }
        let at = self.upper_at[r];
        if at == usize::MAX || level > self.levels[r] as usize {
            return &[];
        }
        let s = at + (level - 1) * (self.m + 1);
        let n = self.upper[s] as usize;
        &self.upper[s + 1..s + 1 + n]
    }

    /// [`Graph::search_by`] over f32 rows (the tests' entry point).
    #[cfg(test)]
    pub fn search<A: Fn(u32) -> bool>(
        &self,
        space: Space<'_>,
        q: &[f32],
        k: usize,
        ef: usize,
        upper_beam: usize,
        allowed: A,
    ) -> Vec<(usize, f32)> {
        self.search_by(&Against { space, q }, k, ef, upper_beam, allowed)
    }

    /// The `k` best allowed rows for the query `q` scores (similarity, best
    /// first), searching level 0 with a beam of `max(ef, k)`.
    ///
    /// `upper_beam`: the beam on level 1, whose results all enter level 0
    /// (faiss's `upper_beam`); 1 walks level 1 greedily, as hnswlib and the
    /// paper do. Levels above 1 are always walked greedily. A wider level-1
    /// beam starts level 0 from several regions of the graph instead of one,
    /// which on catalogue embeddings (tight clusters of near-duplicate
    /// titles) buys more recall per unit of time than a wider level-0 beam
    /// (ADR 0008).
    pub fn search_by<S: Scorer, A: Fn(u32) -> bool>(
        &self,
        q: &S,
        k: usize,
        ef: usize,
        upper_beam: usize,
        allowed: A,
    ) -> Vec<(usize, f32)> {
        if self.entry == NO_ENTRY || k == 0 {
            return Vec::new();
        }
        with_scratch(|s| {
            let mut cur = Cand {
                s: q.sim(self.entry),
                r: self.entry,
            };
            let beam = upper_beam > 1 && self.top >= 1;
            let mut buf = std::mem::take(&mut s.links);
            for l in (1 + usize::from(beam)..=self.top).rev() {
                cur = greedy(q, self, cur, l, &mut buf);
            }
            s.links = buf;
            let entries = if beam {
                // Deleted or filtered-out rows still guide the walk (they
                // are only kept out of the results, on level 0).
                search_layer(q, self, &[cur], upper_beam, 1, |_| true, s);
                s.take_best()
            } else {
                vec![cur]
            };
            search_layer(q, self, &entries, ef.max(k), 0, allowed, s);
            let mut found = s.take_best();
            found.truncate(k);
            found.into_iter().map(|c| (c.r as usize, c.s)).collect()
        })
    }
}
