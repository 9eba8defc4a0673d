//! Objectives: the only part of boosting that knows what is being learnt. Each
//! turns the current scores into a gradient and a hessian per row; the tree
//! learner knows nothing of ranking (the split LightGBM makes between
//! `src/objective/` and `src/treelearner/`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::matrix::RankingData;
use crate::error::{Error, Result};

/// Which loss the trees descend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// LambdaRank (Burges 2010, "From RankNet to LambdaRank to LambdaMART"):
    /// pairwise logistic loss on score differences weighted by the change in
    /// nDCG that swapping the pair would make. Labels are grades 0..=30,
    /// gain 2^grade − 1.
    #[default]
    LambdaRank,
    /// Pointwise logistic loss for 0/1 labels (clicks, purchases); scores are
    /// log-odds.
    Binary,
}

/// LambdaRank's settings, LightGBM's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaRankParams {
    /// σ of the pairwise logistic 1 / (1 + e^(σ (s_i − s_j))).
    pub sigmoid: f64,
    /// Pairs are formed only with the documents ranked in the top this many
    /// by the current scores (`lambdarank_truncation_level`).
    pub truncation_level: usize,
    /// Normalise each query's lambdas by log2(1 + Σλ) / Σλ and divide each
    /// pair's ΔnDCG by 0.01 + |s_i − s_j| (`lambdarank_norm`).
    pub norm: bool,
}

impl Default for LambdaRankParams {
    fn default() -> Self {
        Self {
            sigmoid: 1.0,
            truncation_level: 30,
            norm: true,
        }
    }
}

/// The highest grade LambdaRank accepts (gain 2^30 − 1 still fits an f64 exactly).
pub const MAX_GRADE: f32 = 30.0;

impl Objective {
    /// The name in model files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Objective::LambdaRank => "lambdarank",
            Objective::Binary => "binary",
        }
    }

    /// Why `label` does not suit the objective, or `None` when it does.
    pub fn label_problem(self, label: f32) -> Option<&'static str> {
        match self {
            Objective::LambdaRank
                if !(0.0..=MAX_GRADE).contains(&label) || label.fract() != 0.0 =>
            {
                Some("is not a grade 0..=30 (lambdarank)")
            }
            Objective::Binary if label != 0.0 && label != 1.0 => Some("is not 0 or 1 (binary)"),
            _ => None,
        }
    }

    /// Checks that the labels suit the objective; the error names the first bad row.
    pub fn check_labels(self, data: &RankingData) -> Result<()> {
        if let Some((r, why)) = data
            .labels
            .iter()
            .enumerate()
            .find_map(|(r, &l)| self.label_problem(l).map(|w| (r, w)))
        {
            return Err(Error::InvalidArgument(format!(
                "row {r}: label {} {why}",
                data.labels[r]
            )));
        }
        if self == Objective::Binary {
            let pos = data.labels.iter().filter(|&&l| l == 1.0).count();
            if pos == 0 || pos == data.labels.len() {
                return Err(Error::InvalidArgument(format!(
                    "binary labels are all {}: nothing to learn",
                    if pos == 0 { 0 } else { 1 }
                )));
            }
        }
        Ok(())
    }

    /// The score every row starts from: 0 for LambdaRank (only differences
    /// within a query matter), the log-odds of the mean label for binary
    /// (LightGBM's `boost_from_average`).
    pub fn init_score(self, data: &RankingData) -> f64 {
        match self {
            Objective::LambdaRank => 0.0,
            Objective::Binary => {
                let n = data.labels.len().max(1) as f64;
                let p = (data.labels.iter().map(|&l| f64::from(l)).sum::<f64>() / n)
                    .clamp(1e-15, 1.0 - 1e-15);
                (p / (1.0 - p)).ln()
            }
        }
    }

    /// Fills `grad` and `hess` (one per row) at the current `scores`.
    pub fn gradients(
        self,
        data: &RankingData,
        lambdarank: &LambdaRankParams,
        scores: &[f64],
        grad: &mut [f64],
        hess: &mut [f64],
    ) {
        match self {
            Objective::Binary => {
                grad.par_iter_mut()
                    .zip(hess.par_iter_mut())
                    .enumerate()
                    .for_each(|(r, (g, h))| {
                        let p = sigmoid(scores[r]);
                        *g = p - f64::from(data.labels[r]);
                        *h = (p * (1.0 - p)).max(1e-16);
                    });
            }
            Objective::LambdaRank => {
                // Each group writes only its own rows: split the outputs by
                // group and work on the groups in parallel (deterministic).
                let mut parts = Vec::with_capacity(data.num_groups());
                let (mut g_rest, mut h_rest) = (grad, hess);
                for q in 0..data.num_groups() {
                    let n = data.group(q).len();
                    let (g, gr) = g_rest.split_at_mut(n);
                    let (h, hr) = h_rest.split_at_mut(n);
                    parts.push((q, g, h));
                    g_rest = gr;
                    h_rest = hr;
                }
                parts.into_par_iter().for_each(|(q, g, h)| {
                    let rows = data.group(q);
                    lambdas_for_query(&data.labels[rows.clone()], &scores[rows], lambdarank, g, h);
                });
            }
        }
    }
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Gain of a grade: 2^grade − 1.
fn gain(grade: f32) -> f64 {
    2f64.powi(grade as i32) - 1.0
}

/// Discount of a 0-based rank: 1 / log2(2 + rank).
fn discount(rank: usize) -> f64 {
    1.0 / (rank as f64 + 2.0).log2()
}

/// LambdaRank's gradient and hessian for one query.
///
/// Documents are ordered by current score (ties in input order). For every
/// pair (i, j) with i in the top `truncation_level` and different grades,
/// with h the better-graded and l the other, Δ = |gain_h − gain_l| ·
/// |disc(rank_h) − disc(rank_l)| / maxDCG@truncation (divided by
/// 0.01 + |s_h − s_l| under `norm`), ρ = 1 / (1 + e^(σ (s_h − s_l))):
/// λ_h −= σ ρ Δ, λ_l += σ ρ Δ, and both hessians += σ² ρ (1 − ρ) Δ.
pub fn lambdas_for_query(
    labels: &[f32],
    scores: &[f64],
    p: &LambdaRankParams,
    grad: &mut [f64],
    hess: &mut [f64],
) {
    grad.fill(0.0);
    hess.fill(0.0);
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut ideal: Vec<f32> = labels.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let max_dcg: f64 = ideal
        .iter()
        .take(p.truncation_level)
        .enumerate()
        .map(|(r, &g)| gain(g) * discount(r))
        .sum();
    if max_dcg <= 0.0 {
        return;
    }
    let inv_max_dcg = 1.0 / max_dcg;
    let disc: Vec<f64> = (0..n).map(discount).collect();
    let (best, worst) = (scores[order[0]], scores[order[n - 1]]);
    let mut sum_lambdas = 0.0;
    for i in 0..n.saturating_sub(1).min(p.truncation_level) {
        for j in i + 1..n {
            let (a, b) = (order[i], order[j]);
            if labels[a] == labels[b] {
                continue;
            }
            let (hi_rank, lo_rank) = if labels[a] > labels[b] {
                (i, j)
            } else {
                (j, i)
            };
            let (hi, lo) = (order[hi_rank], order[lo_rank]);
            let delta_score = scores[hi] - scores[lo];
            let mut delta = (gain(labels[hi]) - gain(labels[lo]))
                * (disc[hi_rank] - disc[lo_rank]).abs()
                * inv_max_dcg;
            if p.norm && best != worst {
                delta /= 0.01 + delta_score.abs();
            }
            let rho = 1.0 / (1.0 + (p.sigmoid * delta_score).exp());
            let lambda = p.sigmoid * rho * delta;
            let h = p.sigmoid * p.sigmoid * rho * (1.0 - rho) * delta;
            grad[hi] -= lambda;
            grad[lo] += lambda;
            hess[hi] += h;
            hess[lo] += h;
            sum_lambdas += 2.0 * lambda;
        }
    }
    if p.norm && sum_lambdas > 0.0 {
        let factor = (1.0 + sum_lambdas).log2() / sum_lambdas;
        grad.iter_mut().for_each(|g| *g *= factor);
        hess.iter_mut().for_each(|h| *h *= factor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_push_the_better_document_up_and_balance() {
        let labels = [0.0, 2.0, 1.0];
        let scores = [0.5, 0.0, 0.2];
        let (mut g, mut h) = ([0.0; 3], [0.0; 3]);
        lambdas_for_query(
            &labels,
            &scores,
            &LambdaRankParams::default(),
            &mut g,
            &mut h,
        );
        // Negative gradient = the score should rise.
        assert!(g[1] < 0.0 && g[0] > 0.0, "{g:?}");
        assert!(
            g.iter().sum::<f64>().abs() < 1e-12,
            "lambdas sum to zero: {g:?}"
        );
        assert!(h.iter().all(|&x| x > 0.0));
    }

    #[test]
    fn queries_with_one_grade_give_no_gradient() {
        let (mut g, mut h) = ([1.0; 3], [1.0; 3]);
        lambdas_for_query(
            &[1.0; 3],
            &[0.1, 0.2, 0.3],
            &LambdaRankParams::default(),
            &mut g,
            &mut h,
        );
        assert_eq!(g, [0.0; 3]);
        lambdas_for_query(
            &[0.0; 3],
            &[0.1, 0.2, 0.3],
            &LambdaRankParams::default(),
            &mut g,
            &mut h,
        );
        assert_eq!(h, [0.0; 3]);
    }

    #[test]
    fn truncation_limits_pairs_to_the_top() {
        // The only relevant document is ranked 3rd; with truncation 1 it still
        // pairs with the top one, but the 2nd and 4th (both grade 0) do not pair.
        let labels = [0.0, 0.0, 1.0, 0.0];
        let scores = [0.4, 0.3, 0.2, 0.1];
        let p = LambdaRankParams {
            truncation_level: 1,
            ..LambdaRankParams::default()
        };
        let (mut g, mut h) = ([0.0; 4], [0.0; 4]);
        lambdas_for_query(&labels, &scores, &p, &mut g, &mut h);
        assert!(g[2] < 0.0 && g[0] > 0.0);
        assert_eq!((g[1], g[3]), (0.0, 0.0));
    }

    #[test]
    fn binary_labels_are_checked() {
        let data = RankingData {
            x: super::super::matrix::FeatureMatrix::new(1, vec![0.0, 1.0]).unwrap(),
            labels: vec![0.0, 0.0],
            groups: vec![0, 2],
        };
        assert!(Objective::Binary
            .check_labels(&data)
            .unwrap_err()
            .to_string()
            .contains("all 0"));
        assert!(Objective::LambdaRank.check_labels(&data).is_ok());
        let mut bad = data.clone();
        bad.labels[1] = 0.5;
        assert!(Objective::LambdaRank
            .check_labels(&bad)
            .unwrap_err()
            .to_string()
            .contains("row 1"));
    }
}
