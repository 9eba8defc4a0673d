//! Click-model parameter recovery in the synthetic world: the world's
//! users click as a position-based model does (examination by rank times
//! an attractiveness that depends on the true grade and the product's
//! popularity), so a PBM fitted on the world's log should find both.
//! Known-parameter recovery of every model is
//! [`hyrank_eval::clickmodel::recovery`]'s.

use hyrank_eval::clickmodel::recovery::Errors;
use hyrank_eval::clickmodel::{fit, ClickModel, ClickSession, FitOptions, ModelKind};
use serde::Serialize;
use std::collections::HashMap;

use crate::env::SyntheticEnv;
use crate::error::{Error, Result};

/// A PBM fitted on a world's log against the world's truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldRecovery {
    /// Pages fitted on.
    pub sessions: usize,
    /// Per rank from the second: (fitted γ_r / γ_1, true e_r / e_1).
    pub examination: Vec<(f64, f64)>,
    /// Errors of those ratios.
    pub examination_errors: Errors,
    /// Attractiveness times the top's examination (fitted α · γ_1 against
    /// the true click probability at the top) over the pairs shown at
    /// least `min_impressions` times.
    pub attractiveness: Errors,
    /// The same, weighted by impressions (what the log mostly shows).
    pub attractiveness_weighted_mean: f64,
    /// Pairs in the log, and those compared.
    pub pairs: (usize, usize),
    /// The threshold.
    pub min_impressions: usize,
}

/// Fits a PBM on `sessions` (pages of the world's log, queries by id) and
/// compares its examination curve and attractiveness with the world's.
pub fn pbm_on_world(
    env: &SyntheticEnv,
    sessions: &[ClickSession],
    opts: &FitOptions,
    min_impressions: usize,
) -> Result<WorldRecovery> {
    let model = fit(ModelKind::Pbm, sessions, opts)?;
    let ClickModel::Pbm { gamma, alpha } = &model else {
        return Err(Error::InvalidArgument(
            "fitting a PBM gave another model".into(),
        ));
    };
    let (g0, e0) = (gamma[0], env.examination(1));
    let examination: Vec<(f64, f64)> = (1..gamma.len())
        .map(|r| (gamma[r] / g0, env.examination(r + 1) / e0))
        .collect();
    let mut shown: HashMap<(&str, &str), usize> = HashMap::new();
    for s in sessions {
        for d in s.docs.iter().take(gamma.len()) {
            *shown.entry((s.query.as_str(), d.as_str())).or_default() += 1;
        }
    }
    let mut compared = Vec::new();
    let (mut wsum, mut wn) = (0.0, 0usize);
    for (&(q, d), &n) in &shown {
        let Some(truth) = env.true_attractiveness(q, d) else {
            continue;
        };
        let got = alpha.get(q, d) * g0;
        let want = truth * e0;
        wsum += (got - want).abs() * n as f64;
        wn += n;
        if n >= min_impressions {
            compared.push((got, want));
        }
    }
    Ok(WorldRecovery {
        sessions: sessions.len(),
        examination_errors: Errors::of(examination.iter().copied()),
        examination,
        pairs: (shown.len(), compared.len()),
        attractiveness: Errors::of(compared),
        attractiveness_weighted_mean: if wn == 0 { f64::NAN } else { wsum / wn as f64 },
        min_impressions,
    })
}
