//! `hyrank-ranker`: scoring candidates.
//!
//! Owns feature definitions (one code path for training and serving), the point-in-time feature store, the logistic-regression baseline and the multi-task click + purchase model, re-ranking, model artefacts and the registry.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;

pub use error::{Error, Result};
