//! Vector search over unit vectors: exact (faer) and approximate (HNSW).
//!
//! A vector folder is written once and never modified (incremental updates
//! write a new folder, see [`VectorIndex::apply`]), which is what makes
//! memory-mapping it safe:
//!
//! - `vectors.bin`: `HYVEC001`, rows: u64, dim: u64, then rows·dim f32
//!   (little-endian, row-major). Memory-mapped, so the f32 matrix lives in the
//!   page cache, not on the heap.
//! - `ids.txt`: the id of each row; `deleted.txt`: rows deleted since the
//!   folder was last compacted (one row number a line).
//! - `vectors.f16` or `vectors.i8` (optional storage, read into memory): the
//!   same rows in half precision, or in int8 with one scale per dimension
//!   (`x ≈ q · scale_d / 127`). Searches scan the compact copy and re-score
//!   their best `rescore` × k candidates exactly from the f32 matrix.
//! - `hnsw.bin` (optional): an HNSW graph over the rows ([`crate::hnsw`],
//!   ADR 0006); deleted rows stay in it as waypoints, never in results.
//! - `config.json`: [`VectorConfig`] and the row count.
//!
//! Exact search batches queries: corpus (rows × d) · queries (d × q) as faer
//! matrix products over blocks of rows, then a top-k per query. A row-major
//! rows × d matrix is a column-major d × rows one, so faer reads it in place.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use hyrank_data::fsio::AtomicFile;
use hyrank_data::DocId;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hnsw::{Against, Graph, Scorer, Space};
use crate::huge::HugeArray;
use crate::kernels::dot::{dot_f16, dot_i8, prefetch};

const MAGIC: &[u8; 8] = b"HYVEC001";
const MAGIC_F16: &[u8; 8] = b"HYVF1601";
const MAGIC_I8: &[u8; 8] = b"HYVI8001";
const HEADER: usize = 24;
/// Queries per matrix product.
const QUERY_BLOCK: usize = 128;
/// Rows per matrix product (a 4096 × 384 f32 block is 6 MiB).
const ROW_BLOCK: usize = 4096;
/// Compact (rebuild without the deleted rows) when they exceed this share.
const COMPACT_AT: f64 = 0.3;

/// How the vectors are kept in memory for scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// The memory-mapped f32 matrix itself.
    #[default]
    F32,
    /// Half precision in memory (half the bytes), exact re-scoring.
    F16,
    /// int8 with per-dimension scales (a quarter of the bytes), exact re-scoring.
    Int8,
}

impl std::str::FromStr for Storage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "int8" | "i8" => Ok(Self::Int8),
            _ => Err(Error::InvalidArgument(format!(
                "unknown vector storage {s:?} (expected f32, f16 or int8)"
            ))),
        }
    }
}

/// HNSW parameters (the names of the HNSW paper and of hnswlib).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node and level (`M`; twice as many on level 0).
    pub m: usize,
    /// Candidate list while inserting (`ef_construction`).
    pub ef_construction: usize,
    /// Candidate list while searching (`ef_search`, raised to k when smaller).
    pub ef_search: usize,
    /// Beam on level 1 whose results all start the level-0 search (faiss's
    /// `upper_beam`; 1 = the greedy descent of hnswlib and the paper). Read
    /// as 16 from folders written before it existed.
    #[serde(default = "default_upper_beam")]
    pub upper_beam: usize,
}

/// The default level-1 beam (ADR 0008).
pub const DEFAULT_UPPER_BEAM: usize = 16;

fn default_upper_beam() -> usize {
    DEFAULT_UPPER_BEAM
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 100,
            upper_beam: DEFAULT_UPPER_BEAM,
        }
    }
}

impl HnswParams {
    /// Checks the ranges the graph allows (M in 2..=256, positive ef).
    pub fn validate(&self) -> Result<()> {
        if !(2..=256).contains(&self.m) {
            return Err(Error::InvalidArgument(format!(
                "HNSW M must be in 2..=256, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_search == 0 || self.upper_beam == 0 {
            return Err(Error::InvalidArgument(
                "HNSW ef_construction, ef_search and upper_beam must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// What a vector folder holds besides the f32 matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VectorConfig {
    /// In-memory storage for scanning.
    #[serde(default)]
    pub storage: Storage,
    /// An HNSW graph, when built.
    #[serde(default)]
    pub hnsw: Option<HnswParams>,
}

/// How one search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchOptions {
    /// Scan every row even when an HNSW graph exists.
    pub exact: bool,
    /// Overrides the folder's `ef_search`.
    pub ef_search: Option<usize>,
    /// Overrides the folder's `upper_beam` (0 or 1: greedy descent).
    pub upper_beam: Option<usize>,
    /// Candidates re-scored from f32 per result with f16/int8 storage
    /// (0 = the default, 4).
    pub rescore: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct FolderMeta {
    rows: u64,
    dim: usize,
    config: VectorConfig,
}

/// The f32 matrix: memory-mapped from `vectors.bin`; copied into memory
/// advised for huge pages when a graph walks it (ADR 0008); owned while
/// building.
enum Matrix {
    Mapped(memmap2::Mmap),
    Resident(HugeArray<f32>),
    Owned(Vec<f32>),
}

impl Matrix {
    fn as_slice(&self) -> &[f32] {
        match self {
            // Checked to be aligned and whole in `map_matrix`.
            Self::Mapped(m) => bytemuck::try_cast_slice(&m[HEADER..]).unwrap_or(&[]),
            Self::Resident(a) => a,
            Self::Owned(v) => v,
        }
    }
}

fn map_matrix(path: &Path) -> Result<(Matrix, usize, usize)> {
    let corrupt = |m: String| Error::Corrupt {
        path: path.to_path_buf(),
        message: m,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let map = crate::kernels::map_file(&file).map_err(|e| Error::io(path, e))?;
    if map.len() < HEADER || &map[..8] != MAGIC {
        return Err(corrupt("not a hyrank vector file (bad magic)".into()));
    }
    let n = read_u64(&map[8..16]) as usize;
    let dim = read_u64(&map[16..24]) as usize;
    if map.len() != HEADER + n * dim * 4 {
        return Err(corrupt(format!(
            "expected {n} × {dim} floats, file has {} bytes",
            map.len()
        )));
    }
    if cfg!(target_endian = "big") {
        let data = map[HEADER..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok((Matrix::Owned(data), n, dim));
    }
    if bytemuck::try_cast_slice::<u8, f32>(&map[HEADER..]).is_err() {
        return Err(corrupt("vector data is not 4-byte aligned".into()));
    }
    Ok((Matrix::Mapped(map), n, dim))
}

/// The 24-byte header every vector file starts with: magic, rows, dim.
fn header(magic: &[u8; 8], n: usize, dim: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(magic);
    h.extend_from_slice(&(n as u64).to_le_bytes());
    h.extend_from_slice(&(dim as u64).to_le_bytes());
    h
}

fn read_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or_default())
}

/// The f16 or int8 copy of the rows (in memory advised for huge pages, as
/// the graph walks it at random): scanned by exact search, walked by the
/// graph; results are re-scored from the f32 rows either way.
enum Compact {
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

/// A vector index folder, opened.
pub struct VectorIndex {
    dir: PathBuf,
    ids: Vec<DocId>,
    row_of: HashMap<DocId, usize>,
    deleted: Vec<bool>,
    live: usize,
    dim: usize,
    matrix: Matrix,
    compact: Compact,
    hnsw: Option<Graph>,
    config: VectorConfig,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dir", &self.dir)
            .field("rows", &self.ids.len())
            .field("live", &self.live)
            .field("dim", &self.dim)
            .field("config", &self.config)
            .finish()
    }
}

/// What [`VectorIndex::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Rows appended.
    pub added: usize,
    /// Rows marked deleted (deleted or replaced products).
    pub deleted: usize,
    /// Whether the folder was rewritten without its deleted rows.
    pub compacted: bool,
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

use crate::kernels::dot::dot;

impl VectorIndex {
    /// Writes a new vector folder at `dir` (which must not exist yet) from
    /// `(id, vector)` rows.
    pub fn build<'a>(
        dir: &Path,
        rows: impl IntoIterator<Item = (DocId, &'a [f32])>,
        dim: usize,
        config: VectorConfig,
    ) -> Result<Self> {
        if let Some(p) = &config.hnsw {
            p.validate()?;
        }
        let mut ids = Vec::new();
        let mut data = Vec::new();
        let mut seen = HashSet::new();
        for (id, v) in rows {
            if v.len() != dim {
                return Err(Error::InvalidArgument(format!(
                    "vector of {id} has dimension {}, expected {dim}",
                    v.len()
                )));
            }
            if !seen.insert(id.clone()) {
                return Err(Error::InvalidArgument(format!(
                    "product id {id} appears twice"
                )));
            }
            ids.push(id);
            data.extend_from_slice(v);
        }
        let deleted = vec![false; ids.len()];
        Self::write(dir, &ids, &data, &deleted, dim, config, None)?;
        Self::open(dir)
    }

    /// Writes every file of a folder. `hnsw`: a graph to save instead of
    /// building one over the live rows.
    fn write(
        dir: &Path,
        ids: &[DocId],
        data: &[f32],
        deleted: &[bool],
        dim: usize,
        config: VectorConfig,
        hnsw: Option<&Graph>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let n = ids.len();
        // vectors.bin
        let path = dir.join("vectors.bin");
        let mut f = AtomicFile::create(&path)?;
        let io = |e| Error::io(&path, e);
        f.write_all(&header(MAGIC, n, dim)).map_err(io)?;
        for chunk in data.chunks(1 << 16) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
            f.write_all(&bytes).map_err(io)?;
        }
        f.commit()?;
        // ids.txt, deleted.txt
        let text: String = ids.iter().map(|i| format!("{i}\n")).collect();
        hyrank_data::fsio::write_atomic(dir.join("ids.txt"), text.as_bytes())?;
        let del: String = deleted
            .iter()
            .enumerate()
            .filter(|(_, d)| **d)
            .map(|(i, _)| format!("{i}\n"))
            .collect();
        hyrank_data::fsio::write_atomic(dir.join("deleted.txt"), del.as_bytes())?;
        // compact copy
        match config.storage {
            Storage::F32 => {}
            Storage::F16 => {
                let mut b = header(MAGIC_F16, n, dim);
                b.reserve(data.len() * 2);
                for x in data {
                    b.extend_from_slice(&half::f16::from_f32(*x).to_le_bytes());
                }
                hyrank_data::fsio::write_atomic(dir.join("vectors.f16"), &b)?;
            }
            Storage::Int8 => {
                let scales = int8_scales(data, deleted, dim);
                let mut b = header(MAGIC_I8, n, dim);
                b.reserve(dim * 4 + data.len());
                for s in &scales {
                    b.extend_from_slice(&s.to_le_bytes());
                }
                for row in data.chunks_exact(dim.max(1)) {
                    for (x, s) in row.iter().zip(&scales) {
                        b.push(quantize_i8(*x, *s) as u8);
                    }
                }
                hyrank_data::fsio::write_atomic(dir.join("vectors.i8"), &b)?;
            }
        }
        // HNSW graph
        if let Some(p) = &config.hnsw {
            let path = dir.join("hnsw.bin");
            match hnsw {
                Some(g) => g.save(&path)?,
                None => {
                    let live: Vec<usize> = (0..n).filter(|&r| !deleted[r]).collect();
                    Graph::build(Space { data, dim }, &live, p.m, p.ef_construction).save(&path)?;
                }
            }
        }
        let meta = FolderMeta {
            rows: n as u64,
            dim,
            config,
        };
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
        hyrank_data::fsio::write_atomic(dir.join("config.json"), &json)?;
        hyrank_data::fsio::sync_dir(dir)?;
        Ok(())
    }

    /// Opens a folder written by [`VectorIndex::build`] or
    /// [`VectorIndex::apply`], checking that its files agree.
    pub fn open(dir: &Path) -> Result<Self> {
        let cpath = dir.join("config.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::io(&cpath, e))?;
        let meta: FolderMeta = serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: cpath.clone(),
            message: e.to_string(),
        })?;
        let (matrix, n, dim) = map_matrix(&dir.join("vectors.bin"))?;
        let mismatch = |path: PathBuf, what: String| Error::Corrupt {
            path,
            message: what,
        };
        if n as u64 != meta.rows || dim != meta.dim {
            return Err(mismatch(
                dir.join("vectors.bin"),
                format!(
                    "{n} × {dim} vectors, config.json says {} × {}",
                    meta.rows, meta.dim
                ),
            ));
        }
        let ids_path = dir.join("ids.txt");
        let ids: Vec<DocId> = std::fs::read_to_string(&ids_path)
            .map_err(|e| Error::io(&ids_path, e))?
            .lines()
            .map(|l| DocId(l.to_owned()))
            .collect();
        if ids.len() != n {
            return Err(mismatch(
                ids_path,
                format!("{} ids for {n} vectors", ids.len()),
            ));
        }
        let del_path = dir.join("deleted.txt");
        let mut deleted = vec![false; n];
        let del_text = std::fs::read_to_string(&del_path).map_err(|e| Error::io(&del_path, e))?;
        for (i, l) in del_text.lines().enumerate() {
            match l.parse::<usize>() {
                Ok(r) if r < n => deleted[r] = true,
                _ => {
                    return Err(mismatch(
                        del_path,
                        format!("line {}: {l:?} is not a row below {n}", i + 1),
                    ))
                }
            }
        }
        let mut row_of = HashMap::with_capacity(n);
        for (r, id) in ids.iter().enumerate() {
            if !deleted[r] {
                row_of.insert(id.clone(), r);
            }
        }
        let live = row_of.len();
        let compact = match meta.config.storage {
            Storage::F32 => Compact::None,
            Storage::F16 => {
                let path = dir.join("vectors.f16");
                let b = read_compact(&path, MAGIC_F16, n, dim, 0, 2)?;
                let bits: Vec<u16> = b
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Compact::F16(HugeArray::copy_of(&bits))
            }
            Storage::Int8 => {
                let path = dir.join("vectors.i8");
                let b = read_compact(&path, MAGIC_I8, n, dim, dim * 4, 1)?;
                let scales = b[..dim * 4]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let data: Vec<i8> = b[dim * 4..].iter().map(|&x| x as i8).collect();
                Compact::Int8 {
                    scales,
                    data: HugeArray::copy_of(&data),
                }
            }
        };
        let hnsw = match &meta.config.hnsw {
            None => None,
            Some(_) => {
                let path = dir.join("hnsw.bin");
                if !path.exists() && dir.join("hnsw.usearch").exists() {
                    return Err(mismatch(
                        path,
                        "missing: this folder holds a usearch graph (hnsw.usearch) from an \
                         older hyrank; rebuild the index with `hyrank index build --full`"
                            .into(),
                    ));
                }
                let g = Graph::load(&path, n)?;
                if let Some(r) = (0..n).find(|&r| !deleted[r] && !g.contains(r)) {
                    return Err(mismatch(
                        path,
                        format!("live row {r} ({}) is not in the graph", ids[r]),
                    ));
                }
                Some(g)
            }
        };
        // A graph walks the matrix at random: keep it in huge pages (ADR 0008),
        // unless the walk reads the compact rows (the f32 ones are then read
        // only to re-score a few candidates, through the file mapping).
        let matrix = match (&hnsw, &compact, matrix) {
            (Some(_), Compact::None, m @ Matrix::Mapped(_)) => {
                Matrix::Resident(HugeArray::copy_of(m.as_slice()))
            }
            (_, _, m) => m,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            ids,
            row_of,
            deleted,
            live,
            dim,
            matrix,
            compact,
            hnsw,
            config: meta.config,
        })
    }

    /// Writes a new folder at `new_dir`: this folder's rows minus `deletes`,
    /// plus `upserts` (a product in both is replaced). Rows are appended and
    /// deleted rows only marked, and the HNSW graph is updated in place of a
    /// rebuild, unless deleted rows would exceed 30 %: then the folder is
    /// compacted (rewritten with the live rows only, graph rebuilt).
    pub fn apply(
        &self,
        new_dir: &Path,
        upserts: &[(DocId, Vec<f32>)],
        deletes: &[DocId],
    ) -> Result<ApplyReport> {
        let mut deleted = self.deleted.clone();
        let mut newly = 0usize;
        for id in deletes.iter().chain(upserts.iter().map(|(i, _)| i)) {
            if let Some(&r) = self.row_of.get(id) {
                if !deleted[r] {
                    deleted[r] = true;
                    newly += 1;
                }
            }
        }
        let mut seen = HashSet::new();
        for (id, v) in upserts {
            if v.len() != self.dim {
                return Err(Error::InvalidArgument(format!(
                    "vector of {id} has dimension {}, index has {}",
                    v.len(),
                    self.dim
                )));
            }
            if !seen.insert(id) {
                return Err(Error::InvalidArgument(format!(
                    "product id {id} appears twice"
                )));
            }
        }
        let old = self.matrix.as_slice();
        let total = self.ids.len() + upserts.len();
        let dead = deleted.iter().filter(|d| **d).count();
        if total > 0 && dead as f64 / total as f64 > COMPACT_AT {
            let mut ids = Vec::with_capacity(total - dead);
            let mut data = Vec::with_capacity((total - dead) * self.dim);
            for r in (0..self.ids.len()).filter(|&r| !deleted[r]) {
                ids.push(self.ids[r].clone());
                data.extend_from_slice(&old[r * self.dim..(r + 1) * self.dim]);
            }
            for (id, v) in upserts {
                ids.push(id.clone());
                data.extend_from_slice(v);
            }
            let none = vec![false; ids.len()];
            Self::write(new_dir, &ids, &data, &none, self.dim, self.config, None)?;
            return Ok(ApplyReport {
                added: upserts.len(),
                deleted: newly,
                compacted: true,
            });
        }
        let first_new = self.ids.len();
        let mut ids = self.ids.clone();
        let mut data = Vec::with_capacity(total * self.dim);
        data.extend_from_slice(old);
        for (id, v) in upserts {
            ids.push(id.clone());
            data.extend_from_slice(v);
            deleted.push(false);
        }
        // A new graph: this folder's, plus the new rows. Deleted rows stay
        // in it as waypoints (search never returns them).
        let graph = self.hnsw.as_ref().map(|g| {
            let added: Vec<usize> = (first_new..ids.len()).collect();
            g.extend(
                Space {
                    data: &data,
                    dim: self.dim,
                },
                &added,
            )
        });
        Self::write(
            new_dir,
            &ids,
            &data,
            &deleted,
            self.dim,
            self.config,
            graph.as_ref(),
        )?;
        Ok(ApplyReport {
            added: upserts.len(),
            deleted: newly,
            compacted: false,
        })
    }

    /// Live (not deleted) vectors.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no vector is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Rows in the folder, deleted ones included.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The folder's configuration.
    pub fn config(&self) -> VectorConfig {
        self.config
    }

    /// The id of row `i`.
    pub fn id(&self, i: usize) -> &DocId {
        &self.ids[i]
    }

    /// The live row of `id`.
    pub fn row_of(&self, id: &DocId) -> Option<usize> {
        self.row_of.get(id).copied()
    }

    /// The f32 vector of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.matrix.as_slice()[i * self.dim..(i + 1) * self.dim]
    }

    /// The SIMD kernel the HNSW search uses for distances, when a graph is
    /// loaded (`avx2+fma` or `portable`).
    pub fn hnsw_hardware(&self) -> Option<String> {
        self.hnsw
            .as_ref()
            .map(|_| crate::kernels::dot::kernel_name().to_owned())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A live-row mask from a set of allowed ids (for filtered search).
    pub fn mask_of(&self, allowed: &HashSet<String>) -> Vec<bool> {
        self.ids
            .iter()
            .zip(&self.deleted)
            .map(|(id, d)| !d && allowed.contains(id.as_str()))
            .collect()
    }

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

fn read_compact(
    path: &Path,
    magic: &[u8; 8],
    n: usize,
    dim: usize,
    extra: usize,
    width: usize,
) -> Result<Vec<u8>> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if b.len() < HEADER
        || &b[..8] != magic
        || read_u64(&b[8..16]) as usize != n
        || read_u64(&b[16..24]) as usize != dim
        || b.len() != HEADER + extra + n * dim * width
    {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            message: format!("expected a {n} × {dim} compact copy of vectors.bin"),
        });
    }
    Ok(b[HEADER..].to_vec())
}

/// Per-dimension scales: the largest |x| over live rows (1 when all zero).
fn int8_scales(data: &[f32], deleted: &[bool], dim: usize) -> Vec<f32> {
    let mut s = vec![0f32; dim];
    for (row, d) in data.chunks_exact(dim.max(1)).zip(deleted) {
        if !d {
            for (m, x) in s.iter_mut().zip(row) {
                *m = m.max(x.abs());
            }
        }
    }
    s.iter().map(|&m| if m > 0.0 { m } else { 1.0 }).collect()
}

fn quantize_i8(x: f32, scale: f32) -> i8 {
    (x / scale * 127.0).round().clamp(-127.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn random_unit(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed;
        let mut rnd = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        (0..n)
            .map(|_| unit(&(0..dim).map(|_| rnd()).collect::<Vec<_>>()))
            .collect()
    }

    fn brute(vecs: &[Vec<f32>], q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut all: Vec<(usize, f32)> = vecs
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(i, v)| (i, dot(v, q)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.into_iter().take(k).map(|h| h.0).collect()
    }

    fn build(dir: &Path, vecs: &[Vec<f32>], config: VectorConfig) -> VectorIndex {
        VectorIndex::build(
            dir,
            vecs.iter()
                .enumerate()
                .map(|(i, v)| (DocId(format!("d{i}")), v.as_slice())),
            vecs[0].len(),
            config,
        )
        .unwrap()
    }

    fn rows(hits: &[(usize, f32)]) -> Vec<usize> {
        hits.iter().map(|h| h.0).collect()
    }

    /// recall@10 against brute force, and the largest |score − exact cosine|.
    fn recall10(vecs: &[Vec<f32>], queries: &[Vec<f32>], got: &[Vec<(usize, f32)>]) -> (f64, f32) {
        let (mut agree, mut err) = (0, 0f32);
        for (q, hits) in queries.iter().zip(got) {
            let truth = brute(vecs, q, 10, |_| true);
            agree += rows(hits).iter().filter(|r| truth.contains(r)).count();
            for (r, s) in hits {
                err = err.max((s - dot(&vecs[*r], q)).abs());
            }
        }
        (agree as f64 / (10 * queries.len()) as f64, err)
    }

    #[test]
    fn exact_scan_matches_brute_force_across_row_blocks_and_filters() {
        let vecs = random_unit(ROW_BLOCK + 300, 8, 1);
        let queries = random_unit(70, 8, 2);
        let dir = tempfile::tempdir().unwrap();
        let idx = build(&dir.path().join("v"), &vecs, VectorConfig::default());
        let got = idx
            .search_batch(&queries, 5, None, SearchOptions::default())
            .unwrap();
        for (q, hits) in queries.iter().zip(&got) {
            assert_eq!(rows(hits), brute(&vecs, q, 5, |_| true));
            assert!((hits[0].1 - dot(&vecs[hits[0].0], q)).abs() < 1e-5);
        }
        let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 7 == 3).collect();
        let f = idx
            .search_batch(&queries[..3], 5, Some(&mask), SearchOptions::default())
            .unwrap();
        for (q, hits) in queries.iter().zip(&f) {
            assert_eq!(rows(hits), brute(&vecs, q, 5, |i| i % 7 == 3));
        }
        // errors name the problem
        assert!(idx
            .search_batch(&[vec![1.0]], 3, None, SearchOptions::default())
            .unwrap_err()
            .to_string()
            .contains("dimension 1"));
        // reopening maps the same matrix
        let again = VectorIndex::open(&dir.path().join("v")).unwrap();
        assert_eq!(again.vector(17), idx.vector(17));
        assert_eq!(again.row_of(&DocId::from("d17")), Some(17));
    }

    #[test]
    fn quantized_storage_scans_and_walks_then_rescores_exactly() {
        // 40 dimensions: the SIMD kernels' 32-wide steps and their tails.
        let vecs = random_unit(3000, 40, 11);
        let queries = random_unit(40, 40, 12);
        let graph = HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
            upper_beam: 8,
        };
        for storage in [Storage::F16, Storage::Int8] {
            for hnsw in [None, Some(graph)] {
                let dir = tempfile::tempdir().unwrap();
                build(dir.path(), &vecs, VectorConfig { storage, hnsw });
                let idx = VectorIndex::open(dir.path()).unwrap();
                // Scan and walk read the compact copy; f32 stays in the file mapping.
                assert!(matches!(idx.matrix, Matrix::Mapped(_)), "{storage:?}");
                let got = idx
                    .search_batch(&queries, 10, None, SearchOptions::default())
                    .unwrap();
                let (recall, err) = recall10(&vecs, &queries, &got);
                let what = format!("{storage:?}, graph {}", hnsw.is_some());
                assert!(err < 1e-5, "{what}: re-scored exactly ({err})");
                let floor = if hnsw.is_some() { 0.9 } else { 0.99 };
                assert!(recall >= floor, "{what}: recall@10 {recall}");
                let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 3 == 0).collect();
                let f = idx
                    .search_batch(&queries, 10, Some(&mask), SearchOptions::default())
                    .unwrap();
                assert!(f.iter().flatten().all(|(r, _)| r % 3 == 0), "{what}");
                assert!(f.iter().all(|h| h.len() == 10), "{what}");
            }
        }
    }

    #[test]
    fn hnsw_is_persisted_filtered_and_close_to_exact() {
        let vecs = random_unit(3000, 16, 5);
        let queries = random_unit(40, 16, 6);
        let dir = tempfile::tempdir().unwrap();
        let cfg = VectorConfig {
            storage: Storage::F32,
            hnsw: Some(HnswParams {
                m: 16,
                ef_construction: 100,
                ef_search: 64,
                upper_beam: 8,
            }),
        };
        build(dir.path(), &vecs, cfg);
        let idx = VectorIndex::open(dir.path()).unwrap();
        assert!(dir.path().join("hnsw.bin").exists());
        let got = idx
            .search_batch(&queries, 10, None, SearchOptions::default())
            .unwrap();
        let (recall, err) = recall10(&vecs, &queries, &got);
        assert!(
            recall >= 0.9 && err < 1e-4,
            "recall {recall}, score error {err}"
        );
        let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 5 == 0).collect();
        let f = idx
            .search_batch(&queries, 10, Some(&mask), SearchOptions::default())
            .unwrap();
        assert!(f.iter().flatten().all(|(r, _)| r % 5 == 0));
        assert!(f.iter().all(|h| h.len() == 10));
        // A filter keeping under 5 % of the rows is answered by the exact scan.
        let rare: Vec<bool> = (0..vecs.len()).map(|i| i % 100 == 7).collect();
        let f = idx
            .search_batch(&queries[..3], 10, Some(&rare), SearchOptions::default())
            .unwrap();
        for (q, h) in queries.iter().zip(&f) {
            assert_eq!(rows(h), brute(&vecs, q, 10, |i| i % 100 == 7));
        }
        let exact = idx
            .search_batch(
                &queries[..1],
                10,
                None,
                SearchOptions {
                    exact: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(rows(&exact[0]), brute(&vecs, &queries[0], 10, |_| true));
        // hnswlib's greedy descent (a level-1 beam of 1) stays available.
        let greedy = idx
            .search_batch(
                &queries,
                10,
                None,
                SearchOptions {
                    upper_beam: Some(1),
                    ..Default::default()
                },
            )
            .unwrap();
        let (recall1, _) = recall10(&vecs, &queries, &greedy);
        assert!(recall1 >= 0.85, "recall with greedy descent {recall1}");
        // Concurrent searches with different ef_search each get their own.
        let with_ef = |ef: usize| {
            idx.search_batch(
                &queries,
                10,
                None,
                SearchOptions {
                    ef_search: Some(ef),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let (low, high) = (with_ef(10), with_ef(300));
        std::thread::scope(|s| {
            for t in 0..4 {
                let (with_ef, low, high) = (&with_ef, &low, &high);
                s.spawn(move || {
                    for _ in 0..5 {
                        if t % 2 == 0 {
                            assert_eq!(&with_ef(10), low);
                        } else {
                            assert_eq!(&with_ef(300), high);
                        }
                    }
                });
            }
        });
        assert!(HnswParams {
            m: 1,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(HnswParams {
            upper_beam: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        // Folders written before `upper_beam` existed read it as the default.
        let old: HnswParams =
            serde_json::from_str(r#"{"m": 16, "ef_construction": 200, "ef_search": 100}"#).unwrap();
        assert_eq!(old.upper_beam, DEFAULT_UPPER_BEAM);
    }

    #[test]
    fn apply_appends_marks_deleted_and_compacts() {
        let vecs = random_unit(100, 8, 7);
        let root = tempfile::tempdir().unwrap();
        for cfg in [
            VectorConfig::default(),
            VectorConfig {
                storage: Storage::Int8,
                hnsw: Some(HnswParams::default()),
            },
        ] {
            let a = build(&root.path().join("a"), &vecs, cfg);
            let extra = random_unit(3, 8, 8);
            let upserts = vec![
                (DocId::from("d5"), extra[0].clone()),
                (DocId::from("new1"), extra[1].clone()),
            ];
            let rep = a
                .apply(&root.path().join("b"), &upserts, &[DocId::from("d9")])
                .unwrap();
            assert_eq!((rep.added, rep.deleted, rep.compacted), (2, 2, false));
            let b = VectorIndex::open(&root.path().join("b")).unwrap();
            assert_eq!((b.len(), b.rows()), (100, 102));
            assert_eq!(b.row_of(&DocId::from("d9")), None);
            assert_eq!(
                b.vector(b.row_of(&DocId::from("d5")).unwrap()),
                &extra[0][..]
            );
            let hit = b
                .search_batch(&[extra[1].clone()], 1, None, SearchOptions::default())
                .unwrap();
            assert_eq!(b.id(hit[0][0].0).as_str(), "new1");
            let hit = b
                .search_batch(&[vecs[9].clone()], 3, None, SearchOptions::default())
                .unwrap();
            assert!(hit[0].iter().all(|(r, _)| b.id(*r).as_str() != "d9"));
            // the old folder is untouched
            assert_eq!(
                VectorIndex::open(&root.path().join("a")).unwrap().rows(),
                100
            );
            // deleting most rows compacts
            let gone: Vec<DocId> = (0..60).map(|i| DocId(format!("d{i}"))).collect();
            let rep = b.apply(&root.path().join("c"), &[], &gone).unwrap();
            assert!(rep.compacted);
            let c = VectorIndex::open(&root.path().join("c")).unwrap();
            assert_eq!((c.len(), c.rows()), (41, 41));
            for d in ["a", "b", "c"] {
                std::fs::remove_dir_all(root.path().join(d)).unwrap();
            }
        }
    }

    #[test]
    fn damaged_or_old_hnsw_graphs_are_named() {
        let vecs = random_unit(50, 4, 11);
        let dir = tempfile::tempdir().unwrap();
        let cfg = VectorConfig {
            storage: Storage::F32,
            hnsw: Some(HnswParams::default()),
        };
        build(dir.path(), &vecs, cfg);
        let graph = dir.path().join("hnsw.bin");
        std::fs::write(&graph, b"HYHNSW01 but not much else").unwrap();
        let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("hnsw.bin"), "{e}");
        // A folder written by the usearch-based hyrank.
        std::fs::remove_file(&graph).unwrap();
        std::fs::write(dir.path().join("hnsw.usearch"), b"x").unwrap();
        let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("--full"), "{e}");
    }

    #[test]
    fn damaged_folders_are_named() {
        let vecs = random_unit(20, 4, 9);
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), &vecs, VectorConfig::default());
        std::fs::write(dir.path().join("ids.txt"), "d0\n").unwrap();
        let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("1 ids for 20 vectors"), "{e}");
        std::fs::write(dir.path().join("vectors.bin"), b"garbage").unwrap();
        let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bad magic") && e.contains("vectors.bin"), "{e}");
        let dup = [vecs[0].as_slice(), vecs[1].as_slice()];
        let e = VectorIndex::build(
            &dir.path().join("x"),
            dup.iter().map(|v| (DocId::from("same"), *v)),
            4,
            VectorConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("same appears twice"), "{e}");
    }
}
