//! The index folder: `manifest.json` naming the live generation, the
//! generations themselves and opening one (building: [`crate::build`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyrank_data::DocId;
use serde::{Deserialize, Serialize};

use crate::bm25::{Bm25Index, FieldBoosts, Filter};
use crate::embedding_cache::EmbedText;
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

impl Manifest {
    /// Reads `dir/manifest.json` (what the live generation holds, without
    /// opening it).
    pub fn read(dir: &Path) -> Result<Manifest> {
        read_manifest(dir)
    }
}

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path: mpath.clone(),
        message: e.to_string(),
    })
}

pub(crate) fn gen_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("gen-{generation:06}"))
}

impl SearchIndex {
    /// Opens an index folder; `encoder` is needed for dense and hybrid
    /// search. [`OpenOptions`] opens with more choices.
    pub fn open(dir: &Path, encoder: Option<Encoder>) -> Result<Self> {
        OpenOptions::new().encoder(encoder).open(dir)
    }

    /// The products of this generation, with every field, as indexed (the
    /// copy the build stored). An index built before generations stored it
    /// gets an error that says to rebuild.
    pub fn products(&self) -> Result<Vec<hyrank_data::Product>> {
        let path = gen_dir(&self.dir, self.manifest.generation).join(crate::build::CATALOG_FILE);
        if !path.exists() {
            return Err(Error::Corrupt {
                path: self.dir.clone(),
                message: format!(
                    "generation {} stores no catalogue (built by an older hyrank): run `hyrank index build` again",
                    self.manifest.generation
                ),
            });
        }
        Ok(hyrank_data::formats::ndjson::read_catalog_vec(&path)?)
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
