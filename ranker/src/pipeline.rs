//! The search pipeline: query → retrieve → (features → model, when a
//! [`RankStage`] is attached) → product fields. `hyrank search`, `hyrank
//! serve` and batch runs for TREC files all go through [`Pipeline`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::policy::{RankRequest, RankedDoc, Ranking, RankingPolicy};
use hyrank_data::{Query, RequestId};
use hyrank_index::{Candidate, SearchConfig, SearchIndex};
use serde::Serialize;

use crate::error::Result;
use crate::stage::{HitRanking, RankStage};

/// One result of a search, with the fields shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageHit {
    /// The candidate, with every retriever's score and rank.
    #[serde(flatten)]
    pub candidate: Candidate,
    /// The product's title.
    pub title: String,
    /// What the ranking model said of it, when a model ranked the page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking: Option<HitRanking>,
}

impl PageHit {
    /// The ad's campaign, bid and auction score when this hit is sponsored.
    pub fn sponsored(&self) -> Option<&crate::sponsored::SponsoredHit> {
        self.ranking.as_ref().and_then(|r| r.sponsored.as_ref())
    }
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
    /// The registry version that ranked the page, when a model did.
    pub ranker: Option<String>,
    /// Time spent, query encoding included, in milliseconds.
    pub took_ms: f64,
    /// Best first.
    pub hits: Vec<PageHit>,
}

/// The query path over one index generation. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    index: Arc<SearchIndex>,
    ranker: Option<Arc<RankStage>>,
}

/// Queries searched per batch (dense retrieval encodes a batch at once).
const BATCH: usize = 64;

impl Pipeline {
    /// A pipeline over `index`.
    pub fn new(index: Arc<SearchIndex>) -> Self {
        Self {
            index,
            ranker: None,
        }
    }

    /// The pipeline with a model stage: the top `stage.depth()` candidates
    /// are scored and re-ordered by the model, then cut to `k`.
    pub fn with_ranker(mut self, stage: Option<Arc<RankStage>>) -> Self {
        self.ranker = stage;
        self
    }

    /// The model stage, if any.
    pub fn ranker(&self) -> Option<&Arc<RankStage>> {
        self.ranker.as_ref()
    }

    /// Candidates to retrieve for a page of `k`.
    fn depth(&self, k: usize) -> usize {
        self.ranker.as_ref().map_or(k, |r| r.depth().max(k))
    }

    /// Re-orders `found` (retrieval order) with the model stage, if any, and
    /// cuts it to `k`: the candidates, each one's ranking, the model's id,
    /// and the final scores.
    #[allow(clippy::type_complexity)]
    fn rank(
        &self,
        query: &str,
        config: &SearchConfig,
        mut found: Vec<Candidate>,
        explain: bool,
    ) -> Result<(
        Vec<Candidate>,
        Vec<Option<HitRanking>>,
        Option<String>,
        Vec<f64>,
    )> {
        let Some(stage) = self.ranker.as_ref().filter(|_| !found.is_empty()) else {
            found.truncate(config.k);
            let scores = found.iter().map(|c| f64::from(c.score)).collect();
            let n = found.len();
            return Ok((found, vec![None; n], None, scores));
        };
        let docs: Vec<hyrank_data::DocId> = found.iter().map(|c| c.doc.clone()).collect();
        let explain = if explain { config.k } else { 0 };
        let (model, order, rankings) = stage.rank(
            &self.index,
            config.fields.as_ref(),
            query,
            stage.as_of().unwrap_or_else(hyrank_data::Timestamp::now),
            &docs,
            explain,
            config.k,
        )?;
        // `order` holds distinct indices: each candidate is taken once.
        let mut slots: Vec<Option<(Candidate, HitRanking)>> =
            found.into_iter().zip(rankings).map(Some).collect();
        let mut out = Vec::with_capacity(config.k);
        let mut out_rankings = Vec::with_capacity(config.k);
        let mut scores = Vec::with_capacity(config.k);
        for i in order.into_iter().take(config.k) {
            if let Some((c, r)) = slots[i].take() {
                out.push(c);
                scores.push(r.score);
                out_rankings.push(Some(r));
            }
        }
        Ok((out, out_rankings, Some(model.id.clone()), scores))
    }

    /// The index it searches.
    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// One search: the query and the config checked first (a bad one is
    /// invalid input before any work), then retrieval and the titles.
    pub fn search(&self, query: &str, config: &SearchConfig) -> Result<Page> {
        self.search_explained(query, config, false)
    }

    /// [`Pipeline::search`]; with `explain`, each hit ranked by a model
    /// carries its largest feature contributions.
    pub fn search_explained(
        &self,
        query: &str,
        config: &SearchConfig,
        explain: bool,
    ) -> Result<Page> {
        SearchConfig::validate_query(query)?;
        config.validate()?;
        let t = Instant::now();
        let retriever = config.retriever_spec().build(Arc::clone(&self.index))?;
        let found = retriever.retrieve(query, self.depth(config.k), &config.filter())?;
        let (found, rankings, ranker, _) = self.rank(query, config, found, explain)?;
        let mut hits = Vec::with_capacity(found.len());
        for (candidate, ranking) in found.into_iter().zip(rankings) {
            let title = self.index.bm25.title(&candidate.doc)?.unwrap_or_default();
            hits.push(PageHit {
                candidate,
                title,
                ranking,
            });
        }
        Ok(Page {
            request_id: new_request_id(),
            generation: self.index.manifest.generation,
            retriever: retriever.name().to_owned(),
            ranker,
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
        let (lists, name) = self.search_batch_scored(queries, config, progress)?;
        Ok((
            lists
                .into_iter()
                .map(|l| l.into_iter().map(|(c, _)| c).collect())
                .collect(),
            name,
        ))
    }

    /// [`Pipeline::search_batch`] with each candidate's final score (the
    /// model's, when one ranks); the name is the retriever's, with `+ID`
    /// for the model.
    #[allow(clippy::type_complexity)]
    pub fn search_batch_scored(
        &self,
        queries: &[Query],
        config: &SearchConfig,
        progress: &dyn Fn(usize),
    ) -> Result<(Vec<Vec<(Candidate, f64)>>, String)> {
        config.validate()?;
        for q in queries {
            SearchConfig::validate_query(&q.text).map_err(|e| {
                hyrank_index::Error::InvalidArgument(format!("query `{}`: {e}", q.id))
            })?;
        }
        let retriever = config.retriever_spec().build(Arc::clone(&self.index))?;
        let filter = config.filter();
        let mut out = Vec::with_capacity(queries.len());
        let mut name = retriever.name().to_owned();
        for chunk in queries.chunks(BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|q| q.text.as_str()).collect();
            let lists = retriever.retrieve_batch(&texts, self.depth(config.k), &filter)?;
            for (text, found) in texts.iter().zip(lists) {
                let (found, _, model, scores) = self.rank(text, config, found, false)?;
                if let Some(m) = model {
                    name = format!("{}+{m}", retriever.name());
                }
                out.push(found.into_iter().zip(scores).collect());
            }
            progress(out.len());
        }
        Ok((out, name))
    }

    /// [`Pipeline::search_batch`] as the rows of a TREC run (tag: the retriever's name).
    pub fn run(
        &self,
        queries: &[Query],
        config: &SearchConfig,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<RunEntry>> {
        let (lists, name) = self.search_batch_scored(queries, config, progress)?;
        let mut rows = Vec::new();
        for (q, hits) in queries.iter().zip(lists) {
            for (i, (c, score)) in hits.into_iter().enumerate() {
                rows.push(RunEntry {
                    query: q.id.clone(),
                    doc: c.doc,
                    rank: i as u32 + 1,
                    score,
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
