//! `GET /search` and `POST /search`: one query through the BM25, dense or
//! hybrid retriever, with each retriever's score and rank on request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::Json;
use hyrank_index::{Candidate, Filter, Fusion, Mode, Normalization, RetrieverSpec, SearchIndex};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::AppState;

/// Most results one request may ask for (`k`).
pub const MAX_K: usize = 1000;
/// Most candidates a hybrid request may take from each retriever (`depth`).
pub const MAX_DEPTH: usize = 10_000;
/// Longest query, in bytes (the encoder truncates at 256 tokens anyway).
pub const MAX_QUERY_BYTES: usize = 1024;

/// A search: the query string of `GET /search` or the JSON body of `POST
/// /search` (same fields; unknown fields are an error, not ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query text.
    pub q: String,
    /// `bm25`, `dense` or `hybrid` (default).
    #[serde(default)]
    pub mode: Mode,
    /// Results (1 to [`MAX_K`], default 10).
    #[serde(default = "default_k")]
    pub k: usize,
    /// Hybrid: `rrf` (default) or `linear`.
    #[serde(default)]
    pub fusion: FusionMethod,
    /// Hybrid RRF: the constant k (default 60).
    #[serde(default = "default_rrf_k")]
    pub rrf_k: f32,
    /// Hybrid linear: `minmax` (default), `zscore` or `dbsf`.
    #[serde(default = "default_norm")]
    pub norm: Normalization,
    /// Hybrid: BM25's weight (default 1).
    #[serde(default = "one")]
    pub bm25_weight: f32,
    /// Hybrid: the dense retriever's weight (default 1).
    #[serde(default = "one")]
    pub dense_weight: f32,
    /// Hybrid: candidates taken from each retriever before fusion (default
    /// 100, at most [`MAX_DEPTH`]; at least `k` are always taken).
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Filter: a category path prefix (`Home > Sofas`) or one element (`Sofas`).
    pub category: Option<String>,
    /// Filter: a brand (case-insensitive).
    pub brand: Option<String>,
    /// Filter: lowest price, inclusive.
    pub min_price: Option<f64>,
    /// Filter: highest price, inclusive.
    pub max_price: Option<f64>,
    /// Add each retriever's score and rank, the fused score and the fusion
    /// parameters to the response.
    #[serde(default)]
    pub explain: bool,
}

fn default_k() -> usize {
    10
}
fn default_rrf_k() -> f32 {
    60.0
}
fn default_norm() -> Normalization {
    Normalization::MinMax
}
fn one() -> f32 {
    1.0
}
fn default_depth() -> usize {
    100
}

/// Hybrid fusion method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Reciprocal rank fusion.
    #[default]
    Rrf,
    /// Linear combination of normalised scores.
    Linear,
}

impl SearchRequest {
    /// The retriever and filter this request asks for; every parameter is
    /// checked here, so a bad one is a 400 naming it before any work.
    pub fn validate(&self) -> Result<(RetrieverSpec, Filter)> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.q.trim().is_empty() {
            return bad("q is empty".into());
        }
        if self.q.len() > MAX_QUERY_BYTES {
            return bad(format!(
                "q is {} bytes, at most {MAX_QUERY_BYTES}",
                self.q.len()
            ));
        }
        if self.k == 0 || self.k > MAX_K {
            return bad(format!("k must be 1 to {MAX_K}, got {}", self.k));
        }
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return bad(format!(
                "depth must be 1 to {MAX_DEPTH}, got {}",
                self.depth
            ));
        }
        let fusion = match self.fusion {
            FusionMethod::Rrf => Fusion::Rrf { k: self.rrf_k },
            FusionMethod::Linear => Fusion::Linear {
                normalization: self.norm,
            },
        };
        let spec = RetrieverSpec {
            mode: self.mode,
            fusion,
            weights: [self.bm25_weight, self.dense_weight],
            depth: self.depth,
        };
        let filter = Filter {
            category: self.category.clone(),
            brand: self.brand.clone(),
            min_price: self.min_price,
            max_price: self.max_price,
        };
        filter.validate()?;
        Ok((spec, filter))
    }
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResponse {
    /// The query as given.
    pub query: String,
    /// The retriever's name (`bm25`, `dense`, `hybrid-rrf`, `hybrid-linear`).
    pub retriever: String,
    /// The index generation that answered.
    pub generation: u64,
    /// Time spent retrieving (query encoding included), in milliseconds.
    pub took_ms: f64,
    /// Best first.
    pub results: Vec<SearchHit>,
    /// With `explain`: the fusion parameters of a hybrid search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<serde_json::Value>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The product id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The score the retriever ranks by (BM25, cosine, or fused).
    pub score: f32,
    /// With `explain`: BM25's score and rank (`null` when BM25 did not retrieve it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bm25: Option<Option<Explained>>,
    /// With `explain`: the dense cosine and rank (`null` when not retrieved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense: Option<Option<Explained>>,
    /// With `explain`, hybrid only: the fused score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<f32>,
}

/// One retriever's score and 1-based rank.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Explained {
    /// The retriever's raw score.
    pub score: f32,
    /// 1-based rank in that retriever's list.
    pub rank: u32,
}

/// `GET /search?q=...`.
pub async fn get(
    State(state): State<AppState>,
    req: Result<Query<SearchRequest>, QueryRejection>,
) -> Result<Json<SearchResponse>> {
    let Query(req) = req.map_err(|e| Error::InvalidArgument(e.body_text()))?;
    search(state, req).await.map(Json)
}

/// `POST /search` with a JSON body.
pub async fn post(
    State(state): State<AppState>,
    req: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>> {
    let Json(req) = req.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!("the limit is {} bytes", crate::BODY_LIMIT_BYTES))
        } else {
            Error::InvalidArgument(e.body_text())
        }
    })?;
    search(state, req).await.map(Json)
}

/// Validates, waits for a free search slot, then retrieves on the blocking
/// pool (encoding a query is milliseconds of CPU that must not stall the
/// async workers).
async fn search(state: AppState, req: SearchRequest) -> Result<SearchResponse> {
    let (spec, filter) = req.validate()?;
    let permit = Arc::clone(&state.searches)
        .acquire_owned()
        .await
        .map_err(|e| Error::Unavailable(format!("search slots: {e}")))?;
    let index = state.index();
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        run(index, &req, &spec, &filter)
    })
    .await
    .map_err(|e| Error::Internal(format!("search worker: {e}")))?
}

fn run(
    index: Arc<SearchIndex>,
    req: &SearchRequest,
    spec: &RetrieverSpec,
    filter: &Filter,
) -> Result<SearchResponse> {
    let t = Instant::now();
    let retriever = spec.build(Arc::clone(&index))?;
    let hits = retriever.retrieve(&req.q, req.k, filter)?;
    // Microseconds are the resolution worth reporting.
    let took_ms = (t.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let results = hits
        .into_iter()
        .map(|c| hit(&index, c, req.explain))
        .collect::<Result<Vec<_>>>()?;
    tracing::info!(
        q = %req.q,
        retriever = retriever.name(),
        k = req.k,
        results = results.len(),
        took_ms,
        "search"
    );
    let fusion = (req.explain && spec.mode == Mode::Hybrid).then(|| {
        let mut f = match &spec.fusion {
            Fusion::Rrf { k } => serde_json::json!({"method": "rrf", "k": k}),
            Fusion::Linear { normalization } => serde_json::json!({
                "method": "linear",
                "normalization": normalization,
            }),
        };
        f["weights"] = serde_json::json!({"bm25": spec.weights[0], "dense": spec.weights[1]});
        f["depth"] = spec.depth.max(req.k).into();
        f
    });
    Ok(SearchResponse {
        query: req.q.clone(),
        retriever: retriever.name().to_owned(),
        generation: index.manifest.generation,
        took_ms,
        results,
        fusion,
    })
}

fn hit(index: &SearchIndex, c: Candidate, explain: bool) -> Result<SearchHit> {
    let title = index.bm25.title(&c.doc)?.unwrap_or_default();
    let exp = |h: Option<hyrank_index::retriever::Hit>| {
        explain.then(|| {
            h.map(|h| Explained {
                score: h.score,
                rank: h.rank,
            })
        })
    };
    Ok(SearchHit {
        id: c.doc.as_str().to_owned(),
        title,
        score: c.score,
        bm25: exp(c.bm25),
        dense: exp(c.dense),
        fused: if explain { c.fused } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> SearchRequest {
        serde_json::from_value(serde_json::json!({ "q": q })).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let r = req("sofa");
        assert_eq!(
            (r.mode, r.k, r.depth, r.fusion),
            (Mode::Hybrid, 10, 100, FusionMethod::Rrf)
        );
        let (spec, filter) = r.validate().unwrap();
        assert_eq!(spec, RetrieverSpec::default());
        assert!(filter.is_empty());
        let fails = |f: &dyn Fn(&mut SearchRequest), needle: &str| {
            let mut r = req("sofa");
            f(&mut r);
            let e = r.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should name {needle}");
        };
        fails(&|r| r.q = "  ".into(), "q is empty");
        fails(&|r| r.q = "x".repeat(MAX_QUERY_BYTES + 1), "at most 1024");
        fails(&|r| r.k = 0, "k must be 1 to 1000");
        fails(&|r| r.k = MAX_K + 1, "k must be");
        fails(&|r| r.depth = 0, "depth must be");
        fails(
            &|r| r.min_price = Some(f64::NAN),
            "min_price must be a finite",
        );
        fails(
            &|r| {
                r.min_price = Some(10.0);
                r.max_price = Some(5.0);
            },
            "min_price 10 is above max_price 5",
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_value::<SearchRequest>(serde_json::json!({"q": "a", "kk": 3}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `kk`"), "{e}");
        let e =
            serde_json::from_value::<SearchRequest>(serde_json::json!({"q": "a", "mode": "bm26"}))
                .unwrap_err()
                .to_string();
        assert!(e.contains("bm26"), "{e}");
    }
}
