//! Evaluating run files against a qrels file: what `hyrank eval`, the demo
//! and the experiment runner share.

use std::path::{Path, PathBuf};

use hyrank_data::formats::trec::{read_qrels, read_run};

use crate::error::{Error, Result};
use crate::evaluate::{evaluate, EvalOptions, Evaluation, Measure};
use crate::prepare::{Qrels, Run};

/// How each evaluated run is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunNames {
    /// The file name without `.trec` (the path when two runs share a stem).
    #[default]
    FileStem,
    /// The run tag of the file's first row (trec_eval's `runid`).
    Tag,
}

/// Reads `qrels` once and evaluates every run file with `measures`.
/// Errors name the file (and its line for a malformed row).
pub fn evaluate_files(
    qrels: &Path,
    runs: &[PathBuf],
    measures: &[Measure],
    opts: &EvalOptions,
    names: RunNames,
) -> Result<Vec<Evaluation>> {
    let qrels = Qrels::new(&read_qrels(qrels)?);
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(runs.len());
    for path in runs {
        let rows = read_run(path)?;
        let name = match names {
            RunNames::Tag => rows
                .first()
                .map_or_else(|| "empty".to_owned(), |r| r.tag.clone()),
            RunNames::FileStem => stem_name(path, &taken),
        };
        taken.push(name.clone());
        let e = evaluate(&qrels, &Run::new(name, &rows), measures, opts).map_err(|e| match e {
            Error::InvalidArgument(m) => {
                Error::InvalidArgument(format!("evaluating {}: {m}", path.display()))
            }
            other => other,
        })?;
        out.push(e);
    }
    Ok(out)
}

fn stem_name(path: &Path, taken: &[String]) -> String {
    let stem = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let stem = stem.strip_suffix(".trec").unwrap_or(&stem).to_owned();
    if taken.contains(&stem) {
        path.display().to_string()
    } else {
        stem
    }
}
