//! The index folder: `manifest.json` naming the live generation, the
//! generations themselves, and incremental, crash-safe builds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyrank_data::{DocId, Product};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bm25::{Bm25Index, FieldBoosts, Filter};
use crate::embedding_cache::{embedding_text, text_key, EmbedText, EmbeddingCache};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::vectors::{SearchOptions, VectorConfig, VectorIndex};

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
    /// BM25's default field boosts (a search may override them).
    #[serde(default)]
    pub fields: FieldBoosts,
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
    /// BM25's default field boosts, stored with the index (query-time only:
    /// changing them re-indexes nothing).
    pub fields: FieldBoosts,
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
    /// The vector search options a search without its own uses.
    search_options: SearchOptions,
}

/// How to open a [`SearchIndex`] (a builder):
/// `OpenOptions::new().encoder(Some(enc)).search_options(o).open(dir)`.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct OpenOptions {
    encoder: Option<Arc<Encoder>>,
    search_options: SearchOptions,
}

impl OpenOptions {
    /// No encoder (BM25 only), default vector search options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The query encoder (needed for dense and hybrid search).
    pub fn encoder(mut self, encoder: Option<Encoder>) -> Self {
        self.encoder = encoder.map(Arc::new);
        self
    }

    /// An encoder other indexes share (a server reopening a new generation
    /// keeps its loaded model).
    pub fn shared_encoder(mut self, encoder: Option<Arc<Encoder>>) -> Self {
        self.encoder = encoder;
        self
    }

    /// The vector search options of searches that give none.
    pub fn search_options(mut self, options: SearchOptions) -> Self {
        self.search_options = options;
        self
    }

    /// Opens the folder's live generation.
    pub fn open(self, dir: &Path) -> Result<SearchIndex> {
        SearchIndex::open_with(dir, self.encoder, self.search_options)
    }
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

/// A product's content digest (what decides "changed" between builds).
fn product_digest(p: &Product) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    let d: [u8; 32] = Sha256::digest(&json).into();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
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
            fields: opts.fields,
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

    /// Opens an index folder; `encoder` is needed for dense and hybrid
    /// search. [`OpenOptions`] opens with more choices.
    pub fn open(dir: &Path, encoder: Option<Encoder>) -> Result<Self> {
        OpenOptions::new().encoder(encoder).open(dir)
    }

    /// The vector search options a search that gives none uses.
    pub fn search_options(&self) -> SearchOptions {
        self.search_options
    }

    fn open_with(
        dir: &Path,
        encoder: Option<Arc<Encoder>>,
        search_options: SearchOptions,
    ) -> Result<Self> {
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
        let bm25 = Bm25Index::open(&g.join("bm25"), manifest.fields)?;
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
            search_options,
        })
    }

    /// The vectors and the query encoder, or an error saying which is missing.
    pub(crate) fn dense_parts(&self) -> Result<(&VectorIndex, &Encoder)> {
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

    /// BM25's top `k` for each query, with the index's field boosts or `fields`.
    pub fn bm25_lists(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
        fields: Option<&FieldBoosts>,
    ) -> Result<Vec<Vec<(DocId, f32)>>> {
        let parser = fields.map(|f| self.bm25.parser(f)).transpose()?;
        queries
            .iter()
            .map(|q| self.bm25.search_with(q, k, filter, parser.as_ref()))
            .collect()
    }

    /// The dense retriever's top `k` for each query (queries encoded in one
    /// batch), with `options` or the index's own.
    pub fn dense_lists(
        &self,
        queries: &[&str],
        k: usize,
        filter: &Filter,
        options: Option<SearchOptions>,
    ) -> Result<Vec<Vec<(DocId, f32)>>> {
        let (v, e) = self.dense_parts()?;
        let mask = if filter.is_empty() {
            None
        } else {
            Some(v.mask_of(&self.bm25.filtered_ids(filter)?))
        };
        let qv = e.encode(queries)?;
        Ok(v.search_batch(
            &qv,
            k,
            mask.as_deref(),
            options.unwrap_or(self.search_options),
        )?
        .into_iter()
        .map(|hits| {
            hits.into_iter()
                .map(|(i, s)| (v.id(i).clone(), s))
                .collect()
        })
        .collect())
    }
}
