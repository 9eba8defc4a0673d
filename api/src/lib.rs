//! `hyrank-api`: the HTTP service.
//!
//! Owns the axum router. Today it serves search over one index folder
//! (`GET`/`POST /search`), `GET /health` and `POST /events` (into the
//! ranker's feature store); experiments, admin
//! (promote, rollback), metrics and the OpenAPI document are the crate's
//! later parts. Every error's kind maps to its status in one place
//! ([`Error::status`]: invalid input 400, a body over [`BODY_LIMIT_BYTES`]
//! 413, not found 404, conflict 409, unavailable 503, internal 500); a 5xx
//! body says nothing of what failed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let index = hyrank_index::SearchIndex::open("out/demo/index".as_ref(), None)?;
//! let state = hyrank_api::AppState::new(Arc::new(index));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! hyrank_api::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

pub mod error;
pub mod events;
pub mod search;
mod server;
pub mod testing;

pub use error::{Error, Result};
pub use search::{SearchRequest, SearchResponse};
pub use server::{router, serve, watch, AppState, BODY_LIMIT_BYTES};
