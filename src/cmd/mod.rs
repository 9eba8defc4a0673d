//! Subcommands.

pub mod bench;
pub mod data;
pub mod eval;
pub mod search;
pub mod serve;
