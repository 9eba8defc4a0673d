//! Writing and opening a vector folder: the f32 matrix, ids, deletions, the
//! compact f16/int8 copy, the graph and `config.json`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use hyrank_data::fsio::AtomicFile;
use hyrank_data::DocId;
use serde::{Deserialize, Serialize};

use super::search::Compact;
use super::{Storage, VectorConfig, VectorIndex};
use crate::error::{Error, Result};
use crate::hnsw::{Graph, Space};
use crate::huge::HugeArray;

const MAGIC: &[u8; 8] = b"HYVEC001";
const MAGIC_F16: &[u8; 8] = b"HYVF1601";
const MAGIC_I8: &[u8; 8] = b"HYVI8001";
const HEADER: usize = 24;

#[derive(Debug, Serialize, Deserialize)]
struct FolderMeta {
    rows: u64,
    dim: usize,
    config: VectorConfig,
}

/// The f32 matrix: memory-mapped from `vectors.bin`; copied into memory
/// advised for huge pages when a graph walks it (ADR 0008); owned while
/// building.
pub(super) enum Matrix {
    Mapped(memmap2::Mmap),
    Resident(HugeArray<f32>),
    Owned(Vec<f32>),
}

impl Matrix {
    pub(super) fn as_slice(&self) -> &[f32] {
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
    pub(super) fn write(
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
