//! Subcommands.

pub mod bench;
pub mod data;
