//! The `Retriever` trait, the search index folder, and the BM25, dense and
//! hybrid retrievers.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyrank_data::fsio::AtomicFile;
use hyrank_data::{DocId, Product};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bm25::{Bm25Index, FieldBoosts, Filter};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::fusion::{fuse, Fusion};
use crate::vectors::VectorIndex;

/// One retriever's view of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    /// The retriever's raw score.
    pub score: f32,
    /// 1-based rank in that retriever's list.
    pub rank: u32,
}

/// A retrieved product with every retriever's score (the explanation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The product.
    pub doc: DocId,
    /// The score this retriever ranks by (BM25, cosine, or fused).
    pub score: f32,
    /// BM25's score and rank, when BM25 retrieved it.
    pub bm25: Option<Hit>,
    /// The dense retriever's cosine and rank, when it retrieved it.
    pub dense: Option<Hit>,
    /// The fused score (hybrid only).
    pub fused: Option<f32>,
}

/// Query → scored candidates.
///
/// Contract: at most `k` candidates, best first, distinct documents, each
/// passing `filter`; every candidate carries the per-retriever scores that
/// produced it. Errors: [`Error::InvalidArgument`] for bad parameters.
pub trait Retriever: Send + Sync {
    /// Name used in run files and reports (`bm25`, `dense`, `hybrid-rrf`, ...).
    fn name(&self) -> &str;
    /// Retrieves for a batch of queries (dense retrieval batches the encoding).
    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<Candidate>>>;
    /// Retrieves for one query.
    fn retrieve(&self, query: &str, k: usize, filter: &Filter) -> Result<Vec<Candidate>> {
        Ok(self
            .retrieve_batch(&[query], k, filter)?
            .pop()
            .unwrap_or_default())
    }
}

/// What an index folder holds (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Products indexed.
    pub products: u64,
    /// sha256 of the encoder weights, when vectors were built.
    pub model_id: Option<String>,
    /// Vector dimension.
    pub dim: Option<usize>,
    /// What was embedded.
    #[serde(default)]
    pub embed_text: EmbedText,
}

/// An index folder: `bm25/`, `vectors/` (optional), `manifest.json`,
/// `embeddings.cache`.
#[derive(Debug)]
pub struct SearchIndex {
    /// The BM25 index.
    pub bm25: Bm25Index,
    /// The vectors, when built.
    pub vectors: Option<VectorIndex>,
    /// The encoder for queries, when vectors exist and a model was given.
    pub encoder: Option<Encoder>,
    /// The manifest.
    pub manifest: Manifest,
    /// The folder.
    pub dir: PathBuf,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildReport {
    /// Products indexed.
    pub products: u64,
    /// Texts encoded now.
    pub encoded: u64,
    /// Embeddings taken from the cache.
    pub cached: u64,
    /// Seconds spent on BM25.
    pub bm25_seconds: f64,
    /// Seconds spent on embeddings.
    pub dense_seconds: f64,
}

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

fn text_key(model_id: &str, text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(model_id.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Embeddings keyed by (model, text) hash, so that re-indexing unchanged
/// products never re-encodes them. File: `HYEMB001`, dim: u64, then records
/// of a 32-byte key and `dim` f32.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    dim: usize,
    map: HashMap<[u8; 32], Vec<f32>>,
}

impl EmbeddingCache {
    /// Loads `path` if it exists and has dimension `dim`; otherwise empty.
    pub fn load(path: &Path, dim: usize) -> Self {
        let mut c = Self {
            dim,
            map: HashMap::new(),
        };
        let Ok(bytes) = std::fs::read(path) else {
            return c;
        };
        if bytes.len() < 16
            || &bytes[..8] != b"HYEMB001"
            || u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) as usize != dim
        {
            return c;
        }
        for rec in bytes[16..].chunks_exact(32 + 4 * dim) {
            let key: [u8; 32] = rec[..32].try_into().unwrap_or([0; 32]);
            let v = rec[32..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            c.map.insert(key, v);
        }
        c
    }

    /// Writes the entries whose keys are in `keep`, atomically.
    pub fn save(&self, path: &Path, keep: &[[u8; 32]]) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        let io = |e| Error::io(path, e);
        f.write_all(b"HYEMB001").map_err(io)?;
        f.write_all(&(self.dim as u64).to_le_bytes()).map_err(io)?;
        for k in keep {
            if let Some(v) = self.map.get(k) {
                f.write_all(k).map_err(io)?;
                for x in v {
                    f.write_all(&x.to_le_bytes()).map_err(io)?;
                }
            }
        }
        f.commit().map_err(Error::from)
    }
}

impl SearchIndex {
    /// Builds `dir` from `products`; vectors too when `encoder` is given.
    /// `progress(done, total)` reports encoding.
    pub fn build(
        dir: &Path,
        products: &[Product],
        encoder: Option<&Encoder>,
        embed_text: EmbedText,
        progress: &dyn Fn(u64, u64),
    ) -> Result<BuildReport> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let t = std::time::Instant::now();
        Bm25Index::build(
            &dir.join("bm25"),
            products.iter().cloned(),
            FieldBoosts::default(),
        )?;
        let bm25_seconds = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let (mut encoded, mut cached) = (0u64, 0u64);
        let mut manifest = Manifest {
            products: products.len() as u64,
            model_id: None,
            dim: None,
            embed_text,
        };
        if let Some(enc) = encoder {
            let cache_path = dir.join("embeddings.cache");
            let mut cache = EmbeddingCache::load(&cache_path, enc.dim());
            let texts: Vec<String> = products
                .iter()
                .map(|p| embedding_text(p, embed_text))
                .collect();
            let keys: Vec<[u8; 32]> = texts.iter().map(|t| text_key(enc.model_id(), t)).collect();
            let missing: Vec<usize> = (0..texts.len())
                .filter(|&i| !cache.map.contains_key(&keys[i]))
                .collect();
            cached = (texts.len() - missing.len()) as u64;
            for chunk in missing.chunks(256) {
                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                for (&i, v) in chunk.iter().zip(enc.encode(&batch)?) {
                    cache.map.insert(keys[i], v);
                }
                encoded += chunk.len() as u64;
                progress(encoded, missing.len() as u64);
            }
            let mut vi = VectorIndex::new(enc.dim());
            for (p, k) in products.iter().zip(&keys) {
                let v = cache.map.get(k).ok_or_else(|| {
                    Error::InvalidArgument("embedding missing after encoding".into())
                })?;
                vi.push(p.id.clone(), v)?;
            }
            vi.save(&dir.join("vectors"))?;
            cache.save(&cache_path, &keys)?;
            manifest.model_id = Some(enc.model_id().to_owned());
            manifest.dim = Some(enc.dim());
        } else if dir.join("vectors").exists() {
            std::fs::remove_dir_all(dir.join("vectors"))
                .map_err(|e| Error::io(dir.join("vectors"), e))?;
        }
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
        hyrank_data::fsio::write_atomic(dir.join("manifest.json"), &json)?;
        Ok(BuildReport {
            products: products.len() as u64,
            encoded,
            cached,
            bm25_seconds,
            dense_seconds: t.elapsed().as_secs_f64(),
        })
    }

    /// Opens an index folder; `encoder` is needed for dense and hybrid search.
    pub fn open(dir: &Path, encoder: Option<Encoder>) -> Result<Self> {
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: mpath.clone(),
            message: e.to_string(),
        })?;
        let bm25 = Bm25Index::open(&dir.join("bm25"), FieldBoosts::default())?;
        let vectors = if manifest.model_id.is_some() {
            Some(VectorIndex::load(&dir.join("vectors"))?)
        } else {
            None
        };
        if let (Some(enc), Some(id)) = (&encoder, &manifest.model_id) {
            if enc.model_id() != id {
                return Err(Error::InvalidArgument(format!("the index was built with model {id}, the encoder given is {}; rebuild the index", enc.model_id())));
            }
        }
        Ok(Self {
            bm25,
            vectors,
            encoder,
            manifest,
            dir: dir.to_path_buf(),
        })
    }

    fn dense_parts(&self) -> Result<(&VectorIndex, &Encoder)> {
        let v = self.vectors.as_ref().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} has no vectors: build it with a model",
                self.dir.display()
            ))
        })?;
        let e = self.encoder.as_ref().ok_or_else(|| {
            Error::InvalidArgument("dense search needs the model (--model-dir)".into())
        })?;
        Ok((v, e))
    }

    fn bm25_lists(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<(DocId, f32)>>> {
        queries
            .iter()
            .map(|q| self.bm25.search(q, k, filter))
            .collect()
    }

    fn dense_lists(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<(DocId, f32)>>> {
        let (v, e) = self.dense_parts()?;
        let allowed = if filter.is_empty() {
            None
        } else {
            Some(self.bm25.filtered_ids(filter)?)
        };
        let qv = e.encode(queries)?;
        Ok(v.search_batch(&qv, k, allowed.as_ref())?
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .map(|(i, s)| (v.id(i).clone(), s))
                    .collect()
            })
            .collect())
    }
}

fn as_hits(list: &[(DocId, f32)]) -> HashMap<&DocId, Hit> {
    list.iter()
        .enumerate()
        .map(|(i, (d, s))| {
            (
                d,
                Hit {
                    score: *s,
                    rank: i as u32 + 1,
                },
            )
        })
        .collect()
}

/// Which single retriever produced a list (to fill the right explanation slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Bm25,
    Dense,
}

/// Turns one retriever's ranked lists into candidates that explain themselves.
fn single_source(lists: Vec<Vec<(DocId, f32)>>, source: Source) -> Vec<Vec<Candidate>> {
    lists
        .into_iter()
        .map(|l| {
            l.into_iter()
                .enumerate()
                .map(|(i, (doc, score))| {
                    let hit = Some(Hit {
                        score,
                        rank: i as u32 + 1,
                    });
                    Candidate {
                        doc,
                        score,
                        bm25: if source == Source::Bm25 { hit } else { None },
                        dense: if source == Source::Dense { hit } else { None },
                        fused: None,
                    }
                })
                .collect()
        })
        .collect()
}

/// BM25 alone.
#[derive(Debug, Clone)]
pub struct Bm25Retriever(pub Arc<SearchIndex>);

impl Retriever for Bm25Retriever {
    fn name(&self) -> &str {
        "bm25"
    }
    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<Candidate>>> {
        Ok(single_source(
            self.0.bm25_lists(queries, k, filter)?,
            Source::Bm25,
        ))
    }
}

/// Sentence embeddings alone (exact inner product).
#[derive(Debug, Clone)]
pub struct DenseRetriever(pub Arc<SearchIndex>);

impl Retriever for DenseRetriever {
    fn name(&self) -> &str {
        "dense"
    }
    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<Candidate>>> {
        Ok(single_source(
            self.0.dense_lists(queries, k, filter)?,
            Source::Dense,
        ))
    }
}

/// BM25 and dense candidates (each to `depth`), fused.
#[derive(Debug, Clone)]
pub struct HybridRetriever {
    index: Arc<SearchIndex>,
    fusion: Fusion,
    weights: [f32; 2],
    depth: usize,
    name: String,
}

impl HybridRetriever {
    /// `weights` are (BM25, dense); `depth` candidates are taken from each side (≥ k).
    pub fn new(
        index: Arc<SearchIndex>,
        fusion: Fusion,
        weights: [f32; 2],
        depth: usize,
    ) -> Result<Self> {
        // Validate the parameters once, on an empty input.
        crate::fusion::fuse(&fusion, &[&[], &[]], &weights)?;
        let name = match &fusion {
            Fusion::Rrf { .. } => "hybrid-rrf".to_owned(),
            Fusion::Linear { .. } => "hybrid-linear".to_owned(),
        };
        Ok(Self {
            index,
            fusion,
            weights,
            depth,
            name,
        })
    }
}

impl Retriever for HybridRetriever {
    fn name(&self) -> &str {
        &self.name
    }
    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Vec<Candidate>>> {
        let depth = self.depth.max(k);
        let lex = self.index.bm25_lists(queries, depth, filter)?;
        let den = self.index.dense_lists(queries, depth, filter)?;
        let mut out = Vec::with_capacity(queries.len());
        for (l, d) in lex.iter().zip(&den) {
            let fused = fuse(&self.fusion, &[l, d], &self.weights)?;
            let (lh, dh) = (as_hits(l), as_hits(d));
            out.push(
                fused
                    .into_iter()
                    .take(k)
                    .map(|(doc, s)| Candidate {
                        bm25: lh.get(&doc).copied(),
                        dense: dh.get(&doc).copied(),
                        score: s,
                        fused: Some(s),
                        doc,
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}
