//! Integration tests of hyrank-training: tuning retrieval with held-out folds.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod tune;
