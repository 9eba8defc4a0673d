//! `GET /search` and `POST /search`: one query through the search
//! [`Pipeline`], with each retriever's score and rank on request.
//!
//! The parameters are a layer over the server's base
//! [`SearchConfig`] (the index's stored config, `hyrank serve --config`, the
//! serve flags): what a request leaves out, the base decides. The config is
//! validated in `hyrank-index`, the same code `hyrank search` runs.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::Json;
use hyrank_eval::interleaving::{interleave, user_number, visit_seed, Method};
use hyrank_index::{
    ConfigLayer, FieldBoosts, Fusion, FusionMethod, Mode, Normalization, SearchConfig,
};
use hyrank_ranker::{Page, PageHit, Pipeline};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::AppState;

pub use hyrank_index::config::{MAX_DEPTH, MAX_K, MAX_QUERY_BYTES};

/// A search: the query string of `GET /search` or the JSON body of `POST
/// /search` (same fields; unknown fields are an error, not ignored). Every
/// field but `q` is optional: the server's base config fills the rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query text.
    pub q: String,
    /// `bm25`, `dense` or `hybrid`.
    pub mode: Option<Mode>,
    /// Results (1 to [`MAX_K`]).
    pub k: Option<usize>,
    /// BM25 field boosts, `title^2,description^0.5,brand,category`.
    pub fields: Option<String>,
    /// Hybrid: `rrf` or `linear`.
    pub fusion: Option<FusionMethod>,
    /// Hybrid RRF: the constant k.
    pub rrf_k: Option<f32>,
    /// Hybrid linear: `minmax`, `zscore` or `dbsf`.
    pub norm: Option<Normalization>,
    /// Hybrid: BM25's weight.
    pub bm25_weight: Option<f32>,
    /// Hybrid: the dense retriever's weight.
    pub dense_weight: Option<f32>,
    /// Hybrid: candidates taken from each retriever before fusion (1 to
    /// [`MAX_DEPTH`]; at least `k` are always taken).
    pub depth: Option<usize>,
    /// Filter: a category path prefix (`Home > Sofas`) or one element (`Sofas`).
    pub category: Option<String>,
    /// Filter: a brand (case-insensitive).
    pub brand: Option<String>,
    /// Filter: lowest price, inclusive.
    pub min_price: Option<f64>,
    /// Filter: highest price, inclusive.
    pub max_price: Option<f64>,
    /// Scan every vector even when the index has an HNSW graph.
    pub exact: Option<bool>,
    /// HNSW candidate list.
    pub ef_search: Option<usize>,
    /// HNSW level-1 beam.
    pub upper_beam: Option<usize>,
    /// Add each retriever's score and rank, the fused score and the fusion
    /// parameters to the response.
    #[serde(default)]
    pub explain: bool,
    /// Interleave (team-draft) the serving model's page with this registry
    /// version's: each hit then names the ranker that put it there
    /// (`team`), to be logged with the impression for credit.
    pub interleave: Option<String>,
    /// Who searches: seeds the interleaving, so that a user sees the same
    /// page for a query (without it, each request draws afresh).
    pub user: Option<String>,
}

impl SearchRequest {
    /// The request's parameters as a layer over a base config.
    pub fn layer(&self) -> Result<ConfigLayer> {
        Ok(ConfigLayer {
            mode: self.mode,
            k: self.k,
            fields: self.fields.as_deref().map(FieldBoosts::parse).transpose()?,
            fusion: self.fusion,
            rrf_k: self.rrf_k,
            norm: self.norm,
            bm25_weight: self.bm25_weight,
            dense_weight: self.dense_weight,
            depth: self.depth,
            category: self.category.clone(),
            brand: self.brand.clone(),
            min_price: self.min_price,
            max_price: self.max_price,
            exact: self.exact,
            ef_search: self.ef_search,
            upper_beam: self.upper_beam,
        })
    }

    /// The config this request asks for over `base`, checked (a bad
    /// parameter is a 400 naming it, before any work).
    pub fn config(&self, base: &SearchConfig) -> Result<SearchConfig> {
        SearchConfig::validate_query(&self.q).map_err(|e| {
            Error::InvalidArgument(format!(
                "q: {}",
                e.to_string().trim_start_matches("invalid argument: ")
            ))
        })?;
        let c = base.clone().overlay(&self.layer()?);
        c.validate()?;
        Ok(c)
    }
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResponse {
    /// The query as given.
    pub query: String,
    /// This answer's id: send it back with the events of the page.
    pub request_id: String,
    /// The retriever's name (`bm25`, `dense`, `hybrid-rrf`, `hybrid-linear`).
    pub retriever: String,
    /// The index generation that answered.
    pub generation: u64,
    /// The model version that ranked the page (`null`: retrieval order).
    pub ranker: Option<String>,
    /// Time spent retrieving (query encoding included), in milliseconds.
    pub took_ms: f64,
    /// Best first.
    pub results: Vec<SearchHit>,
    /// With `explain`: the fusion parameters of a hybrid search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<serde_json::Value>,
    /// With `interleave`: the method and the rankers, in `team` order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interleaving: Option<InterleavingInfo>,
}

/// How an interleaved page was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterleavingInfo {
    /// `team-draft`.
    pub method: String,
    /// The serving ranker first, then the challenger (`retrieval` where no
    /// model ranked).
    pub rankers: Vec<String>,
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
    /// With `explain`, when a model ranked: p_click, p_purchase, the final
    /// score, the retrieval rank and the largest feature contributions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking: Option<hyrank_ranker::stage::HitRanking>,
    /// On an ad (`hyrank serve --sponsored FILE`), always: its campaign,
    /// bid and auction score. Absent on organic results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sponsored: Option<hyrank_ranker::sponsored::SponsoredHit>,
    /// On an interleaved page: the index in `interleaving.rankers` of the
    /// ranker that contributed this result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<u32>,
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

/// Validates, waits for a free search slot, then runs the pipeline on the
/// blocking pool (encoding a query is milliseconds of CPU that must not
/// stall the async workers).
async fn search(state: AppState, req: SearchRequest) -> Result<SearchResponse> {
    let config = req.config(&state.base)?;
    let permit = Arc::clone(&state.searches)
        .acquire_owned()
        .await
        .map_err(|e| Error::Unavailable(format!("search slots: {e}")))?;
    let index = state.index();
    let pipeline = Pipeline::new(Arc::clone(&index)).with_ranker(state.ranker.clone());
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let Some(id) = &req.interleave else {
            let page = pipeline.search_explained(&req.q, &config, req.explain)?;
            return Ok(respond(&req, &config, page));
        };
        // Both rankers on the same query and generation, each asked for
        // twice the page so that their organic results fill it however
        // much they overlap.
        let challenger = state.challenger(id)?;
        let wide = SearchConfig {
            k: (config.k * 2).min(MAX_K),
            ..config.clone()
        };
        let page = pipeline.search_explained(&req.q, &wide, req.explain)?;
        let other = Pipeline::new(index)
            .with_ranker(Some(challenger))
            .search_explained(&req.q, &wide, req.explain)?;
        interleaved(&req, &config, page, other)
    })
    .await
    .map_err(|e| Error::Internal(format!("search worker: {e}")))?
}

fn respond(req: &SearchRequest, config: &SearchConfig, page: Page) -> SearchResponse {
    // Microseconds are the resolution worth reporting.
    let took_ms = (page.took_ms * 1e3).round() / 1e3;
    tracing::info!(
        q = %req.q,
        request_id = %page.request_id,
        retriever = page.retriever,
        ranker = page.ranker.as_deref().unwrap_or("-"),
        k = config.k,
        results = page.hits.len(),
        took_ms,
        "search"
    );
    let fusion = (req.explain && config.mode == Mode::Hybrid).then(|| {
        let mut f = match config.fusion() {
            Fusion::Rrf { k } => serde_json::json!({"method": "rrf", "k": k}),
            Fusion::Linear { normalization } => serde_json::json!({
                "method": "linear",
                "normalization": normalization,
            }),
        };
        f["weights"] =
            serde_json::json!({"bm25": config.bm25_weight, "dense": config.dense_weight});
        f["depth"] = config.depth.max(config.k).into();
        f
    });
    SearchResponse {
        query: req.q.clone(),
        request_id: page.request_id.0,
        retriever: page.retriever,
        generation: page.generation,
        ranker: page.ranker,
        took_ms,
        results: page.hits.into_iter().map(|h| hit(h, req.explain)).collect(),
        fusion,
        interleaving: None,
    }
}

/// Salt of the interleaving seed (a user's page for a query).
const INTERLEAVE_SALT: u64 = 0x1A7E_41EA;

/// The team-draft interleaving of two pages of the same query: organic
/// results only (ads are the serving page's business, not a ranker's), the
/// request id and timings of the serving page, each hit with its team.
fn interleaved(
    req: &SearchRequest,
    config: &SearchConfig,
    page: Page,
    other: Page,
) -> Result<SearchResponse> {
    let organic = |hits: Vec<PageHit>| -> Vec<PageHit> {
        hits.into_iter()
            .filter(|h| h.sponsored().is_none())
            .collect()
    };
    let name = |p: &Page| p.ranker.clone().unwrap_or_else(|| "retrieval".into());
    let rankers = vec![name(&page), name(&other)];
    let Page {
        request_id,
        generation,
        retriever,
        took_ms,
        hits,
        ..
    } = page;
    let pages = [organic(hits), organic(other.hits)];
    let lists: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.iter().map(|h| h.candidate.doc.as_str()).collect())
        .collect();
    let seed = match &req.user {
        Some(u) => visit_seed(INTERLEAVE_SALT, user_number(u), &req.q),
        None => user_number(&request_id.0),
    };
    let il = interleave(Method::TeamDraft, &lists, config.k, seed)?;
    let mut hits = Vec::with_capacity(il.docs.len());
    for (doc, &team) in il.docs.iter().zip(&il.teams) {
        if let Some(h) = pages[team]
            .iter()
            .find(|h| h.candidate.doc.as_str() == *doc)
        {
            hits.push((h.clone(), team));
        }
    }
    let ranker = format!("interleave:team-draft:{}", rankers.join(","));
    let teams: Vec<u32> = hits.iter().map(|(_, t)| *t as u32).collect();
    let mut out = respond(
        req,
        config,
        Page {
            request_id,
            generation,
            retriever,
            ranker: Some(ranker),
            took_ms: took_ms + other.took_ms,
            hits: hits.into_iter().map(|(h, _)| h).collect(),
        },
    );
    for (h, t) in out.results.iter_mut().zip(teams) {
        h.team = Some(t);
    }
    out.interleaving = Some(InterleavingInfo {
        method: "team-draft".into(),
        rankers,
    });
    Ok(out)
}

fn hit(h: PageHit, explain: bool) -> SearchHit {
    let sponsored = h.sponsored().cloned();
    let c = h.candidate;
    let exp = |h: Option<hyrank_index::retriever::Hit>| {
        explain.then(|| {
            h.map(|h| Explained {
                score: h.score,
                rank: h.rank,
            })
        })
    };
    SearchHit {
        id: c.doc.as_str().to_owned(),
        title: h.title,
        score: c.score,
        bm25: exp(c.bm25),
        dense: exp(c.dense),
        fused: if explain { c.fused } else { None },
        ranking: if explain { h.ranking } else { None },
        sponsored,
        team: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> SearchRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_request_is_a_layer_over_the_base_config() {
        let base = SearchConfig {
            mode: Mode::Bm25,
            k: 7,
            ..SearchConfig::default()
        };
        let c = req(serde_json::json!({"q": "sofa"})).config(&base).unwrap();
        assert_eq!(c, base, "what a request leaves out, the base decides");
        let c = req(serde_json::json!({"q": "sofa", "k": 3, "fields": "title^3"}))
            .config(&base)
            .unwrap();
        assert_eq!((c.k, c.mode), (3, Mode::Bm25));
        assert_eq!(c.fields.unwrap().to_string(), "title^3");
        let fails = |v: serde_json::Value, needle: &str| {
            let e = req(v).config(&base).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should name {needle}");
        };
        fails(serde_json::json!({"q": "  "}), "the query is empty");
        fails(
            serde_json::json!({"q": "x".repeat(MAX_QUERY_BYTES + 1)}),
            "at most 1024",
        );
        fails(serde_json::json!({"q": "s", "k": 0}), "k must be 1 to 1000");
        fails(serde_json::json!({"q": "s", "depth": 0}), "depth must be");
        fails(
            serde_json::json!({"q": "s", "fields": "colour^2"}),
            "unknown field `colour`",
        );
        fails(serde_json::json!({"q": "s", "rrf_k": 0.0}), "RRF k");
        fails(
            serde_json::json!({"q": "s", "min_price": 9.0, "max_price": 1.0}),
            "above max_price",
        );
        assert!(
            serde_json::from_value::<SearchRequest>(serde_json::json!({"q": "s", "kk": 1}))
                .is_err()
        );
    }
}
