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

use super::catalog::doc_id;
use super::queries::{label, SimQuery};
use super::sample::{chance, lognormal, normal, Cdf, WorldRng};
use super::World;
use crate::error::{Error, Result};
use crate::policy::Ranking;
use crate::time::{Timestamp, DAY_MS};
use crate::types::{
    AddToCart, Click, DocId, EventId, ImpressedDoc, Impression, InteractionEvent, Purchase,
    RequestId, SessionId, UserId,
};

pub use super::users::{Behaviour, Drift, Examination, Shown, UserModel, WorldUsers};
pub use crate::policy::{RankRequest, RankingPolicy};

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
///
/// The steps: check the configuration, draw the user population, weigh the
/// queries (drift included), then day by day simulate sessions: each asks
/// the policy for pages and lets the users react to them.
pub fn simulate_with(
    world: &World,
    config: &SimConfig,
    seed: u64,
    policy: &dyn RankingPolicy,
    users: &dyn UserModel,
    mut sink: impl FnMut(u32, Vec<InteractionEvent>) -> Result<()>,
) -> Result<SimReport> {
    check_config(world, config)?;
    let mut rng = WorldRng::seed_from_u64(seed ^ 0x5E55_1055);
    let population = Population::draw(&mut rng, config);
    let demand = Demand::new(world, config)?;
    let mut run = Run {
        world,
        config,
        policy,
        users,
        population,
        rng,
        report: SimReport::default(),
        event_seq: 0,
        request_seq: 0,
        events: Vec::new(),
    };
    let mut avg_events_per_session = 2.5f64;
    for day in 0..config.days {
        if run.report.events >= config.events {
            break;
        }
        let queries = demand.on(day, config);
        let days_left = u64::from(config.days - day);
        let remaining = config.events - run.report.events;
        let last_day = days_left == 1;
        let sessions_today = ((remaining as f64 / days_left as f64) / avg_events_per_session)
            .ceil()
            .max(1.0) as u64;
        let day_start = config.start.0 + i64::from(day) * DAY_MS;
        let mut s = 0u64;
        let day_events_before = run.report.events;
        while (s < sessions_today || last_day)
            && run.report.events + (run.events.len() as u64) < config.events
        {
            s += 1;
            run.session(day, day_start, queries)?;
        }
        let mut events = std::mem::take(&mut run.events);
        run.report.events += events.len() as u64;
        if s > 0 {
            avg_events_per_session = 0.5 * avg_events_per_session
                + 0.5 * ((run.report.events - day_events_before) as f64 / s as f64).max(0.5);
        }
        // Stable sort: events of one session keep their causal order on ties.
        events.sort_by_key(InteractionEvent::timestamp);
        sink(day, events)?;
    }
    Ok(run.report)
}

/// Step 1: the configuration and the world can be simulated.
fn check_config(world: &World, config: &SimConfig) -> Result<()> {
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
    Ok(())
}

/// Step 2: the users: each one's price sensitivity and how often they come.
struct Population {
    sensitivity: Vec<f64>,
    activity: Cdf,
}

impl Population {
    fn draw(rng: &mut WorldRng, config: &SimConfig) -> Self {
        let n_users = if config.users > 0 {
            config.users
        } else {
            (config.events / 40).max(50) as usize
        };
        let b = &config.behaviour;
        let sensitivity: Vec<f64> = (0..n_users)
            .map(|_| lognormal(rng, 1.0, b.price_sensitivity_sigma))
            .collect();
        let activity = Cdf::new((0..n_users).map(|_| lognormal(rng, 1.0, 1.0)));
        Self {
            sensitivity,
            activity,
        }
    }
}

/// Step 3: how often each query is asked, before and after the drift.
struct Demand {
    base: Cdf,
    drifted: Option<Cdf>,
}

impl Demand {
    fn new(world: &World, config: &SimConfig) -> Result<Self> {
        let drift_leaf = match &config.drift {
            Some(d) => Some(d.leaf(world)?),
            None => None,
        };
        let base = Cdf::new(world.queries.iter().map(|q| q.weight));
        let drifted = config.drift.as_ref().map(|d| {
            Cdf::new(world.queries.iter().map(|q| {
                if Some(q.intent.leaf) == drift_leaf {
                    q.weight * d.demand
                } else {
                    q.weight
                }
            }))
        });
        Ok(Self { base, drifted })
    }

    /// The query distribution of `day`.
    fn on(&self, day: u32, config: &SimConfig) -> &Cdf {
        match (&config.drift, &self.drifted) {
            (Some(d), Some(c)) if day >= d.day => c,
            _ => &self.base,
        }
    }
}

/// A simulation in progress: the random stream, the counters and the
/// events of the day being simulated.
struct Run<'a> {
    world: &'a World,
    config: &'a SimConfig,
    policy: &'a dyn RankingPolicy,
    users: &'a dyn UserModel,
    population: Population,
    rng: WorldRng,
    report: SimReport,
    event_seq: u64,
    request_seq: u64,
    events: Vec<InteractionEvent>,
}

/// Who is searching, in which session.
struct Visitor {
    index: usize,
    user: UserId,
    session: SessionId,
}

impl Run<'_> {
    fn next_event(&mut self) -> EventId {
        self.event_seq += 1;
        EventId(format!("E{:09}", self.event_seq))
    }

    /// Step 4: one session: a user, a start time, and one or more queries.
    fn session(&mut self, day: u32, day_start: i64, queries: &Cdf) -> Result<()> {
        self.report.sessions += 1;
        let index = self.population.activity.sample(&mut self.rng);
        let visitor = Visitor {
            index,
            user: UserId(format!("U{index:06}")),
            session: SessionId(format!("S{:08}", self.report.sessions)),
        };
        let mut t = day_start + self.rng.random_range(0..(DAY_MS - 3_600_000));
        let n_queries = 1 + {
            let p = 1.0 / self.config.behaviour.queries_per_session.max(1.0);
            let mut extra = 0;
            while !chance(&mut self.rng, p) && extra < 8 {
                extra += 1;
            }
            extra
        };
        for _ in 0..n_queries {
            let q = &self.world.queries[queries.sample(&mut self.rng)];
            let (request_id, ranked) = self.show(q, &visitor, t)?;
            let tc = self.react(q, &visitor, &request_id, &ranked, day, t);
            t = tc.max(t) + self.rng.random_range(20_000..180_000);
        }
        Ok(())
    }

    /// Step 5: asks the policy for a page, applies the simulator's own
    /// randomisation and logs the impression. Returns the page as shown.
    fn show(&mut self, q: &SimQuery, v: &Visitor, t: i64) -> Result<(RequestId, Vec<DocId>)> {
        self.request_seq += 1;
        let request_id = RequestId(format!("R{:09}", self.request_seq));
        let request = RankRequest {
            query: &q.text,
            query_id: Some(&q.id),
            request_id: &request_id,
            user: &v.user,
            session: &v.session,
            timestamp: Timestamp(t),
            k: self.config.page_size,
            filter: None,
        };
        let ranking = self.policy.rank(&request)?;
        let generation = ranking.generation;
        let mut answer = ranking.docs;
        answer.truncate(self.config.page_size);
        let mut ranked: Vec<DocId> = answer.iter().map(|r| r.doc.clone()).collect();
        let mut origin: Vec<usize> = (1..=ranked.len()).collect();
        if let Some(r) = &self.config.randomization {
            if chance(&mut self.rng, r.epsilon) && ranked.len() > 1 {
                let j = self.rng.random_range(0..r.k.min(ranked.len()));
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
                propensity: match self.config.randomization {
                    Some(r) => Some(r.propensity(origin[i], i + 1)),
                    None => answer[i].propensity,
                },
                team: None,
            })
            .collect();
        let event_id = self.next_event();
        self.events.push(InteractionEvent::Impression(Impression {
            event_id,
            timestamp: Timestamp(t),
            request_id: request_id.clone(),
            query_id: Some(q.id.clone()),
            query: q.text.clone(),
            user_id: v.user.clone(),
            session_id: v.session.clone(),
            results,
            ranker: self.policy.name().to_owned(),
            arm: None,
            partial: false,
            generation,
        }));
        self.report.impressions += 1;
        Ok((request_id, ranked))
    }

    /// Step 6: the user walks down the page: clicks, carts and purchases as
    /// the [`UserModel`] gives them. Returns the time of the last event.
    fn react(
        &mut self,
        q: &SimQuery,
        v: &Visitor,
        request_id: &RequestId,
        ranked: &[DocId],
        day: u32,
        t: i64,
    ) -> i64 {
        let mut tc = t;
        for (i, d) in ranked.iter().enumerate() {
            let shown = Shown {
                query_id: &q.id,
                query: &q.text,
                doc: d,
                position: i + 1,
                price_sensitivity: self.population.sensitivity[v.index],
                day,
            };
            let Some(p_click) = self.users.click_probability(&shown) else {
                continue;
            };
            if !chance(&mut self.rng, p_click) {
                continue;
            }
            tc += self.rng.random_range(2_000..30_000);
            let event_id = self.next_event();
            self.events.push(InteractionEvent::Click(Click {
                event_id,
                timestamp: Timestamp(tc),
                request_id: request_id.clone(),
                user_id: v.user.clone(),
                session_id: v.session.clone(),
                doc: d.clone(),
                position: i as u32 + 1,
            }));
            self.report.clicks += 1;
            let Some((p_buy, price)) = self.users.purchase(&shown) else {
                continue;
            };
            let buys = chance(&mut self.rng, p_buy);
            let abandoned = (p_buy * self.config.behaviour.abandoned_cart_ratio).min(0.9);
            if buys || chance(&mut self.rng, abandoned) {
                tc += self.rng.random_range(5_000..60_000);
                let quantity = if chance(&mut self.rng, 0.9) {
                    1
                } else {
                    self.rng.random_range(2..=4)
                };
                let event_id = self.next_event();
                self.events.push(InteractionEvent::AddToCart(AddToCart {
                    event_id,
                    timestamp: Timestamp(tc),
                    request_id: Some(request_id.clone()),
                    user_id: v.user.clone(),
                    session_id: v.session.clone(),
                    doc: d.clone(),
                    quantity,
                }));
                self.report.add_to_carts += 1;
                if buys {
                    tc += self.rng.random_range(30_000..600_000);
                    let event_id = self.next_event();
                    self.events.push(InteractionEvent::Purchase(Purchase {
                        event_id,
                        timestamp: Timestamp(tc),
                        request_id: Some(request_id.clone()),
                        user_id: v.user.clone(),
                        session_id: v.session.clone(),
                        doc: d.clone(),
                        quantity,
                        unit_price: (price * 100.0).round() / 100.0,
                    }));
                    self.report.purchases += 1;
                }
            }
        }
        tc
    }
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
