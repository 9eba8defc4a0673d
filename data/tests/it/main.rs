//! Integration tests of hyrank-data: hand-written fixtures in the exact
//! upstream formats (good and broken), and the shared reference data sets.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod fixtures;
mod formats;
mod reference;
mod ubi;

use std::path::PathBuf;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}
