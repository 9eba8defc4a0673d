//! `hyrank-eval`: judging rankers offline and online.
//!
//! Owns trec_eval-conformant metrics, significance tests, click models, A/B simulation, interleaving, off-policy estimators, the promotion gate's decision and reports. Metrics land with issue 4.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;

pub use error::{Error, Result};
