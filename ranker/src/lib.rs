//! `hyrank-ranker`: the second phase of the query path, and the one search
//! [`Pipeline`] that the CLI and the API both call.
//!
//! Today the pipeline retrieves (BM25, dense or hybrid, as a
//! [`SearchConfig`](hyrank_index::SearchConfig) says) and looks up the
//! products' fields. The models score candidates behind one small [`Ranker`]
//! trait; [`gbdt`] is gradient-boosted trees (LambdaMART and a binary
//! objective). Features with one code path for training and serving, the
//! point-in-time feature store, the other models, the re-rank layer and the
//! registry are the pipeline's next stages.
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

pub mod error;
pub mod gbdt;
pub mod model;
pub mod pipeline;

pub use error::{Error, Result};
pub use model::Ranker;
pub use pipeline::{Page, PageHit, Pipeline, PipelinePolicy};
