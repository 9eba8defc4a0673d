//! `hnsw.bin`: writing a graph and reading one back with every count and
//! link checked.

use std::path::Path;

use super::build::upper_layout;
use super::{Graph, ABSENT, MAGIC, MAX_LEVEL, NO_ENTRY};
use crate::error::{Error, Result};
use crate::huge::HugeArray;

impl Graph {
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
    pub(super) fn check(&self) -> std::result::Result<(), String> {
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
