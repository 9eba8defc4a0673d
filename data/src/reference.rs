//! Where the public reference data sets live: `shared/data/` beside the
//! repository (trec_eval's test collection, LightGBM's LETOR sample,
//! Cranfield 1400). Tests that need them call [`shared_data`] and skip, with a
//! message, when it answers `None` (a fresh clone outside this setup). In CI
//! (`CI=true`) the reference data must be there: a missing set is a failure,
//! not a skip.

use std::path::{Path, PathBuf};

/// `<repository>/../shared/data/<rel>` if it exists, found upwards from
/// `start` (pass `env!("CARGO_MANIFEST_DIR")`); prints a skip note otherwise.
///
/// # Panics
/// When the data is missing and the environment says `CI=true`: CI has the
/// reference sets, so a missing one is a broken setup, not a reason to skip.
pub fn shared_data(start: &Path, rel: &str) -> Option<PathBuf> {
    let found = start
        .ancestors()
        .map(|a| a.join("shared/data").join(rel))
        .find(|p| p.exists());
    if found.is_none() {
        let msg = format!(
            "shared/data/{rel} not found above {} (the reference data lives beside the repository)",
            start.display()
        );
        assert!(!in_ci(), "CI=true and the reference data is missing: {msg}");
        eprintln!("skipped: {msg}");
    }
    found
}

/// True when the environment says this is a CI run (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
