//! The user simulator: sessions over simulated days, a position-based
//! examination model, clicks given the true grade, purchases given click,
//! grade, price and the user's price sensitivity, and optional drift.
//!
//! The ranking is asked of a [`RankingPolicy`] (the neutral contract of
//! [`crate::policy`]), so the same simulator produces traffic for the
//! logging ranker here and for any candidate ranker (A/B simulation). How
//! users react sits behind [`UserModel`]: the synthetic world's truth
//! ([`WorldUsers`]) by default, an environment fitted on logs later.

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::catalog::{doc_id, doc_index};
use super::queries::{label, SimQuery};
use super::sample::{chance, lognormal, normal, Cdf, WorldRng};
use super::World;
use crate::error::{Error, Result};
use crate::policy::Ranking;
use crate::time::{Timestamp, DAY_MS};
use crate::types::{
    AddToCart, Click, DocId, EsciLabel, EventId, ImpressedDoc, Impression, InteractionEvent,
    Purchase, QueryId, RequestId, SessionId, UserId,
};

pub use crate::policy::{RankRequest, RankingPolicy};

/// A document shown to a simulated user.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// The query's id.
    pub query_id: &'a QueryId,
    /// The query text.
    pub query: &'a str,
    /// The document.
    pub doc: &'a DocId,
    /// Its 1-based position.
    pub position: usize,
    /// The user's price sensitivity (log-normal, median 1).
    pub price_sensitivity: f64,
    /// The simulated day (drift applies from a day on).
    pub day: u32,
}

/// How a simulated user reacts to a shown document: the synthetic world's
/// truth ([`WorldUsers`]), or an environment fitted on logs.
///
/// Contract: `None` for a document the model knows nothing of (it is shown
/// but never clicked or bought); probabilities in [0, 1].
pub trait UserModel: Send + Sync {
    /// P(click) of the shown document (examination included).
    fn click_probability(&self, shown: &Shown<'_>) -> Option<f64>;
    /// After a click: P(purchase) and the unit price paid.
    fn purchase(&self, shown: &Shown<'_>) -> Option<(f64, f64)>;
}

/// The synthetic world's users: clicks from examination × attractiveness of
/// the true label × popularity; purchases from the label, the price
/// relative to the category's median (drift included), the user's price
/// sensitivity, quality and popularity.
#[derive(Debug)]
pub struct WorldUsers<'w> {
    world: &'w World,
    behaviour: &'w Behaviour,
    drift: Option<(&'w Drift, u16)>,
}

impl<'w> WorldUsers<'w> {
    /// The users of `world` with `behaviour` and, from its day on, `drift`.
    pub fn new(
        world: &'w World,
        behaviour: &'w Behaviour,
        drift: Option<&'w Drift>,
    ) -> Result<Self> {
        let drift = match drift {
            Some(d) => Some((
                d,
                world
                    .leaves
                    .iter()
                    .position(|l| l.spec.name.eq_ignore_ascii_case(&d.category))
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!("drift: unknown category `{}`", d.category))
                    })? as u16,
            )),
            None => None,
        };
        Ok(Self {
            world,
            behaviour,
            drift,
        })
    }

    fn truth(
        &self,
        shown: &Shown<'_>,
    ) -> Option<(&SimQuery, &super::catalog::ProductTruth, usize, f64)> {
        let q = self.world.query(shown.query_id)?;
        let p = doc_index(shown.doc).and_then(|x| self.world.products.get(x as usize))?;
        let l = Behaviour::grade_index(label(&q.intent, p, &self.world.leaves));
        let pop = f64::from(p.popularity)
            .powf(self.behaviour.popularity_effect)
            .clamp(0.3, 3.0);
        Some((q, p, l, pop))
    }
}

impl UserModel for WorldUsers<'_> {
    fn click_probability(&self, shown: &Shown<'_>) -> Option<f64> {
        let (_, _, l, pop) = self.truth(shown)?;
        let b = self.behaviour;
        Some(b.examination.probability(shown.position) * (b.attractiveness[l] * pop).min(0.95))
    }

    fn purchase(&self, shown: &Shown<'_>) -> Option<(f64, f64)> {
        let (_, p, l, pop) = self.truth(shown)?;
        let mut price = f64::from(p.price);
        if let Some((d, leaf)) = self.drift {
            if shown.day >= d.day && p.leaf == leaf {
                price *= d.price;
            }
        }
        let median = self.world.leaves[p.leaf as usize].spec.median_price;
        let rel_price = (price / median).max(0.05);
        let price_factor = rel_price.powf(-shown.price_sensitivity).clamp(0.2, 2.0);
        let p_buy = (self.behaviour.purchase_given_click[l]
            * price_factor
            * (0.5 + f64::from(p.quality))
            * pop)
            .min(0.9);
        Some((p_buy, price))
    }
}

/// Probability of examining each position.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Examination {
    /// A web-search list: the position-based model fitted on the Yandex
    /// WSCD 2012 sample (0.81, 0.57, 0.47, 0.39, 0.30, 0.27, 0.25, 0.21,
    /// 0.22, 0.21), then 0.21 · 0.9^(r-10) below rank 10.
    Web,
    /// A product grid: `per_row` tiles a row; a row is examined with
    /// 0.85 · 0.78^row, a tile within it with 1 − 0.06 · column.
    Grid {
        /// Tiles per row.
        per_row: usize,
    },
}

impl Examination {
    const WEB: [f64; 10] = [0.81, 0.57, 0.47, 0.39, 0.30, 0.27, 0.25, 0.21, 0.22, 0.21];

    /// P(examined) at 1-based `position`.
    pub fn probability(&self, position: usize) -> f64 {
        let r = position.max(1) - 1;
        match self {
            Examination::Web => Self::WEB
                .get(r)
                .copied()
                .unwrap_or_else(|| 0.21 * 0.9f64.powi(r as i32 - 9)),
            Examination::Grid { per_row } => {
                let per_row = (*per_row).max(1);
                0.85 * 0.78f64.powi((r / per_row) as i32) * (1.0 - 0.06 * (r % per_row) as f64)
            }
        }
    }
}

/// How simulated shoppers behave. Defaults are plausible, not measured,
/// except the examination curve (see [`Examination::Web`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Behaviour {
    /// Examination model.
    pub examination: Examination,
    /// P(click | examined) for E, S, C, I.
    pub attractiveness: [f64; 4],
    /// P(purchase | click) for E, S, C, I at the category's median price.
    pub purchase_given_click: [f64; 4],
    /// Exponent of popularity in click and purchase propensity.
    pub popularity_effect: f64,
    /// Log-space spread of users' price sensitivity (median 1).
    pub price_sensitivity_sigma: f64,
    /// Mean number of queries in a session.
    pub queries_per_session: f64,
    /// P(add to cart, no purchase | click) relative to P(purchase | click).
    pub abandoned_cart_ratio: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            examination: Examination::Web,
            attractiveness: [0.15, 0.06, 0.025, 0.008],
            purchase_given_click: [0.045, 0.015, 0.01, 0.001],
            popularity_effect: 0.25,
            price_sensitivity_sigma: 0.5,
            queries_per_session: 1.5,
            abandoned_cart_ratio: 0.6,
        }
    }
}

impl Behaviour {
    fn grade_index(l: EsciLabel) -> usize {
        match l {
            EsciLabel::Exact => 0,
            EsciLabel::Substitute => 1,
            EsciLabel::Complement => 2,
            EsciLabel::Irrelevant => 3,
        }
    }
}

/// A change in the world from a given day on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// First simulated day (0-based) it applies to.
    pub day: u32,
    /// Leaf category name (e.g. `Sofas`).
    pub category: String,
    /// Multiplier of that category's query traffic.
    pub demand: f64,
    /// Multiplier of that category's prices.
    pub price: f64,
}

impl Drift {
    /// Parses `day=20,category=Sofas,demand=2.0,price=1.2`.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut d = Drift {
            day: 0,
            category: String::new(),
            demand: 1.0,
            price: 1.0,
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
            let num = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("`{k}={v}` needs a positive number"))
            };
            match k.trim() {
                "day" => {
                    d.day = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("`day={v}` needs a whole number"))?
                }
                "category" => d.category = v.trim().to_owned(),
                "demand" => d.demand = num(v)?,
                "price" => d.price = num(v)?,
                other => {
                    return Err(format!(
                        "unknown drift key `{other}` (day, category, demand, price)"
                    ))
                }
            }
        }
        if d.category.is_empty() {
            return Err("drift needs category=NAME".into());
        }
        Ok(d)
    }
}

/// Randomised logging: with probability `epsilon` an impression swaps its
/// top result with a uniformly chosen position in `1..=k` (Joachims et al.
/// 2017, "Unbiased learning-to-rank with biased feedback"). Every impressed
/// document then carries its exact propensity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Randomization {
    /// Share of randomised impressions.
    pub epsilon: f64,
    /// Swap window.
    pub k: usize,
}

impl Randomization {
    /// Probability that the document the policy put at `from` is shown at
    /// `to` (1-based), mixing deterministic and randomised traffic.
    pub fn propensity(&self, from: usize, to: usize) -> f64 {
        let k = self.k.max(1) as f64;
        let swap = if from > self.k || to > self.k {
            f64::from(u8::from(from == to))
        } else if from == to {
            if from == 1 {
                1.0 / k
            } else {
                (k - 1.0) / k
            }
        } else if from == 1 || to == 1 {
            1.0 / k
        } else {
            0.0
        };
        (1.0 - self.epsilon) * f64::from(u8::from(from == to)) + self.epsilon * swap
    }
}

/// Simulation knobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimConfig {
    /// Events to produce (the last session is completed, so slightly more).
    pub events: u64,
    /// Simulated days.
    pub days: u32,
    /// Midnight UTC of day 0.
    pub start: Timestamp,
    /// Results per page.
    pub page_size: usize,
    /// Simulated users (0: one per 40 events).
    pub users: usize,
    /// User behaviour.
    pub behaviour: Behaviour,
    /// Optional drift.
    pub drift: Option<Drift>,
    /// Optional randomised logging.
    pub randomization: Option<Randomization>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            events: 100_000,
            days: 30,
            start: Timestamp::from_ymd(2026, 1, 1),
            page_size: 10,
            users: 0,
            behaviour: Behaviour::default(),
            drift: None,
            randomization: None,
        }
    }
}

/// Counts of what a simulation produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimReport {
    /// Sessions.
    pub sessions: u64,
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Add-to-carts.
    pub add_to_carts: u64,
    /// Purchases.
    pub purchases: u64,
    /// All events.
    pub events: u64,
}

/// The logging ranker of the demo world: a decent but imperfect production
/// engine. Per query it ranks the judged pool plus the leaf's most popular
/// products by `grade · g + 0.35 · ln(popularity) + N(0, 0.6)`, where `g` is
/// 1, or 0.45 for queries with a lexical gap or a typo (a lexical engine
/// struggles there). Static per query, so position bias shows in the logs.
#[derive(Debug)]
pub struct LoggingPolicy {
    name: String,
    rankings: Vec<Vec<DocId>>,
}

impl LoggingPolicy {
    /// Precomputes the rankings of every query of `world`.
    pub fn new(world: &World, seed: u64) -> Self {
        let mut rng = WorldRng::seed_from_u64(seed ^ 0x1066_BEEF);
        let mut rankings = Vec::with_capacity(world.queries.len());
        for (qi, q) in world.queries.iter().enumerate() {
            let mut cands: Vec<u32> = world.pools[qi].iter().map(|(i, _)| *i).collect();
            let leaf = &world.by_leaf[q.intent.leaf as usize];
            let mut popular: Vec<u32> = leaf.clone();
            popular.sort_by(|a, b| {
                world.products[*b as usize]
                    .popularity
                    .total_cmp(&world.products[*a as usize].popularity)
                    .then(a.cmp(b))
            });
            cands.extend(popular.into_iter().take(30));
            cands.sort_unstable();
            cands.dedup();
            let g = if q.lexical_gap || q.misspelt {
                0.45
            } else {
                1.0
            };
            let mut scored: Vec<(f64, u32)> = cands
                .into_iter()
                .map(|i| {
                    let p = &world.products[i as usize];
                    let grade =
                        3.0 - Behaviour::grade_index(label(&q.intent, p, &world.leaves)) as f64;
                    (
                        grade * g
                            + 0.35 * f64::from(p.popularity).ln()
                            + normal(&mut rng, 0.0, 0.6),
                        i,
                    )
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            rankings.push(scored.into_iter().map(|(_, i)| doc_id(i)).collect());
        }
        Self {
            name: "logging-v1".into(),
            rankings,
        }
    }
}

impl RankingPolicy for LoggingPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    /// The precomputed ranking of a known query (by its id); an unknown
    /// query gets an empty page.
    fn rank(&self, request: &RankRequest<'_>) -> Result<Ranking> {
        let qi = request.query_id.and_then(World::query_index);
        Ok(Ranking::from_docs(
            qi.and_then(|i| self.rankings.get(i))
                .map(|r| r.iter().take(request.k).cloned().collect::<Vec<_>>())
                .unwrap_or_default(),
        ))
    }
}

/// Runs the simulation, handing each simulated day's events (in timestamp
/// order) to `sink`.
pub fn simulate(
    world: &World,
    config: &SimConfig,
    seed: u64,
    policy: &dyn RankingPolicy,
    sink: impl FnMut(u32, Vec<InteractionEvent>) -> Result<()>,
) -> Result<SimReport> {
    let users = WorldUsers::new(world, &config.behaviour, config.drift.as_ref())?;
    simulate_with(world, config, seed, policy, &users, sink)
}

/// [`simulate`] with another model of the users' reactions.
pub fn simulate_with(
    world: &World,
    config: &SimConfig,
    seed: u64,
    policy: &dyn RankingPolicy,
    users: &dyn UserModel,
    mut sink: impl FnMut(u32, Vec<InteractionEvent>) -> Result<()>,
) -> Result<SimReport> {
    if config.days == 0 || config.page_size == 0 {
        return Err(Error::InvalidArgument(
            "days and page size must be > 0".into(),
        ));
    }
    if world.queries.is_empty() {
        return Err(Error::InvalidArgument(
            "the world has no queries to simulate".into(),
        ));
    }
    if let Some(r) = &config.randomization {
        if !(0.0..=1.0).contains(&r.epsilon) || r.k < 2 {
            return Err(Error::InvalidArgument(
                "randomization needs 0 <= epsilon <= 1 and k >= 2".into(),
            ));
        }
    }
    let mut rng = WorldRng::seed_from_u64(seed ^ 0x5E55_1055);
    let b = &config.behaviour;
    let n_users = if config.users > 0 {
        config.users
    } else {
        (config.events / 40).max(50) as usize
    };
    let sensitivity: Vec<f64> = (0..n_users)
        .map(|_| lognormal(&mut rng, 1.0, b.price_sensitivity_sigma))
        .collect();
    let user_cdf = Cdf::new((0..n_users).map(|_| lognormal(&mut rng, 1.0, 1.0)));
    let drift_leaf = match &config.drift {
        Some(d) => Some(
            world
                .leaves
                .iter()
                .position(|l| l.spec.name.eq_ignore_ascii_case(&d.category))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("drift: unknown category `{}`", d.category))
                })? as u16,
        ),
        None => None,
    };
    let base_cdf = Cdf::new(world.queries.iter().map(|q| q.weight));
    let drift_cdf = config.drift.as_ref().map(|d| {
        Cdf::new(world.queries.iter().map(|q| {
            if Some(q.intent.leaf) == drift_leaf {
                q.weight * d.demand
            } else {
                q.weight
            }
        }))
    });

    let mut report = SimReport::default();
    let (mut event_seq, mut request_seq) = (0u64, 0u64);
    let mut next_event = || {
        event_seq += 1;
        EventId(format!("E{event_seq:09}"))
    };
    let mut avg_events_per_session = 2.5f64;
    for day in 0..config.days {
        if report.events >= config.events {
            break;
        }
        let drifted = config.drift.as_ref().filter(|d| day >= d.day);
        let q_cdf = if drifted.is_some() {
            drift_cdf.as_ref().unwrap_or(&base_cdf)
        } else {
            &base_cdf
        };
        let days_left = u64::from(config.days - day);
        let remaining = config.events - report.events;
        let last_day = days_left == 1;
        let sessions_today = ((remaining as f64 / days_left as f64) / avg_events_per_session)
            .ceil()
            .max(1.0) as u64;
        let day_start = config.start.0 + i64::from(day) * DAY_MS;
        let mut events: Vec<InteractionEvent> = Vec::new();
        let mut s = 0u64;
        let day_events_before = report.events;
        while (s < sessions_today || last_day)
            && report.events + (events.len() as u64) < config.events
        {
            s += 1;
            report.sessions += 1;
            let user_i = user_cdf.sample(&mut rng);
            let user = UserId(format!("U{user_i:06}"));
            let session = SessionId(format!("S{:08}", report.sessions));
            let mut t = day_start + rng.random_range(0..(DAY_MS - 3_600_000));
            let n_queries = 1 + {
                let p = 1.0 / b.queries_per_session.max(1.0);
                let mut extra = 0;
                while !chance(&mut rng, p) && extra < 8 {
                    extra += 1;
                }
                extra
            };
            for _ in 0..n_queries {
                let q = &world.queries[q_cdf.sample(&mut rng)];
                request_seq += 1;
                let request_id = RequestId(format!("R{request_seq:09}"));
                let request = RankRequest {
                    query: &q.text,
                    query_id: Some(&q.id),
                    request_id: &request_id,
                    user: &user,
                    session: &session,
                    timestamp: Timestamp(t),
                    k: config.page_size,
                    filter: None,
                };
                let ranking = policy.rank(&request)?;
                let generation = ranking.generation;
                let mut answer = ranking.docs;
                answer.truncate(config.page_size);
                let mut ranked: Vec<DocId> = answer.iter().map(|r| r.doc.clone()).collect();
                let mut origin: Vec<usize> = (1..=ranked.len()).collect();
                if let Some(r) = &config.randomization {
                    if chance(&mut rng, r.epsilon) && ranked.len() > 1 {
                        let j = rng.random_range(0..r.k.min(ranked.len()));
                        ranked.swap(0, j);
                        origin.swap(0, j);
                    }
                }
                // The simulator's own randomisation sets the propensities;
                // without it, a randomising policy's stand.
                let results: Vec<ImpressedDoc> = ranked
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ImpressedDoc {
                        doc: d.clone(),
                        position: i as u32 + 1,
                        propensity: match config.randomization {
                            Some(r) => Some(r.propensity(origin[i], i + 1)),
                            None => answer[i].propensity,
                        },
                    })
                    .collect();
                events.push(InteractionEvent::Impression(Impression {
                    event_id: next_event(),
                    timestamp: Timestamp(t),
                    request_id: request_id.clone(),
                    query_id: Some(q.id.clone()),
                    query: q.text.clone(),
                    user_id: user.clone(),
                    session_id: session.clone(),
                    results,
                    ranker: policy.name().to_owned(),
                    arm: None,
                    partial: false,
                    generation,
                }));
                report.impressions += 1;
                let mut tc = t;
                for (i, d) in ranked.iter().enumerate() {
                    let shown = Shown {
                        query_id: &q.id,
                        query: &q.text,
                        doc: d,
                        position: i + 1,
                        price_sensitivity: sensitivity[user_i],
                        day,
                    };
                    let Some(p_click) = users.click_probability(&shown) else {
                        continue;
                    };
                    if !chance(&mut rng, p_click) {
                        continue;
                    }
                    tc += rng.random_range(2_000..30_000);
                    events.push(InteractionEvent::Click(Click {
                        event_id: next_event(),
                        timestamp: Timestamp(tc),
                        request_id: request_id.clone(),
                        user_id: user.clone(),
                        session_id: session.clone(),
                        doc: d.clone(),
                        position: i as u32 + 1,
                    }));
                    report.clicks += 1;
                    let Some((p_buy, price)) = users.purchase(&shown) else {
                        continue;
                    };
                    let buys = chance(&mut rng, p_buy);
                    if buys || chance(&mut rng, (p_buy * b.abandoned_cart_ratio).min(0.9)) {
                        tc += rng.random_range(5_000..60_000);
                        let quantity = if chance(&mut rng, 0.9) {
                            1
                        } else {
                            rng.random_range(2..=4)
                        };
                        events.push(InteractionEvent::AddToCart(AddToCart {
                            event_id: next_event(),
                            timestamp: Timestamp(tc),
                            request_id: Some(request_id.clone()),
                            user_id: user.clone(),
                            session_id: session.clone(),
                            doc: d.clone(),
                            quantity,
                        }));
                        report.add_to_carts += 1;
                        if buys {
                            tc += rng.random_range(30_000..600_000);
                            events.push(InteractionEvent::Purchase(Purchase {
                                event_id: next_event(),
                                timestamp: Timestamp(tc),
                                request_id: Some(request_id.clone()),
                                user_id: user.clone(),
                                session_id: session.clone(),
                                doc: d.clone(),
                                quantity,
                                unit_price: (price * 100.0).round() / 100.0,
                            }));
                            report.purchases += 1;
                        }
                    }
                }
                t = tc.max(t) + rng.random_range(20_000..180_000);
            }
        }
        let n = events.len() as u64;
        report.events += n;
        if s > 0 {
            avg_events_per_session = 0.5 * avg_events_per_session
                + 0.5 * ((report.events - day_events_before) as f64 / s as f64).max(0.5);
        }
        // Stable sort: events of one session keep their causal order on ties.
        events.sort_by_key(InteractionEvent::timestamp);
        sink(day, events)?;
    }
    Ok(report)
}

/// Per-position click-through rate of a set of events (for stats and tests).
pub fn ctr_by_position(events: &[InteractionEvent], max_position: u32) -> Vec<f64> {
    let mut shown = vec![0u64; max_position as usize];
    let mut clicked = vec![0u64; max_position as usize];
    for e in events {
        match e {
            InteractionEvent::Impression(i) => {
                for r in &i.results {
                    if r.position <= max_position {
                        shown[r.position as usize - 1] += 1;
                    }
                }
            }
            InteractionEvent::Click(c) if c.position <= max_position => {
                clicked[c.position as usize - 1] += 1
            }
            _ => {}
        }
    }
    shown
        .iter()
        .zip(&clicked)
        .map(|(&s, &c)| if s == 0 { 0.0 } else { c as f64 / s as f64 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_propensities_are_distributions() {
        let r = Randomization { epsilon: 0.3, k: 4 };
        for from in 1..=6 {
            let total: f64 = (1..=6).map(|to| r.propensity(from, to)).sum();
            assert!((total - 1.0).abs() < 1e-12, "from {from}: {total}");
        }
        assert!((r.propensity(1, 1) - (0.7 + 0.3 / 4.0)).abs() < 1e-12);
        assert!((r.propensity(3, 1) - 0.3 / 4.0).abs() < 1e-12);
        assert_eq!(r.propensity(2, 3), 0.0);
    }

    #[test]
    fn examination_decreases_down_the_page() {
        let web = Examination::Web;
        assert_eq!(web.probability(1), 0.81);
        assert!(web.probability(11) < web.probability(10));
        let grid = Examination::Grid { per_row: 4 };
        assert!(
            grid.probability(5) < grid.probability(4),
            "drop between rows"
        );
        assert!(grid.probability(2) > grid.probability(5));
    }

    #[test]
    fn drift_parses_and_rejects() {
        let d = Drift::parse("day=20,category=Sofas,demand=2,price=1.2").unwrap();
        assert_eq!(
            (d.day, d.category.as_str(), d.demand, d.price),
            (20, "Sofas", 2.0, 1.2)
        );
        assert!(Drift::parse("day=1").is_err());
        assert!(Drift::parse("category=Sofas,demand=-1").is_err());
        assert!(Drift::parse("category=Sofas,colour=red").is_err());
    }
}
