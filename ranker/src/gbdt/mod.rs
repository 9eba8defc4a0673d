//! Gradient-boosted regression trees with a LambdaRank or a binary logistic
//! objective: LambdaMART (Burges 2010) for graded judgments and a pointwise
//! model for click or purchase labels. Our own implementation of the
//! histogram algorithm LightGBM popularised (`docs/adr/0012-own-gradient-boosting.md`
//! says why not a crate): features binned once ([`bins`]), trees grown
//! leaf-wise from per-bin gradient sums ([`learner`]), the objective a
//! plug-in that only produces gradients ([`objective`]).
//!
//! Deterministic: the same data, parameters and seed give the same model,
//! byte for byte, whatever the number of threads.
//!
//! ```
//! use hyrank_ranker::gbdt::{train, FeatureMatrix, GbdtParams, RankingData};
//! // Two queries of three documents; feature 0 is the grade plus noise.
//! let x = FeatureMatrix::new(2, vec![0.1, 5.0, 1.2, 3.0, 2.1, 4.0, 0.0, 1.0, 2.2, 2.0, 0.9, 3.0])?;
//! let data = RankingData { x, labels: vec![0.0, 1.0, 2.0, 0.0, 2.0, 1.0], groups: vec![0, 3, 6] };
//! let params = GbdtParams { min_data_in_leaf: 1, min_data_in_bin: 1, ..GbdtParams::default() };
//! let model = train(&data, &params, |_| true)?;
//! assert!(model.predict_row(&[2.0, 0.0]) > model.predict_row(&[0.0, 0.0]));
//! # Ok::<(), hyrank_ranker::Error>(())
//! ```

pub mod bins;
pub mod learner;
pub mod matrix;
pub mod objective;
pub mod tree;

use serde::{Deserialize, Serialize};

pub use self::matrix::{FeatureMatrix, RankingData};
pub use self::objective::{LambdaRankParams, Objective};
pub use self::tree::Tree;
use crate::error::{Error, Result};
use bins::BinnedMatrix;
use learner::{TreeLearner, TreeParams};

/// Everything that shapes a boosted model. Defaults are LightGBM's
/// (`num_iterations` 100, `learning_rate` 0.1, `num_leaves` 31,
/// `min_data_in_leaf` 20, `min_sum_hessian_in_leaf` 1e-3, `max_bin` 255,
/// `min_data_in_bin` 3, no L2, every feature and every row each round).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtParams {
    /// The loss.
    pub objective: Objective,
    /// Boosting rounds (trees).
    pub num_trees: usize,
    /// Shrinkage of every tree.
    pub learning_rate: f64,
    /// Most leaves per tree.
    pub num_leaves: usize,
    /// Deepest leaf; `None` for no limit.
    pub max_depth: Option<usize>,
    /// Fewest rows in a leaf.
    pub min_data_in_leaf: usize,
    /// Smallest hessian sum in a leaf.
    pub min_sum_hessian_in_leaf: f64,
    /// L2 penalty on leaf outputs.
    pub lambda_l2: f64,
    /// Smallest loss reduction of a split.
    pub min_gain_to_split: f64,
    /// Most bins per feature (2..=256).
    pub max_bin: usize,
    /// Fewest rows per bin where the data allows.
    pub min_data_in_bin: usize,
    /// Fraction of the features each tree may split on (drawn per tree from `seed`).
    pub feature_fraction: f64,
    /// Seed of the feature sampling.
    pub seed: u64,
    /// LambdaRank's settings (ignored by the binary objective).
    pub lambdarank: LambdaRankParams,
}

impl Default for GbdtParams {
    fn default() -> Self {
        let t = TreeParams::default();
        Self {
            objective: Objective::LambdaRank,
            num_trees: 100,
            learning_rate: t.learning_rate,
            num_leaves: t.num_leaves,
            max_depth: t.max_depth,
            min_data_in_leaf: t.min_data_in_leaf,
            min_sum_hessian_in_leaf: t.min_sum_hessian_in_leaf,
            lambda_l2: t.lambda_l2,
            min_gain_to_split: t.min_gain_to_split,
            max_bin: 255,
            min_data_in_bin: 3,
            feature_fraction: 1.0,
            seed: 0,
            lambdarank: LambdaRankParams::default(),
        }
    }
}

impl GbdtParams {
    /// Checks every value, naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, why: &str| Err(Error::InvalidArgument(format!("{name}: {why}")));
        if self.num_trees == 0 {
            return bad("num_trees", "must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", "must be a positive number");
        }
        if self.num_leaves < 2 {
            return bad("num_leaves", "must be at least 2");
        }
        if self.max_depth == Some(0) {
            return bad("max_depth", "must be at least 1");
        }
        if !(2..=256).contains(&self.max_bin) {
            return bad("max_bin", "must be in 2..=256");
        }
        if !(self.lambda_l2 >= 0.0 && self.lambda_l2.is_finite()) {
            return bad("lambda_l2", "must be a number >= 0");
        }
        let non_negative = |v: f64| v >= 0.0 && v.is_finite();
        if !non_negative(self.min_sum_hessian_in_leaf) || !non_negative(self.min_gain_to_split) {
            return bad(
                "min_sum_hessian_in_leaf / min_gain_to_split",
                "must be >= 0",
            );
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return bad("feature_fraction", "must be in (0, 1]");
        }
        if !(self.lambdarank.sigmoid > 0.0 && self.lambdarank.sigmoid.is_finite()) {
            return bad("lambdarank.sigmoid", "must be a positive number");
        }
        if self.lambdarank.truncation_level == 0 {
            return bad("lambdarank.truncation_level", "must be at least 1");
        }
        Ok(())
    }

    fn tree_params(&self) -> TreeParams {
        TreeParams {
            num_leaves: self.num_leaves,
            min_data_in_leaf: self.min_data_in_leaf,
            min_sum_hessian_in_leaf: self.min_sum_hessian_in_leaf,
            lambda_l2: self.lambda_l2,
            min_gain_to_split: self.min_gain_to_split,
            max_depth: self.max_depth,
            learning_rate: self.learning_rate,
        }
    }
}

/// A trained ensemble: `score(x) = init_score + Σ_t tree_t(x)`; for the
/// binary objective the score is a log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbdtModel {
    /// The loss it was trained for.
    pub objective: Objective,
    /// Features a row must have.
    pub num_features: usize,
    /// Names of the features, when the training data had them.
    #[serde(default)]
    pub feature_names: Vec<String>,
    /// The starting score.
    pub init_score: f64,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
    /// The parameters it was trained with.
    pub params: GbdtParams,
}

impl GbdtModel {
    /// The raw score of one row (`row.len()` must be `num_features`).
    pub fn predict_row(&self, row: &[f32]) -> f64 {
        self.init_score + self.trees.iter().map(|t| t.predict(row)).sum::<f64>()
    }

    /// Raw scores of every row of `x`, in parallel.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<f64>> {
        use rayon::prelude::*;
        x.check_width(self.num_features)?;
        Ok((0..x.rows())
            .into_par_iter()
            .map(|r| self.predict_row(x.row(r)))
            .collect())
    }

    /// Keeps the first `n` trees (early stopping's best round).
    pub fn truncate(&mut self, n: usize) {
        self.trees.truncate(n);
    }

    /// Total split gain per feature (LightGBM's `importance_type=gain`).
    pub fn feature_importance(&self) -> Vec<f64> {
        let mut imp = vec![0.0; self.num_features];
        for t in &self.trees {
            for n in &t.nodes {
                imp[n.feature as usize] += n.gain;
            }
        }
        imp
    }

    /// Checks what a model file could get wrong: trees that index past the
    /// features, cycles, non-finite outputs.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !self.init_score.is_finite() {
            return Err("init_score is not finite".into());
        }
        if self.num_features > 1 << 24 {
            return Err(format!(
                "num_features {} is not a real width",
                self.num_features
            ));
        }
        if !self.feature_names.is_empty() && self.feature_names.len() != self.num_features {
            return Err(format!(
                "{} feature names for {} features",
                self.feature_names.len(),
                self.num_features
            ));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.num_features)
                .map_err(|e| format!("tree {i}: {e}"))?;
        }
        Ok(())
    }
}

/// What the round callback of [`train`] sees.
#[derive(Debug)]
pub struct Round<'a> {
    /// 0-based round.
    pub index: usize,
    /// The tree just added.
    pub tree: &'a Tree,
    /// The model's starting score (add it once to a fresh score vector).
    pub init_score: f64,
}

/// Boosts trees on `data`. After each round `on_round` is called; returning
/// `false` stops (early stopping lives with the caller, who owns the
/// validation data and the metric).
pub fn train(
    data: &RankingData,
    params: &GbdtParams,
    mut on_round: impl FnMut(&Round<'_>) -> bool,
) -> Result<GbdtModel> {
    params.validate()?;
    data.validate()?;
    if data.x.rows() == 0 {
        return Err(Error::InvalidArgument("no training rows".into()));
    }
    params.objective.check_labels(data)?;
    let binned = BinnedMatrix::new(&data.x, params.max_bin, params.min_data_in_bin);
    let mut learner = TreeLearner::new(&binned);
    let tp = params.tree_params();
    let n = data.x.rows();
    let init_score = params.objective.init_score(data);
    let mut scores = vec![init_score; n];
    let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n]);
    let mut rng = SplitMix64(params.seed);
    let mut trees = Vec::with_capacity(params.num_trees.min(10_000));
    for index in 0..params.num_trees {
        params
            .objective
            .gradients(data, &params.lambdarank, &scores, &mut grad, &mut hess);
        let features = sample_features(data.x.cols(), params.feature_fraction, &mut rng);
        let (tree, members) = learner.grow(&grad, &hess, &features, &tp);
        for (leaf, rows) in members.iter().enumerate() {
            for &r in rows {
                scores[r as usize] += tree.leaves[leaf];
            }
        }
        trees.push(tree);
        let go_on = on_round(&Round {
            index,
            tree: trees.last().expect("just pushed"),
            init_score,
        });
        if !go_on {
            break;
        }
    }
    Ok(GbdtModel {
        objective: params.objective,
        num_features: data.x.cols(),
        feature_names: Vec::new(),
        init_score,
        trees,
        params: params.clone(),
    })
}

fn sample_features(cols: usize, fraction: f64, rng: &mut SplitMix64) -> Vec<bool> {
    if fraction >= 1.0 {
        return vec![true; cols];
    }
    let take = ((cols as f64 * fraction).round() as usize).clamp(1, cols);
    // Partial Fisher-Yates: the first `take` of a seeded shuffle.
    let mut idx: Vec<usize> = (0..cols).collect();
    for i in 0..take {
        let j = i + (rng.next() % (cols - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut mask = vec![false; cols];
    for &f in &idx[..take] {
        mask[f] = true;
    }
    mask
}

/// Steele, Lea and Flood's SplitMix64: small, seedable, the same everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
