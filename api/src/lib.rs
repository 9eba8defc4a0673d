//! `hyrank-api`: the HTTP service.
//!
//! Owns the axum router. Today it serves search over one index folder
//! (`GET`/`POST /search`) and `GET /health`; events, experiments, admin
//! (promote, rollback), metrics and the OpenAPI document are the crate's
//! later parts. User errors map to 4xx and internal ones to 5xx in one place
//! ([`Error`]'s `IntoResponse`).
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
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;
pub mod search;
mod server;
pub mod testing;

pub use error::{Error, Result};
pub use search::{SearchRequest, SearchResponse};
pub use server::{router, serve, watch, AppState};
