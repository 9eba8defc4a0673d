//! Subcommands.

pub mod bench;
pub mod bench_rank;
pub mod clickmodel;
pub mod config_args;
pub mod data;
pub mod eval;
pub mod experiment;
pub mod index;
pub mod model;
pub mod ranker_args;
pub mod search;
pub mod serve;
pub mod train;
pub mod train_log;
pub mod tune;
