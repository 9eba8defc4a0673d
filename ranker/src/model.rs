//! The contract every model of this crate meets: score a batch of candidates.

use crate::error::Result;
use crate::gbdt::{FeatureMatrix, GbdtModel};
use crate::linear::LogisticModel;

/// A model that scores a list of candidates in one call.
///
/// Contract: `score` gets one row per candidate, with exactly
/// [`num_features`](Ranker::num_features) columns in the model's feature
/// order, and returns one finite score per row, in row order; higher ranks
/// first. A model never reorders, drops or adds rows, and it is `Send +
/// Sync` so that one loaded model serves every request.
pub trait Ranker: Send + Sync {
    /// A short name for reports (`lambdamart`, `lr`, ...).
    fn name(&self) -> &str;
    /// Columns a row must have.
    fn num_features(&self) -> usize;
    /// One score per row.
    fn score(&self, x: &FeatureMatrix) -> Result<Vec<f64>>;
}

impl Ranker for GbdtModel {
    fn name(&self) -> &str {
        match self.objective {
            crate::gbdt::Objective::LambdaRank => "lambdamart",
            crate::gbdt::Objective::Binary => "gbdt-binary",
        }
    }

    fn num_features(&self) -> usize {
        self.num_features
    }

    fn score(&self, x: &FeatureMatrix) -> Result<Vec<f64>> {
        self.predict(x)
    }
}

impl Ranker for LogisticModel {
    fn name(&self) -> &str {
        "lr"
    }

    fn num_features(&self) -> usize {
        self.num_features
    }

    fn score(&self, x: &FeatureMatrix) -> Result<Vec<f64>> {
        self.predict(x)
    }
}
