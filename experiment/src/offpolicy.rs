//! Off-policy estimates of a ranker's value from logged pages that carry
//! propensities: IPS, SNIPS and doubly robust (hyrank-eval's estimators),
//! for clicks and for purchases per page.
//!
//! Logged pages come from a log file whose impressions carry each
//! result's propensity (`P(this document at this position)` under the
//! logging ranker: `hyrank data generate --randomize`, or a UBI log with
//! propensity attributes), or from a simulated randomised logger
//! ([`simulate_log`]: with probability ε the page is a uniformly random
//! permutation of the logging ranker's top k, so every permutation of it
//! is supported).
//!
//! The direct model of the doubly robust estimator is a position-based
//! click model fitted on the logged pages, times a conversion rate per
//! document backed off to the log's. A document the new ranker shows for
//! a query but that no logged page of that query showed with a positive
//! propensity counts as unsupported ([`Estimate::unsupported`]): the
//! estimators credit it nothing, so a share above a few per cent means
//! the estimate is biased low (log with a larger randomised pool).

use std::collections::{HashMap, HashSet};

use hyrank_data::{DocId, InteractionEvent, QueryId};
use hyrank_eval::clickmodel::{fit, ClickModel, ClickSession, FitOptions, ModelKind};
use hyrank_eval::offpolicy::{doubly_robust, ips, snips, Estimate, LoggedItem, LoggedPage};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::Serialize;

use crate::ab::session_seed;
use crate::env::{rng, Environment};
use crate::error::{Error, Result};
use crate::policy::{true_value, CachedPolicy, TrueValue};

/// One logged page with its propensities and what the user did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedVisit {
    /// The query key.
    pub query_id: QueryId,
    /// The query text.
    pub query: String,
    /// The page.
    pub docs: Vec<DocId>,
    /// `P(docs[k] at k)` under the logging ranker.
    pub propensities: Vec<f64>,
    /// Clicked, per rank.
    pub clicks: Vec<bool>,
    /// Bought, per rank.
    pub purchases: Vec<bool>,
}

impl LoggedVisit {
    /// The page as a click-model session (query, documents, clicks).
    pub fn click_session(&self) -> ClickSession {
        ClickSession {
            query: self.query_id.0.clone(),
            docs: self.docs.iter().map(|d| d.0.clone()).collect(),
            clicks: self.clicks.clone(),
        }
    }
}

/// Simulates `sessions` visits of `env` under ε-uniform randomised logging
/// of `logging`'s top page.
pub fn simulate_log(
    env: &dyn Environment,
    logging: &CachedPolicy,
    epsilon: f64,
    sessions: u64,
    seed: u64,
) -> Result<Vec<LoggedVisit>> {
    if !(epsilon > 0.0 && epsilon <= 1.0) {
        return Err(Error::InvalidArgument(format!(
            "epsilon must be in (0, 1] for every permutation to be supported, got {epsilon}"
        )));
    }
    let k = env.page_size();
    (0..sessions)
        .into_par_iter()
        .map(|i| {
            let mut r = rng(session_seed(seed ^ 0x0FF_5EED, i));
            let visit = env.visit(&mut r);
            let list = logging.list(&visit.query_id, &visit.query)?;
            let top: Vec<DocId> = list.iter().take(k).cloned().collect();
            let mut docs = top.clone();
            if rand::Rng::random::<f64>(&mut r) < epsilon {
                docs.shuffle(&mut r);
            }
            let n = top.len().max(1) as f64;
            let propensities = docs
                .iter()
                .enumerate()
                .map(|(j, d)| (1.0 - epsilon) * f64::from(u8::from(top[j] == *d)) + epsilon / n)
                .collect();
            let reaction = env.react(&visit, &docs, &mut r);
            Ok(LoggedVisit {
                query_id: visit.query_id,
                query: visit.query,
                docs,
                propensities,
                clicks: reaction.clicks,
                purchases: reaction.purchases,
            })
        })
        .collect()
}

/// The logged pages of a log: full impressions whose every result carries
/// a propensity, with their clicks (by position) and purchases (by
/// request and document). Errors when no impression has propensities,
/// naming the first one without.
pub fn visits_from_events(events: &[InteractionEvent]) -> Result<Vec<LoggedVisit>> {
    let mut out: Vec<LoggedVisit> = Vec::new();
    let mut by_request: HashMap<&str, usize> = HashMap::new();
    let mut without: Option<String> = None;
    let mut skipped = 0usize;
    for e in events {
        match e {
            InteractionEvent::Impression(i) if !i.partial => {
                if i.results.iter().any(|r| r.propensity.is_none()) {
                    skipped += 1;
                    without.get_or_insert_with(|| i.event_id.0.clone());
                    continue;
                }
                let mut results = i.results.clone();
                results.sort_by_key(|r| r.position);
                let n = results.len();
                by_request.insert(&i.request_id.0, out.len());
                out.push(LoggedVisit {
                    query_id: i
                        .query_id
                        .clone()
                        .unwrap_or_else(|| QueryId(i.query.clone())),
                    query: i.query.clone(),
                    docs: results.iter().map(|r| r.doc.clone()).collect(),
                    propensities: results
                        .iter()
                        .map(|r| r.propensity.unwrap_or(0.0))
                        .collect(),
                    clicks: vec![false; n],
                    purchases: vec![false; n],
                });
            }
            InteractionEvent::Click(c) => {
                if let Some(&v) = by_request.get(c.request_id.0.as_str()) {
                    let v = &mut out[v];
                    if let Some(k) = v.docs.iter().position(|d| *d == c.doc) {
                        v.clicks[k] = true;
                    }
                }
            }
            InteractionEvent::Purchase(p) => {
                let v = p
                    .request_id
                    .as_ref()
                    .and_then(|r| by_request.get(r.0.as_str()));
                if let Some(&v) = v {
                    let v = &mut out[v];
                    if let Some(k) = v.docs.iter().position(|d| *d == p.doc) {
                        v.purchases[k] = true;
                    }
                }
            }
            _ => {}
        }
    }
    if out.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "the log has {} impressions with propensities on every result ({skipped} without, the first {}): off-policy estimation needs a log written by randomised logging (`hyrank data generate --randomize EPSILON,K`, or UBI events with a propensity attribute)",
            out.len(),
            without.as_deref().unwrap_or("-")
        )));
    }
    Ok(out)
}

/// Which reward is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reward {
    /// Clicks per page.
    Clicks,
    /// Purchases per page.
    Purchases,
}

/// Estimates of one reward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RewardEstimates {
    /// The reward.
    pub reward: Reward,
    /// IPS, SNIPS, DR.
    pub estimates: Vec<Estimate>,
    /// The logging ranker's observed value (the mean over logged pages).
    pub logged_value: f64,
    /// The target's exact value, where the environment knows it.
    pub true_value: Option<f64>,
}

/// An off-policy report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OffPolicyReport {
    /// The ranker evaluated.
    pub ranker: String,
    /// Logged pages.
    pub pages: u64,
    /// Interval level.
    pub level: f64,
    /// Clicks, then purchases.
    pub rewards: Vec<RewardEstimates>,
    /// Mean share of the target's positions without logging support.
    pub unsupported: f64,
}

/// The direct model: PBM on the logged pages, conversion per document.
struct Direct {
    model: ClickModel,
    conversion: HashMap<DocId, (f64, f64)>,
    global: f64,
}

impl Direct {
    fn fit(visits: &[LoggedVisit]) -> Result<Self> {
        let sessions: Vec<ClickSession> = visits.iter().map(LoggedVisit::click_session).collect();
        let max_rank = visits
            .iter()
            .map(|v| v.docs.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let model = fit(
            ModelKind::Pbm,
            &sessions,
            &FitOptions {
                max_rank,
                ..FitOptions::default()
            },
        )?;
        let mut conversion: HashMap<DocId, (f64, f64)> = HashMap::new();
        let (mut c, mut b) = (0.0, 0.0);
        for v in visits {
            for k in 0..v.docs.len() {
                if v.clicks[k] {
                    let e = conversion.entry(v.docs[k].clone()).or_default();
                    e.0 += 1.0;
                    c += 1.0;
                    if v.purchases[k] {
                        e.1 += 1.0;
                        b += 1.0;
                    }
                }
            }
        }
        Ok(Self {
            model,
            conversion,
            global: if c > 0.0 { b / c } else { 0.0 },
        })
    }

    fn rate(&self, d: &DocId) -> f64 {
        let m = crate::env::CONVERSION_PRIOR;
        self.conversion
            .get(d)
            .map_or(self.global, |(c, b)| (b + m * self.global) / (c + m))
    }

    /// Predicted reward per position of `docs`.
    fn predict(&self, query: &QueryId, docs: &[DocId], reward: Reward) -> Vec<f64> {
        let names: Vec<String> = docs.iter().map(|d| d.0.clone()).collect();
        let clicks = self.model.full_probs(&query.0, &names);
        match reward {
            Reward::Clicks => clicks,
            Reward::Purchases => clicks
                .iter()
                .zip(docs)
                .map(|(c, d)| c * self.rate(d))
                .collect(),
        }
    }
}

/// Estimates `target`'s clicks and purchases per page from `visits`
/// (intervals at `level`); `env` supplies the exact values where given.
pub fn estimate(
    visits: &[LoggedVisit],
    target: &CachedPolicy,
    level: f64,
    env: Option<&dyn Environment>,
) -> Result<OffPolicyReport> {
    if visits.len() < 2 {
        return Err(Error::InvalidArgument(
            "off-policy estimation needs at least two logged pages".into(),
        ));
    }
    let direct = Direct::fit(visits)?;
    let supported: HashSet<(&QueryId, &DocId)> = visits
        .iter()
        .flat_map(|v| {
            v.docs
                .iter()
                .enumerate()
                .filter(|(k, _)| v.propensities[*k] > 0.0)
                .map(move |(_, d)| (&v.query_id, d))
        })
        .collect();
    let pages: Vec<Vec<DocId>> = visits
        .iter()
        .map(|v| {
            let l = target.list(&v.query_id, &v.query)?;
            Ok(l.iter().take(v.docs.len()).cloned().collect())
        })
        .collect::<Result<_>>()?;
    let truth: Option<TrueValue> = env.map(|e| true_value(e, target)).transpose()?;
    let mut rewards = Vec::new();
    let mut unsupported_mean = 0.0;
    for reward in [Reward::Clicks, Reward::Purchases] {
        let mut logged_value = 0.0;
        let logged: Vec<LoggedPage> = visits
            .iter()
            .zip(&pages)
            .map(|(v, page)| {
                let events = match reward {
                    Reward::Clicks => &v.clicks,
                    Reward::Purchases => &v.purchases,
                };
                let predicted = direct.predict(&v.query_id, &v.docs, reward);
                let items = (0..v.docs.len())
                    .map(|k| LoggedItem {
                        reward: f64::from(u8::from(events[k])),
                        logging: v.propensities[k],
                        target: f64::from(u8::from(page.get(k) == Some(&v.docs[k]))),
                        predicted: predicted[k],
                    })
                    .collect();
                logged_value += events.iter().filter(|&&e| e).count() as f64;
                let missing = page
                    .iter()
                    .filter(|d| !supported.contains(&(&v.query_id, *d)))
                    .count();
                LoggedPage {
                    items,
                    direct: direct.predict(&v.query_id, page, reward).iter().sum(),
                    unsupported: missing as f64 / page.len().max(1) as f64,
                }
            })
            .collect();
        let estimates = vec![
            ips(&logged, level)?,
            snips(&logged, level)?,
            doubly_robust(&logged, level)?,
        ];
        unsupported_mean = estimates[0].unsupported;
        rewards.push(RewardEstimates {
            reward,
            estimates,
            logged_value: logged_value / visits.len() as f64,
            true_value: truth.map(|t| match reward {
                Reward::Clicks => t.clicks,
                Reward::Purchases => t.purchases,
            }),
        });
    }
    Ok(OffPolicyReport {
        ranker: target.name().to_owned(),
        pages: visits.len() as u64,
        level,
        rewards,
        unsupported: unsupported_mean,
    })
}
