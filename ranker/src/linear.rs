//! Logistic regression with an L2 penalty, fitted by iteratively reweighted
//! least squares (Newton's method) on faer: the simple baseline every
//! comparison of rankers starts from, one model per task (click, purchase).
//!
//! Features are standardised with the training mean and standard deviation
//! (stored with the model, so serving applies the same transform); the
//! penalty λ/2 · ‖β‖² applies to the standardised coefficients, not to the
//! intercept. Each step solves (XᵀWX + λI) Δ = Xᵀ(p − y) + λβ by Cholesky,
//! halving the step while the penalised log-loss does not fall. With λ > 0
//! the loss is strictly convex, so the fit is unique and deterministic
//! (sequential products: the same bytes on any number of threads).

use faer::linalg::matmul::matmul;
use faer::prelude::*;
use faer::{Accum, Par, Side};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gbdt::objective::sigmoid;
use crate::gbdt::FeatureMatrix;

/// The most features a fit takes (the Newton system holds features² values).
pub const MAX_FEATURES: usize = 10_000;

/// How the regression is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// λ of the L2 penalty on the standardised coefficients (> 0).
    pub l2: f64,
    /// Most Newton steps.
    pub max_iter: usize,
    /// Stop when no coefficient moves by more than this.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            l2: 1.0,
            max_iter: 50,
            tol: 1e-8,
        }
    }
}

/// A fitted model: `logit = intercept + Σ coef_j · (x_j − mean_j) / scale_j`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticModel {
    /// Features a row must have.
    pub num_features: usize,
    /// Names of the features, when known.
    #[serde(default)]
    pub feature_names: Vec<String>,
    /// Training mean of each feature.
    pub mean: Vec<f64>,
    /// Training standard deviation of each feature (1 for a constant one).
    pub scale: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// One coefficient per standardised feature.
    pub coef: Vec<f64>,
    /// The fit's settings.
    pub params: LogisticParams,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the steps fell below `tol` before `max_iter`.
    pub converged: bool,
}

/// Mean log-loss of logits against 0/1 labels, in the stable form
/// `log(1 + e^z) − y z`.
pub fn log_loss(logits: &[f64], labels: &[f32]) -> f64 {
    let n = logits.len().max(1) as f64;
    logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| z.max(0.0) + (-z.abs()).exp().ln_1p() - f64::from(y) * z)
        .sum::<f64>()
        / n
}

impl LogisticModel {
    /// Fits labels 0/1 (an error names the first other value).
    pub fn fit(x: &FeatureMatrix, labels: &[f32], params: &LogisticParams) -> Result<Self> {
        let (n, d) = (x.rows(), x.cols());
        if labels.len() != n {
            return Err(Error::InvalidArgument(format!(
                "{} labels for {n} rows",
                labels.len()
            )));
        }
        if n == 0 {
            return Err(Error::InvalidArgument("no training rows".into()));
        }
        if d > MAX_FEATURES {
            return Err(Error::InvalidArgument(format!(
                "{d} features: logistic regression here takes at most {MAX_FEATURES} (its Newton system is features²)"
            )));
        }
        if !(params.l2 > 0.0 && params.l2.is_finite()) {
            return Err(Error::InvalidArgument(
                "l2 must be a positive number".into(),
            ));
        }
        if let Some(r) = labels.iter().position(|&l| l != 0.0 && l != 1.0) {
            return Err(Error::InvalidArgument(format!(
                "row {r}: label {} is not 0 or 1 (logistic regression)",
                labels[r]
            )));
        }
        let positives = labels.iter().filter(|&&l| l == 1.0).count();
        if positives == 0 || positives == n {
            return Err(Error::InvalidArgument(format!(
                "labels are all {}: nothing to learn",
                if positives == 0 { 0 } else { 1 }
            )));
        }
        let mut mean = vec![0.0; d];
        for r in 0..n {
            for (m, &v) in mean.iter_mut().zip(x.row(r)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut scale = vec![0.0; d];
        for r in 0..n {
            for ((s, &v), m) in scale.iter_mut().zip(x.row(r)).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        for s in &mut scale {
            *s = (*s / n as f64).sqrt();
            if *s < 1e-12 {
                *s = 1.0;
            }
        }
        // Design matrix: the standardised features and a last column of ones.
        let z = Mat::<f64>::from_fn(n, d + 1, |r, j| {
            if j == d {
                1.0
            } else {
                (f64::from(x.get(r, j)) - mean[j]) / scale[j]
            }
        });
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(l)).collect();
        let mut beta = vec![0.0; d + 1];
        let p0 = positives as f64 / n as f64;
        beta[d] = (p0 / (1.0 - p0)).ln();
        let logits = |beta: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|r| (0..=d).map(|j| z[(r, j)] * beta[j]).sum())
                .collect()
        };
        let objective = |beta: &[f64], eta: &[f64]| -> f64 {
            let ll: f64 = eta
                .iter()
                .zip(&y)
                .map(|(&e, &t)| e.max(0.0) + (-e.abs()).exp().ln_1p() - t * e)
                .sum();
            ll + 0.5 * params.l2 * beta[..d].iter().map(|b| b * b).sum::<f64>()
        };
        let mut eta = logits(&beta);
        let mut loss = objective(&beta, &eta);
        let (mut iterations, mut converged) = (0, false);
        let mut h = Mat::<f64>::zeros(d + 1, d + 1);
        while iterations < params.max_iter {
            iterations += 1;
            let p: Vec<f64> = eta.iter().map(|&e| sigmoid(e)).collect();
            let w: Vec<f64> = p.iter().map(|&q| (q * (1.0 - q)).max(1e-12)).collect();
            let zw = Mat::<f64>::from_fn(n, d + 1, |r, j| z[(r, j)] * w[r].sqrt());
            matmul(
                h.as_mut(),
                Accum::Replace,
                zw.transpose(),
                zw.as_ref(),
                1.0,
                Par::Seq,
            );
            let mut g = Mat::<f64>::zeros(d + 1, 1);
            for r in 0..n {
                let resid = p[r] - y[r];
                for j in 0..=d {
                    g[(j, 0)] += z[(r, j)] * resid;
                }
            }
            for j in 0..d {
                h[(j, j)] += params.l2;
                g[(j, 0)] += params.l2 * beta[j];
            }
            h[(d, d)] += 1e-10;
            let llt = h.llt(Side::Lower).map_err(|e| {
                Error::InvalidArgument(format!(
                    "the Newton system is not positive definite ({e:?})"
                ))
            })?;
            let step = llt.solve(g.as_ref());
            // Damped Newton: halve the step until the loss falls.
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..30 {
                let trial: Vec<f64> = (0..=d).map(|j| beta[j] - t * step[(j, 0)]).collect();
                let trial_eta = logits(&trial);
                let trial_loss = objective(&trial, &trial_eta);
                if trial_loss <= loss {
                    let moved = (0..=d)
                        .map(|j| (t * step[(j, 0)]).abs())
                        .fold(0.0, f64::max);
                    beta = trial;
                    eta = trial_eta;
                    loss = trial_loss;
                    accepted = true;
                    converged = moved < params.tol;
                    break;
                }
                t *= 0.5;
            }
            if !accepted || converged {
                converged = true;
                break;
            }
        }
        Ok(Self {
            num_features: d,
            feature_names: Vec::new(),
            mean,
            scale,
            intercept: beta[d],
            coef: beta[..d].to_vec(),
            params: *params,
            iterations,
            converged,
        })
    }

    /// The logit of one row.
    pub fn predict_row(&self, row: &[f32]) -> f64 {
        self.intercept
            + row
                .iter()
                .zip(&self.coef)
                .zip(self.mean.iter().zip(&self.scale))
                .map(|((&v, c), (m, s))| c * (f64::from(v) - m) / s)
                .sum::<f64>()
    }

    /// Logits of every row.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<f64>> {
        x.check_width(self.num_features)?;
        Ok((0..x.rows()).map(|r| self.predict_row(x.row(r))).collect())
    }

    /// Intercept and coefficients on the original (unstandardised) scale.
    pub fn raw_coefficients(&self) -> (f64, Vec<f64>) {
        let coef: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.scale)
            .map(|(c, s)| c / s)
            .collect();
        let intercept =
            self.intercept - coef.iter().zip(&self.mean).map(|(c, m)| c * m).sum::<f64>();
        (intercept, coef)
    }

    /// Checks what a model file could get wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let d = self.num_features;
        if self.mean.len() != d || self.scale.len() != d || self.coef.len() != d {
            return Err(format!("mean, scale and coef must each have {d} values"));
        }
        let all = self
            .mean
            .iter()
            .chain(&self.scale)
            .chain(&self.coef)
            .chain([&self.intercept]);
        if all.clone().any(|v| !v.is_finite()) {
            return Err("a parameter is not finite".into());
        }
        if self.scale.iter().any(|&s| s <= 0.0) {
            return Err("a scale is not positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> (FeatureMatrix, Vec<f32>) {
        // P(y = 1) = σ(2 x0 − x1 + 0.5); x2 constant.
        // SplitMix64.
        let mut state = 7u64;
        let mut unit = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x = FeatureMatrix::with_cols(3);
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b) = (unit() * 2.0 - 1.0, unit() * 2.0 - 1.0);
            let p = sigmoid(2.0 * a - b + 0.5);
            y.push(if unit() < p { 1.0 } else { 0.0 });
            x.push_row(&[a as f32, b as f32, 3.0]).unwrap();
        }
        (x, y)
    }

    #[test]
    fn recovers_the_generating_coefficients() {
        let (x, y) = data(20_000);
        let m = LogisticModel::fit(
            &x,
            &y,
            &LogisticParams {
                l2: 1e-3,
                ..LogisticParams::default()
            },
        )
        .unwrap();
        assert!(m.converged && m.iterations < 15, "{} steps", m.iterations);
        let (b0, b) = m.raw_coefficients();
        assert!(
            (b[0] - 2.0).abs() < 0.1 && (b[1] + 1.0).abs() < 0.1,
            "{b:?}"
        );
        assert!((b0 - 0.5).abs() < 0.1 && b[2] == 0.0, "{b0} {b:?}");
        assert!(m.validate().is_ok());
        // The fit beats the constant model.
        let base = vec![m.intercept; y.len()];
        let fitted = m.predict(&x).unwrap();
        assert!(log_loss(&fitted, &y) < log_loss(&base, &y) - 0.05);
    }

    #[test]
    fn a_stronger_penalty_shrinks_and_bad_labels_are_named() {
        let (x, y) = data(2_000);
        let weak = LogisticModel::fit(
            &x,
            &y,
            &LogisticParams {
                l2: 0.01,
                ..LogisticParams::default()
            },
        )
        .unwrap();
        let strong = LogisticModel::fit(
            &x,
            &y,
            &LogisticParams {
                l2: 1000.0,
                ..LogisticParams::default()
            },
        )
        .unwrap();
        assert!(strong.coef[0].abs() < weak.coef[0].abs() / 2.0);
        let mut bad = y.clone();
        bad[5] = 2.0;
        let e = LogisticModel::fit(&x, &bad, &LogisticParams::default()).unwrap_err();
        assert!(e.to_string().contains("row 5"), "{e}");
        let e =
            LogisticModel::fit(&x, &vec![0.0; y.len()], &LogisticParams::default()).unwrap_err();
        assert!(e.to_string().contains("all 0"), "{e}");
    }

    #[test]
    fn the_penalised_gradient_vanishes_at_the_fit() {
        let (x, y) = data(3_000);
        let p = LogisticParams {
            l2: 5.0,
            ..LogisticParams::default()
        };
        let m = LogisticModel::fit(&x, &y, &p).unwrap();
        let mut g = vec![0.0; 3];
        let mut g0 = 0.0;
        for (r, &label) in y.iter().enumerate() {
            let resid = sigmoid(m.predict_row(x.row(r))) - f64::from(label);
            g0 += resid;
            for (j, gj) in g.iter_mut().enumerate() {
                *gj += resid * (f64::from(x.get(r, j)) - m.mean[j]) / m.scale[j];
            }
        }
        for (gj, c) in g.iter_mut().zip(&m.coef) {
            *gj += p.l2 * c;
        }
        assert!(
            g0.abs() < 1e-6 && g.iter().all(|v| v.abs() < 1e-6),
            "{g0} {g:?}"
        );
    }

    #[test]
    fn log_loss_is_stable_for_large_logits() {
        assert!(log_loss(&[1000.0, -1000.0], &[1.0, 0.0]).abs() < 1e-12);
        assert!((log_loss(&[1000.0], &[0.0]) - 1000.0).abs() < 1e-9);
    }
}
