//! Integration tests of hyrank-eval.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod conformance;
mod files;
mod properties;
