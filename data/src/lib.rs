//! `hyrank-data`: the types every hyrank crate speaks, the file formats it
//! reads and writes, the durable interaction log, and the synthetic world.
//!
//! ```
//! use hyrank_data::{formats::ndjson, Product};
//!
//! let text = r#"{"id": "p1", "title": "Grey velvet sofa", "category": "Furniture > Sofas", "price": 499.0}"#;
//! let products: Vec<Product> = ndjson::from_str("catalog.ndjson", text).unwrap();
//! assert_eq!(products[0].category, ["Furniture", "Sofas"]);
//!
//! // Errors name the file, the line and the field.
//! let err = ndjson::from_str::<Product>("catalog.ndjson", r#"{"id": "p1", "title": "x", "price": "cheap"}"#).unwrap_err();
//! assert!(err.to_string().starts_with("catalog.ndjson:1:28: field `price`"));
//! ```
//!
//! Modules:
//! - [`types`]: ids, [`Product`], [`Query`], [`Judgment`], [`InteractionEvent`] and friends.
//! - [`formats`]: NDJSON, TSV, TREC, LETOR, ESCI, WANDS, BEIR, UBI.
//! - [`log`]: the append-only, fsynced, rotated, compactable interaction log.
//! - [`synth`]: the seeded synthetic catalogue, queries, judgments and user simulator.
//! - [`stats`]: summary statistics of a data folder.
//! - [`check`]: the consistency rules of a log, checked with the places that break them.
//! - [`fsio`]: crash-safe files and data sets written as one set.
//! - [`policy`]: the neutral ranking contract every ranker implements and every environment calls.

pub mod check;
pub mod convert;
pub mod error;
pub mod formats;
pub mod fsio;
pub mod log;
pub mod parquet_io;
pub mod policy;
pub mod reference;
pub mod stats;
pub mod synth;
pub mod time;
pub mod types;

pub use error::{Error, ErrorKind, Location, Result};
pub use time::Timestamp;
pub use types::{
    AddToCart, Click, DocId, EsciLabel, EventId, GradeMap, ImpressedDoc, Impression,
    InteractionEvent, Judgment, Product, Purchase, Query, QueryId, RequestId, Score, SessionId,
    UserId, WandsLabel,
};
