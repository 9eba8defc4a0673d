//! `hyrank-api`: the HTTP service.
//!
//! Owns the axum router: search, events, experiments, admin (promote, rollback), health, metrics and the OpenAPI document; user errors map to 4xx and internal ones to 5xx in one place.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;

pub use error::{Error, Result};
