//! `hyrank-index`: the query path's first half: retrieval.
//!
//! Owns the tantivy BM25 index, the BERT sentence encoder (candle + tokenizers), exact (faer) and approximate (HNSW) vector search, score fusion (RRF, normalised linear) and the `Retriever` trait. Retrieval lands with issue 3; today the crate fixes its place in the dependency graph and its error type.
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← {index, eval,
//! ranker} ← {training, api} ← the `hyrank` binary.

pub mod error;

pub use error::{Error, Result};
