//! `hyrank-training`: from logs to a candidate model.
//!
//! Owns building point-in-time training sets from the interaction log without leakage, fitting, validation, and writing candidate models to the registry.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;

pub use error::{Error, Result};
