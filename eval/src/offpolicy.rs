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
//! Intervals, at the level asked, are **empirical-likelihood** intervals
//! (Owen 1988; for off-policy estimates Karampatziakis, Langford & Mineiro
//! 2019): the values θ at which −2 log of the empirical likelihood ratio of
//! `E[X − θ W] = 0` (`W = 1` for IPS and DR) stays within χ²₁ at the level.
//! With rare rewards (purchases) under large weights the estimate is
//! carried by a few heavily weighted pages, and a normal (Wald) interval is
//! too narrow exactly when chance gave few of them, since its standard
//! error shrinks with them (they correlate at 0.86 in the study); the
//! likelihood interval is lopsided the way the data are and does not lean
//! on that standard error. It reduces to the normal interval where the
//! page values are near normal; `std_error` stays the delta-method one.
//!
//! A (document, position) that
//! the new ranker uses but the logging ranker could not show there has no
//! support: no estimator can see it, and [`Estimate::unsupported`] reports
//! the share of the new ranker's mass without it.

use std::collections::HashMap;

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

/// Per-page values `(X_i, W_i)` grouped by distinct value, with counts:
/// the empirical likelihood only reads the distinct values, and a log of
/// 50,000 pages has a few hundred.
fn grouped(xs: &[(f64, f64)]) -> Vec<(f64, f64, f64)> {
    let mut m: HashMap<(u64, u64), (f64, f64, f64)> = HashMap::new();
    for &(x, w) in xs {
        m.entry((x.to_bits(), w.to_bits())).or_insert((x, w, 0.0)).2 += 1.0;
    }
    let mut v: Vec<(f64, f64, f64)> = m.into_values().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    v
}

/// −2 log of the empirical likelihood ratio of `E[X − θ W] = 0`
/// (Owen 1988): `2 Σ c_i log(1 + λ g_i)`, `g_i = x_i − θ w_i`, λ the root
/// of `Σ c_i g_i / (1 + λ g_i) = 0`; infinite when 0 is outside the
/// values' hull.
fn el_statistic(groups: &[(f64, f64, f64)], theta: f64) -> f64 {
    let g: Vec<(f64, f64)> = groups.iter().map(|&(x, w, c)| (x - theta * w, c)).collect();
    let (lo, hi) = g
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, &(v, _)| {
            (a.0.min(v), a.1.max(v))
        });
    if !(lo < 0.0 && hi > 0.0) {
        return if g.iter().all(|&(v, _)| v == 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    // 1 + λ g > 0 for every g: λ in (−1/hi, −1/lo), where f decreases.
    let f = |l: f64| g.iter().map(|&(v, c)| c * v / (1.0 + l * v)).sum::<f64>();
    let df = |l: f64| {
        -g.iter()
            .map(|&(v, c)| c * v * v / ((1.0 + l * v) * (1.0 + l * v)))
            .sum::<f64>()
    };
    let (mut a, mut b) = (-1.0 / hi, -1.0 / lo);
    let mut l = 0.0;
    for _ in 0..200 {
        let fl = f(l);
        if fl > 0.0 {
            a = l;
        } else {
            b = l;
        }
        // Newton, bisection where the step leaves the bracket.
        let mut next = l - fl / df(l);
        if !(next.is_finite() && next > a && next < b) {
            next = 0.5 * (a + b);
        }
        let done = (next - l).abs() <= 1e-13 * (1.0 + l.abs());
        l = next;
        if done {
            break;
        }
    }
    2.0 * g.iter().map(|&(v, c)| c * (l * v).ln_1p()).sum::<f64>()
}

/// The empirical-likelihood interval of the `θ` with `E[X − θ W] = 0`:
/// the `θ` whose statistic is at most `z²` (χ²₁ at the level), found
/// outwards from the estimate `v` in strides from `step` (a standard
/// error), then by bisection. `None` where it is degenerate.
fn el_interval(xs: &[(f64, f64)], v: f64, step: f64, z: f64) -> Option<(f64, f64)> {
    if !(step > 0.0 && step.is_finite() && v.is_finite()) {
        return None;
    }
    let groups = grouped(xs);
    let c = z * z;
    let bound = |dir: f64| -> f64 {
        let mut inside = v;
        let mut stride = step;
        let mut out = v + dir * stride;
        for _ in 0..64 {
            if el_statistic(&groups, out) > c {
                break;
            }
            inside = out;
            stride *= 2.0;
            out = v + dir * stride;
        }
        for _ in 0..200 {
            let mid = 0.5 * (inside + out);
            if el_statistic(&groups, mid) <= c {
                inside = mid;
            } else {
                out = mid;
            }
            if (out - inside).abs() <= 1e-9 * step {
                break;
            }
        }
        inside
    };
    Some((bound(-1.0), bound(1.0)))
}

/// Inverse propensity scoring.
pub fn ips(pages: &[LoggedPage], level: f64) -> Result<Estimate> {
    check(pages, level)?;
    let mut m = Moments::default();
    let mut xs = Vec::with_capacity(pages.len());
    for p in pages {
        let x: f64 = weights(p).map(|(w, it)| w * it.reward).sum();
        m.add(x);
        xs.push((x, 1.0));
    }
    let mut e = normal("ips", &m, level, pages);
    let z = normal_quantile(0.5 + level / 2.0);
    if let Some(ci) = el_interval(&xs, e.value, e.std_error, z) {
        e.ci = ci;
    }
    Ok(e)
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
        ci: el_interval(&xs, v, se, z).unwrap_or((v - z * se, v + z * se)),
        pages: xs.len() as u64,
        effective_pages: ess,
        unsupported,
    })
}

/// Doubly robust: the direct method corrected by IPS on its residuals.
pub fn doubly_robust(pages: &[LoggedPage], level: f64) -> Result<Estimate> {
    check(pages, level)?;
    let mut m = Moments::default();
    let mut xs = Vec::with_capacity(pages.len());
    for p in pages {
        let x = p.direct
            + weights(p)
                .map(|(w, it)| w * (it.reward - it.predicted))
                .sum::<f64>();
        m.add(x);
        xs.push((x, 1.0));
    }
    let mut e = normal("dr", &m, level, pages);
    let z = normal_quantile(0.5 + level / 2.0);
    if let Some(ci) = el_interval(&xs, e.value, e.std_error, z) {
        e.ci = ci;
    }
    Ok(e)
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

    /// One item a page: the logger shows the target's document with
    /// probability 1/30 (weight 30), which is bought with probability
    /// `rate`; true value `rate`.
    fn rare(n: usize, seed: u64, rate: f64) -> Vec<LoggedPage> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|_| {
                let hit = rng.chance(1.0 / 30.0);
                LoggedPage {
                    items: vec![LoggedItem {
                        reward: f64::from(u8::from(hit && rng.chance(rate))),
                        logging: if hit { 1.0 / 30.0 } else { 29.0 / 30.0 },
                        target: f64::from(u8::from(hit)),
                        predicted: 0.0,
                    }],
                    direct: 0.0,
                    unsupported: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn likelihood_intervals_cover_rare_heavily_weighted_rewards() {
        // About 5 bought pages a log, each weighted 30: the normal interval
        // is narrow whenever chance gave fewer; the likelihood one is not.
        let (rate, seeds) = (0.03, 400);
        let (mut wald, mut score) = (0, 0);
        for seed in 0..seeds {
            let e = ips(&rare(5_000, 100 + seed, rate), 0.95).unwrap();
            let z = normal_quantile(0.975);
            wald += u32::from((e.value - rate).abs() <= z * e.std_error);
            score += u32::from(e.ci.0 <= rate && rate <= e.ci.1);
            assert!(
                e.ci.0 >= 0.0 && e.ci.0 <= e.value && e.value <= e.ci.1,
                "{e:?}"
            );
        }
        let (wald, score) = (f64::from(wald) / 400.0, f64::from(score) / 400.0);
        assert!(score >= 0.93, "score interval coverage {score}");
        assert!(score > wald + 0.02, "score {score} vs normal {wald}");
    }

    #[test]
    fn the_likelihood_interval_of_a_proportion_is_the_binomial_one() {
        // 7 of 50: the bounds are where the binomial log-likelihood ratio
        // reaches χ²₁(0.95) = z², on either side of 0.14.
        let pages: Vec<LoggedPage> = (0..50)
            .map(|i| LoggedPage {
                items: vec![LoggedItem {
                    reward: f64::from(u8::from(i < 7)),
                    logging: 1.0,
                    target: 1.0,
                    predicted: 0.0,
                }],
                direct: 0.0,
                unsupported: 0.0,
            })
            .collect();
        let (k, n, z) = (7.0, 50.0, normal_quantile(0.975));
        let p = k / n;
        let lr = |t: f64| 2.0 * (k * (p / t).ln() + (n - k) * ((1.0 - p) / (1.0 - t)).ln());
        for e in [
            ips(&pages, 0.95).unwrap(),
            snips(&pages, 0.95).unwrap(),
            doubly_robust(&pages, 0.95).unwrap(),
        ] {
            assert!(e.ci.0 < p && p < e.ci.1, "{e:?}");
            for b in [e.ci.0, e.ci.1] {
                assert!((lr(b) - z * z).abs() < 1e-6, "{e:?}: {}", lr(b));
            }
            // Lopsided as the binomial is: further above 0.14 than below.
            assert!(e.ci.1 - p > p - e.ci.0, "{e:?}");
        }
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
