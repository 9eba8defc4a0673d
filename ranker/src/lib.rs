//! `hyrank-ranker`: the second phase of the query path, and the one search
//! [`Pipeline`] that the CLI and the API both call.
//!
//! Today the pipeline retrieves (BM25, dense or hybrid, as a
//! [`SearchConfig`](hyrank_index::SearchConfig) says) and looks up the
//! products' fields. The models score candidates behind one small [`Ranker`]
//! trait; [`gbdt`] is gradient-boosted trees (LambdaMART and a binary
//! objective), [`linear`] logistic regression, [`artefact`] their checked
//! model files; [`registry`] keeps model versions and the champion pointer;
//! [`rerank`] holds the last stage's steps (MMR diversity, near-duplicate
//! removal, sponsored slots). Features with one code path for training and
//! serving, the point-in-time feature store and the other models come next,
//! and with them the model and re-rank stages of the pipeline.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use hyrank_index::{SearchConfig, SearchIndex};
//! let index = Arc::new(SearchIndex::open("out/demo/index".as_ref(), None)?);
//! let pipeline = hyrank_ranker::Pipeline::new(index);
//! let config = SearchConfig { mode: hyrank_index::Mode::Bm25, ..SearchConfig::default() };
//! let page = pipeline.search("grey velvet couch", &config)?;
//! println!("{} ({} hits, generation {})", page.request_id, page.hits.len(), page.generation);
//! # Ok(()) }
//! ```
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

pub mod artefact;
pub mod error;
pub mod features;
pub mod gbdt;
pub mod linear;
pub mod model;
pub mod mtl;
pub mod pipeline;
pub mod registry;
pub mod rerank;
pub mod sponsored;
pub mod stage;
pub mod task;

pub use artefact::ModelArtefact;
pub use error::{Error, Result};
pub use model::Ranker;
pub use pipeline::{Page, PageHit, Pipeline, PipelinePolicy};
pub use registry::{Manifest, Registry};
