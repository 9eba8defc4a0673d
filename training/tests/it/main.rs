//! Integration tests of hyrank-training: tuning retrieval with held-out
//! folds; LambdaMART on LETOR files.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod letor;
mod logtrain;
mod tune;
