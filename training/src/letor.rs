//! Training and scoring from feature files, as LightGBM's CLI does: LETOR /
//! SVMlight rows with query groups from `qid:` or a `.query` file in,
//! a model file or one score a line out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hyrank_data::formats::letor::{read_letor, read_letor_set, LetorRow, LetorSet};
use hyrank_eval::measures::ndcg;
use hyrank_eval::prepare::Judged;
use hyrank_eval::Gain;
use hyrank_ranker::gbdt::{self, FeatureMatrix, GbdtModel, GbdtParams, RankingData};
use hyrank_ranker::linear::{log_loss, LogisticModel, LogisticParams};
use hyrank_ranker::Ranker;
use serde::Serialize;

use crate::error::{Error, Result};

/// How to train from a LETOR file.
#[derive(Debug, Clone)]
pub struct LetorTrainOptions {
    /// The boosting parameters.
    pub params: GbdtParams,
    /// A validation file, scored after every round.
    pub valid: Option<PathBuf>,
    /// Stop when the validation metric has not improved for this many
    /// rounds, and keep the best round's trees (needs `valid`).
    pub early_stopping_rounds: Option<usize>,
    /// The cut-off of the validation nDCG (exponential gain, queries with
    /// no relevant row left out).
    pub eval_at: usize,
}

impl Default for LetorTrainOptions {
    fn default() -> Self {
        Self {
            params: GbdtParams::default(),
            valid: None,
            early_stopping_rounds: None,
            eval_at: 10,
        }
    }
}

/// One round as the progress callback sees it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RoundReport {
    /// 1-based round.
    pub round: usize,
    /// Rounds asked for.
    pub of: usize,
    /// Validation nDCG@eval_at after this round, when a validation file is given.
    pub valid_ndcg: Option<f64>,
}

/// What [`train_letor`] did.
#[derive(Debug, Clone, Serialize)]
pub struct LetorTrainReport {
    /// The model (truncated to the best round under early stopping).
    #[serde(skip)]
    pub model: GbdtModel,
    /// Training rows, queries and feature columns.
    pub rows: usize,
    /// Query groups in the training file.
    pub queries: usize,
    /// Feature columns (one more than the largest index).
    pub features: usize,
    /// Per round, the validation metric (empty without a validation file).
    pub valid_ndcg: Vec<f64>,
    /// The round kept (1-based), under early stopping.
    pub best_round: Option<usize>,
    /// Validation values of features the training file never had (ignored).
    pub valid_ignored_values: usize,
    /// Seconds to read and convert the files.
    pub load_seconds: f64,
    /// Seconds of boosting.
    pub train_seconds: f64,
}

/// Dense rows for a model of `num_features` columns; values of higher
/// indices are dropped and counted (LightGBM ignores them too).
pub fn dense_rows(rows: &[LetorRow], num_features: usize) -> Result<(FeatureMatrix, usize)> {
    let mut x = FeatureMatrix::with_cols(num_features);
    let mut row = vec![0f32; num_features];
    let mut ignored = 0;
    for r in rows {
        row.fill(0.0);
        for &(i, v) in &r.features {
            match row.get_mut(i as usize) {
                Some(slot) => *slot = v,
                None => ignored += 1,
            }
        }
        x.push_row(&row)?;
    }
    Ok((x, ignored))
}

/// A LETOR set as training data for a model of `num_features` columns.
pub fn to_ranking_data(set: &LetorSet, num_features: usize) -> Result<(RankingData, usize)> {
    let (x, ignored) = dense_rows(&set.rows, num_features)?;
    let labels = set.rows.iter().map(|r| r.label).collect();
    Ok((
        RankingData {
            x,
            labels,
            groups: set.groups.clone(),
        },
        ignored,
    ))
}

/// Mean nDCG@k (exponential gain) of `scores` over the groups of `data`
/// that have a row with a positive label; ties keep row order.
pub fn mean_ndcg(data: &RankingData, scores: &[f64], k: usize) -> f64 {
    let (mut total, mut n) = (0.0, 0usize);
    for g in 0..data.num_groups() {
        let rows = data.group(g);
        let grades: Vec<i32> = data.labels[rows.clone()]
            .iter()
            .map(|&l| l as i32)
            .collect();
        let num_rel = grades.iter().filter(|&&g| g > 0).count();
        if num_rel == 0 {
            continue;
        }
        let mut order: Vec<usize> = (0..grades.len()).collect();
        order.sort_by(|&a, &b| scores[rows.start + b].total_cmp(&scores[rows.start + a]));
        let mut ideal = grades.clone();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let judged = Judged {
            rels: order.iter().map(|&i| Some(grades[i])).collect(),
            num_rel,
            num_nonrel: grades.len() - num_rel,
            ideal,
        };
        total += ndcg(&judged, &Gain::Exponential, Some(k));
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        total / n as f64
    }
}

/// A training file's rows and groups; no rows is an error.
fn read_training_set(train: &Path) -> Result<LetorSet> {
    let set = read_letor_set(train, None)?;
    if set.rows.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no rows to train on",
            train.display()
        )));
    }
    Ok(set)
}

/// The most feature columns a dense training matrix gets.
pub const MAX_FEATURES: usize = 100_000;
/// The most values (rows × columns) a dense training matrix gets (4 GiB of f32).
pub const MAX_VALUES: usize = 1 << 30;

/// The training matrix's width; an error at the line whose feature index
/// would make the dense matrix unreasonably large.
fn dense_width(set: &LetorSet, path: &Path) -> Result<usize> {
    let features = set.num_features();
    if features > MAX_FEATURES || features.saturating_mul(set.rows.len()) > MAX_VALUES {
        let (r, idx) = set
            .rows
            .iter()
            .enumerate()
            .filter_map(|(r, row)| row.features.last().map(|&(i, _)| (r, i)))
            .max_by_key(|&(_, i)| i)
            .unwrap_or((0, 0));
        return Err(Error::InvalidArgument(format!(
            "{}:{}: feature index {idx} makes a dense matrix of {} rows × {features} columns (at most {MAX_FEATURES} columns and {MAX_VALUES} values)",
            path.display(),
            set.lines.get(r).copied().unwrap_or(0),
            set.rows.len()
        )));
    }
    Ok(features)
}

/// Trains on a LETOR file; `progress` sees every round.
pub fn train_letor(
    train: &Path,
    opts: &LetorTrainOptions,
    mut progress: impl FnMut(&RoundReport),
) -> Result<LetorTrainReport> {
    if opts.early_stopping_rounds.is_some() && opts.valid.is_none() {
        return Err(Error::InvalidArgument(
            "early stopping needs a validation file".into(),
        ));
    }
    let started = Instant::now();
    let set = read_training_set(train)?;
    let objective = opts.params.objective;
    if let Some((r, why)) = set
        .rows
        .iter()
        .enumerate()
        .find_map(|(r, row)| objective.label_problem(row.label).map(|w| (r, w)))
    {
        return Err(Error::InvalidArgument(format!(
            "{}:{}:1: label {} {why}",
            train.display(),
            set.lines[r],
            set.rows[r].label
        )));
    }
    let features = dense_width(&set, train)?;
    let (data, _) = to_ranking_data(&set, features)?;
    let valid = match &opts.valid {
        Some(p) => {
            let vs = read_letor_set(p, None)?;
            Some(to_ranking_data(&vs, features)?)
        }
        None => None,
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut valid_scores = valid.as_ref().map(|(v, _)| vec![0.0; v.x.rows()]);
    let mut curve = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let of = opts.params.num_trees;
    let mut model = gbdt::train(&data, &opts.params, |round| {
        let mut valid_ndcg = None;
        if let (Some((v, _)), Some(s)) = (&valid, valid_scores.as_mut()) {
            for (r, score) in s.iter_mut().enumerate() {
                if round.index == 0 {
                    *score = round.init_score;
                }
                *score += round.tree.predict(v.x.row(r));
            }
            let m = mean_ndcg(v, s, opts.eval_at);
            curve.push(m);
            valid_ndcg = Some(m);
            if best.is_none_or(|(_, b)| m > b) {
                best = Some((round.index + 1, m));
            }
        }
        progress(&RoundReport {
            round: round.index + 1,
            of,
            valid_ndcg,
        });
        match (opts.early_stopping_rounds, best) {
            (Some(patience), Some((b, _))) => round.index + 1 - b < patience,
            _ => true,
        }
    })
    .map_err(|e| match e {
        hyrank_ranker::Error::InvalidArgument(m) => {
            Error::InvalidArgument(format!("{}: {m}", train.display()))
        }
        other => other.into(),
    })?;
    let best_round = opts.early_stopping_rounds.and(best.map(|b| b.0));
    if let Some(b) = best_round {
        model.truncate(b);
    }
    Ok(LetorTrainReport {
        model,
        rows: data.x.rows(),
        queries: data.num_groups(),
        features,
        valid_ndcg: curve,
        best_round,
        valid_ignored_values: valid.as_ref().map_or(0, |v| v.1),
        load_seconds,
        train_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Scores every row of a LETOR file with a model, in file order (no
/// groups needed); also returns how many values had a feature index the
/// model does not know.
pub fn predict_letor(model: &dyn Ranker, input: &Path) -> Result<(Vec<f64>, usize)> {
    if model.num_features() > MAX_FEATURES {
        return Err(Error::InvalidArgument(format!(
            "the model reads {} features, more than the {MAX_FEATURES} a dense matrix here takes",
            model.num_features()
        )));
    }
    let rows = read_letor(input)?;
    let (x, ignored) = dense_rows(&rows, model.num_features())?;
    Ok((model.score(&x)?, ignored))
}

/// What [`train_letor_logistic`] did.
#[derive(Debug, Clone, Serialize)]
pub struct LogisticTrainReport {
    /// The model.
    #[serde(skip)]
    pub model: LogisticModel,
    /// Training rows.
    pub rows: usize,
    /// Query groups in the training file.
    pub queries: usize,
    /// Feature columns.
    pub features: usize,
    /// Rows labelled 1 after `binarize_at`.
    pub positives: usize,
    /// Newton steps, and whether they converged.
    pub iterations: usize,
    /// Whether the fit converged.
    pub converged: bool,
    /// Mean log-loss on the training rows.
    pub train_log_loss: f64,
    /// Validation nDCG@eval_at of the logits (graded labels as given).
    pub valid_ndcg: Option<f64>,
    /// Seconds to read and convert the files.
    pub load_seconds: f64,
    /// Seconds of fitting.
    pub train_seconds: f64,
}

/// Fits logistic regression on a LETOR file; labels become 1 when at least
/// `binarize_at` (give 1 for 0/1 labels), the validation file keeps its
/// grades for nDCG.
pub fn train_letor_logistic(
    train: &Path,
    valid: Option<&Path>,
    params: &LogisticParams,
    binarize_at: f32,
    eval_at: usize,
) -> Result<LogisticTrainReport> {
    let started = Instant::now();
    let set = read_training_set(train)?;
    let features = dense_width(&set, train)?;
    let (data, _) = to_ranking_data(&set, features)?;
    let labels: Vec<f32> = data
        .labels
        .iter()
        .map(|&l| if l >= binarize_at { 1.0 } else { 0.0 })
        .collect();
    let valid = match valid {
        Some(p) => Some(to_ranking_data(&read_letor_set(p, None)?, features)?.0),
        None => None,
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let model = LogisticModel::fit(&data.x, &labels, params).map_err(|e| match e {
        hyrank_ranker::Error::InvalidArgument(m) => {
            Error::InvalidArgument(format!("{}: {m}", train.display()))
        }
        other => other.into(),
    })?;
    let train_seconds = started.elapsed().as_secs_f64();
    let logits = model.predict(&data.x)?;
    let valid_ndcg = match &valid {
        Some(v) => Some(mean_ndcg(v, &model.predict(&v.x)?, eval_at)),
        None => None,
    };
    Ok(LogisticTrainReport {
        rows: data.x.rows(),
        queries: data.num_groups(),
        features,
        positives: labels.iter().filter(|&&l| l == 1.0).count(),
        iterations: model.iterations,
        converged: model.converged,
        train_log_loss: log_loss(&logits, &labels),
        valid_ndcg,
        load_seconds,
        train_seconds,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ndcg_skips_queries_without_relevant_rows() {
        let data = RankingData {
            x: FeatureMatrix::new(1, vec![0.0; 5]).unwrap(),
            labels: vec![2.0, 0.0, 0.0, 0.0, 0.0],
            groups: vec![0, 2, 5],
        };
        assert_eq!(mean_ndcg(&data, &[1.0, 0.0, 0.0, 0.0, 0.0], 10), 1.0);
        let worse = mean_ndcg(&data, &[0.0, 1.0, 0.0, 0.0, 0.0], 10);
        assert!((worse - 1.0 / 3f64.log2()).abs() < 1e-12, "{worse}");
    }
}
