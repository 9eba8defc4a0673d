//! Evaluating run files against a qrels file: what `hyrank eval`, the demo
//! and the experiment runner share.

use std::path::{Path, PathBuf};

use hyrank_data::formats::letor::{read_letor_set, read_scores};
use hyrank_data::formats::trec::{read_qrels, read_run, RunEntry};
use hyrank_data::Judgment;

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

/// What [`evaluate_letor_scores`] evaluated.
#[derive(Debug, Clone)]
pub struct LetorEvaluation {
    /// One evaluation per score file, in the order given.
    pub evaluations: Vec<Evaluation>,
    /// Queries judged (those with at least one row at the relevance level).
    pub queries: usize,
    /// Queries left out because none of their rows is relevant (their nDCG
    /// is undefined: LightGBM counts them as 1, trec_eval-style tools as 0).
    pub without_relevant: usize,
}

/// Evaluates score files (one score a line, in the row order of a LETOR
/// file, as LightGBM's and hyrank's `predict` write them) against that LETOR
/// file's labels, which become the qrels: query = the group (`qid:` or its
/// number in the `.query` file), document = the row's position in its group,
/// grade = the label. Ties in score are broken as trec_eval breaks them.
pub fn evaluate_letor_scores(
    data: &Path,
    scores: &[PathBuf],
    measures: &[Measure],
    opts: &EvalOptions,
) -> Result<LetorEvaluation> {
    let set = read_letor_set(data, None)?;
    let mut judgments = Vec::with_capacity(set.rows.len());
    let mut without_relevant = 0;
    for (g, q) in set.qids.iter().enumerate() {
        let rows = set.groups[g]..set.groups[g + 1];
        let mut any = false;
        let mut group = Vec::with_capacity(rows.len());
        for r in rows.clone() {
            let label = set.rows[r].label;
            if label.fract() != 0.0 {
                return Err(Error::InvalidArgument(format!(
                    "{}:{}: label {label} is not an integer grade",
                    data.display(),
                    set.lines[r]
                )));
            }
            any |= label as i32 >= opts.relevance_level;
            group.push(Judgment {
                query: q.as_str().into(),
                doc: row_doc(r - rows.start),
                grade: label as i32,
            });
        }
        if any {
            judgments.extend(group);
        } else {
            without_relevant += 1;
        }
    }
    let qrels = Qrels::new(&judgments);
    let mut evaluations = Vec::with_capacity(scores.len());
    let mut taken = Vec::new();
    for path in scores {
        let values = read_scores(path)?;
        if values.len() != set.rows.len() {
            return Err(Error::InvalidArgument(format!(
                "{} has {} scores but {} has {} rows",
                path.display(),
                values.len(),
                data.display(),
                set.rows.len()
            )));
        }
        let name = stem_name(path, &taken);
        taken.push(name.clone());
        let mut entries = Vec::with_capacity(values.len());
        for (g, q) in set.qids.iter().enumerate() {
            let start = set.groups[g];
            for (i, &score) in values[start..set.groups[g + 1]].iter().enumerate() {
                entries.push(RunEntry {
                    query: q.as_str().into(),
                    doc: row_doc(i),
                    rank: 0,
                    score,
                    tag: name.clone(),
                });
            }
        }
        evaluations.push(evaluate(&qrels, &Run::new(name, &entries), measures, opts)?);
    }
    Ok(LetorEvaluation {
        evaluations,
        queries: set.qids.len() - without_relevant,
        without_relevant,
    })
}

/// The document id of the `i`-th row of a LETOR group, in qrels and runs alike.
fn row_doc(i: usize) -> hyrank_data::DocId {
    format!("{i:06}").into()
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
