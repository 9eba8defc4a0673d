//! `hyrank-training`: fitting against judgments and logs, with out-of-sample
//! numbers.
//!
//! Today: [`tune`](mod@tune), retrieval tuned on judgment lists with k-fold
//! cross-validation (field boosts, fusion, weights, RRF k, normalisation,
//! depth); [`letor`], LambdaMART (or a binary GBDT) trained and applied on
//! LETOR feature files as LightGBM's CLI does, with validation and early
//! stopping. Next: point-in-time training sets from the interaction log,
//! the other rankers, writing candidate models to the registry.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

pub mod error;
pub mod judgments;
pub mod letor;
pub mod logset;
pub mod logtrain;
pub mod mtl;
pub mod tune;

pub use error::{Error, Result};
pub use letor::{
    predict_letor, train_letor, train_letor_logistic, LetorTrainOptions, LetorTrainReport,
    LogisticTrainReport,
};
pub use tune::{tune, TuneOptions, TuneReport};
