//! Dense feature rows with their labels and query groups: what every model of
//! this crate trains on and scores.

use crate::error::{Error, Result};

/// Rows × features, row-major, `f32`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureMatrix {
    cols: usize,
    values: Vec<f32>,
}

impl FeatureMatrix {
    /// A matrix from row-major values; `values.len()` must be a multiple of `cols`.
    pub fn new(cols: usize, values: Vec<f32>) -> Result<Self> {
        if cols == 0 && !values.is_empty() {
            return Err(Error::InvalidArgument(
                "a feature matrix needs at least one column".into(),
            ));
        }
        if cols > 0 && !values.len().is_multiple_of(cols) {
            return Err(Error::InvalidArgument(format!(
                "{} values do not fill rows of {cols} features",
                values.len()
            )));
        }
        Ok(Self { cols, values })
    }

    /// An empty matrix of `cols` features, to be filled with [`push_row`](Self::push_row).
    pub fn with_cols(cols: usize) -> Self {
        Self {
            cols,
            values: Vec::new(),
        }
    }

    /// Appends one row (`row.len()` must be `cols`).
    pub fn push_row(&mut self, row: &[f32]) -> Result<()> {
        if row.len() != self.cols {
            return Err(Error::InvalidArgument(format!(
                "row of {} features, expected {}",
                row.len(),
                self.cols
            )));
        }
        self.values.extend_from_slice(row);
        Ok(())
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.cols).unwrap_or(0)
    }

    /// Number of features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// An error unless rows have exactly `features` columns (what a model reads).
    pub fn check_width(&self, features: usize) -> Result<()> {
        if self.cols == features {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "rows have {} features, the model needs {features}",
                self.cols
            )))
        }
    }

    /// One row.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.cols..(r + 1) * self.cols]
    }

    /// One value.
    pub fn get(&self, r: usize, f: usize) -> f32 {
        self.values[r * self.cols + f]
    }
}

/// A learning-to-rank data set: features, one label per row, and the query
/// groups as consecutive runs of rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankingData {
    /// The features.
    pub x: FeatureMatrix,
    /// One label per row: a grade (0, 1, 2, ...) for LambdaRank, 0/1 for the
    /// binary objective.
    pub labels: Vec<f32>,
    /// Group boundaries: group `g` is rows `groups[g]..groups[g + 1]`; starts
    /// with 0 and ends with the number of rows.
    pub groups: Vec<usize>,
}

impl RankingData {
    /// Checks the shapes: one label per row, finite values, groups that
    /// cover the rows in order.
    pub fn validate(&self) -> Result<()> {
        let n = self.x.rows();
        if self.labels.len() != n {
            return Err(Error::InvalidArgument(format!(
                "{} labels for {n} rows",
                self.labels.len()
            )));
        }
        if self.groups.first() != Some(&0) || self.groups.last() != Some(&n) {
            return Err(Error::InvalidArgument(format!(
                "query groups must start at row 0 and end at row {n}"
            )));
        }
        if self.groups.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Error::InvalidArgument(
                "query groups must be non-empty and in row order".into(),
            ));
        }
        if let Some(r) = self.labels.iter().position(|l| !l.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "row {r}: label is not finite"
            )));
        }
        if let Some(i) = self.x.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "row {} feature {}: value is not finite",
                i / self.x.cols,
                i % self.x.cols
            )));
        }
        Ok(())
    }

    /// Number of query groups.
    pub fn num_groups(&self) -> usize {
        self.groups.len().saturating_sub(1)
    }

    /// The rows of group `g`.
    pub fn group(&self, g: usize) -> std::ops::Range<usize> {
        self.groups[g]..self.groups[g + 1]
    }
}
