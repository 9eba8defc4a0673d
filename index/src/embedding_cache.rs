//! The embedding cache: vectors keyed by (model, text), so that re-indexing
//! unchanged products never re-encodes them; and which text of a product is
//! embedded.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use hyrank_data::fsio::AtomicFile;
use hyrank_data::Product;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Which text of a product is embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedText {
    /// Title and leaf category (`Grey Velvet Sofa, 3-seater (Sofas)`): for
    /// catalogues, whose descriptions triple the tokens (about 45 instead of
    /// 130 sentences/s on 2 cores) for boilerplate that adds little meaning.
    #[default]
    Title,
    /// Title and description (truncated at 256 tokens): for document
    /// collections such as Cranfield, whose meaning is in the text.
    TitleDescription,
}

/// The text a product is embedded from.
pub fn embedding_text(p: &Product, what: EmbedText) -> String {
    match (what, p.category.last()) {
        (EmbedText::TitleDescription, _) if !p.description.is_empty() => {
            format!("{}. {}", p.title, p.description)
        }
        (EmbedText::Title, Some(leaf)) => format!("{} ({leaf})", p.title),
        _ => p.title.clone(),
    }
}

pub(crate) fn text_key(model_id: &str, text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(model_id.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Embeddings keyed by (model, text) hash, so that re-indexing unchanged
/// products never re-encodes them. File: `HYEMB001`, dim: u64, then records
/// of a 32-byte key and `dim` f32. Encoding appends each batch, so a build
/// killed half-way keeps what it encoded (a torn last record is cut off on
/// the next load); a finished build rewrites the file with the live entries.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    dim: usize,
    pub(crate) map: HashMap<[u8; 32], Vec<f32>>,
    /// Bytes of whole records in the file on disk (0: no usable file).
    valid_len: u64,
}

const CACHE_MAGIC: &[u8; 8] = b"HYEMB001";

impl EmbeddingCache {
    /// Loads `path` if it exists and has dimension `dim`; otherwise empty.
    pub fn load(path: &Path, dim: usize) -> Self {
        let mut c = Self {
            dim,
            map: HashMap::new(),
            valid_len: 0,
        };
        let Ok(bytes) = std::fs::read(path) else {
            return c;
        };
        if bytes.len() < 16
            || &bytes[..8] != CACHE_MAGIC
            || u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) as usize != dim
        {
            return c;
        }
        let rec = 32 + 4 * dim;
        for r in bytes[16..].chunks_exact(rec) {
            let key: [u8; 32] = r[..32].try_into().unwrap_or([0; 32]);
            let v = r[32..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            c.map.insert(key, v);
        }
        c.valid_len = 16 + ((bytes.len() - 16) / rec * rec) as u64;
        c
    }

    fn record(key: &[u8; 32], v: &[f32], out: &mut Vec<u8>) {
        out.extend_from_slice(key);
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// Adds entries and appends them to the file at `path` (not fsync'ed:
    /// this protects against a killed process, and the cache is only a cache).
    pub fn insert_and_append(
        &mut self,
        path: &Path,
        entries: Vec<([u8; 32], Vec<f32>)>,
    ) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let io = |e| Error::io(path, e);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut buf = Vec::new();
        let start = if self.valid_len == 0 {
            buf.extend_from_slice(CACHE_MAGIC);
            buf.extend_from_slice(&(self.dim as u64).to_le_bytes());
            0
        } else {
            self.valid_len
        };
        // Cut a torn record left by a killed build before appending.
        f.set_len(start).map_err(io)?;
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        for (k, v) in &entries {
            Self::record(k, v, &mut buf);
        }
        f.write_all(&buf).map_err(io)?;
        self.valid_len = start + buf.len() as u64;
        self.map.extend(entries);
        Ok(())
    }

    /// Rewrites the file with the entries whose keys are in `keep`, atomically.
    pub fn save(&mut self, path: &Path, keep: &[[u8; 32]]) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        let io = |e| Error::io(path, e);
        let mut buf = Vec::new();
        buf.extend_from_slice(CACHE_MAGIC);
        buf.extend_from_slice(&(self.dim as u64).to_le_bytes());
        let mut written = std::collections::HashSet::new();
        for k in keep {
            if let Some(v) = self.map.get(k) {
                if written.insert(*k) {
                    Self::record(k, v, &mut buf);
                }
            }
        }
        f.write_all(&buf).map_err(io)?;
        f.commit()?;
        self.valid_len = buf.len() as u64;
        Ok(())
    }
}
