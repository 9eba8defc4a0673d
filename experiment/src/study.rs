//! The measurements behind the experiment tools, over many seeds of one
//! environment and a pair of rankers of known true difference
//! ([`Improvement`]):
//!
//! - **sensitivity**: on the same simulated users (each session's visit
//!   is drawn once and shown to both methods), the sessions an A/B test
//!   (conversion rate, two arms) and team-draft interleaving (click
//!   credit, and purchase credit) need to reach p < 0.05 in the right
//!   direction, looked at every [`CHECK_EVERY`] sessions up to a cap past
//!   the budget: when p < 0.05 first appears, and the sessions from which
//!   every look to the cap gives it (significance reached and kept: with
//!   many looks an underpowered test crosses by chance, so the first
//!   crossing favours the method looked at more often per unit of
//!   evidence, here A/B); the sessions each needs for 80 % power at
//!   α = 0.05, from the seed's observed effect and variance at the
//!   budget; their ratios per seed, summarised over the seeds, and how
//!   often each detects the difference within the budget;
//! - **gate validity**: how often the gate promotes a truly better ranker,
//!   an equal one (the champion against itself) and a worse one;
//! - **off-policy coverage**: how often each estimator's interval covers
//!   the target's exact value, from ε-randomised logs of the base ranker.

use hyrank_data::policy::RankingPolicy;
use hyrank_eval::abtest::{normal_quantile, two_proportion};
use hyrank_eval::gate::Decision;
use hyrank_eval::interleaving::{sign_test, Method};
use hyrank_eval::offpolicy::Estimate;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

use crate::ab::{in_treatment, session_seed};
use crate::env::{rng, Environment};
use crate::error::Result;
use crate::gate::{run_gate, GatePolicy};
use crate::interleave::{page_of, visit_seed};
use crate::offpolicy::{estimate, simulate_log};
use crate::policy::{true_value, CachedPolicy, Improvement, TrueValue};

/// Knobs of a study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyConfig {
    /// Seeds of the sensitivity study.
    pub sensitivity_seeds: u64,
    /// Sessions per seed of each method in the sensitivity study (the
    /// budget of the power estimate and of `detected`).
    pub sensitivity_sessions: u64,
    /// Cap on the sessions a method runs to reach p < 0.05 (0: ten times
    /// the budget).
    pub sensitivity_max_sessions: u64,
    /// Seeds of the gate study.
    pub gate_seeds: u64,
    /// Seeds of the off-policy study.
    pub offpolicy_seeds: u64,
    /// Logged pages per seed of the off-policy study.
    pub offpolicy_sessions: u64,
    /// Share of randomised logged pages.
    pub epsilon: f64,
    /// True relative purchase lift of the better ranker.
    pub lift: f64,
    /// The gate's policy.
    pub policy: GatePolicy,
}

/// Median and quartiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// 25th percentile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub q3: f64,
}

/// The `qs` quantiles (nearest rank) of the finite values of `v`; NaN
/// when there are none.
fn quantiles<const N: usize>(mut v: Vec<f64>, qs: [f64; N]) -> [f64; N] {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return [f64::NAN; N];
    }
    qs.map(|q| v[((v.len() - 1) as f64 * q).round() as usize])
}

fn spread(v: Vec<f64>) -> Spread {
    let [q1, median, q3] = quantiles(v, [0.25, 0.5, 0.75]);
    Spread { q1, median, q3 }
}

/// The sensitivity comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    /// Seeds.
    pub seeds: u64,
    /// Sessions per method and seed.
    pub sessions: u64,
    /// Sessions (both arms) the A/B test needs for 80 % power.
    pub ab_sessions_needed: Spread,
    /// Sessions team-draft on clicks needs.
    pub td_clicks_sessions_needed: Spread,
    /// Sessions team-draft on purchases needs.
    pub td_purchases_sessions_needed: Spread,
    /// A/B ÷ team-draft (clicks), per seed.
    pub ratio_clicks: Spread,
    /// A/B ÷ team-draft (purchases), per seed.
    pub ratio_purchases: Spread,
    /// Share of seeds where each detects the better ranker (p < 0.05, the
    /// right sign) with the sessions given: A/B, TD clicks, TD purchases.
    pub detected: [f64; 3],
    /// Sessions (both arms) until the A/B test first reached p < 0.05 in
    /// the right direction; a seed that never did counts as the cap.
    pub ab_sessions_to_significance: Spread,
    /// The same for team-draft, click credit.
    pub td_clicks_sessions_to_significance: Spread,
    /// The same for team-draft, purchase credit.
    pub td_purchases_sessions_to_significance: Spread,
    /// A/B ÷ team-draft (clicks) of the sessions to significance, per seed.
    pub ratio_to_significance_clicks: Spread,
    /// A/B ÷ team-draft (purchases), per seed.
    pub ratio_to_significance_purchases: Spread,
    /// Sessions (both arms) from which every look of the A/B test, to the
    /// cap, gave p < 0.05 in the right direction: the sessions it needs to
    /// reach significance and keep it. A seed not significant at the cap
    /// counts as the cap.
    pub ab_sessions_to_stay_significant: Spread,
    /// The same for team-draft, click credit.
    pub td_clicks_sessions_to_stay_significant: Spread,
    /// The same for team-draft, purchase credit.
    pub td_purchases_sessions_to_stay_significant: Spread,
    /// A/B ÷ team-draft (clicks) of the sessions until significance stays,
    /// per seed.
    pub ratio_to_stay_significant_clicks: Spread,
    /// A/B ÷ team-draft (purchases), per seed.
    pub ratio_to_stay_significant_purchases: Spread,
    /// The cap on sessions to significance: every method runs to it.
    pub max_sessions: u64,
    /// Seeds that never reached p < 0.05 within the cap: A/B, TD clicks,
    /// TD purchases.
    pub not_reached: [u64; 3],
    /// Seeds not significant at the cap: A/B, TD clicks, TD purchases.
    pub not_settled: [u64; 3],
    /// Sessions for 80 % power from every seed's sessions to the cap.
    pub pooled: PooledPower,
}

/// How often the run-until-significant measurement looks at the p-value.
pub const CHECK_EVERY: u64 = 1000;

/// One seed of the sensitivity study.
#[derive(Debug, Clone, Copy)]
struct SeedSensitivity {
    /// Sessions for 80 % power: A/B, TD clicks, TD purchases.
    needed: [f64; 3],
    /// Detected within the budget.
    detected: [bool; 3],
    /// Sessions until p < 0.05 first appeared (`None`: not within the cap).
    to_significance: [Option<u64>; 3],
    /// Sessions from which every look up to the cap gave p < 0.05 (`None`:
    /// not significant at the cap).
    to_stay_significant: [Option<u64>; 3],
    /// The counts at the cap, for the figures pooled over seeds.
    totals: (AbCounts, [TdCounts; 2]),
}

/// One method's path of looks: when p < 0.05 first appeared, and the last
/// look without it.
#[derive(Debug, Default, Clone, Copy)]
struct Looks {
    first: Option<u64>,
    last_miss: Option<u64>,
    significant: bool,
}

impl Looks {
    fn look(&mut self, n: u64, significant: bool) {
        self.significant = significant;
        if significant {
            self.first.get_or_insert(n);
        } else {
            self.last_miss = Some(n);
        }
    }

    /// Sessions from which every later look was significant: the look
    /// after the last miss (`None` when the latest look missed).
    fn settled(&self) -> Option<u64> {
        if !self.significant {
            return None;
        }
        Some(self.last_miss.map_or(CHECK_EVERY, |m| m + CHECK_EVERY))
    }
}

/// The gate study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateValidity {
    /// Seeds per scenario.
    pub seeds: u64,
    /// Share promoted: better, equal, worse.
    pub promoted: [f64; 3],
    /// Share rejected: better, equal, worse.
    pub rejected: [f64; 3],
}

/// One estimator's coverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// `clicks` or `purchases`.
    pub reward: String,
    /// `ips`, `snips`, `dr`.
    pub estimator: String,
    /// Share of seeds whose interval covers the true value.
    pub coverage: f64,
    /// The same for the normal interval, estimate ± z · standard error
    /// (what the score interval of IPS and SNIPS replaces).
    pub normal_coverage: f64,
    /// Mean estimate − true value.
    pub bias: f64,
    /// Mean absolute error.
    pub mean_abs_error: f64,
    /// Mean interval width.
    pub mean_width: f64,
    /// Standard deviation of the estimates over the seeds.
    pub sd: f64,
    /// Mean of the estimated standard errors (near `sd` when they are right).
    pub mean_std_error: f64,
}

/// The off-policy study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OffPolicyCoverage {
    /// Seeds.
    pub seeds: u64,
    /// Logged pages per seed.
    pub sessions: u64,
    /// ε.
    pub epsilon: f64,
    /// The target's true clicks and purchases per page.
    pub truth: TrueValue,
    /// Per reward and estimator.
    pub coverage: Vec<Coverage>,
    /// Per seed, per reward and estimator in `coverage`'s order.
    pub per_seed: Vec<Vec<Estimate>>,
}

/// Everything a study measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyReport {
    /// The environment.
    pub environment: String,
    /// The knobs.
    pub config: StudyConfig,
    /// The share of queries the better ranker re-orders, and its true lift.
    pub improvement: (f64, f64),
    /// True values: base, better.
    pub true_values: [TrueValue; 2],
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Gate validity.
    pub gate: GateValidity,
    /// Off-policy coverage.
    pub offpolicy: OffPolicyCoverage,
    /// Wall time of each part, seconds.
    pub seconds: [f64; 3],
    /// Rayon threads.
    pub threads: usize,
}

/// Sessions for 80 % power at α = 0.05 of a one-sample mean test, from
/// the per-session mean and variance.
fn needed(mean: f64, variance: f64) -> f64 {
    let z = normal_quantile(0.975) + normal_quantile(0.8);
    if mean.abs() <= 0.0 {
        f64::INFINITY
    } else {
        z * z * variance / (mean * mean)
    }
}

/// A/B counts: conversions and sessions per arm.
#[derive(Debug, Default, Clone, Copy)]
struct AbCounts {
    conv: [u64; 2],
    n: [u64; 2],
}

impl AbCounts {
    fn significant(&self) -> bool {
        two_proportion(self.conv[0], self.n[0], self.conv[1], self.n[1], 0.95)
            .is_ok_and(|c| c.p_value < 0.05 && c.difference > 0.0)
    }

    /// Sessions (both arms) for 80 % power at the observed rates.
    fn needed(&self) -> f64 {
        let (pa, pb) = (
            self.conv[0] as f64 / self.n[0].max(1) as f64,
            self.conv[1] as f64 / self.n[1].max(1) as f64,
        );
        let pbar = (pa + pb) / 2.0;
        // Two arms of n/2 each: n_total = 4 z² p(1−p) / δ².
        2.0 * 2.0 * needed(pb - pa, pbar * (1.0 - pbar))
    }
}

/// Team-draft outcomes of one credit: sessions, and the sessions each
/// ranker won (a session's outcome is +1, −1 or 0 for a tie).
#[derive(Debug, Default, Clone, Copy)]
struct TdCounts {
    n: u64,
    wins: [u64; 2],
}

impl TdCounts {
    fn add(&mut self, credit: &[f64]) {
        self.n += 1;
        match credit[0].total_cmp(&credit[1]) {
            std::cmp::Ordering::Greater => self.wins[0] += 1,
            std::cmp::Ordering::Less => self.wins[1] += 1,
            std::cmp::Ordering::Equal => {}
        }
    }

    fn significant(&self) -> bool {
        self.wins[0] > self.wins[1] && sign_test(self.wins[0], self.wins[1]) < 0.05
    }

    /// Sessions for 80 % power from the outcomes' mean and sample
    /// variance (the outcomes are +1, −1 and 0, so the counts give both).
    fn needed(&self) -> f64 {
        let n = self.n as f64;
        let (w, l) = (self.wins[0] as f64, self.wins[1] as f64);
        let mean = (w - l) / n.max(1.0);
        let variance = if self.n < 2 {
            0.0
        } else {
            (w + l - n * mean * mean) / (n - 1.0)
        };
        needed(mean, variance)
    }
}

/// Sessions for 80 % power of A/B, TD clicks and TD purchases from the
/// counts of `seeds` added up.
fn pooled_needed<'a>(seeds: impl Iterator<Item = &'a SeedSensitivity>) -> [f64; 3] {
    let mut ab = AbCounts::default();
    let mut td = [TdCounts::default(); 2];
    for s in seeds {
        let (a, t) = &s.totals;
        for j in 0..2 {
            ab.conv[j] += a.conv[j];
            ab.n[j] += a.n[j];
            td[j].wins[0] += t[j].wins[0];
            td[j].wins[1] += t[j].wins[1];
            td[j].n += t[j].n;
        }
    }
    [ab.needed(), td[0].needed(), td[1].needed()]
}

/// The A/B ÷ team-draft ratios of sessions for 80 % power from every
/// seed's sessions pooled, with 95 % percentile intervals from resampling
/// the seeds (`resamples` times).
fn pooled_ratios(per_seed: &[SeedSensitivity], resamples: usize) -> PooledPower {
    let ratio = |n: [f64; 3]| [n[0] / n[1], n[0] / n[2]];
    let needed = pooled_needed(per_seed.iter());
    let mut rng = hyrank_eval::significance::SplitMix64::new(0xB007);
    let mut draws: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..resamples {
        let r = ratio(pooled_needed(
            (0..per_seed.len()).map(|_| &per_seed[rng.below(per_seed.len())]),
        ));
        for j in 0..2 {
            draws[j].push(r[j]);
        }
    }
    let ci = |v: Vec<f64>| quantiles(v, [0.025, 0.975]);
    let [d0, d1] = draws;
    PooledPower {
        sessions: per_seed
            .iter()
            .map(|s| s.totals.0.n[0] + s.totals.0.n[1])
            .sum(),
        sessions_needed: needed,
        ratio: ratio(needed),
        ratio_ci: [ci(d0), ci(d1)],
    }
}

/// Sessions for 80 % power from all seeds' sessions together: the
/// methods' per-session effect and variance, known far better than from
/// one seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PooledPower {
    /// Sessions pooled per method.
    pub sessions: u64,
    /// Sessions needed: A/B (both arms), TD clicks, TD purchases.
    pub sessions_needed: [f64; 3],
    /// A/B ÷ team-draft: clicks, purchases.
    pub ratio: [f64; 2],
    /// 95 % intervals of the ratios (seeds resampled).
    pub ratio_ci: [[f64; 2]; 2],
}

/// One reading of "the sessions to p < 0.05" over the seeds (the first
/// crossing, or significance kept): per method (A/B, TD clicks, TD
/// purchases) its spread, a seed without a value counting as the cap; the
/// A/B ÷ team-draft ratios per seed; the seeds without a value.
struct Reading {
    sessions: [Spread; 3],
    ratios: [Spread; 2],
    missing: [u64; 3],
}

fn reading(
    per_seed: &[SeedSensitivity],
    of: impl Fn(&SeedSensitivity) -> [Option<u64>; 3],
    cap: u64,
) -> Reading {
    let at = |r: &SeedSensitivity, j: usize| of(r)[j].unwrap_or(cap) as f64;
    let column = |j: usize| spread(per_seed.iter().map(|r| at(r, j)).collect());
    let ratio = |j: usize| spread(per_seed.iter().map(|r| at(r, 0) / at(r, j)).collect());
    let missing = |j: usize| per_seed.iter().filter(|r| of(r)[j].is_none()).count() as u64;
    Reading {
        sessions: [column(0), column(1), column(2)],
        ratios: [ratio(1), ratio(2)],
        missing: [missing(0), missing(1), missing(2)],
    }
}

fn sensitivity_seed(
    env: &dyn Environment,
    base: &CachedPolicy,
    better: &CachedPolicy,
    sessions: u64,
    max_sessions: u64,
    seed: u64,
) -> Result<SeedSensitivity> {
    let k = env.page_size();
    let mut ab = AbCounts::default();
    let mut td = [TdCounts::default(); 2];
    let mut looks = [Looks::default(); 3];
    let mut out = SeedSensitivity {
        needed: [f64::INFINITY; 3],
        detected: [false; 3],
        to_significance: [None; 3],
        to_stay_significant: [None; 3],
        totals: Default::default(),
    };
    // Every method runs to the cap: whether p < 0.05 stays is known only
    // there. The cap is a whole number of looks.
    let cap = max_sessions.max(sessions).div_ceil(CHECK_EVERY) * CHECK_EVERY;
    for i in 0..cap {
        // One visit (user, query, price sensitivity) for both methods.
        let mut r = rng(session_seed(seed, i));
        let v = env.visit(&mut r);
        let ranked = [
            base.list(&v.query_id, &v.query)?,
            better.list(&v.query_id, &v.query)?,
        ];
        // A/B: half the users on each ranker.
        let t = usize::from(in_treatment(v.user, seed, 0.5));
        let p = &ranked[t];
        let re = env.react(&v, &p[..p.len().min(k)], &mut r);
        ab.n[t] += 1;
        ab.conv[t] += u64::from(re.n_purchases() > 0);
        // Team-draft: both rankers on one page.
        let mut r = rng(session_seed(seed ^ 0x7D, i));
        let lists = [ranked[1].to_vec(), ranked[0].to_vec()];
        let il = page_of(
            Method::TeamDraft,
            &lists,
            k,
            0,
            visit_seed(seed, v.user, &v.query_id.0),
        )?;
        let re = env.react(&v, &il.docs, &mut r);
        td[0].add(&il.credit(&re.clicks));
        td[1].add(&il.credit(&re.purchases));
        let n = i + 1;
        if n == sessions {
            out.needed = [ab.needed(), td[0].needed(), td[1].needed()];
            out.detected = [ab.significant(), td[0].significant(), td[1].significant()];
        }
        if n % CHECK_EVERY == 0 {
            let now = [ab.significant(), td[0].significant(), td[1].significant()];
            for (l, hit) in looks.iter_mut().zip(now) {
                l.look(n, hit);
            }
        }
    }
    out.to_significance = looks.map(|l| l.first);
    out.to_stay_significant = looks.map(|l| l.settled());
    out.totals = (ab, td);
    Ok(out)
}

/// Runs the three studies in `env`, the base ranker `base` (asked for a
/// page per query) against its improvement of true purchase lift
/// `config.lift`. `progress` gets a line per part.
pub fn run_study(
    env: &dyn Environment,
    base: &dyn RankingPolicy,
    config: &StudyConfig,
    progress: &dyn Fn(&str),
) -> Result<StudyReport> {
    let imp = Improvement::new(env, base, env.page_size())?;
    let salt = 0x5EED;
    let (share, lift) = imp.calibrate(env, config.lift, salt)?;
    let page = env.page_size();
    let base_p = CachedPolicy::new(Arc::new(imp.base("base")), page);
    let better_p = CachedPolicy::new(Arc::new(imp.improved("better", share, salt)), page);
    let true_values = [true_value(env, &base_p)?, true_value(env, &better_p)?];
    progress(&format!(
        "better ranker: {:.1} % of the queries re-ordered, true purchase lift {:+.2} %",
        100.0 * share,
        100.0 * lift
    ));

    let t0 = std::time::Instant::now();
    let max_sessions = if config.sensitivity_max_sessions == 0 {
        10 * config.sensitivity_sessions
    } else {
        config.sensitivity_max_sessions
    };
    let per_seed: Vec<SeedSensitivity> = (0..config.sensitivity_seeds)
        .into_par_iter()
        .map(|s| {
            sensitivity_seed(
                env,
                &base_p,
                &better_p,
                config.sensitivity_sessions,
                max_sessions,
                1000 + s,
            )
        })
        .collect::<Result<_>>()?;
    let col = |j: usize| per_seed.iter().map(|r| r.needed[j]).collect::<Vec<_>>();
    let ratio = |j: usize| {
        per_seed
            .iter()
            .map(|r| r.needed[0] / r.needed[j])
            .collect::<Vec<_>>()
    };
    let rate = |j: usize| {
        per_seed.iter().filter(|r| r.detected[j]).count() as f64 / per_seed.len().max(1) as f64
    };
    let first = reading(&per_seed, |r| r.to_significance, max_sessions);
    let kept = reading(&per_seed, |r| r.to_stay_significant, max_sessions);
    let sensitivity = Sensitivity {
        seeds: config.sensitivity_seeds,
        sessions: config.sensitivity_sessions,
        ab_sessions_needed: spread(col(0)),
        td_clicks_sessions_needed: spread(col(1)),
        td_purchases_sessions_needed: spread(col(2)),
        ratio_clicks: spread(ratio(1)),
        ratio_purchases: spread(ratio(2)),
        detected: [rate(0), rate(1), rate(2)],
        ab_sessions_to_significance: first.sessions[0],
        td_clicks_sessions_to_significance: first.sessions[1],
        td_purchases_sessions_to_significance: first.sessions[2],
        ratio_to_significance_clicks: first.ratios[0],
        ratio_to_significance_purchases: first.ratios[1],
        ab_sessions_to_stay_significant: kept.sessions[0],
        td_clicks_sessions_to_stay_significant: kept.sessions[1],
        td_purchases_sessions_to_stay_significant: kept.sessions[2],
        ratio_to_stay_significant_clicks: kept.ratios[0],
        ratio_to_stay_significant_purchases: kept.ratios[1],
        max_sessions,
        not_reached: first.missing,
        not_settled: kept.missing,
        pooled: pooled_ratios(&per_seed, 1000),
    };
    let s0 = t0.elapsed().as_secs_f64();
    progress(&format!(
        "sensitivity: until p < 0.05 stays A/B {:.0} sessions, team-draft {:.0} (median ratio {:.1}x); until it first appears {:.0} vs {:.0} ({:.1}x); for 80 % power {:.0} vs {:.0} ({:.1}x; pooled over seeds {:.1}x, 95 % CI {:.1}–{:.1}) [{s0:.0} s]",
        sensitivity.ab_sessions_to_stay_significant.median,
        sensitivity.td_clicks_sessions_to_stay_significant.median,
        sensitivity.ratio_to_stay_significant_clicks.median,
        sensitivity.ab_sessions_to_significance.median,
        sensitivity.td_clicks_sessions_to_significance.median,
        sensitivity.ratio_to_significance_clicks.median,
        sensitivity.ab_sessions_needed.median,
        sensitivity.td_clicks_sessions_needed.median,
        sensitivity.ratio_clicks.median,
        sensitivity.pooled.ratio[0],
        sensitivity.pooled.ratio_ci[0][0],
        sensitivity.pooled.ratio_ci[0][1],
    ));

    let t1 = std::time::Instant::now();
    let scenarios: [(&CachedPolicy, &CachedPolicy); 3] = [
        (&better_p, &base_p),
        (&base_p, &base_p),
        (&base_p, &better_p),
    ];
    let mut promoted = [0.0; 3];
    let mut rejected = [0.0; 3];
    for (j, (cand, champ)) in scenarios.iter().enumerate() {
        let decisions: Vec<Decision> = (0..config.gate_seeds)
            .into_par_iter()
            .map(|s| {
                let offline = None;
                let mut policy = config.policy.clone();
                policy.offline = None;
                run_gate(&policy, env, cand, champ, offline, 5000 + s).map(|r| r.decision)
            })
            .collect::<Result<_>>()?;
        let n = decisions.len().max(1) as f64;
        promoted[j] = decisions
            .iter()
            .filter(|d| **d == Decision::Promote)
            .count() as f64
            / n;
        rejected[j] = decisions.iter().filter(|d| **d == Decision::Reject).count() as f64 / n;
    }
    let gate = GateValidity {
        seeds: config.gate_seeds,
        promoted,
        rejected,
    };
    let s1 = t1.elapsed().as_secs_f64();
    progress(&format!(
        "gate: promoted better {:.1} %, equal {:.1} %, worse {:.1} % [{s1:.0} s]",
        100.0 * promoted[0],
        100.0 * promoted[1],
        100.0 * promoted[2]
    ));

    let t2 = std::time::Instant::now();
    let estimates: Vec<Vec<Estimate>> = (0..config.offpolicy_seeds)
        .into_par_iter()
        .map(|s| {
            let log = simulate_log(
                env,
                &base_p,
                config.epsilon,
                config.offpolicy_sessions,
                9000 + s,
            )?;
            let r = estimate(&log, &better_p, 0.95, None)?;
            Ok(r.rewards
                .iter()
                .flat_map(|rw| rw.estimates.iter().copied())
                .collect())
        })
        .collect::<Result<_>>()?;
    let truth = true_values[1];
    let mut coverage = Vec::new();
    for (ri, reward) in ["clicks", "purchases"].iter().enumerate() {
        let t = if ri == 0 {
            truth.clicks
        } else {
            truth.purchases
        };
        for (ei, est) in ["ips", "snips", "dr"].iter().enumerate() {
            let j = ri * 3 + ei;
            let n = estimates.len().max(1) as f64;
            let vals = estimates.iter().map(|e| e[j]);
            let z = hyrank_eval::abtest::normal_quantile(0.975);
            let mean = vals.clone().map(|e| e.value).sum::<f64>() / n;
            coverage.push(Coverage {
                reward: (*reward).into(),
                estimator: (*est).into(),
                coverage: vals.clone().filter(|e| e.ci.0 <= t && t <= e.ci.1).count() as f64 / n,
                normal_coverage: vals
                    .clone()
                    .filter(|e| (e.value - t).abs() <= z * e.std_error)
                    .count() as f64
                    / n,
                bias: mean - t,
                mean_abs_error: vals.clone().map(|e| (e.value - t).abs()).sum::<f64>() / n,
                mean_width: vals.clone().map(|e| e.ci.1 - e.ci.0).sum::<f64>() / n,
                sd: (vals.clone().map(|e| (e.value - mean).powi(2)).sum::<f64>()
                    / (n - 1.0).max(1.0))
                .sqrt(),
                mean_std_error: vals.map(|e| e.std_error).sum::<f64>() / n,
            });
        }
    }
    let s2 = t2.elapsed().as_secs_f64();
    progress(&format!(
        "off-policy: coverage {} [{s2:.0} s]",
        coverage
            .iter()
            .map(|c| format!("{} {} {:.1} %", c.reward, c.estimator, 100.0 * c.coverage))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(StudyReport {
        environment: env.name(),
        config: config.clone(),
        improvement: (share, lift),
        true_values,
        sensitivity,
        gate,
        offpolicy: OffPolicyCoverage {
            seeds: config.offpolicy_seeds,
            sessions: config.offpolicy_sessions,
            epsilon: config.epsilon,
            truth,
            coverage,
            per_seed: estimates,
        },
        seconds: [s0, s1, s2],
        threads: rayon::current_num_threads(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(hits: &[bool]) -> Looks {
        let mut l = Looks::default();
        for (i, &h) in hits.iter().enumerate() {
            l.look((i as u64 + 1) * CHECK_EVERY, h);
        }
        l
    }

    #[test]
    fn looks_keep_the_first_crossing_and_the_sessions_from_which_it_stays() {
        // Crosses at the 2nd look, falls back at the 4th, stays from the 5th.
        let l = path(&[false, true, true, false, true, true]);
        assert_eq!(l.first, Some(2 * CHECK_EVERY));
        assert_eq!(l.settled(), Some(5 * CHECK_EVERY));
        // Significant from the first look on.
        assert_eq!(path(&[true, true]).settled(), Some(CHECK_EVERY));
        // Not significant at the last look: not settled, though it crossed.
        let l = path(&[true, false]);
        assert_eq!((l.first, l.settled()), (Some(CHECK_EVERY), None));
        assert_eq!(path(&[false, false]).first, None);
    }
}
