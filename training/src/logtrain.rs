//! Rankers trained on the interaction log, validated on a later window.
//!
//! [`train_from_log`] fits one of three models on [`LogRows`]:
//! logistic regression per task (click; purchase over all impressions),
//! LambdaMART on graded outcomes (purchase 3, add-to-cart 2, click 1), or
//! the multi-task network ([`crate::mtl`]). [`evaluate_rows`] measures any
//! of them on the validation rows: ROC AUC of clicks and of purchases over
//! all impressions, log-loss and expected calibration error of the
//! probabilistic heads, and nDCG@10 of the impressions re-ranked by the
//! model against purchase and click labels.

use std::collections::BTreeMap;

use hyrank_eval::classification::{calibration, log_loss, roc_auc, Calibration};
use hyrank_ranker::gbdt::{self, GbdtParams, Objective};
use hyrank_ranker::linear::{LogisticModel, LogisticParams};
use hyrank_ranker::task::{FinalScore, Heads, TaskRanker, TaskScores};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::logset::LogRows;
use crate::mtl::{train_mtl, MtlParams};

/// Which model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogModel {
    /// Logistic regression per task.
    Lr,
    /// LambdaMART on graded outcomes.
    LambdaMart,
    /// The multi-task network.
    Mtl,
}

impl LogModel {
    /// Parses `lr`, `lambdamart` or `mtl`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "lr" => Ok(Self::Lr),
            "lambdamart" => Ok(Self::LambdaMart),
            "mtl" => Ok(Self::Mtl),
            other => Err(Error::InvalidArgument(format!(
                "model `{other}`: use lr, lambdamart or mtl"
            ))),
        }
    }

    /// The name in reports and registries.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lr => "lr",
            Self::LambdaMart => "lambdamart",
            Self::Mtl => "mtl",
        }
    }
}

/// Hyper-parameters of every model (a `--config` JSON file sets any of them).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogTrainParams {
    /// Logistic regression.
    pub lr: LogisticParams,
    /// LambdaMART (its objective is always LambdaRank).
    pub lambdamart: GbdtParams,
    /// Early stopping of LambdaMART on the validation nDCG@10 of the graded
    /// outcomes (rounds without improvement); `None` trains every round.
    pub early_stopping_rounds: Option<usize>,
    /// The multi-task network.
    pub mtl: MtlParams,
    /// What the probabilistic models rank by.
    pub final_score: FinalScore,
}

impl Default for LogTrainParams {
    fn default() -> Self {
        Self {
            lr: LogisticParams::default(),
            lambdamart: GbdtParams::default(),
            early_stopping_rounds: Some(20),
            mtl: MtlParams::default(),
            final_score: FinalScore::PPurchase,
        }
    }
}

/// One step of training, for progress and the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    /// `round` (trees), `epoch` (network) or `fit` (regression).
    pub unit: &'static str,
    /// 1-based.
    pub index: usize,
    /// Planned steps.
    pub of: usize,
    /// The validation figure watched (nDCG@10 or loss), where there is one.
    pub valid: Option<f64>,
}

/// What a training run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTrainReport {
    /// The model family.
    pub model: LogModel,
    /// Training rows and impressions.
    pub train_rows: usize,
    /// Training impressions.
    pub train_impressions: usize,
    /// Validation rows.
    pub valid_rows: usize,
    /// Validation impressions.
    pub valid_impressions: usize,
    /// Validation metrics (see [`evaluate_rows`]).
    pub metrics: BTreeMap<String, f64>,
    /// Reliability by decile of pCTR on the validation rows.
    pub calibration_click: Option<Calibration>,
    /// Reliability by decile of P(click ∧ purchase) on the validation rows.
    pub calibration_purchase: Option<Calibration>,
    /// Logistic regression's coefficients on the original feature scale:
    /// `(feature, click, purchase)`, intercepts first.
    pub coefficients: Vec<(String, f64, f64)>,
    /// The steps taken.
    pub steps: Vec<Step>,
    /// Seconds spent fitting.
    pub train_seconds: f64,
}

/// Validation metrics by name, and the reliability tables of pCTR and pCTCVR.
pub type Measured = (
    BTreeMap<String, f64>,
    Option<Calibration>,
    Option<Calibration>,
);

/// nDCG@10 of each impression's rows ordered by `scores` against 0/1
/// `labels` (gain 1, discount log2(rank + 1)), averaged over the
/// impressions with at least one positive; `None` when none has one.
pub fn mean_ndcg10(groups: &[usize], scores: &[f64], labels: &[bool]) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for w in groups.windows(2) {
        let rows: Vec<usize> = (w[0]..w[1]).collect();
        let positives = rows.iter().filter(|&&r| labels[r]).count();
        if positives == 0 {
            continue;
        }
        let mut order = rows.clone();
        // Ties keep the shown order (a constant scorer reproduces the log).
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let dcg: f64 = order
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, &r)| labels[r])
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..positives.min(10))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        sum += dcg / ideal;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// The validation metrics of predictions on `rows`: `auc_click`,
/// `auc_purchase` (over all impressions: CTCVR), `ndcg@10_purchase`,
/// `ndcg@10_click`; for probabilistic heads also `logloss_click`,
/// `logloss_purchase`, `ece_click`, `ece_purchase`, and `auc_cvr_clicked`
/// (pCTCVR / pCTR against purchases, on clicked rows only).
pub fn evaluate_scores(rows: &LogRows, pred: &[TaskScores]) -> Measured {
    let mut m = BTreeMap::new();
    let score: Vec<f64> = pred.iter().map(|p| p.score).collect();
    let p_click: Option<Vec<f64>> = pred.iter().map(|p| p.p_click).collect();
    let p_buy: Option<Vec<f64>> = pred.iter().map(|p| p.p_purchase).collect();
    let click_scores = p_click.as_ref().unwrap_or(&score);
    let buy_scores = p_buy.as_ref().unwrap_or(&score);
    if let Some(a) = roc_auc(click_scores, &rows.click) {
        m.insert("auc_click".into(), a);
    }
    if let Some(a) = roc_auc(buy_scores, &rows.purchase) {
        m.insert("auc_purchase".into(), a);
    }
    if let Some(v) = mean_ndcg10(&rows.groups, &score, &rows.purchase) {
        m.insert("ndcg@10_purchase".into(), v);
    }
    if let Some(v) = mean_ndcg10(&rows.groups, &score, &rows.click) {
        m.insert("ndcg@10_click".into(), v);
    }
    let (mut cal_c, mut cal_p) = (None, None);
    if let (Some(c), Some(p)) = (&p_click, &p_buy) {
        if !rows.is_empty() {
            m.insert("logloss_click".into(), log_loss(c, &rows.click));
            m.insert("logloss_purchase".into(), log_loss(p, &rows.purchase));
            let cc = calibration(c, &rows.click, 10);
            let cp = calibration(p, &rows.purchase, 10);
            m.insert("ece_click".into(), cc.ece);
            m.insert("ece_purchase".into(), cp.ece);
            cal_c = Some(cc);
            cal_p = Some(cp);
        }
        let clicked: Vec<usize> = (0..rows.len()).filter(|&r| rows.click[r]).collect();
        let cvr: Vec<f64> = clicked.iter().map(|&r| p[r] / c[r].max(1e-12)).collect();
        let bought: Vec<bool> = clicked.iter().map(|&r| rows.purchase[r]).collect();
        if let Some(a) = roc_auc(&cvr, &bought) {
            m.insert("auc_cvr_clicked".into(), a);
        }
    }
    (m, cal_c, cal_p)
}

/// [`evaluate_scores`] of `model` on `rows`.
pub fn evaluate_rows(model: &TaskRanker, rows: &LogRows) -> Result<Measured> {
    let pred = model.predict(&rows.x)?;
    Ok(evaluate_scores(rows, &pred))
}

fn need(rows: &LogRows, what: &str) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "the {what} window holds no impressions"
        )));
    }
    Ok(())
}

fn head_needs(labels: &[bool], head: &str, event: &str) -> Result<()> {
    if !labels.iter().any(|&b| b) {
        return Err(Error::InvalidArgument(format!(
            "the {head} head cannot be trained: the training window has no {event}"
        )));
    }
    if labels.iter().all(|&b| b) {
        return Err(Error::InvalidArgument(format!(
            "the {head} head cannot be trained: every training row has a {event}"
        )));
    }
    Ok(())
}

fn labels_f32(v: &[bool]) -> Vec<f32> {
    v.iter().map(|&b| f32::from(u8::from(b))).collect()
}

/// Trains `model` on `train`, watching `valid` (early stopping, epochs),
/// and measures it on `valid`. `progress` sees every step.
pub fn train_from_log(
    model: LogModel,
    train: &LogRows,
    valid: &LogRows,
    params: &LogTrainParams,
    progress: &mut dyn FnMut(&Step),
) -> Result<(TaskRanker, LogTrainReport)> {
    need(train, "training")?;
    need(valid, "validation")?;
    let names: Vec<String> = hyrank_ranker::features::NAMES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let t = std::time::Instant::now();
    let mut steps = Vec::new();
    let mut coefficients = Vec::new();
    let heads = match model {
        LogModel::Lr => {
            head_needs(&train.click, "click", "clicks")?;
            head_needs(&train.purchase, "purchase", "purchases")?;
            let mut fit = |labels: &[bool], index: usize| -> Result<LogisticModel> {
                let mut m = LogisticModel::fit(&train.x, &labels_f32(labels), &params.lr)?;
                m.feature_names.clone_from(&names);
                let s = Step {
                    unit: "fit",
                    index,
                    of: 2,
                    valid: None,
                };
                progress(&s);
                steps.push(s);
                Ok(m)
            };
            let click = fit(&train.click, 1)?;
            let purchase = fit(&train.purchase, 2)?;
            let (ci, cc) = click.raw_coefficients();
            let (pi, pc) = purchase.raw_coefficients();
            coefficients.push(("(intercept)".to_owned(), ci, pi));
            for (i, n) in names.iter().enumerate() {
                coefficients.push((n.clone(), cc[i], pc[i]));
            }
            Heads::Logistic { click, purchase }
        }
        LogModel::LambdaMart => {
            head_needs(&train.click, "ranking", "clicks")?;
            let mut p = params.lambdamart.clone();
            p.objective = Objective::LambdaRank;
            let data = train.ranking_data(train.grades());
            let valid_data = valid.ranking_data(valid.grades());
            let mut valid_scores = vec![0.0; valid.len()];
            let (mut best, mut best_round, mut since) = (f64::NEG_INFINITY, 0usize, 0usize);
            let of = p.num_trees;
            let mut model = gbdt::train(&data, &p, |round| {
                if round.index == 0 {
                    valid_scores.iter_mut().for_each(|s| *s = round.init_score);
                }
                for (r, s) in valid_scores.iter_mut().enumerate() {
                    *s += round.tree.predict(valid.x.row(r));
                }
                // Graded nDCG@10 (exponential gain) of the outcomes.
                let v = crate::letor::mean_ndcg(&valid_data, &valid_scores, 10);
                let s = Step {
                    unit: "round",
                    index: round.index + 1,
                    of,
                    valid: Some(v),
                };
                progress(&s);
                steps.push(s);
                if v > best {
                    (best, best_round, since) = (v, round.index + 1, 0);
                } else {
                    since += 1;
                }
                params.early_stopping_rounds.is_none_or(|n| since < n)
            })?;
            if params.early_stopping_rounds.is_some() && best_round > 0 {
                model.truncate(best_round);
            }
            model.feature_names.clone_from(&names);
            Heads::LambdaMart { model }
        }
        LogModel::Mtl => {
            head_needs(&train.click, "click", "clicks")?;
            head_needs(&train.purchase, "purchase", "purchases")?;
            let net = train_mtl(train, valid, &params.mtl, &mut |s| {
                progress(s);
                steps.push(*s);
            })?;
            Heads::Mtl { net }
        }
    };
    let ranker = TaskRanker {
        kind: model.name().to_owned(),
        feature_names: names,
        heads,
        final_score: params.final_score,
    };
    let train_seconds = t.elapsed().as_secs_f64();
    let (metrics, calibration_click, calibration_purchase) = evaluate_rows(&ranker, valid)?;
    Ok((
        ranker,
        LogTrainReport {
            model,
            train_rows: train.len(),
            train_impressions: train.impressions(),
            valid_rows: valid.len(),
            valid_impressions: valid.impressions(),
            metrics,
            calibration_click,
            calibration_purchase,
            coefficients,
            steps,
            train_seconds,
        },
    ))
}
