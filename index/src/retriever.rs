//! The `Retriever` trait and the BM25, dense and hybrid retrievers over a
//! [`SearchIndex`]; [`RetrieverSpec`], the one path from user parameters to a
//! retriever.

use std::collections::HashMap;
use std::sync::Arc;

use hyrank_data::DocId;
use serde::{Deserialize, Serialize};

use crate::bm25::{FieldBoosts, Filter};
pub use crate::build::{BuildOptions, BuildReport};
pub use crate::embedding_cache::{embedding_text, EmbedText, EmbeddingCache};
use crate::error::Result;
use crate::fusion::{fuse, Fusion};
pub use crate::generation::{Manifest, OpenOptions, SearchIndex, INDEX_FORMAT};
use crate::vectors::SearchOptions;

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
/// produced it. Errors: [`Error::InvalidArgument`](crate::Error::InvalidArgument) for bad parameters.
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
pub struct Bm25Retriever {
    index: Arc<SearchIndex>,
    fields: Option<FieldBoosts>,
}

impl Bm25Retriever {
    /// BM25 over `index` with its stored field boosts.
    pub fn new(index: Arc<SearchIndex>) -> Self {
        Self {
            index,
            fields: None,
        }
    }

    /// The same with other field boosts (validated when a search parses them).
    #[must_use]
    pub fn with_fields(mut self, fields: Option<FieldBoosts>) -> Self {
        self.fields = fields;
        self
    }
}

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
            self.index
                .bm25_lists(queries, k, filter, self.fields.as_ref())?,
            Source::Bm25,
        ))
    }
}

/// Sentence embeddings alone (exact scan or HNSW, as the options say).
#[derive(Debug, Clone)]
pub struct DenseRetriever {
    index: Arc<SearchIndex>,
    options: Option<SearchOptions>,
}

impl DenseRetriever {
    /// Dense search over `index` with its search options.
    pub fn new(index: Arc<SearchIndex>) -> Self {
        Self {
            index,
            options: None,
        }
    }

    /// The same with other vector search options.
    #[must_use]
    pub fn with_options(mut self, options: Option<SearchOptions>) -> Self {
        self.options = options;
        self
    }
}

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
            self.index.dense_lists(queries, k, filter, self.options)?,
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
    fields: Option<FieldBoosts>,
    options: Option<SearchOptions>,
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
            fields: None,
            options: None,
            name,
        })
    }

    /// The same with other vector search options.
    #[must_use]
    pub fn with_options(mut self, options: Option<SearchOptions>) -> Self {
        self.options = options;
        self
    }

    /// The same with other BM25 field boosts.
    #[must_use]
    pub fn with_fields(mut self, fields: Option<FieldBoosts>) -> Self {
        self.fields = fields;
        self
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
        let lex = self
            .index
            .bm25_lists(queries, depth, filter, self.fields.as_ref())?;
        let den = self
            .index
            .dense_lists(queries, depth, filter, self.options)?;
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
    /// BM25's field boosts for this search; `None`: the index's stored ones.
    pub fields: Option<FieldBoosts>,
    /// Vector search options for this search; `None`: the index's.
    pub options: Option<SearchOptions>,
}

impl Default for RetrieverSpec {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            fusion: Fusion::default(),
            weights: [1.0, 1.0],
            depth: 100,
            fields: None,
            options: None,
        }
    }
}

impl RetrieverSpec {
    /// The retriever over `index`. Errors: [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// invalid fusion parameters (checked here, before any query) and, for
    /// dense and hybrid modes, an index without vectors or without a model.
    pub fn build(&self, index: Arc<SearchIndex>) -> Result<Box<dyn Retriever>> {
        if self.mode != Mode::Bm25 {
            index.dense_parts()?;
        }
        if let Some(f) = &self.fields {
            f.validate()?;
        }
        Ok(match self.mode {
            Mode::Bm25 => Box::new(Bm25Retriever::new(index).with_fields(self.fields)),
            Mode::Dense => Box::new(DenseRetriever::new(index).with_options(self.options)),
            Mode::Hybrid => Box::new(
                HybridRetriever::new(index, self.fusion.clone(), self.weights, self.depth)?
                    .with_fields(self.fields)
                    .with_options(self.options),
            ),
        })
    }
}
