//! The router, its shared state, and serving it until shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router};
use hyrank_index::{Manifest, SearchConfig, SearchIndex};
use hyrank_ranker::features::ProductTable;
use hyrank_ranker::registry::Registry;
use hyrank_ranker::stage::{RankStage, RankingModel};

use crate::error::{Error, Result};
use crate::search;

/// What every handler shares: the index generation serving now (and with it
/// the query encoder), and the search slots.
#[derive(Debug, Clone)]
pub struct AppState {
    index: Arc<RwLock<Arc<SearchIndex>>>,
    /// The config every request is a layer over (the index's stored config,
    /// `hyrank serve --config`, the serve flags).
    pub(crate) base: SearchConfig,
    /// Searches running at once (one per core): more would only share the
    /// cores and the encoder's threads; the rest wait their turn in order.
    pub(crate) searches: Arc<tokio::sync::Semaphore>,
    /// The model stage, when the server ranks (`hyrank serve --registry`).
    pub(crate) ranker: Option<Arc<RankStage>>,
    /// The registry whose champion the model stage follows.
    registry: Option<Registry>,
    /// The durable log `POST /events` appends to before it acknowledges.
    pub(crate) event_log: Option<Arc<std::sync::Mutex<hyrank_data::log::EventLog>>>,
    /// Registry versions interleaved with the champion (`interleave=ID`),
    /// loaded on first use; emptied when a new index generation comes.
    challengers: Arc<std::sync::Mutex<HashMap<String, Arc<RankStage>>>>,
}

/// How many challengers the server keeps loaded; past it the cache starts
/// again (each holds a model in memory).
const MAX_CHALLENGERS: usize = 4;

impl AppState {
    /// State over an open index, with the built-in default config as the base.
    pub fn new(index: Arc<SearchIndex>) -> Self {
        Self::with_config(index, SearchConfig::default())
    }

    /// State over an open index whose requests are layers over `base`.
    pub fn with_config(index: Arc<SearchIndex>, base: SearchConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            index: Arc::new(RwLock::new(index)),
            base,
            searches: Arc::new(tokio::sync::Semaphore::new(cores)),
            ranker: None,
            registry: None,
            event_log: None,
            challengers: Arc::default(),
        }
    }

    /// The state with a durable event log: `POST /events` appends each
    /// body to it, fsynced, before the feature store counts the events and
    /// the request is acknowledged.
    pub fn with_event_log(mut self, log: hyrank_data::log::EventLog) -> Self {
        self.event_log = Some(Arc::new(std::sync::Mutex::new(log)));
        self
    }

    /// The state with a model stage; with `registry`, [`AppState::reload_ranker`]
    /// follows that registry's champion.
    pub fn with_ranker(mut self, stage: Arc<RankStage>, registry: Option<Registry>) -> Self {
        self.ranker = Some(stage);
        self.registry = registry;
        self
    }

    /// The model stage, if the server ranks.
    pub fn ranker(&self) -> Option<&Arc<RankStage>> {
        self.ranker.as_ref()
    }

    /// Loads the registry's champion when it is not the model serving, and
    /// swaps it in; returns its id. Requests in flight finish with the old
    /// model. On error (a damaged artefact, features this build cannot
    /// produce) the current model keeps serving.
    pub fn reload_ranker(&self) -> Result<Option<String>> {
        let (Some(stage), Some(reg)) = (&self.ranker, &self.registry) else {
            return Ok(None);
        };
        let Some(champion) = reg.pointer()?.champion else {
            return Ok(None);
        };
        if champion == stage.model().id {
            return Ok(None);
        }
        let model = RankingModel::load(reg, &champion)?;
        stage.swap(model);
        Ok(Some(champion))
    }

    /// The stage that ranks with registry version `id` beside the serving
    /// one, for interleaving: the same catalogue, history and re-rank
    /// steps. Loaded once and kept. Blocking (loading reads the model).
    pub fn challenger(&self, id: &str) -> Result<Arc<RankStage>> {
        let (Some(stage), Some(reg)) = (&self.ranker, &self.registry) else {
            return Err(Error::InvalidArgument(
                "interleave: this server does not rank with models (start it with --registry)"
                    .into(),
            ));
        };
        let mut cache = self
            .challengers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = cache.get(id) {
            return Ok(Arc::clone(s));
        }
        // An unknown version is the client's error; the registry's own
        // message names its folder, which a response must not.
        reg.resolve(id).map_err(|_| {
            Error::NotFound(format!(
                "interleave: no model `{id}` in the server's registry"
            ))
        })?;
        let model = RankingModel::load(reg, id)?;
        let s = Arc::new(stage.sibling(model));
        if cache.len() >= MAX_CHALLENGERS {
            cache.clear();
        }
        cache.insert(id.to_owned(), Arc::clone(&s));
        Ok(s)
    }

    /// The config requests are layered over.
    pub fn base_config(&self) -> &SearchConfig {
        &self.base
    }

    /// The generation serving now; a search keeps the one it started with.
    pub fn index(&self) -> Arc<SearchIndex> {
        Arc::clone(&self.index.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Opens the folder's live generation when it is newer than the one
    /// serving, with the same encoder and search options, and swaps it in;
    /// returns the new generation. Blocking (opening reads the index).
    /// On error the current generation keeps serving.
    pub fn reload(&self) -> Result<Option<u64>> {
        let now = self.index();
        let manifest = Manifest::read(&now.dir)?;
        if manifest.generation == now.manifest.generation {
            return Ok(None);
        }
        let next = hyrank_index::OpenOptions::new()
            .shared_encoder(now.encoder.clone())
            .search_options(now.search_options())
            .open(&now.dir)?;
        let generation = next.manifest.generation;
        if let Some(stage) = &self.ranker {
            stage.swap_products(Arc::new(ProductTable::new(&next.products()?)));
            // Challengers are built again, over the new catalogue.
            self.challengers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(Some(generation))
    }
}

/// Checks the index folder every `every` and swaps in a new generation when
/// `hyrank index build` publishes one (see [`AppState::reload`]), and the
/// registry for a new champion (see [`AppState::reload_ranker`]). Runs until
/// the task is dropped.
pub async fn watch(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.reload()).await {
            Ok(Ok(Some(g))) => tracing::info!(generation = g, "serving a new index generation"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not open the new index generation; the current one keeps serving")
            }
            Err(e) => tracing::error!(error = %e, "index reload worker failed"),
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.reload_ranker()).await {
            Ok(Ok(Some(id))) => tracing::info!(model = %id, "ranking with the new champion"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not load the new champion; the current model keeps serving")
            }
            Err(e) => tracing::error!(error = %e, "ranker reload worker failed"),
        }
    }
}

/// The largest request body the server reads (a search request is a few
/// hundred bytes); a larger one gets 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// How much of a body over the limit the server reads and discards before
/// it answers 413 (so that the client, still sending, reads the answer
/// instead of a reset connection); past this it closes the connection.
const DRAIN_LIMIT_BYTES: usize = 64 << 20;

/// The routes: `GET /health`, `GET /search`, `POST /search`, `POST /events`; anything else
/// is a JSON 404. A body over [`BODY_LIMIT_BYTES`] gets 413.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/search", get(search::get).post(search::post))
        .route("/events", axum::routing::post(crate::events::post))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(refuse_large_bodies))
        .with_state(state)
}

/// A request whose `Content-Length` is over the limit is answered 413 after
/// its body is read and discarded (up to [`DRAIN_LIMIT_BYTES`]): closing
/// with the body unread would reset the connection under a client that is
/// still sending it. (A chunked body without a length meets the same limit
/// in the JSON extractor.)
async fn refuse_large_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > BODY_LIMIT_BYTES as u64 => {
            let mut body = req.into_body();
            let mut read = 0usize;
            while read <= DRAIN_LIMIT_BYTES {
                match body.frame().await {
                    Some(Ok(f)) => read += f.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
            Error::TooLarge(format!("the limit is {BODY_LIMIT_BYTES} bytes")).into_response()
        }
        _ => next.run(req).await,
    }
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then
/// lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `{"status": "ok", "generation": n, "products": n, "dense": bool, "hnsw": bool,
/// "ranker": id or null}`.
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let ix = state.index();
    Json(serde_json::json!({
        "status": "ok",
        "generation": ix.manifest.generation,
        "products": ix.bm25.len(),
        "dense": ix.vectors.is_some() && ix.encoder.is_some(),
        "hnsw": ix.manifest.vectors.hnsw.is_some(),
        "ranker": state.ranker.as_ref().map(|r| r.model().id.clone()),
    }))
}

async fn not_found(method: Method, uri: Uri) -> Error {
    Error::NotFound(format!(
        "no route {method} {}; the routes are GET /health, GET /search, POST /search, POST /events",
        uri.path()
    ))
}
