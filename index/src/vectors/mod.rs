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
//! - `hnsw.bin` (optional): an HNSW graph over the rows (`hnsw`,
//!   ADR 0006); deleted rows stay in it as waypoints, never in results.
//! - `config.json`: [`VectorConfig`] and the row count.
//!
//! Exact search batches queries: corpus (rows × d) · queries (d × q) as faer
//! matrix products over blocks of rows, then a top-k per query. A row-major
//! rows × d matrix is a column-major d × rows one, so faer reads it in place.
//!
//! The files: `files.rs` (writing and opening a folder), `apply.rs`
//! (incremental updates), `search.rs` (exact scans and graph walks over the
//! f32 or compact rows).

mod apply;
mod files;
mod search;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use hyrank_data::DocId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hnsw::Graph;

use files::Matrix;
use search::Compact;

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

impl VectorIndex {
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
}
