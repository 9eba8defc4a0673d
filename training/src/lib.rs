//! `hyrank-training`: fitting against judgments and logs, with out-of-sample
//! numbers.
//!
//! Today: [`tune`], retrieval tuned on judgment lists with k-fold
//! cross-validation (field boosts, fusion, weights, RRF k, normalisation,
//! depth). Next: point-in-time training sets from the interaction log,
//! fitting rankers, validation, writing candidate models to the registry.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

pub mod error;
pub mod tune;

pub use error::{Error, Result};
pub use tune::{tune, TuneOptions, TuneReport};
