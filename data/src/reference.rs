//! Where the public reference data sets live: `shared/data/` beside the
//! repository (trec_eval's test collection, LightGBM's LETOR sample,
//! Cranfield 1400). Tests that need them call [`shared_data`] and skip, with a
//! message, when it answers `None` (a fresh clone outside this setup).

use std::path::{Path, PathBuf};

/// `<repository>/../shared/data/<rel>` if it exists, found upwards from
/// `start` (pass `env!("CARGO_MANIFEST_DIR")`); prints a skip note otherwise.
pub fn shared_data(start: &Path, rel: &str) -> Option<PathBuf> {
    let found = start
        .ancestors()
        .map(|a| a.join("shared/data").join(rel))
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!("skipped: shared/data/{rel} not found above {} (the reference data lives beside the repository)", start.display());
    }
    found
}
