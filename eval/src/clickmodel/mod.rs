//! Click models fitted on logs: rank-CTR (the baseline), the position-based
//! model (PBM), cascade, the dynamic Bayesian network (DBN) and its
//! simplified form (SDBN), the user browsing model (UBM) and the dependent
//! click model (DCM).
//!
//! Definitions follow Chuklin, Markov and de Rijke, *Click Models for Web
//! Search* (2015) and PyClick, whose evaluation we reproduce:
//!
//! - **log-likelihood**: mean over sessions of `Σ_r ln P(C_r = c_r | C_<r)`
//!   (conditional click probabilities);
//! - **perplexity at rank r**: `2^(−(1/N) Σ_s log2 P(C_r = c_r^s))` with the
//!   full (unconditional) click probabilities, and their mean over ranks;
//! - **conditional perplexity**: the same with conditional probabilities.
//!
//! Every probability used in a logarithm is clamped to `[1e-6, 1 − 1e-6]`
//! (cascade gives probability 0 to a second click; the clamp keeps such a
//! session's log-likelihood finite and is what it costs the model).
//!
//! Models in brief (`α`: attractiveness of a query-document pair, `γ`:
//! examination or continuation, `σ`: satisfaction after a click):
//!
//! | model | P(C_r = 1 \| earlier clicks) | fitted by |
//! |---|---|---|
//! | rank-CTR | `ctr_r` | counting |
//! | PBM | `γ_r · α_qd` | EM (Craswell et al. 2008 form, Chuklin et al. §4.2) |
//! | cascade | `α_qd` if no earlier click, else 0 | MLE up to the first click |
//! | DBN | `P(E_r = 1 \| C_<r) · α_qd`; after a click the user stops with `σ_qd`, else continues with `γ` | EM with forward-backward (Chapelle & Zhang 2009) |
//! | SDBN | DBN with `γ = 1` | MLE up to the last click |
//! | UBM | `γ_(r, r') · α_qd`, `r'` the rank of the previous click (0: none) | EM (Dupret & Piwowarski 2008) |
//! | DCM | `P(E_r = 1 \| C_<r) · α_qd`; the user goes on past a result not clicked, and after a click at r with `λ_r` | EM over whether the user went on after the last click (Guo, Liu & Wang 2009; their estimator assumes not) |
//!
//! Unseen query-document pairs take the model's prior (written in the
//! model file): the mean of the fitted parameter over the training
//! occurrences. Fitted parameters are smoothed towards that prior with a
//! Beta pseudo-count of [`FitOptions::prior_strength`] (default 1)
//! occurrence, so that a pair seen once is not 0 or 1.

mod fit;
pub mod recovery;
mod sessions;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use fit::{fit, FitOptions};
pub use sessions::{sessions_from_events, SessionReport};

/// The smallest and largest probability a logarithm sees.
pub const CLAMP: f64 = 1e-6;

/// One result page as a click model sees it: the query, the documents in
/// display order (top first) and which were clicked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickSession {
    /// The query's id (or its text when it has none).
    pub query: String,
    /// Documents, top first.
    pub docs: Vec<String>,
    /// `clicks[r]`: the document at rank r + 1 was clicked.
    pub clicks: Vec<bool>,
}

/// Which click model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Click-through rate per rank: the baseline.
    RankCtr,
    /// Position-based model.
    Pbm,
    /// Cascade model.
    Cascade,
    /// Dynamic Bayesian network.
    Dbn,
    /// Simplified DBN.
    Sdbn,
    /// User browsing model.
    Ubm,
    /// Dependent click model.
    Dcm,
}

impl ModelKind {
    /// Every model, baseline first.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::RankCtr,
        ModelKind::Pbm,
        ModelKind::Cascade,
        ModelKind::Dbn,
        ModelKind::Sdbn,
        ModelKind::Ubm,
        ModelKind::Dcm,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::RankCtr => "rank_ctr",
            ModelKind::Pbm => "pbm",
            ModelKind::Cascade => "cascade",
            ModelKind::Dbn => "dbn",
            ModelKind::Sdbn => "sdbn",
            ModelKind::Ubm => "ubm",
            ModelKind::Dcm => "dcm",
        }
    }

    /// Parses a name (`pbm`, `cascade`, `dbn`, `sdbn`, `ubm`, `dcm`,
    /// `rank_ctr`).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "ctr" && *k == ModelKind::RankCtr))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown click model `{s}` (pbm, cascade, dbn, sdbn, ubm, dcm, rank_ctr)"
                ))
            })
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter per query-document pair, with the prior that unseen pairs
/// take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairParams {
    /// The value of an unseen pair.
    pub prior: f64,
    /// query → document → value.
    pub values: BTreeMap<String, BTreeMap<String, f64>>,
}

impl PairParams {
    /// The value of (query, doc), or the prior.
    pub fn get(&self, query: &str, doc: &str) -> f64 {
        self.values
            .get(query)
            .and_then(|m| m.get(doc))
            .copied()
            .unwrap_or(self.prior)
    }

    /// How many pairs have their own value.
    pub fn len(&self) -> usize {
        self.values.values().map(BTreeMap::len).sum()
    }

    /// No pair has its own value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fitted click model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClickModel {
    /// `P(C_r) = ctr[r]` (the last value for deeper ranks).
    RankCtr {
        /// CTR per rank, top first.
        ctr: Vec<f64>,
    },
    /// `P(C_r) = gamma[r] · α_qd`.
    Pbm {
        /// Examination per rank.
        gamma: Vec<f64>,
        /// Attractiveness.
        alpha: PairParams,
    },
    /// Top-down scan, one click at most.
    Cascade {
        /// Attractiveness.
        alpha: PairParams,
    },
    /// Chapelle & Zhang's DBN.
    Dbn {
        /// Continuation probability when not satisfied.
        gamma: f64,
        /// Attractiveness.
        alpha: PairParams,
        /// Satisfaction after a click.
        sigma: PairParams,
    },
    /// DBN with `gamma = 1`.
    Sdbn {
        /// Attractiveness.
        alpha: PairParams,
        /// Satisfaction after a click.
        sigma: PairParams,
    },
    /// `P(C_r | last click at r') = gamma[r][r'] · α_qd` (`r'` = 0: none).
    Ubm {
        /// `gamma[r][r']` for `r' ≤ r` (0-based r; r' = 0 means no click
        /// before, r' = j + 1 means the last click was at 0-based rank j).
        gamma: Vec<Vec<f64>>,
        /// Attractiveness.
        alpha: PairParams,
    },
    /// Guo, Liu & Wang's dependent click model: a top-down scan that
    /// always goes on past a result not clicked and, after a click at rank
    /// r, goes on with `lambda[r]`; `P(C_r = 1 | E_r = 1) = α_qd`.
    Dcm {
        /// Continuation after a click, per rank.
        lambda: Vec<f64>,
        /// Attractiveness.
        alpha: PairParams,
    },
}

fn at<T: Copy>(v: &[T], r: usize, default: T) -> T {
    v.get(r).or(v.last()).copied().unwrap_or(default)
}

impl ClickModel {
    /// Which model this is.
    pub fn kind(&self) -> ModelKind {
        match self {
            ClickModel::RankCtr { .. } => ModelKind::RankCtr,
            ClickModel::Pbm { .. } => ModelKind::Pbm,
            ClickModel::Cascade { .. } => ModelKind::Cascade,
            ClickModel::Dbn { .. } => ModelKind::Dbn,
            ClickModel::Sdbn { .. } => ModelKind::Sdbn,
            ClickModel::Ubm { .. } => ModelKind::Ubm,
            ClickModel::Dcm { .. } => ModelKind::Dcm,
        }
    }

    /// The attractiveness of (query, doc) where the model has one.
    pub fn attractiveness(&self, query: &str, doc: &str) -> Option<f64> {
        match self {
            ClickModel::RankCtr { .. } => None,
            ClickModel::Pbm { alpha, .. }
            | ClickModel::Cascade { alpha }
            | ClickModel::Dbn { alpha, .. }
            | ClickModel::Sdbn { alpha, .. }
            | ClickModel::Ubm { alpha, .. }
            | ClickModel::Dcm { alpha, .. } => Some(alpha.get(query, doc)),
        }
    }

    /// `gamma[r][prev]`; ranks deeper than fitted reuse the last row at
    /// the same distance from the previous click.
    fn ubm_gamma(gamma: &[Vec<f64>], r: usize, prev: usize) -> f64 {
        if let Some(row) = gamma.get(r) {
            return row.get(prev).copied().unwrap_or(0.5);
        }
        let Some(row) = gamma.last() else {
            return 0.5;
        };
        let idx = if prev == 0 {
            0
        } else {
            let distance = r + 1 - prev.min(r);
            gamma.len().saturating_sub(distance).max(1)
        };
        row.get(idx).copied().unwrap_or(0.5)
    }

    /// `P(C_r = 1 | the observed clicks above r)` for every rank of the
    /// page (`clicks` as observed; only those above each rank are read).
    pub fn conditional_probs(&self, query: &str, docs: &[String], clicks: &[bool]) -> Vec<f64> {
        let n = docs.len();
        let clicked = |r: usize| clicks.get(r).copied().unwrap_or(false);
        match self {
            ClickModel::RankCtr { ctr } => (0..n).map(|r| at(ctr, r, 0.0)).collect(),
            ClickModel::Pbm { gamma, alpha } => (0..n)
                .map(|r| at(gamma, r, 0.5) * alpha.get(query, &docs[r]))
                .collect(),
            ClickModel::Cascade { alpha } => {
                let mut seen_click = false;
                (0..n)
                    .map(|r| {
                        let p = if seen_click {
                            0.0
                        } else {
                            alpha.get(query, &docs[r])
                        };
                        seen_click |= clicked(r);
                        p
                    })
                    .collect()
            }
            ClickModel::Dbn {
                gamma,
                alpha,
                sigma,
            } => dbn_conditional(*gamma, alpha, sigma, query, docs, clicks),
            ClickModel::Sdbn { alpha, sigma } => {
                dbn_conditional(1.0, alpha, sigma, query, docs, clicks)
            }
            ClickModel::Ubm { gamma, alpha } => {
                let mut prev = 0usize;
                (0..n)
                    .map(|r| {
                        let p = Self::ubm_gamma(gamma, r, prev) * alpha.get(query, &docs[r]);
                        if clicked(r) {
                            prev = r + 1;
                        }
                        p
                    })
                    .collect()
            }
            ClickModel::Dcm { lambda, alpha } => {
                // e: P(E_r = 1 | C_<r). Certain down to the last click;
                // after it, the chance the user went on, given no click
                // since.
                let mut e = 1.0;
                (0..n)
                    .map(|r| {
                        let a = alpha.get(query, &docs[r]);
                        let p = e * a;
                        e = if clicked(r) {
                            at(lambda, r, 0.5)
                        } else {
                            let denom = 1.0 - e * a;
                            if denom > 0.0 {
                                e * (1.0 - a) / denom
                            } else {
                                0.0
                            }
                        };
                        p
                    })
                    .collect()
            }
        }
    }

    /// The full (unconditional) `P(C_r = 1)` of every rank.
    pub fn full_probs(&self, query: &str, docs: &[String]) -> Vec<f64> {
        let n = docs.len();
        match self {
            ClickModel::RankCtr { .. } | ClickModel::Pbm { .. } => {
                self.conditional_probs(query, docs, &[])
            }
            ClickModel::Cascade { alpha } => {
                let mut none_above = 1.0;
                (0..n)
                    .map(|r| {
                        let a = alpha.get(query, &docs[r]);
                        let p = none_above * a;
                        none_above *= 1.0 - a;
                        p
                    })
                    .collect()
            }
            ClickModel::Dbn {
                gamma,
                alpha,
                sigma,
            } => dbn_full(*gamma, alpha, sigma, query, docs),
            ClickModel::Sdbn { alpha, sigma } => dbn_full(1.0, alpha, sigma, query, docs),
            ClickModel::Ubm { gamma, alpha } => {
                // dist[j]: P(the last click above the current rank is at
                // 1-based rank j), j = 0 for none.
                let mut dist = vec![0.0; n + 1];
                dist[0] = 1.0;
                let mut out = Vec::with_capacity(n);
                for r in 0..n {
                    let a = alpha.get(query, &docs[r]);
                    let mut p = 0.0;
                    for (j, d) in dist.iter_mut().enumerate().take(r + 1) {
                        let pc = Self::ubm_gamma(gamma, r, j) * a;
                        p += *d * pc;
                        *d *= 1.0 - pc;
                    }
                    dist[r + 1] = p;
                    out.push(p);
                }
                out
            }
            ClickModel::Dcm { lambda, alpha } => {
                let mut e = 1.0;
                (0..n)
                    .map(|r| {
                        let a = alpha.get(query, &docs[r]);
                        let p = e * a;
                        e *= 1.0 - a + a * at(lambda, r, 0.5);
                        p
                    })
                    .collect()
            }
        }
    }

    /// Draws the clicks of one page from the model, top down, each rank
    /// given the clicks drawn above it. `uniform` returns values in [0, 1).
    pub fn sample_clicks(
        &self,
        query: &str,
        docs: &[String],
        uniform: &mut dyn FnMut() -> f64,
    ) -> Vec<bool> {
        let mut clicks = Vec::with_capacity(docs.len());
        for r in 0..docs.len() {
            let p = *self
                .conditional_probs(query, &docs[..=r], &clicks)
                .last()
                .unwrap_or(&0.0);
            clicks.push(uniform() < p);
        }
        clicks
    }
}

fn dbn_conditional(
    gamma: f64,
    alpha: &PairParams,
    sigma: &PairParams,
    query: &str,
    docs: &[String],
    clicks: &[bool],
) -> Vec<f64> {
    // e: P(E_r = 1 | C_<r), filtered forward.
    let mut e = 1.0;
    let mut out = Vec::with_capacity(docs.len());
    for (r, d) in docs.iter().enumerate() {
        let a = alpha.get(query, d);
        out.push(e * a);
        if clicks.get(r).copied().unwrap_or(false) {
            e = gamma * (1.0 - sigma.get(query, d));
        } else {
            let denom = 1.0 - e * a;
            let post = if denom > 0.0 {
                e * (1.0 - a) / denom
            } else {
                0.0
            };
            e = gamma * post;
        }
    }
    out
}

fn dbn_full(
    gamma: f64,
    alpha: &PairParams,
    sigma: &PairParams,
    query: &str,
    docs: &[String],
) -> Vec<f64> {
    let mut e = 1.0;
    docs.iter()
        .map(|d| {
            let a = alpha.get(query, d);
            let p = e * a;
            e *= gamma * (1.0 - a * sigma.get(query, d));
            p
        })
        .collect()
}

/// The file a fitted click model is stored in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickModelFile {
    /// Always `hyrank-click-model`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Sessions it was fitted on.
    pub sessions: u64,
    /// Ranks per page it was fitted on.
    pub max_rank: usize,
    /// The parameters.
    pub model: ClickModel,
}

impl ClickModelFile {
    /// The format name.
    pub const FORMAT: &'static str = "hyrank-click-model";

    /// Wraps a fitted model.
    pub fn new(model: ClickModel, sessions: u64, max_rank: usize) -> Self {
        Self {
            format: Self::FORMAT.into(),
            version: 1,
            sessions,
            max_rank,
            model,
        }
    }

    /// Parses a model file's text (`origin` names it in errors), checking
    /// the format, the version and every probability.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: Self =
            hyrank_data::formats::parse_json(text, hyrank_data::Location::new(origin, 1))?;
        if file.format != Self::FORMAT || file.version != 1 {
            return Err(Error::InvalidArgument(format!(
                "{origin}: not a click model file (format `{}` version {}, expected `{}` version 1)",
                file.format,
                file.version,
                Self::FORMAT
            )));
        }
        file.check(origin)?;
        Ok(file)
    }

    fn check(&self, origin: &str) -> Result<()> {
        let bad = |what: &str, v: f64| -> Result<()> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!(
                    "{origin}: model.{what} = {v} is not a probability"
                )))
            }
        };
        let pairs = |name: &str, p: &PairParams| -> Result<()> {
            bad(&format!("{name}.prior"), p.prior)?;
            for (q, m) in &p.values {
                for (d, v) in m {
                    bad(&format!("{name}.values.{q}.{d}"), *v)?;
                }
            }
            Ok(())
        };
        match &self.model {
            ClickModel::RankCtr { ctr } => {
                for (r, v) in ctr.iter().enumerate() {
                    bad(&format!("ctr[{r}]"), *v)?;
                }
            }
            ClickModel::Pbm { gamma, alpha } => {
                for (r, v) in gamma.iter().enumerate() {
                    bad(&format!("gamma[{r}]"), *v)?;
                }
                pairs("alpha", alpha)?;
            }
            ClickModel::Cascade { alpha } => pairs("alpha", alpha)?,
            ClickModel::Dbn {
                gamma,
                alpha,
                sigma,
            } => {
                bad("gamma", *gamma)?;
                pairs("alpha", alpha)?;
                pairs("sigma", sigma)?;
            }
            ClickModel::Sdbn { alpha, sigma } => {
                pairs("alpha", alpha)?;
                pairs("sigma", sigma)?;
            }
            ClickModel::Ubm { gamma, alpha } => {
                for (r, row) in gamma.iter().enumerate() {
                    for (j, v) in row.iter().enumerate() {
                        bad(&format!("gamma[{r}][{j}]"), *v)?;
                    }
                }
                pairs("alpha", alpha)?;
            }
            ClickModel::Dcm { lambda, alpha } => {
                for (r, v) in lambda.iter().enumerate() {
                    bad(&format!("lambda[{r}]"), *v)?;
                }
                pairs("alpha", alpha)?;
            }
        }
        Ok(())
    }
}

/// How well a model predicts held-out sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClickModelEval {
    /// The model.
    pub model: String,
    /// Sessions evaluated.
    pub sessions: u64,
    /// Mean over sessions of `Σ_r ln P(C_r = c_r | C_<r)`.
    pub log_likelihood: f64,
    /// Mean of `perplexity_at_rank`.
    pub perplexity: f64,
    /// Perplexity at ranks 1..=max_rank (full click probabilities).
    pub perplexity_at_rank: Vec<f64>,
    /// Mean conditional perplexity.
    pub conditional_perplexity: f64,
}

fn clamp(p: f64) -> f64 {
    p.clamp(CLAMP, 1.0 - CLAMP)
}

/// Evaluates `model` on `sessions`, over their top `max_rank` ranks.
pub fn evaluate(model: &ClickModel, sessions: &[ClickSession], max_rank: usize) -> ClickModelEval {
    let mut ll = 0.0;
    let mut full = vec![0.0f64; max_rank];
    let mut cond = vec![0.0f64; max_rank];
    let mut count = vec![0u64; max_rank];
    for s in sessions {
        let n = s.docs.len().min(max_rank);
        let docs = &s.docs[..n];
        let clicks = &s.clicks[..n.min(s.clicks.len())];
        let pc = model.conditional_probs(&s.query, docs, clicks);
        let pf = model.full_probs(&s.query, docs);
        for r in 0..n {
            let c = clicks.get(r).copied().unwrap_or(false);
            let lp = |p: f64| if c { clamp(p) } else { clamp(1.0 - p) };
            ll += lp(pc[r]).ln();
            full[r] += lp(pf[r]).log2();
            cond[r] += lp(pc[r]).log2();
            count[r] += 1;
        }
    }
    let ppl = |sum: &[f64]| -> Vec<f64> {
        sum.iter()
            .zip(&count)
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| 2f64.powf(-s / c as f64))
            .collect()
    };
    let at_rank = ppl(&full);
    let cond_rank = ppl(&cond);
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    ClickModelEval {
        model: model.kind().name().into(),
        sessions: sessions.len() as u64,
        log_likelihood: if sessions.is_empty() {
            f64::NAN
        } else {
            ll / sessions.len() as f64
        },
        perplexity: mean(&at_rank),
        perplexity_at_rank: at_rank,
        conditional_perplexity: mean(&cond_rank),
    }
}

#[cfg(test)]
mod tests;
