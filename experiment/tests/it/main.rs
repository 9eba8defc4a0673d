//! Integration tests of hyrank-experiment: runs on a small synthetic world
//! whose truth is known.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod experiments;
