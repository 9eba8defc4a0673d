//! Off-policy estimates of a new ranker's value (expected clicks or
//! purchases per page) from a log of another ranker's pages that carries
//! propensities.
//!
//! The estimators are the item-position forms (Li et al. 2018, "Offline
//! evaluation of ranking policies with click models"): under a
//! position-based view of the reward, a page's value is the sum over
//! (document, position) of the reward there, so each logged (document,
//! position) is weighted by `w = π_new(d at k) / π_log(d at k)`:
//!
//! - **IPS**: `X_i = Σ_k r_ik · w_ik`, `V = mean(X)`.
//! - **SNIPS** (Swaminathan & Joachims 2015): `V = Σ X_i / Σ W_i` with
//!   `W_i = mean_k w_ik` (whose expectation is 1 under full support), and
//!   the delta-method variance of a ratio.
//! - **DR** (Dudík, Langford & Li 2011): `X_i = D_i + Σ_k (r_ik − q̂_ik) · w_ik`,
//!   `D_i` the direct method's value of the new ranker's page (a click
//!   model's prediction) and `q̂_ik` its prediction for the logged item.
//!
//! Intervals are normal at the level asked. A (document, position) that
//! the new ranker uses but the logging ranker could not show there has no
//! support: no estimator can see it, and [`Estimate::unsupported`] reports
//! the share of the new ranker's mass without it.

use serde::Serialize;

use crate::abtest::{normal_quantile, Moments};
use crate::error::{Error, Result};

/// One logged (document, position) of a page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoggedItem {
    /// The reward observed (a click or a purchase: 0 or 1, or revenue).
    pub reward: f64,
    /// The logging ranker's probability of showing the document there.
    pub logging: f64,
    /// The new ranker's probability of showing it there.
    pub target: f64,
    /// The direct method's predicted reward for it (DR only).
    pub predicted: f64,
}

/// One logged page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedPage {
    /// Its items.
    pub items: Vec<LoggedItem>,
    /// The direct method's value of the new ranker's page for this request.
    pub direct: f64,
    /// Share of the new ranker's page (by positions) that no logged
    /// propensity supports.
    pub unsupported: f64,
}

/// An estimate with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// `ips`, `snips` or `dr`.
    pub estimator: &'static str,
    /// The value.
    pub value: f64,
    /// Its standard error.
    pub std_error: f64,
    /// The interval at the level asked.
    pub ci: (f64, f64),
    /// Pages.
    pub pages: u64,
    /// Effective sample size, `(Σ W)² / Σ W²`.
    pub effective_pages: f64,
    /// Mean share of the new ranker's page without logging support.
    pub unsupported: f64,
}

fn check(pages: &[LoggedPage], level: f64) -> Result<()> {
    if pages.len() < 2 || !(0.0..1.0).contains(&level) {
        return Err(Error::InvalidArgument(
            "off-policy estimation needs at least two logged pages and 0 < level < 1".into(),
        ));
    }
    for (i, p) in pages.iter().enumerate() {
        for (k, it) in p.items.iter().enumerate() {
            if !(it.logging > 0.0 && it.logging <= 1.0 && (0.0..=1.0).contains(&it.target)) {
                return Err(Error::InvalidArgument(format!(
                    "page {i}, item {k}: propensities must be in (0, 1] (logging {}) and [0, 1] (target {})",
                    it.logging, it.target
                )));
            }
        }
    }
    Ok(())
}

fn weights(p: &LoggedPage) -> impl Iterator<Item = (f64, &LoggedItem)> {
    p.items.iter().map(|it| (it.target / it.logging, it))
}

fn summary(pages: &[LoggedPage]) -> (f64, f64) {
    let (mut s, mut s2, mut uns) = (0.0, 0.0, 0.0);
    for p in pages {
        let n = p.items.len().max(1) as f64;
        let w = weights(p).map(|(w, _)| w).sum::<f64>() / n;
        s += w;
        s2 += w * w;
        uns += p.unsupported;
    }
    (
        if s2 > 0.0 { s * s / s2 } else { 0.0 },
        uns / pages.len() as f64,
    )
}

fn normal(estimator: &'static str, m: &Moments, level: f64, pages: &[LoggedPage]) -> Estimate {
    let se = (m.variance() / m.n as f64).sqrt();
    let z = normal_quantile(0.5 + level / 2.0);
    let (ess, unsupported) = summary(pages);
    Estimate {
        estimator,
        value: m.mean,
        std_error: se,
        ci: (m.mean - z * se, m.mean + z * se),
        pages: m.n,
        effective_pages: ess,
        unsupported,
    }
}

/// Inverse propensity scoring.
pub fn ips(pages: &[LoggedPage], level: f64) -> Result<Estimate> {
    check(pages, level)?;
    let mut m = Moments::default();
    for p in pages {
        m.add(weights(p).map(|(w, it)| w * it.reward).sum());
    }
    Ok(normal("ips", &m, level, pages))
}

/// Self-normalised inverse propensity scoring.
pub fn snips(pages: &[LoggedPage], level: f64) -> Result<Estimate> {
    check(pages, level)?;
    let xs: Vec<(f64, f64)> = pages
        .iter()
        .map(|p| {
            let n = p.items.len().max(1) as f64;
            let x: f64 = weights(p).map(|(w, it)| w * it.reward).sum();
            let w: f64 = weights(p).map(|(w, _)| w).sum::<f64>() / n;
            (x, w)
        })
        .collect();
    let (sx, sw): (f64, f64) = xs.iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    if sw <= 0.0 {
        return Err(Error::InvalidArgument(
            "SNIPS: the new ranker's pages have no support in the log (every weight is 0)".into(),
        ));
    }
    let v = sx / sw;
    let n = xs.len() as f64;
    let mean_w = sw / n;
    let mut m = Moments::default();
    for (x, w) in &xs {
        m.add(x - v * w);
    }
    // Delta method: Var(V) ≈ Var(X − V W) / (n · mean(W)²).
    let se = (m.variance() / n).sqrt() / mean_w;
    let z = normal_quantile(0.5 + level / 2.0);
    let (ess, unsupported) = summary(pages);
    Ok(Estimate {
        estimator: "snips",
        value: v,
        std_error: se,
        ci: (v - z * se, v + z * se),
        pages: xs.len() as u64,
        effective_pages: ess,
        unsupported,
    })
}

/// Doubly robust: the direct method corrected by IPS on its residuals.
pub fn doubly_robust(pages: &[LoggedPage], level: f64) -> Result<Estimate> {
    check(pages, level)?;
    let mut m = Moments::default();
    for p in pages {
        m.add(
            p.direct
                + weights(p)
                    .map(|(w, it)| w * (it.reward - it.predicted))
                    .sum::<f64>(),
        );
    }
    Ok(normal("dr", &m, level, pages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::significance::SplitMix64;

    /// Two documents, two positions; the logger shows either order with
    /// probability 1/2; examination 1 and 0.5, attractiveness 0.6 and 0.2.
    /// The new ranker always shows (0, 1): true CTR 0.6 + 0.5 · 0.2 = 0.7.
    fn log(n: usize, seed: u64, predicted_bias: f64) -> Vec<LoggedPage> {
        let mut rng = SplitMix64::new(seed);
        let exam = [1.0, 0.5];
        let attr = [0.6, 0.2];
        (0..n)
            .map(|_| {
                let order = if rng.chance(0.5) { [0, 1] } else { [1, 0] };
                let items = order
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| LoggedItem {
                        reward: f64::from(u8::from(rng.chance(exam[k] * attr[d]))),
                        logging: 0.5,
                        target: f64::from(u8::from(d == k)),
                        predicted: exam[k] * attr[d] + predicted_bias,
                    })
                    .collect();
                LoggedPage {
                    items,
                    direct: 0.7 + 2.0 * predicted_bias,
                    unsupported: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn estimators_cover_the_true_value() {
        let mut covered = [0; 3];
        for seed in 0..100 {
            let pages = log(2_000, seed, 0.05);
            for (i, e) in [
                ips(&pages, 0.95),
                snips(&pages, 0.95),
                doubly_robust(&pages, 0.95),
            ]
            .into_iter()
            .enumerate()
            {
                let e = e.unwrap();
                if e.ci.0 <= 0.7 && 0.7 <= e.ci.1 {
                    covered[i] += 1;
                }
            }
        }
        for c in covered {
            assert!(c >= 88, "coverage {c} of 100");
        }
        let e = snips(&log(5_000, 1, 0.0), 0.95).unwrap();
        assert!((e.value - 0.7).abs() < 0.03, "{e:?}");
        assert!(e.effective_pages > 1000.0);
    }

    #[test]
    fn bad_propensities_are_refused() {
        let mut pages = log(10, 1, 0.0);
        pages[3].items[1].logging = 0.0;
        let e = ips(&pages, 0.95).unwrap_err();
        assert!(e.to_string().contains("page 3, item 1"), "{e}");
        assert!(ips(&pages[..1], 0.95).is_err());
    }
}
