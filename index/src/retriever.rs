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
use crate::vectors::{SearchOptions, VectorConfig, VectorIndex};

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

/// The index folder's format; folders of another format must be rebuilt
/// (a build over one rebuilds from scratch). 3: HNSW graphs in `hnsw.bin`
/// (2 held usearch graphs).
pub const INDEX_FORMAT: u32 = 3;

/// What an index folder holds (`manifest.json`, the one file whose atomic
/// replacement publishes a new generation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`INDEX_FORMAT`].
    #[serde(default)]
    pub format: u32,
    /// The live generation: its files are in `gen-<generation>/`.
    #[serde(default)]
    pub generation: u64,
    /// Products indexed.
    pub products: u64,
    /// sha256 of the encoder weights, when vectors were built.
    pub model_id: Option<String>,
    /// Vector dimension.
    pub dim: Option<usize>,
    /// What was embedded.
    #[serde(default)]
    pub embed_text: EmbedText,
    /// Vector storage and HNSW parameters.
    #[serde(default)]
    pub vectors: VectorConfig,
}

/// How to build an index.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BuildOptions {
    /// What is embedded.
    pub embed_text: EmbedText,
    /// Vector storage and HNSW.
    pub vectors: VectorConfig,
    /// Rebuild everything even when the previous generation could be updated.
    pub full: bool,
}

/// An index folder: `manifest.json` names the live generation
/// `gen-<n>/` (`bm25/`, `vectors/`, `products.tsv`); `embeddings.cache` is
/// shared by all generations.
///
/// A build writes generation n + 1 beside n, under a temporary name, renames
/// it into place and then replaces the manifest atomically: a build killed at
/// any point leaves generation n readable, and readers that opened n keep
/// their files (unlinked files stay valid while open or mapped).
#[derive(Debug)]
pub struct SearchIndex {
    /// The BM25 index.
    pub bm25: Bm25Index,
    /// The vectors, when built.
    pub vectors: Option<VectorIndex>,
    /// The encoder for queries, when vectors exist and a model was given.
    pub encoder: Option<Arc<Encoder>>,
    /// The manifest.
    pub manifest: Manifest,
    /// The folder.
    pub dir: PathBuf,
    /// Per-query vector search options (exact scan, ef_search).
    pub search_options: SearchOptions,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildReport {
    /// Products indexed.
    pub products: u64,
    /// Whether the previous generation was updated rather than rebuilt.
    pub incremental: bool,
    /// The generation written.
    pub generation: u64,
    /// Products new since the previous generation.
    pub added: u64,
    /// Products whose fields changed.
    pub updated: u64,
    /// Products gone from the catalogue.
    pub deleted: u64,
    /// Products left as they were.
    pub unchanged: u64,
    /// Distinct texts encoded now (new or changed products sharing a text
    /// share one encoding, so `encoded + cached` can be below `added + updated`).
    pub encoded: u64,
    /// New or changed products whose text was already in the cache.
    pub cached: u64,
    /// Seconds spent on BM25.
    pub bm25_seconds: f64,
    /// Seconds spent on embeddings and vector indexes.
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

/// A product's content digest (what decides "changed" between builds).
fn product_digest(p: &Product) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    let d: [u8; 32] = Sha256::digest(&json).into();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Embeddings keyed by (model, text) hash, so that re-indexing unchanged
/// products never re-encodes them. File: `HYEMB001`, dim: u64, then records
/// of a 32-byte key and `dim` f32. Encoding appends each batch, so a build
/// killed half-way keeps what it encoded (a torn last record is cut off on
/// the next load); a finished build rewrites the file with the live entries.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    dim: usize,
    map: HashMap<[u8; 32], Vec<f32>>,
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

impl Manifest {
    /// Reads `dir/manifest.json` (what the live generation holds, without
    /// opening it).
    pub fn read(dir: &Path) -> Result<Manifest> {
        read_manifest(dir)
    }
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path: mpath.clone(),
        message: e.to_string(),
    })
}

fn gen_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("gen-{generation:06}"))
}

/// Hard-links (or copies) the regular files of `from` into a new `to`.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".lock") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let ft = entry.file_type().map_err(|e| Error::io(&src, e))?;
        if ft.is_dir() {
            link_tree(&src, &dst)?;
        } else if ft.is_file() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}

/// `products.tsv` of a generation: id → digest.
fn read_digests(path: &Path) -> Result<HashMap<DocId, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let (id, d) = line.split_once('\t').ok_or_else(|| Error::Corrupt {
            path: path.to_path_buf(),
            message: format!("line {}: expected id<TAB>digest", i + 1),
        })?;
        out.insert(DocId(id.to_owned()), d.to_owned());
    }
    Ok(out)
}

impl SearchIndex {
    /// Builds (or brings up to date) the index at `dir` for `products`;
    /// vectors too when `encoder` is given. `progress(done, total)` reports
    /// encoding.
    ///
    /// When `dir` holds a compatible generation (same model, embedded text,
    /// vector configuration) and `opts.full` is false, only the difference is
    /// applied: new and changed products are encoded (unless cached) and
    /// indexed, gone ones deleted, unchanged ones left alone. Either way the
    /// result is a new generation, published atomically.
    pub fn build(
        dir: &Path,
        products: &[Product],
        encoder: Option<&Encoder>,
        opts: BuildOptions,
        progress: &dyn Fn(u64, u64),
    ) -> Result<BuildReport> {
        if let Some(p) = &opts.vectors.hnsw {
            p.validate()?;
        }
        let mut seen = std::collections::HashSet::with_capacity(products.len());
        for p in products {
            if let Err((field, why)) = p.validate() {
                return Err(Error::InvalidArgument(format!(
                    "product {:?}: field `{field}`: {why}",
                    p.id.as_str()
                )));
            }
            if !seen.insert(&p.id) {
                return Err(Error::InvalidArgument(format!(
                    "product id {} appears twice in the catalogue",
                    p.id
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        // Leftovers of killed builds.
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            if entry.file_name().to_string_lossy().contains(".tmp-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let prev = read_manifest(dir).ok().filter(|m| m.format == INDEX_FORMAT);
        let model_id = encoder.map(|e| e.model_id().to_owned());
        let compatible = prev.as_ref().filter(|m| {
            !opts.full
                && m.model_id == model_id
                && m.embed_text == opts.embed_text
                && m.vectors == opts.vectors
                && gen_dir(dir, m.generation).join("products.tsv").exists()
        });
        let generation = prev.as_ref().map_or(1, |m| m.generation + 1);
        let digests: Vec<String> = products.iter().map(product_digest).collect();
        // The difference to the previous generation.
        let (old_digests, prev_gen) = match compatible {
            Some(m) => {
                let g = gen_dir(dir, m.generation);
                (Some(read_digests(&g.join("products.tsv"))?), Some(g))
            }
            None => (None, None),
        };
        let mut changed: Vec<usize> = Vec::new();
        let (mut added, mut updated) = (0u64, 0u64);
        for (i, p) in products.iter().enumerate() {
            match old_digests.as_ref().map(|o| o.get(&p.id)) {
                Some(Some(d)) if *d == digests[i] => {}
                Some(Some(_)) => {
                    updated += 1;
                    changed.push(i);
                }
                _ => {
                    added += 1;
                    changed.push(i);
                }
            }
        }
        let deletes: Vec<DocId> = old_digests
            .as_ref()
            .map(|o| o.keys().filter(|id| !seen.contains(id)).cloned().collect())
            .unwrap_or_default();
        let tmp = dir.join(format!("gen-{generation:06}.tmp-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

        // Embeddings first (the slow part); the cache is saved even if a later
        // step fails, so that a retry encodes nothing twice. A build that adds
        // or changes nothing neither reads nor rewrites the cache (entries of
        // deleted products are pruned by the next build that encodes).
        let t = std::time::Instant::now();
        let (mut encoded, mut cached) = (0u64, 0u64);
        let mut vectors_for: HashMap<usize, Vec<f32>> = HashMap::new();
        if let Some(enc) = encoder.filter(|_| !changed.is_empty()) {
            let cache_path = dir.join("embeddings.cache");
            let mut cache = EmbeddingCache::load(&cache_path, enc.dim());
            let texts: Vec<String> = products
                .iter()
                .map(|p| embedding_text(p, opts.embed_text))
                .collect();
            let keys: Vec<[u8; 32]> = texts.iter().map(|t| text_key(enc.model_id(), t)).collect();
            let mut missing: Vec<usize> = changed
                .iter()
                .copied()
                .filter(|&i| !cache.map.contains_key(&keys[i]))
                .collect();
            cached = (changed.len() - missing.len()) as u64;
            // Products sharing a text share one encoding.
            missing.sort_by_key(|&i| keys[i]);
            missing.dedup_by_key(|i| keys[*i]);
            for chunk in missing.chunks(256) {
                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                let vecs = enc.encode(&batch)?;
                let entries = chunk.iter().map(|&i| keys[i]).zip(vecs).collect();
                cache.insert_and_append(&cache_path, entries)?;
                encoded += chunk.len() as u64;
                progress(encoded, missing.len() as u64);
            }
            cache.save(&cache_path, &keys)?;
            for &i in &changed {
                let v = cache.map.get(&keys[i]).ok_or_else(|| {
                    Error::InvalidArgument("embedding missing after encoding".into())
                })?;
                vectors_for.insert(i, v.clone());
            }
        }
        let dense_encode = t.elapsed().as_secs_f64();

        // BM25.
        let t = std::time::Instant::now();
        match &prev_gen {
            Some(g) => {
                link_tree(&g.join("bm25"), &tmp.join("bm25"))?;
                let mut b = Bm25Index::open(&tmp.join("bm25"), FieldBoosts::default())?;
                let ups: Vec<Product> = changed.iter().map(|&i| products[i].clone()).collect();
                b.update(&ups, &deletes)?;
            }
            None => {
                Bm25Index::build(
                    &tmp.join("bm25"),
                    products.iter().cloned(),
                    FieldBoosts::default(),
                )?;
            }
        }
        let bm25_seconds = t.elapsed().as_secs_f64();

        // Vectors.
        let t = std::time::Instant::now();
        if let Some(enc) = encoder {
            let vdir = tmp.join("vectors");
            match &prev_gen {
                Some(g) => {
                    let old = VectorIndex::open(&g.join("vectors"))?;
                    let ups: Vec<(DocId, Vec<f32>)> = changed
                        .iter()
                        .map(|&i| (products[i].id.clone(), vectors_for[&i].clone()))
                        .collect();
                    old.apply(&vdir, &ups, &deletes)?;
                }
                None => {
                    VectorIndex::build(
                        &vdir,
                        products
                            .iter()
                            .enumerate()
                            .map(|(i, p)| (p.id.clone(), vectors_for[&i].as_slice())),
                        enc.dim(),
                        opts.vectors,
                    )?;
                }
            }
        }
        let dense_seconds = dense_encode + t.elapsed().as_secs_f64();

        // products.tsv, then publish: rename the generation, swap the manifest.
        let tsv: String = products
            .iter()
            .zip(&digests)
            .map(|(p, d)| format!("{}\t{d}\n", p.id))
            .collect();
        hyrank_data::fsio::write_atomic(tmp.join("products.tsv"), tsv.as_bytes())?;
        hyrank_data::fsio::sync_dir(&tmp)?;
        let final_dir = gen_dir(dir, generation);
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        hyrank_data::fsio::sync_dir(dir)?;
        let manifest = Manifest {
            format: INDEX_FORMAT,
            generation,
            products: products.len() as u64,
            model_id: model_id.clone(),
            dim: encoder.map(|e| e.dim()),
            embed_text: opts.embed_text,
            vectors: opts.vectors,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
        hyrank_data::fsio::write_atomic(dir.join("manifest.json"), &json)?;
        // Older generations and the format-1 layout are garbage now.
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let old_gen = name.starts_with("gen-") && entry.path() != final_dir;
            if old_gen || name == "bm25" || name == "vectors" {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let incremental = prev_gen.is_some();
        Ok(BuildReport {
            products: products.len() as u64,
            incremental,
            generation,
            added,
            updated,
            deleted: deletes.len() as u64,
            unchanged: products.len() as u64 - added - updated,
            encoded,
            cached,
            bm25_seconds,
            dense_seconds,
        })
    }

    /// Opens an index folder; `encoder` is needed for dense and hybrid search.
    pub fn open(dir: &Path, encoder: Option<Encoder>) -> Result<Self> {
        Self::open_shared(dir, encoder.map(Arc::new))
    }

    /// [`SearchIndex::open`] with an encoder that other indexes may share
    /// (a server reopening a new generation keeps its loaded model).
    pub fn open_shared(dir: &Path, encoder: Option<Arc<Encoder>>) -> Result<Self> {
        let manifest = read_manifest(dir)?;
        if manifest.format != INDEX_FORMAT {
            return Err(Error::Corrupt {
                path: dir.join("manifest.json"),
                message: format!(
                    "index format {} (this hyrank reads {INDEX_FORMAT}); rebuild it with `hyrank index build`",
                    manifest.format
                ),
            });
        }
        let g = gen_dir(dir, manifest.generation);
        let bm25 = Bm25Index::open(&g.join("bm25"), FieldBoosts::default())?;
        let vectors = if manifest.model_id.is_some() {
            Some(VectorIndex::open(&g.join("vectors"))?)
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
            search_options: SearchOptions::default(),
        })
    }

    fn dense_parts(&self) -> Result<(&VectorIndex, &Encoder)> {
        let v = self.vectors.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "this index has no vectors: dense and hybrid search need an index built with a sentence-embedding model".into(),
            )
        })?;
        let e = self.encoder.as_deref().ok_or_else(|| {
            Error::InvalidArgument(
                "dense search needs the sentence-embedding model, which was not loaded".into(),
            )
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
        let mask = if filter.is_empty() {
            None
        } else {
            Some(v.mask_of(&self.bm25.filtered_ids(filter)?))
        };
        let qv = e.encode(queries)?;
        Ok(
            v.search_batch(&qv, k, mask.as_deref(), self.search_options)?
                .into_iter()
                .map(|hits| {
                    hits.into_iter()
                        .map(|(i, s)| (v.id(i).clone(), s))
                        .collect()
                })
                .collect(),
        )
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

/// Which retriever answers a query (the CLI's `--mode`, the API's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 alone.
    Bm25,
    /// Sentence embeddings alone.
    Dense,
    /// Both, fused.
    #[default]
    Hybrid,
}

/// Everything that chooses and configures a retriever; the one path from
/// user parameters (CLI flags, API requests) to a [`Retriever`].
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieverSpec {
    /// Which retriever.
    pub mode: Mode,
    /// Hybrid only: the fusion.
    pub fusion: Fusion,
    /// Hybrid only: weights (BM25, dense).
    pub weights: [f32; 2],
    /// Hybrid only: candidates taken from each retriever before fusion (at
    /// least k are always taken).
    pub depth: usize,
}

impl Default for RetrieverSpec {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            fusion: Fusion::default(),
            weights: [1.0, 1.0],
            depth: 100,
        }
    }
}

impl RetrieverSpec {
    /// The retriever over `index`. Errors: [`Error::InvalidArgument`] for
    /// invalid fusion parameters (checked here, before any query) and, for
    /// dense and hybrid modes, an index without vectors or without a model.
    pub fn build(&self, index: Arc<SearchIndex>) -> Result<Box<dyn Retriever>> {
        if self.mode != Mode::Bm25 {
            index.dense_parts()?;
        }
        Ok(match self.mode {
            Mode::Bm25 => Box::new(Bm25Retriever(index)),
            Mode::Dense => Box::new(DenseRetriever(index)),
            Mode::Hybrid => Box::new(HybridRetriever::new(
                index,
                self.fusion.clone(),
                self.weights,
                self.depth,
            )?),
        })
    }
}
