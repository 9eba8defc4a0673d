//! Simulated A/B tests: visits of an [`Environment`] split between a
//! control and a treatment ranker by a hash of the user (as a production
//! experiment assigns arms), each user's reaction drawn from the
//! environment, and the arms compared per metric.
//!
//! Metrics per session: clicks, purchases, revenue (Welch's t-test and a
//! bootstrap interval of the difference) and the share of sessions with a
//! purchase (the primary metric: two-proportion z-test, with the power
//! analysis and the minimum detectable lift of the run). The running
//! p-value and interval of the primary metric are recorded at checkpoints
//! (what a dashboard shows while the test runs; peeking at them is not a
//! valid stopping rule, which the report says). A sample-ratio-mismatch
//! check (χ² of the arm sizes against the split) guards the assignment.

use hyrank_eval::abtest::{
    bootstrap_difference, minimum_detectable_lift, normal_cdf, sessions_per_arm, two_proportion,
    welch, Comparison, Moments,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::env::{rng, Environment, Reaction};
use crate::error::{Error, Result};
use crate::policy::{true_value, CachedPolicy, TrueValue};

/// Knobs of a simulated A/B test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AbConfig {
    /// Sessions (visits) in all.
    pub sessions: u64,
    /// Seed of the visits, the reactions and the arm assignment.
    pub seed: u64,
    /// Share of users in the treatment arm.
    pub split: f64,
    /// Confidence level of the intervals (0.95).
    pub level: f64,
    /// Power the analysis is made for (0.8).
    pub power: f64,
    /// Bootstrap resamples (0: none).
    pub bootstrap: usize,
    /// Points of the running p-value.
    pub checkpoints: usize,
    /// Compute each ranker's exact value in the environment too.
    pub true_values: bool,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self {
            sessions: 20_000,
            seed: 1,
            split: 0.5,
            level: 0.95,
            power: 0.8,
            bootstrap: 1000,
            checkpoints: 40,
            true_values: true,
        }
    }
}

/// One arm's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    /// The ranker.
    pub ranker: String,
    /// Sessions.
    pub sessions: u64,
    /// Clicks per session.
    pub clicks: Moments,
    /// Purchases per session.
    pub purchases: Moments,
    /// Revenue per session.
    pub revenue: Moments,
    /// Sessions with a purchase.
    pub converted: u64,
    /// The ranker's exact expected value per session, where asked.
    pub true_value: Option<TrueValue>,
}

/// One metric compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// `conversion`, `purchases`, `clicks` or `revenue` (per session).
    pub name: String,
    /// Control's mean.
    pub control: f64,
    /// Treatment's mean.
    pub treatment: f64,
    /// The test (difference treatment − control).
    pub comparison: Comparison,
    /// Its test: `two-proportion z` or `Welch t`.
    pub test: String,
    /// Percentile bootstrap interval of the difference, where run.
    pub bootstrap_ci: Option<(f64, f64)>,
}

/// The primary metric as the test ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Checkpoint {
    /// Sessions so far.
    pub sessions: u64,
    /// Difference of the conversion rates so far.
    pub difference: f64,
    /// Its interval.
    pub ci: (f64, f64),
    /// Its p-value.
    pub p_value: f64,
}

/// The power analysis of the primary metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Power {
    /// Control's conversion rate.
    pub base_rate: f64,
    /// Smallest relative lift detectable with this run's sessions per arm.
    pub minimum_detectable_lift: f64,
    /// Sessions per arm needed to detect the observed lift (None when the
    /// observed lift is not positive).
    pub sessions_for_observed_lift: Option<u64>,
    /// Sessions per arm needed to detect a 5 % lift.
    pub sessions_for_5_percent: u64,
}

/// A finished A/B test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbReport {
    /// The environment.
    pub environment: String,
    /// The knobs.
    pub config: AbConfig,
    /// Control, then treatment.
    pub arms: [Arm; 2],
    /// The primary metric (conversion) first.
    pub metrics: Vec<Metric>,
    /// The running primary metric.
    pub trajectory: Vec<Checkpoint>,
    /// Power and MDE.
    pub power: Power,
    /// p-value of the sample-ratio-mismatch check.
    pub srm_p_value: f64,
    /// Both arms run the same ranker (an A/A test).
    pub aa: bool,
    /// Sessions simulated per second (ranking cached per query).
    pub sessions_per_second: f64,
}

fn user_hash(user: u64, seed: u64) -> f64 {
    let mut r =
        hyrank_eval::significance::SplitMix64::new(user ^ seed.rotate_left(29) ^ 0x00AB_7E57);
    r.next_f64()
}

/// Whether `user` is in the treatment arm of an experiment seeded `seed`.
pub fn in_treatment(user: u64, seed: u64, split: f64) -> bool {
    user_hash(user, seed) < split
}

/// The seed of session `i` of a run seeded `seed`.
pub fn session_seed(seed: u64, i: u64) -> u64 {
    hyrank_eval::significance::SplitMix64::new(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .next_u64()
}

/// Runs the test. `control` and `treatment` are asked once per query
/// (their pages cached).
pub fn run_ab(
    env: &dyn Environment,
    control: &CachedPolicy,
    treatment: &CachedPolicy,
    config: &AbConfig,
) -> Result<AbReport> {
    if config.sessions < 4
        || !(config.split > 0.0 && config.split < 1.0)
        || !(config.level > 0.0 && config.level < 1.0)
        || !(config.power > 0.0 && config.power < 1.0)
    {
        return Err(Error::InvalidArgument(
            "an A/B test needs at least 4 sessions, 0 < split < 1, 0 < level < 1 and 0 < power < 1"
                .into(),
        ));
    }
    let k = env.page_size();
    let start = std::time::Instant::now();
    let outcomes: Vec<(bool, Reaction)> = (0..config.sessions)
        .into_par_iter()
        .map(|i| {
            let mut r = rng(session_seed(config.seed, i));
            let visit = env.visit(&mut r);
            let t = in_treatment(visit.user, config.seed, config.split);
            let policy = if t { treatment } else { control };
            let page = policy.list(&visit.query_id, &visit.query)?;
            let page = &page[..page.len().min(k)];
            Ok((t, env.react(&visit, page, &mut r)))
        })
        .collect::<Result<_>>()?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut arms = [control, treatment].map(|p| Arm {
        ranker: p.name().to_owned(),
        sessions: 0,
        clicks: Moments::default(),
        purchases: Moments::default(),
        revenue: Moments::default(),
        converted: 0,
        true_value: None,
    });
    let mut values: [Vec<[f64; 3]>; 2] = [Vec::new(), Vec::new()];
    let every = (config.sessions / config.checkpoints.max(1) as u64).max(1);
    let mut trajectory = Vec::new();
    for (i, (t, r)) in outcomes.iter().enumerate() {
        let a = usize::from(*t);
        let (c, p, rev) = (r.n_clicks() as f64, r.n_purchases() as f64, r.revenue);
        let arm = &mut arms[a];
        arm.sessions += 1;
        arm.clicks.add(c);
        arm.purchases.add(p);
        arm.revenue.add(rev);
        arm.converted += u64::from(p > 0.0);
        values[a].push([c, p, rev]);
        let n = i as u64 + 1;
        if n.is_multiple_of(every) || n == config.sessions {
            if let Ok(cmp) = two_proportion(
                arms[0].converted,
                arms[0].sessions,
                arms[1].converted,
                arms[1].sessions,
                config.level,
            ) {
                trajectory.push(Checkpoint {
                    sessions: n,
                    difference: cmp.difference,
                    ci: cmp.ci,
                    p_value: cmp.p_value,
                });
            }
        }
    }
    if arms.iter().any(|a| a.sessions < 2) {
        return Err(Error::InvalidArgument(format!(
            "an arm got fewer than 2 of the {} sessions: run more sessions",
            config.sessions
        )));
    }
    let conversion = two_proportion(
        arms[0].converted,
        arms[0].sessions,
        arms[1].converted,
        arms[1].sessions,
        config.level,
    )?;
    let rate = |a: &Arm| a.converted as f64 / a.sessions as f64;
    let mut metrics = vec![Metric {
        name: "conversion".into(),
        control: rate(&arms[0]),
        treatment: rate(&arms[1]),
        comparison: conversion,
        test: "two-proportion z".into(),
        bootstrap_ci: None,
    }];
    for (j, name) in ["purchases", "clicks", "revenue"].iter().enumerate() {
        let m = |a: &Arm| match j {
            0 => a.purchases,
            1 => a.clicks,
            _ => a.revenue,
        };
        let col = |a: usize| {
            values[a]
                .iter()
                .map(|v| v[[1, 0, 2][j]])
                .collect::<Vec<_>>()
        };
        let bootstrap_ci = if config.bootstrap > 0 {
            Some(bootstrap_difference(
                &col(0),
                &col(1),
                config.bootstrap,
                config.level,
                config.seed ^ j as u64,
            )?)
        } else {
            None
        };
        metrics.push(Metric {
            name: (*name).into(),
            control: m(&arms[0]).mean,
            treatment: m(&arms[1]).mean,
            comparison: welch(&m(&arms[0]), &m(&arms[1]), config.level)?,
            test: "Welch t".into(),
            bootstrap_ci,
        });
    }
    let alpha = 1.0 - config.level;
    let base = rate(&arms[0]).clamp(1e-6, 1.0 - 1e-6);
    let per_arm = arms[0].sessions.min(arms[1].sessions);
    let observed = rate(&arms[1]) / base - 1.0;
    let power = Power {
        base_rate: rate(&arms[0]),
        minimum_detectable_lift: minimum_detectable_lift(base, per_arm, alpha, config.power)?,
        sessions_for_observed_lift: if observed > 0.0 && base * (1.0 + observed) < 1.0 {
            sessions_per_arm(base, observed, alpha, config.power).ok()
        } else {
            None
        },
        sessions_for_5_percent: sessions_per_arm(base, 0.05, alpha, config.power)?,
    };
    // Sample-ratio mismatch: χ² with one degree of freedom.
    let n = config.sessions as f64;
    let expect = [n * (1.0 - config.split), n * config.split];
    let chi2: f64 = arms
        .iter()
        .zip(expect)
        .map(|(a, e)| (a.sessions as f64 - e).powi(2) / e)
        .sum();
    let srm_p_value = 2.0 * (1.0 - normal_cdf(chi2.sqrt()));
    if config.true_values {
        arms[0].true_value = Some(true_value(env, control)?);
        arms[1].true_value = Some(true_value(env, treatment)?);
    }
    Ok(AbReport {
        environment: env.name(),
        config: *config,
        aa: control.name() == treatment.name(),
        arms,
        metrics,
        trajectory,
        power,
        srm_p_value,
        sessions_per_second: config.sessions as f64 / elapsed.max(1e-9),
    })
}
