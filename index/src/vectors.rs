//! Exact (brute-force) inner-product search over unit vectors, on faer.
//!
//! One query is memory-bound (100k × 384 f32 ≈ 150 MB read); a batch of
//! queries becomes one matrix product, corpus (n × d) · queries (d × q), and
//! then a top-k selection per query. Vectors are stored row-major; a
//! row-major n × d matrix is a column-major d × n one, so faer views it
//! without copying.
//!
//! On disk: `vectors.bin` (`HYVEC001`, n: u64, dim: u64, then n·dim f32,
//! little-endian) and `ids.txt` (one id per line), both written atomically.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use hyrank_data::fsio::AtomicFile;
use hyrank_data::DocId;

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"HYVEC001";
/// Queries per matrix product (bounds the score matrix to n × 64 floats).
const QUERY_BLOCK: usize = 64;

/// The exact vector index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorIndex {
    ids: Vec<DocId>,
    dim: usize,
    data: Vec<f32>,
}

impl VectorIndex {
    /// An empty index of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Self {
            ids: Vec::new(),
            dim,
            data: Vec::new(),
        }
    }

    /// Adds a vector.
    pub fn push(&mut self, id: DocId, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::InvalidArgument(format!(
                "vector of {} has dimension {}, index has {}",
                id,
                v.len(),
                self.dim
            )));
        }
        self.ids.push(id);
        self.data.extend_from_slice(v);
        Ok(())
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The id of row `i`.
    pub fn id(&self, i: usize) -> &DocId {
        &self.ids[i]
    }

    /// The vector of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Writes the index into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("vectors.bin");
        let mut f = AtomicFile::create(&path)?;
        let io = |e| Error::io(&path, e);
        f.write_all(MAGIC).map_err(io)?;
        f.write_all(&(self.ids.len() as u64).to_le_bytes())
            .map_err(io)?;
        f.write_all(&(self.dim as u64).to_le_bytes()).map_err(io)?;
        let mut buf = Vec::with_capacity(self.data.len() * 4);
        for x in &self.data {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).map_err(io)?;
        f.commit()?;
        let ids: String = self.ids.iter().map(|i| format!("{i}\n")).collect();
        hyrank_data::fsio::write_atomic(dir.join("ids.txt"), ids.as_bytes())?;
        Ok(())
    }

    /// Reads an index written by [`VectorIndex::save`], checking its shape.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("vectors.bin");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let corrupt = |m: String| Error::Corrupt {
            path: path.clone(),
            message: m,
        };
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a hyrank vector file (bad magic)".into()));
        }
        let n = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) as usize;
        let dim = u64::from_le_bytes(bytes[16..24].try_into().unwrap_or_default()) as usize;
        if bytes.len() != 24 + n * dim * 4 {
            return Err(corrupt(format!(
                "expected {n} × {dim} floats, file has {} bytes",
                bytes.len()
            )));
        }
        let data: Vec<f32> = bytes[24..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let ids_path = dir.join("ids.txt");
        let ids: Vec<DocId> = std::fs::read_to_string(&ids_path)
            .map_err(|e| Error::io(&ids_path, e))?
            .lines()
            .map(|l| DocId(l.to_owned()))
            .collect();
        if ids.len() != n {
            return Err(Error::Corrupt {
                path: ids_path,
                message: format!("{} ids for {n} vectors", ids.len()),
            });
        }
        Ok(Self { ids, dim, data })
    }

    /// The `k` nearest rows (by inner product) of each query, best first.
    /// With `allowed`, only rows whose id is in it are returned (filtered search).
    pub fn search_batch(
        &self,
        queries: &[Vec<f32>],
        k: usize,
        allowed: Option<&HashSet<String>>,
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        if let Some(q) = queries.iter().find(|q| q.len() != self.dim) {
            return Err(Error::InvalidArgument(format!(
                "query vector has dimension {}, index has {}",
                q.len(),
                self.dim
            )));
        }
        let n = self.len();
        if n == 0 || k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let mask: Option<Vec<bool>> =
            allowed.map(|a| self.ids.iter().map(|id| a.contains(id.as_str())).collect());
        let corpus = MatRef::from_column_major_slice(&self.data, self.dim, n);
        let mut out = Vec::with_capacity(queries.len());
        for block in queries.chunks(QUERY_BLOCK) {
            let flat: Vec<f32> = block.iter().flatten().copied().collect();
            let q = MatRef::from_column_major_slice(&flat, self.dim, block.len());
            let mut scores = Mat::<f32>::zeros(n, block.len());
            matmul(
                scores.as_mut(),
                Accum::Replace,
                corpus.transpose(),
                q,
                1.0f32,
                Par::rayon(0),
            );
            for j in 0..block.len() {
                let col = scores.col(j);
                let mut cand: Vec<(usize, f32)> = (0..n)
                    .filter(|&i| mask.as_ref().is_none_or(|m| m[i]))
                    .map(|i| (i, col[i]))
                    .collect();
                let kk = k.min(cand.len());
                if kk == 0 {
                    out.push(Vec::new());
                    continue;
                }
                let order =
                    |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                if kk < cand.len() {
                    cand.select_nth_unstable_by(kk - 1, order);
                    cand.truncate(kk);
                }
                cand.sort_by(order);
                out.push(cand);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn exact_search_matches_brute_force_and_round_trips() {
        let mut idx = VectorIndex::new(3);
        let mut s = 1u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let vecs: Vec<Vec<f32>> = (0..200).map(|_| unit(&[rnd(), rnd(), rnd()])).collect();
        for (i, v) in vecs.iter().enumerate() {
            idx.push(DocId(format!("d{i}")), v).unwrap();
        }
        let queries: Vec<Vec<f32>> = (0..70).map(|_| unit(&[rnd(), rnd(), rnd()])).collect();
        let got = idx.search_batch(&queries, 5, None).unwrap();
        for (q, hits) in queries.iter().zip(&got) {
            let mut brute: Vec<(usize, f32)> = vecs
                .iter()
                .enumerate()
                .map(|(i, v)| (i, v.iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            brute.sort_by(|a, b| b.1.total_cmp(&a.1));
            assert_eq!(
                hits.iter().map(|h| h.0).collect::<Vec<_>>(),
                brute[..5].iter().map(|h| h.0).collect::<Vec<_>>()
            );
        }
        let allowed: HashSet<String> = ["d3", "d7"].iter().map(|s| s.to_string()).collect();
        let f = idx.search_batch(&queries[..1], 5, Some(&allowed)).unwrap();
        assert_eq!(f[0].len(), 2);

        let dir = tempfile::tempdir().unwrap();
        idx.save(dir.path()).unwrap();
        assert_eq!(VectorIndex::load(dir.path()).unwrap(), idx);
        std::fs::write(dir.path().join("ids.txt"), "d0\n").unwrap();
        assert!(VectorIndex::load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("1 ids for 200 vectors"));
        assert!(idx.push("x".into(), &[1.0]).is_err());
        assert!(idx.search_batch(&[vec![1.0]], 3, None).is_err());
    }
}
