//! Simulated interleaving experiments: every visit sees one list that
//! mixes the rankers' lists (team-draft, its multileaved form for three or
//! more, or balanced), the user reacts, and clicks and purchases credit
//! the rankers that contributed the documents.
//!
//! A visit's mixing is seeded by the experiment seed, the user and the
//! query, so the same user asking the same query again (or turning to the
//! next page) sees the same interleaved list: page `p` is slice
//! `[p · k, (p + 1) · k)` of one list interleaved to the depth of the
//! pages asked ([`page_of`]).

use hyrank_data::DocId;
use hyrank_eval::interleaving::{interleave, Method, Tally};
use rayon::prelude::*;
use serde::Serialize;

use crate::ab::session_seed;
use crate::env::{rng, Environment};
use crate::error::{Error, Result};
use crate::policy::{true_value, CachedPolicy, TrueValue};

/// Which events credit a ranker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credit {
    /// Clicks.
    Clicks,
    /// Purchases.
    Purchases,
}

impl Credit {
    /// `clicks` or `purchases`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clicks => "clicks",
            Self::Purchases => "purchases",
        }
    }

    /// `clicks` or `purchases`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "clicks" | "click" => Ok(Self::Clicks),
            "purchases" | "purchase" => Ok(Self::Purchases),
            other => Err(Error::InvalidArgument(format!(
                "unknown credit `{other}` (expected clicks or purchases)"
            ))),
        }
    }
}

/// Knobs of an interleaving run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InterleaveConfig {
    /// Visits.
    pub sessions: u64,
    /// Seed.
    pub seed: u64,
    /// Team-draft (any number of rankers) or balanced (two).
    pub method: Method,
    /// The credit the verdict is taken on.
    pub credit: Credit,
    /// Significance level of the verdict.
    pub alpha: f64,
    /// Compute each ranker's exact value too.
    pub true_values: bool,
}

impl Default for InterleaveConfig {
    fn default() -> Self {
        Self {
            sessions: 20_000,
            seed: 1,
            method: Method::TeamDraft,
            credit: Credit::Clicks,
            alpha: 0.05,
            true_values: true,
        }
    }
}

/// One pair of rankers compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// First ranker (index).
    pub a: usize,
    /// Second ranker.
    pub b: usize,
    /// Sessions a won, on clicks and on purchases.
    pub wins: [u64; 2],
    /// Sessions b won.
    pub losses: [u64; 2],
    /// Preference of a over b in [−1, 1], on clicks and on purchases.
    pub preference: [f64; 2],
    /// Sign-test p-values, on clicks and on purchases.
    pub p_value: [f64; 2],
}

/// A finished interleaving run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterleaveReport {
    /// The environment.
    pub environment: String,
    /// The knobs.
    pub config: InterleaveConfig,
    /// The rankers, in the order given.
    pub rankers: Vec<String>,
    /// Tally on click credit.
    pub clicks: Tally,
    /// Tally on purchase credit.
    pub purchases: Tally,
    /// Every pair.
    pub pairs: Vec<Pair>,
    /// The ranker that beats every other one significantly on the chosen
    /// credit, if one does.
    pub winner: Option<String>,
    /// Exact values in the environment, where asked.
    pub true_values: Vec<Option<TrueValue>>,
    /// Sessions simulated per second.
    pub sessions_per_second: f64,
}

pub use hyrank_eval::interleaving::visit_seed;

/// Page `page` (0-based) of `k` of the interleaving of `lists` for the
/// visit seeded `seed`: the same list, continued, on every page.
pub fn page_of(
    method: Method,
    lists: &[Vec<DocId>],
    k: usize,
    page: usize,
    seed: u64,
) -> Result<hyrank_eval::interleaving::Interleaving<DocId>> {
    let mut il = interleave(method, lists, k * (page + 1), seed)?;
    let from = (k * page).min(il.docs.len());
    il.docs.drain(..from);
    if !il.teams.is_empty() {
        il.teams.drain(..from);
    }
    Ok(il)
}

/// Runs the experiment over `rankers` (two or more; balanced: two).
pub fn run_interleave(
    env: &dyn Environment,
    rankers: &[&CachedPolicy],
    config: &InterleaveConfig,
) -> Result<InterleaveReport> {
    if rankers.len() < 2 || config.sessions == 0 || !(config.alpha > 0.0 && config.alpha < 1.0) {
        return Err(Error::InvalidArgument(
            "interleaving needs at least two rankers, sessions > 0 and 0 < alpha < 1".into(),
        ));
    }
    if config.method == Method::Balanced && rankers.len() != 2 {
        return Err(Error::InvalidArgument(format!(
            "balanced interleaving compares exactly two rankers, got {} (use team-draft to multileave)",
            rankers.len()
        )));
    }
    let k = env.page_size();
    let n = rankers.len();
    let start = std::time::Instant::now();
    let credits: Vec<(Vec<f64>, Vec<f64>)> = (0..config.sessions)
        .into_par_iter()
        .map(|i| {
            let mut r = rng(session_seed(config.seed, i));
            let visit = env.visit(&mut r);
            let lists: Vec<Vec<DocId>> = rankers
                .iter()
                .map(|p| p.list(&visit.query_id, &visit.query).map(|l| l.to_vec()))
                .collect::<Result<_>>()?;
            let seed = visit_seed(config.seed, visit.user, &visit.query_id.0);
            let il = page_of(config.method, &lists, k, 0, seed)?;
            let reaction = env.react(&visit, &il.docs, &mut r);
            Ok((il.credit(&reaction.clicks), il.credit(&reaction.purchases)))
        })
        .collect::<Result<_>>()?;
    let elapsed = start.elapsed().as_secs_f64();
    let (mut clicks, mut purchases) = (Tally::new(n), Tally::new(n));
    for (c, p) in &credits {
        clicks.add(c);
        purchases.add(p);
    }
    let mut pairs = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            pairs.push(Pair {
                a,
                b,
                wins: [clicks.wins[a][b], purchases.wins[a][b]],
                losses: [clicks.wins[b][a], purchases.wins[b][a]],
                preference: [clicks.preference(a, b), purchases.preference(a, b)],
                p_value: [clicks.sign_test(a, b), purchases.sign_test(a, b)],
            });
        }
    }
    let tally = match config.credit {
        Credit::Clicks => &clicks,
        Credit::Purchases => &purchases,
    };
    let winner = (0..n)
        .find(|&i| {
            (0..n)
                .filter(|&j| j != i)
                .all(|j| tally.preference(i, j) > 0.0 && tally.sign_test(i, j) < config.alpha)
        })
        .map(|i| rankers[i].name().to_owned());
    let true_values = rankers
        .iter()
        .map(|p| {
            if config.true_values {
                true_value(env, *p).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<_>>()?;
    Ok(InterleaveReport {
        environment: env.name(),
        config: *config,
        rankers: rankers.iter().map(|p| p.name().to_owned()).collect(),
        clicks,
        purchases,
        pairs,
        winner,
        true_values,
        sessions_per_second: config.sessions as f64 / elapsed.max(1e-9),
    })
}
