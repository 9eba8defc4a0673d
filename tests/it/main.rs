//! The `hyrank` binary end to end, one module a command family: data
//! (generate, stats, check, convert, compact and what a killed run leaves),
//! eval, index / search / embed, serve, train / predict.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod crash;
mod data;
mod eval;
mod experiment;
mod rank;
mod search;
mod serve;
mod train;

use std::process::{Command, Output};

pub fn hyrank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyrank"))
        .args(args)
        .output()
        .expect("run hyrank")
}

pub fn ok(args: &[&str]) -> String {
    let out = hyrank(args);
    assert!(
        out.status.success(),
        "hyrank {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(args: &[&str]) -> String {
    let out = hyrank(args);
    assert!(!out.status.success(), "hyrank {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `shared/data/<rel>` beside the repository, or `None` (with a skip note).
pub fn shared(rel: &str) -> Option<std::path::PathBuf> {
    hyrank_data::reference::shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), rel)
}
