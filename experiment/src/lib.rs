//! `hyrank-experiment`: deploying rankers offline.
//!
//! - [`env`]: the [`Environment`](env::Environment) contract, the
//!   synthetic world's users ([`SyntheticEnv`](env::SyntheticEnv), truth
//!   known) and an environment fitted on a log
//!   ([`FittedEnv`](env::FittedEnv): a click model for clicks, backed-off
//!   conversion rates for purchases);
//! - [`policy`]: rankers cached per query, fixed tables, true values, and
//!   the studies' rankers of known lift;
//! - [`ab`], [`interleave`], [`offpolicy`]: the runs, each writing a
//!   report ([`report`] renders them as HTML);
//! - [`gate`]: the promotion policy file and the run of what it asks;
//! - [`study`]: the measurements (sensitivity, gate validity, off-policy
//!   coverage) over many seeds;
//! - [`recovery`]: a click model fitted on the synthetic world's log
//!   against the world's own examination and attractiveness.
//!
//! Statistics and algorithms are `hyrank-eval`'s pure functions; this
//! crate only runs them. Layering: data ← ranker; data ← eval; {ranker,
//! eval} ← experiment (see `docs/architecture.md` in the shared docs).

pub mod ab;
pub mod env;
pub mod error;
pub mod gate;
pub mod interleave;
pub mod offpolicy;
pub mod online;
pub mod policy;
pub mod recovery;
pub mod report;
pub mod study;

pub use error::{Error, Result};

/// Writes `report` as `STEM.json` and `html` as `STEM.html` (each
/// atomically: a temporary file renamed over the target).
pub fn write_report<T: serde::Serialize>(
    stem: &std::path::Path,
    report: &T,
    html: &str,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let json = stem.with_extension("json");
    let page = stem.with_extension("html");
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| hyrank_data::Error::io(dir, e))?;
    }
    let mut text = serde_json::to_string_pretty(report)
        .map_err(|e| Error::InvalidArgument(format!("report does not serialise: {e}")))?;
    text.push('\n');
    hyrank_data::fsio::write_atomic(&json, text.as_bytes())?;
    hyrank_data::fsio::write_atomic(&page, html.as_bytes())?;
    Ok((json, page))
}
