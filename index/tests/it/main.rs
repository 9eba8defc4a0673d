//! Integration tests of hyrank-index.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod parity;
mod search;
