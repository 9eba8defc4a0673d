//! The search pipeline: query → retrieve → product fields (the model and
//! re-rank stages come next). `hyrank search`, `hyrank serve` and batch runs
//! for TREC files all go through [`Pipeline`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::policy::{RankRequest, RankedDoc, Ranking, RankingPolicy};
use hyrank_data::{Query, RequestId};
use hyrank_index::{Candidate, SearchConfig, SearchIndex};
use serde::Serialize;

use crate::error::Result;

/// One result of a search, with the fields shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageHit {
    /// The candidate, with every retriever's score and rank.
    #[serde(flatten)]
    pub candidate: Candidate,
    /// The product's title.
    pub title: String,
}

/// The answer to one search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// A new id for this answer: a client sends it back with its events.
    pub request_id: RequestId,
    /// The index generation that answered.
    pub generation: u64,
    /// The retriever's name (`bm25`, `dense`, `hybrid-rrf`, `hybrid-linear`).
    pub retriever: String,
    /// Time spent, query encoding included, in milliseconds.
    pub took_ms: f64,
    /// Best first.
    pub hits: Vec<PageHit>,
}

/// The query path over one index generation. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    index: Arc<SearchIndex>,
}

/// Queries searched per batch (dense retrieval encodes a batch at once).
const BATCH: usize = 64;

impl Pipeline {
    /// A pipeline over `index`.
    pub fn new(index: Arc<SearchIndex>) -> Self {
        Self { index }
    }

    /// The index it searches.
    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// One search: the query and the config checked first (a bad one is
    /// invalid input before any work), then retrieval and the titles.
    pub fn search(&self, query: &str, config: &SearchConfig) -> Result<Page> {
        SearchConfig::validate_query(query)?;
        config.validate()?;
        let t = Instant::now();
        let retriever = config.retriever_spec().build(Arc::clone(&self.index))?;
        let found = retriever.retrieve(query, config.k, &config.filter())?;
        let mut hits = Vec::with_capacity(found.len());
        for candidate in found {
            let title = self.index.bm25.title(&candidate.doc)?.unwrap_or_default();
            hits.push(PageHit { candidate, title });
        }
        Ok(Page {
            request_id: new_request_id(),
            generation: self.index.manifest.generation,
            retriever: retriever.name().to_owned(),
            took_ms: t.elapsed().as_secs_f64() * 1000.0,
            hits,
        })
    }

    /// Many searches with one config, in batches (for TREC runs, training
    /// and experiments): the candidates of each query in order, and the
    /// retriever's name. `progress(done)` after each batch.
    pub fn search_batch(
        &self,
        queries: &[Query],
        config: &SearchConfig,
        progress: &dyn Fn(usize),
    ) -> Result<(Vec<Vec<Candidate>>, String)> {
        config.validate()?;
        for q in queries {
            SearchConfig::validate_query(&q.text).map_err(|e| {
                hyrank_index::Error::InvalidArgument(format!("query `{}`: {e}", q.id))
            })?;
        }
        let retriever = config.retriever_spec().build(Arc::clone(&self.index))?;
        let filter = config.filter();
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|q| q.text.as_str()).collect();
            out.extend(retriever.retrieve_batch(&texts, config.k, &filter)?);
            progress(out.len());
        }
        Ok((out, retriever.name().to_owned()))
    }

    /// [`Pipeline::search_batch`] as the rows of a TREC run (tag: the retriever's name).
    pub fn run(
        &self,
        queries: &[Query],
        config: &SearchConfig,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<RunEntry>> {
        let (lists, name) = self.search_batch(queries, config, progress)?;
        let mut rows = Vec::new();
        for (q, hits) in queries.iter().zip(lists) {
            for (i, c) in hits.into_iter().enumerate() {
                rows.push(RunEntry {
                    query: q.id.clone(),
                    doc: c.doc,
                    rank: i as u32 + 1,
                    score: f64::from(c.score),
                    tag: name.clone(),
                });
            }
        }
        Ok(rows)
    }
}

/// The pipeline as a [`RankingPolicy`]: what the simulator and experiment
/// environments deploy. Each request is searched with `config` (its `k`
/// and filter from the request); the ranking carries the retriever's scores.
#[derive(Debug, Clone)]
pub struct PipelinePolicy {
    pipeline: Pipeline,
    config: SearchConfig,
    name: String,
}

impl PipelinePolicy {
    /// A policy named `name` that searches `pipeline` with `config`.
    pub fn new(pipeline: Pipeline, config: SearchConfig, name: impl Into<String>) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            pipeline,
            config,
            name: name.into(),
        })
    }
}

impl RankingPolicy for PipelinePolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn rank(&self, request: &RankRequest<'_>) -> hyrank_data::Result<Ranking> {
        let mut c = self.config.clone();
        c.k = request.k.clamp(1, hyrank_index::config::MAX_K);
        if let Some(f) = request.filter {
            c.category.clone_from(&f.category);
            c.brand.clone_from(&f.brand);
            c.min_price = f.min_price;
            c.max_price = f.max_price;
        }
        let page = self.pipeline.search(request.query, &c).map_err(|e| {
            // The contract's error type is the data layer's: keep the kind.
            match e.kind() {
                hyrank_data::ErrorKind::InvalidInput => {
                    hyrank_data::Error::InvalidArgument(e.to_string())
                }
                _ => {
                    hyrank_data::Error::io("search pipeline", std::io::Error::other(e.to_string()))
                }
            }
        })?;
        Ok(Ranking {
            generation: Some(page.generation),
            docs: page
                .hits
                .into_iter()
                .map(|h| RankedDoc {
                    doc: h.candidate.doc,
                    score: Some(h.candidate.score),
                    propensity: None,
                })
                .collect(),
        })
    }
}

/// A request id unique within this process and across processes in
/// practice: `R`, the process's start time and a counter, in hex.
pub fn new_request_id() -> RequestId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 48)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    RequestId(format!("R{start:016x}-{n:x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with('R'));
    }
}
