//! Building a graph: levels, parallel insertion (Algorithm 1) and the
//! neighbour-selection heuristic (Algorithm 4).

use std::sync::Mutex;

use rayon::prelude::*;

use super::{
    greedy, search_layer, with_scratch, Against, Cand, Graph, Links, Scorer, Scratch, Space,
};
use super::{ABSENT, MAX_LEVEL, NO_ENTRY};
use crate::huge::HugeArray;
use crate::kernels::dot::dot;

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
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(super) fn level_of(row: usize, m: usize) -> u8 {
    let u = ((mix(row as u64) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let ml = 1.0 / (m.max(2) as f64).ln();
    ((-u.ln() * ml).floor() as usize).min(MAX_LEVEL) as u8
}

/// Where each row's upper lists start in the upper array (`usize::MAX`: the
/// row has none), and that array's length: rows in order, `level × (1 + m)`
/// words a row. The one definition of the layout, for building and loading.
pub(super) fn upper_layout(levels: &[u8], m: usize) -> (Vec<usize>, usize) {
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
}
