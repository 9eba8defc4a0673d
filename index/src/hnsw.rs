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

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
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

/// The neighbour-selection heuristic (Algorithm 4): walking the candidates
/// best first, keeps one unless it is more similar to an already kept
/// neighbour than to the base node. `sorted`: best first.
fn select(space: Space<'_>, sorted: &[Cand], m: usize) -> Vec<u32> {
    let mut kept: Vec<Cand> = Vec::with_capacity(m);
    for &c in sorted {
        if kept.len() >= m {
            break;
        }
        let v = space.row(c.r);
        if kept.iter().all(|k| dot(v, space.row(k.r)) <= c.s) {
            kept.push(c);
        }
    }
    kept.into_iter().map(|c| c.r).collect()
}

/// `splitmix64`: the row's level must not depend on insertion order.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn level_of(row: usize, m: usize) -> u8 {
    let u = ((mix(row as u64) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let ml = 1.0 / (m.max(2) as f64).ln();
    ((-u.ln() * ml).floor() as usize).min(MAX_LEVEL) as u8
}

/// Where each row's upper lists start in the upper array (`usize::MAX`: the
/// row has none), and that array's length: rows in order, `level × (1 + m)`
/// words a row. The one definition of the layout, for building and loading.
fn upper_layout(levels: &[u8], m: usize) -> (Vec<usize>, usize) {
    let mut at = vec![usize::MAX; levels.len()];
    let mut next = 0usize;
    for (r, &lv) in levels.iter().enumerate() {
        if lv != ABSENT && lv > 0 {
            at[r] = next;
            next += lv as usize * (m + 1);
        }
    }
    (at, next)
}

/// A graph being built: every node's lists behind its own lock.
struct Builder<'a> {
    space: Space<'a>,
    m: usize,
    m0: usize,
    ef_construction: usize,
    levels: Vec<u8>,
    lists: Vec<Mutex<Vec<Vec<u32>>>>,
    /// (entry row, top level).
    top: Mutex<(u32, usize)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Links for Builder<'_> {
    fn neighbours(&self, r: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        if let Some(l) = lock(&self.lists[r as usize]).get(level) {
            out.extend_from_slice(l);
        }
    }
}

impl Builder<'_> {
    fn entry_is_empty(&self) -> bool {
        lock(&self.top).0 == NO_ENTRY
    }

    fn insert(&self, q: u32, s: &mut Scratch) {
        let level = self.levels[q as usize] as usize;
        let (entry, top) = {
            let mut t = lock(&self.top);
            if t.0 == NO_ENTRY {
                *t = (q, level);
                return;
            }
            *t
        };
        let qv = Against {
            space: self.space,
            q: self.space.row(q),
        };
        let mut cur = Cand {
            s: qv.sim(entry),
            r: entry,
        };
        let mut buf = Vec::new();
        for l in (level + 1..=top).rev() {
            cur = greedy(&qv, self, cur, l, &mut buf);
        }
        let mut entries = vec![cur];
        for l in (0..=level.min(top)).rev() {
            search_layer(&qv, self, &entries, self.ef_construction, l, |r| r != q, s);
            let found = s.take_best();
            let chosen = select(self.space, &found, self.m);
            if let Some(list) = lock(&self.lists[q as usize]).get_mut(l) {
                list.clone_from(&chosen);
            }
            for &c in &chosen {
                self.connect(c, q, l);
            }
            if !found.is_empty() {
                entries = found;
            }
        }
        if level > top {
            let mut t = lock(&self.top);
            if level > t.1 {
                *t = (q, level);
            }
        }
    }

    /// Adds the back link `node → new` on `level`, re-pruning a full list.
    fn connect(&self, node: u32, new: u32, level: usize) {
        let cap = if level == 0 { self.m0 } else { self.m };
        let mut g = lock(&self.lists[node as usize]);
        let Some(list) = g.get_mut(level) else {
            return;
        };
        if list.contains(&new) {
            return;
        }
        if list.len() < cap {
            list.push(new);
            return;
        }
        let nv = self.space.row(node);
        let mut cands: Vec<Cand> = list
            .iter()
            .chain(std::iter::once(&new))
            .map(|&r| Cand {
                s: dot(nv, self.space.row(r)),
                r,
            })
            .collect();
        cands.sort_unstable_by(|a, b| b.cmp(a));
        *list = select(self.space, &cands, cap);
    }

    fn finish(self) -> Graph {
        let n = self.levels.len();
        let stride0 = self.m0 + 1;
        let mut base = vec![0u32; n * stride0];
        let (upper_at, words) = upper_layout(&self.levels, self.m);
        let mut upper = vec![0u32; words];
        for (r, lists) in self.lists.into_iter().enumerate() {
            let lists = lists.into_inner().unwrap_or_else(|e| e.into_inner());
            if let Some(l0) = lists.first() {
                let slot = &mut base[r * stride0..(r + 1) * stride0];
                slot[0] = l0.len() as u32;
                slot[1..=l0.len()].copy_from_slice(l0);
            }
            for (i, l) in lists.iter().enumerate().skip(1) {
                let at = upper_at[r] + (i - 1) * (self.m + 1);
                upper[at] = l.len() as u32;
                upper[at + 1..=at + l.len()].copy_from_slice(l);
            }
        }
        let (entry, top) = self.top.into_inner().unwrap_or_else(|e| e.into_inner());
        Graph {
            m: self.m,
            m0: self.m0,
            ef_construction: self.ef_construction,
            levels: self.levels,
            base: HugeArray::copy_of(&base),
            upper_at,
            upper,
            entry,
            top,
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
    /// Builds a graph over `rows` of `space` (M links a level, 2·M on level 0).
    pub fn build(space: Space<'_>, rows: &[usize], m: usize, ef_construction: usize) -> Self {
        let n = space.rows();
        let builder = Builder {
            space,
            m,
            m0: 2 * m,
            ef_construction,
            levels: vec![ABSENT; n],
            lists: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            top: Mutex::new((NO_ENTRY, 0)),
        };
        Self::insert_all(builder, rows)
    }

    /// A copy of this graph over a larger matrix (`space` holds this graph's
    /// rows first), with `rows` inserted.
    pub fn extend(&self, space: Space<'_>, rows: &[usize]) -> Self {
        let n = space.rows().max(self.levels.len());
        let mut levels = self.levels.clone();
        levels.resize(n, ABSENT);
        let lists = (0..n)
            .map(|r| {
                let own = match levels[r] {
                    ABSENT => Vec::new(),
                    lv => (0..=lv as usize)
                        .map(|l| self.list(r as u32, l).to_vec())
                        .collect(),
                };
                Mutex::new(own)
            })
            .collect();
        let builder = Builder {
            space,
            m: self.m,
            m0: self.m0,
            ef_construction: self.ef_construction,
            levels,
            lists,
            top: Mutex::new((self.entry, self.top)),
        };
        Self::insert_all(builder, rows)
    }

    fn insert_all(mut b: Builder<'_>, rows: &[usize]) -> Self {
        let rows: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&r| r < b.levels.len() && b.levels[r] == ABSENT)
            .collect();
        for &r in &rows {
            let lv = level_of(r, b.m);
            b.levels[r] = lv;
            *lock(&b.lists[r]) = vec![Vec::new(); lv as usize + 1];
        }
        // The first row alone (it becomes the entry), then the rest in parallel.
        let split = usize::from(b.entry_is_empty()).min(rows.len());
        for &r in &rows[..split] {
            with_scratch(|s| b.insert(r as u32, s));
        }
        rows[split..]
            .par_iter()
            .for_each(|&r| with_scratch(|s| b.insert(r as u32, s)));
        b.finish()
    }

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

    /// Writes `hnsw.bin` (crash-safe: temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let n = self.levels.len();
        let mut b = Vec::with_capacity(40 + n + 4 * (self.base.len() + self.upper.len()) + 8);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&(n as u64).to_le_bytes());
        for x in [
            self.m as u32,
            self.m0 as u32,
            self.ef_construction as u32,
            self.entry,
            self.top as u32,
        ] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&self.levels);
        for x in self.base.iter() {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&(self.upper.len() as u64).to_le_bytes());
        for x in &self.upper {
            b.extend_from_slice(&x.to_le_bytes());
        }
        hyrank_data::fsio::write_atomic(path, &b)?;
        Ok(())
    }

    /// Reads `hnsw.bin`, checking every count and link against `rows`.
    pub fn load(path: &Path, rows: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |m: String| Error::Corrupt {
            path: path.to_path_buf(),
            message: m,
        };
        let u32_at = |i: usize| -> u32 {
            bytes
                .get(i..i + 4)
                .map_or(0, |c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        };
        let u64_at = |i: usize| -> Option<u64> {
            let c = bytes.get(i..i + 8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            Some(u64::from_le_bytes(a))
        };
        if bytes.len() < 36 || &bytes[..8] != MAGIC {
            return Err(bad("not a hyrank HNSW file (bad magic)".into()));
        }
        let n = u64_at(8).unwrap_or(0) as usize;
        if n != rows {
            return Err(bad(format!("graph over {n} rows, the folder has {rows}")));
        }
        let (m, m0, efc, entry, top) = (
            u32_at(16) as usize,
            u32_at(20) as usize,
            u32_at(24) as usize,
            u32_at(28),
            u32_at(32) as usize,
        );
        if !(2..=256).contains(&m) || m0 < m || m0 > 512 || top > MAX_LEVEL {
            return Err(bad(format!(
                "implausible header: M {m}, level-0 capacity {m0}, top level {top}"
            )));
        }
        let mut at = 36;
        let levels = bytes
            .get(at..at + n)
            .ok_or_else(|| bad("truncated in the levels".into()))?
            .to_vec();
        at += n;
        let words = |at: usize, count: usize| -> Option<Vec<u32>> {
            let c = bytes.get(at..at.checked_add(count.checked_mul(4)?)?)?;
            Some(
                c.chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                    .collect(),
            )
        };
        let base = words(at, n * (m0 + 1)).ok_or_else(|| bad("truncated in level 0".into()))?;
        at += base.len() * 4;
        let ulen =
            u64_at(at).ok_or_else(|| bad("truncated before the upper levels".into()))? as usize;
        at += 8;
        let upper = words(at, ulen).ok_or_else(|| bad("truncated in the upper levels".into()))?;
        at += ulen * 4;
        if at != bytes.len() {
            return Err(bad(format!("{} bytes after the graph", bytes.len() - at)));
        }
        if let Some((r, lv)) = levels
            .iter()
            .enumerate()
            .find(|(_, &lv)| lv != ABSENT && lv as usize > MAX_LEVEL)
        {
            return Err(bad(format!("row {r}: level {lv}")));
        }
        let (upper_at, next) = upper_layout(&levels, m);
        if next != ulen {
            return Err(bad(format!(
                "upper levels hold {ulen} words, the levels need {next}"
            )));
        }
        let g = Graph {
            m,
            m0,
            ef_construction: efc,
            levels,
            base: HugeArray::copy_of(&base),
            upper_at,
            upper,
            entry,
            top,
        };
        g.check().map_err(bad)?;
        Ok(g)
    }

    /// Every count within capacity, every link to a row of the graph, the
    /// entry on the top level.
    fn check(&self) -> std::result::Result<(), String> {
        let n = self.levels.len();
        let node = |r: u32| (r as usize) < n && self.levels[r as usize] != ABSENT;
        if self.entry == NO_ENTRY {
            return if self.nodes() == 0 {
                Ok(())
            } else {
                Err("no entry point but rows in the graph".into())
            };
        }
        if !node(self.entry) || self.levels[self.entry as usize] as usize != self.top {
            return Err(format!("entry row {} is not on the top level", self.entry));
        }
        for r in 0..n {
            let lv = self.levels[r];
            if lv == ABSENT {
                if self.slot0(r)[0] != 0 {
                    return Err(format!("row {r} is not in the graph but has links"));
                }
                continue;
            }
            for l in 0..=lv as usize {
                let (cap, count) = if l == 0 {
                    (self.m0, self.slot0(r)[0] as usize)
                } else {
                    (
                        self.m,
                        self.upper[self.upper_at[r] + (l - 1) * (self.m + 1)] as usize,
                    )
                };
                if count > cap {
                    return Err(format!("row {r}, level {l}: {count} links, capacity {cap}"));
                }
                if let Some(bad) = self.list(r as u32, l).iter().find(|&&x| !node(x)) {
                    return Err(format!(
                        "row {r}, level {l}: link to row {bad}, not in the graph"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut v = Vec::with_capacity(n * dim);
        for r in 0..n {
            let row: Vec<f32> = (0..dim)
                .map(|d| {
                    (mix(seed ^ (r * dim + d) as u64) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.extend(row.iter().map(|x| x / norm));
        }
        v
    }

    fn exact(space: Space<'_>, q: &[f32], k: usize, allowed: impl Fn(u32) -> bool) -> Vec<usize> {
        let mut all: Vec<Cand> = (0..space.rows() as u32)
            .filter(|&r| allowed(r))
            .map(|r| Cand {
                s: dot(q, space.row(r)),
                r,
            })
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.into_iter().take(k).map(|c| c.r as usize).collect()
    }

    fn recall(
        g: &Graph,
        space: Space<'_>,
        queries: &[f32],
        ef: usize,
        upper_beam: usize,
        allowed: impl Fn(u32) -> bool + Copy,
    ) -> f64 {
        let mut hit = 0usize;
        let mut total = 0usize;
        for q in queries.chunks_exact(space.dim) {
            let truth = exact(space, q, 10, allowed);
            let got = g.search(space, q, 10, ef, upper_beam, allowed);
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "not best first");
            assert!(
                got.iter().all(|(r, _)| allowed(*r as u32)),
                "a row outside the filter"
            );
            hit += got.iter().filter(|(r, _)| truth.contains(r)).count();
            total += truth.len();
        }
        hit as f64 / total as f64
    }

    #[test]
    fn visited_tags_survive_the_epoch_wrapping() {
        let mut s = Scratch::default();
        for i in 0..70_000u32 {
            s.reset(10);
            let r = i % 10;
            assert!(s.visit(r), "search {i}: row {r} seen before it was visited");
            assert!(!s.visit(r));
        }
    }

    #[test]
    fn recall_is_high_and_grows_with_ef() {
        let (n, dim) = (3000, 32);
        let data = unit_rows(n, dim, 1);
        let queries = unit_rows(100, dim, 2);
        let space = Space { data: &data, dim };
        let rows: Vec<usize> = (0..n).collect();
        let g = Graph::build(space, &rows, 12, 100);
        assert_eq!(g.nodes(), n);
        g.check().unwrap();
        let low = recall(&g, space, &queries, 10, 1, |_| true);
        let high = recall(&g, space, &queries, 200, 1, |_| true);
        assert!(high >= 0.97, "recall@10 at ef 200: {high}");
        assert!(high >= low, "ef 200 {high} < ef 10 {low}");
    }

    /// Rows in tight clusters (near-duplicate titles in a catalogue) and
    /// queries between two clusters: a greedy descent reaches level 0 near
    /// one of them; a level-1 beam enters from both.
    #[test]
    fn upper_beam_finds_more_between_clusters() {
        let (clusters, per, dim) = (60, 50, 32);
        let centres = unit_rows(clusters, dim, 7);
        let noise = unit_rows(clusters * per, dim, 8);
        let mut data = Vec::with_capacity(clusters * per * dim);
        for r in 0..clusters * per {
            let c = &centres[(r % clusters) * dim..][..dim];
            let row: Vec<f32> = (0..dim).map(|d| c[d] + 0.15 * noise[r * dim + d]).collect();
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            data.extend(row.iter().map(|x| x / norm));
        }
        let mut queries = Vec::new();
        for i in 0..100 {
            let (a, b) = (i % clusters, (i * 7 + 3) % clusters);
            queries.extend((0..dim).map(|d| centres[a * dim + d] + centres[b * dim + d]));
        }
        let space = Space { data: &data, dim };
        let g = Graph::build(space, &(0..data.len() / dim).collect::<Vec<_>>(), 8, 64);
        let greedy = recall(&g, space, &queries, 10, 1, |_| true);
        let beam = recall(&g, space, &queries, 10, 16, |_| true);
        eprintln!("recall@10 at ef 10: greedy descent {greedy}, upper beam 16 {beam}");
        assert!(beam > greedy + 0.05, "upper beam {beam}, greedy {greedy}");
    }

    #[test]
    fn filtered_and_deleted_rows_never_come_back() {
        let (n, dim) = (2000, 16);
        let data = unit_rows(n, dim, 3);
        let queries = unit_rows(50, dim, 4);
        let space = Space { data: &data, dim };
        let g = Graph::build(space, &(0..n).collect::<Vec<_>>(), 8, 64);
        let r = recall(&g, space, &queries, 100, 16, |r| r % 3 == 0);
        assert!(r >= 0.9, "filtered recall {r}");
    }

    #[test]
    fn extend_inserts_new_rows_and_keeps_the_old_graph() {
        let (n, dim) = (2000, 16);
        let data = unit_rows(n, dim, 5);
        let queries = unit_rows(50, dim, 6);
        let half = Space {
            data: &data[..n / 2 * dim],
            dim,
        };
        let g = Graph::build(half, &(0..n / 2).collect::<Vec<_>>(), 8, 64);
        let full = Space { data: &data, dim };
        let g2 = g.extend(full, &(n / 2..n).collect::<Vec<_>>());
        assert_eq!(g.nodes(), n / 2);
        assert_eq!(g2.nodes(), n);
        g2.check().unwrap();
        let r = recall(&g2, full, &queries, 100, 16, |_| true);
        assert!(r >= 0.95, "recall after extend {r}");
    }

    #[test]
    fn save_load_roundtrip_and_corruption_is_named() {
        let (n, dim) = (500, 8);
        let data = unit_rows(n, dim, 7);
        let space = Space { data: &data, dim };
        // Leave some rows out of the graph.
        let rows: Vec<usize> = (0..n).filter(|r| r % 10 != 0).collect();
        let g = Graph::build(space, &rows, 6, 40);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hnsw.bin");
        g.save(&path).unwrap();
        let h = Graph::load(&path, n).unwrap();
        assert_eq!(h.base[..], g.base[..]);
        assert_eq!(h.upper, g.upper);
        assert_eq!(h.levels, g.levels);
        assert_eq!((h.entry, h.top, h.ef_construction), (g.entry, g.top, 40));
        let q = space.row(3).to_vec();
        assert_eq!(
            h.search(space, &q, 5, 50, 1, |_| true),
            g.search(space, &q, 5, 50, 1, |_| true)
        );

        let err = Graph::load(&path, n + 1).unwrap_err().to_string();
        assert!(err.contains("500 rows"), "{err}");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = Graph::load(&path, n).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        // A link to a row outside the graph (row 1's first link; row 1 has links).
        let mut bad = bytes.clone();
        assert!(!g.list(1, 0).is_empty());
        let first_link = 36 + n + (g.m0 + 1) * 4 + 4;
        bad[first_link..first_link + 4].copy_from_slice(&(n as u32 + 7).to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        let err = Graph::load(&path, n).unwrap_err().to_string();
        assert!(err.contains("link to row"), "{err}");
    }

    #[test]
    fn empty_and_single_row_graphs() {
        let dim = 4;
        let data = unit_rows(1, dim, 9);
        let space = Space { data: &data, dim };
        let g = Graph::build(space, &[], 4, 10);
        assert!(g.search(space, &data, 3, 10, 8, |_| true).is_empty());
        let g = Graph::build(space, &[0], 4, 10);
        let hits = g.search(space, &data, 3, 10, 8, |_| true);
        assert_eq!(hits.len(), 1);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
    }

    #[test]
    fn levels_are_deterministic_and_geometric() {
        let m = 16;
        let levels: Vec<u8> = (0..100_000).map(|r| level_of(r, m)).collect();
        assert_eq!(
            levels,
            (0..100_000).map(|r| level_of(r, m)).collect::<Vec<_>>()
        );
        let above0 = levels.iter().filter(|&&l| l > 0).count() as f64 / 1e5;
        // P(level ≥ 1) = 1/M.
        assert!((above0 - 1.0 / 16.0).abs() < 0.01, "{above0}");
    }
}
