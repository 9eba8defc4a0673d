//! Environments: where a ranker is "deployed" offline. An [`Environment`]
//! draws visits (a user with a query), lets the user react to a page, and
//! says what reaction to expect.
//!
//! - [`SyntheticEnv`]: the synthetic world's truth (true grades, the users
//!   of the simulator), so a ranker's true click and purchase rates are
//!   known exactly ([`Environment::expected`]).
//! - [`FittedEnv`]: built from a log: clicks from a fitted click model,
//!   purchases from conversion rates per query-document, backed off to
//!   the document and then to the whole log, and the log's own query
//!   frequencies.
//!
//! One visit is one page (a session of one query): sessions of several
//! queries share nothing the experiments measure.

use std::collections::HashMap;
use std::path::Path;

use hyrank_data::synth::sample::{chance, lognormal, Cdf, WorldRng};
use hyrank_data::synth::{Behaviour, Shown, UserModel, World, WorldUsers};
use hyrank_data::{DocId, InteractionEvent, QueryId};
use hyrank_eval::clickmodel::ClickModel;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};

/// The random stream every environment and runner draws from.
pub type EnvRng = WorldRng;

/// A seeded stream.
pub fn rng(seed: u64) -> EnvRng {
    EnvRng::seed_from_u64(seed)
}

/// One visit: who asks what.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The query's id (a fitted environment's query key).
    pub query_id: QueryId,
    /// The query text.
    pub query: String,
    /// The user (arms are assigned by a hash of it).
    pub user: u64,
    /// The user's price sensitivity (log-normal, median 1).
    pub price_sensitivity: f64,
}

/// What a user did on a page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reaction {
    /// Clicked, per rank.
    pub clicks: Vec<bool>,
    /// Bought, per rank.
    pub purchases: Vec<bool>,
    /// Money spent.
    pub revenue: f64,
}

impl Reaction {
    /// Clicks on the page.
    pub fn n_clicks(&self) -> usize {
        self.clicks.iter().filter(|&&c| c).count()
    }

    /// Purchases on the page.
    pub fn n_purchases(&self) -> usize {
        self.purchases.iter().filter(|&&c| c).count()
    }
}

/// Expected reaction, per rank and in total.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Expected {
    /// P(click) per rank.
    pub clicks: Vec<f64>,
    /// P(purchase) per rank.
    pub purchases: Vec<f64>,
    /// Expected revenue of the page.
    pub revenue: f64,
}

impl Expected {
    /// Expected clicks on the page.
    pub fn total_clicks(&self) -> f64 {
        self.clicks.iter().sum()
    }

    /// Expected purchases on the page.
    pub fn total_purchases(&self) -> f64 {
        self.purchases.iter().sum()
    }
}

/// A query an environment asks, with its share of the traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvQuery {
    /// Its id.
    pub id: QueryId,
    /// Its text.
    pub text: String,
    /// Its share of visits (the weights sum to 1).
    pub weight: f64,
}

/// Somewhere to deploy rankers offline.
pub trait Environment: Send + Sync {
    /// A name for reports.
    fn name(&self) -> String;
    /// Results per page.
    fn page_size(&self) -> usize;
    /// The queries visits ask, with their weights.
    fn queries(&self) -> &[EnvQuery];
    /// Draws a visit.
    fn visit(&self, rng: &mut EnvRng) -> Visit;
    /// Draws the user's reaction to `page`.
    fn react(&self, visit: &Visit, page: &[DocId], rng: &mut EnvRng) -> Reaction;
    /// The expected reaction to `page` (exact in the synthetic world,
    /// the fitted models' prediction in a fitted one).
    fn expected(&self, visit: &Visit, page: &[DocId]) -> Expected;
    /// The visits that stand for the whole traffic in exact expectations:
    /// each query at a grid of price sensitivities, with weights summing
    /// to 1.
    fn expectation_grid(&self) -> Vec<(Visit, f64)>;
}

/// Quantiles of a log-normal of median 1 and spread `sigma`, at the
/// midpoints of `n` equal-probability bins.
fn sensitivity_grid(sigma: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let p = (i as f64 + 0.5) / n as f64;
            (sigma * hyrank_eval::abtest::normal_quantile(p)).exp()
        })
        .collect()
}

/// Points of the price-sensitivity grid of exact expectations.
pub const GRID: usize = 16;

/// The synthetic world's users, deployable: the world's queries at their
/// weights, the simulator's users (examination curve, attractiveness by
/// true grade, price-sensitive purchases; one unit a purchase).
#[derive(Debug, Clone)]
pub struct SyntheticEnv {
    world: World,
    behaviour: Behaviour,
    mix: QueryMix,
    page_size: usize,
}

/// Queries at their weights (normalised to sum to 1) and a user count: what
/// both environments draw a visit from.
#[derive(Debug, Clone)]
struct QueryMix {
    queries: Vec<EnvQuery>,
    cdf: Cdf,
    users: u64,
}

impl QueryMix {
    /// From (id, text, weight) triples.
    fn new(queries: impl IntoIterator<Item = (QueryId, String, f64)>, users: u64) -> Self {
        let raw: Vec<(QueryId, String, f64)> = queries.into_iter().collect();
        let total: f64 = raw.iter().map(|q| q.2).sum();
        let cdf = Cdf::new(raw.iter().map(|q| q.2));
        let queries = raw
            .into_iter()
            .map(|(id, text, w)| EnvQuery {
                id,
                text,
                weight: w / total,
            })
            .collect();
        Self {
            queries,
            cdf,
            users,
        }
    }

    /// A query at its weight, a user, then the price sensitivity (drawn in
    /// that order from `rng`).
    fn visit(&self, rng: &mut EnvRng, price_sensitivity: impl FnOnce(&mut EnvRng) -> f64) -> Visit {
        let q = &self.queries[self.cdf.sample(rng)];
        Visit {
            query_id: q.id.clone(),
            query: q.text.clone(),
            user: rng.random_range(0..self.users),
            price_sensitivity: price_sensitivity(rng),
        }
    }
}

impl SyntheticEnv {
    /// The world's users, `users` of them (0: 10,000), pages of `page_size`.
    pub fn new(world: World, behaviour: Behaviour, users: u64, page_size: usize) -> Result<Self> {
        if world.queries.is_empty() || page_size == 0 {
            return Err(Error::InvalidArgument(
                "a synthetic environment needs a world with queries and a page size > 0".into(),
            ));
        }
        let mix = QueryMix::new(
            world
                .queries
                .iter()
                .map(|q| (q.id.clone(), q.text.clone(), q.weight)),
            if users == 0 { 10_000 } else { users },
        );
        Ok(Self {
            world,
            behaviour,
            mix,
            page_size,
        })
    }

    /// The world a `hyrank data generate` folder was made from (rebuilt
    /// from its `world.json`, with the users of its simulation).
    pub fn from_dir(dir: &Path, page_size: usize) -> Result<Self> {
        let (world, behaviour) = hyrank_data::synth::read_world_json(dir)?;
        Self::new(World::build(&world)?, behaviour, 0, page_size)
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The simulated users' probability of examining 1-based `position`.
    pub fn examination(&self, position: usize) -> f64 {
        self.behaviour.examination.probability(position)
    }

    /// The true P(click | examined) of `doc` under query `query_id` (the
    /// click probability at the top over the top's examination); `None`
    /// for a query or document the world does not have.
    pub fn true_attractiveness(&self, query_id: &str, doc: &str) -> Option<f64> {
        let users = self.users()?;
        let (q, d) = (QueryId::from(query_id), DocId::from(doc));
        let shown = Shown {
            query_id: &q,
            query: "",
            doc: &d,
            position: 1,
            price_sensitivity: 1.0,
            day: 0,
        };
        Some(users.click_probability(&shown)? / self.examination(1))
    }

    fn users(&self) -> Option<WorldUsers<'_>> {
        WorldUsers::new(&self.world, &self.behaviour, None).ok()
    }

    fn shown<'a>(&self, visit: &'a Visit, doc: &'a DocId, position: usize) -> Shown<'a> {
        Shown {
            query_id: &visit.query_id,
            query: &visit.query,
            doc,
            position,
            price_sensitivity: visit.price_sensitivity,
            day: 0,
        }
    }
}

impl Environment for SyntheticEnv {
    fn name(&self) -> String {
        format!(
            "synthetic world (seed {}, {} products, {} queries)",
            self.world.config.seed,
            self.world.products.len(),
            self.world.queries.len()
        )
    }

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn queries(&self) -> &[EnvQuery] {
        &self.mix.queries
    }

    fn visit(&self, rng: &mut EnvRng) -> Visit {
        let sigma = self.behaviour.price_sensitivity_sigma;
        self.mix.visit(rng, |r| lognormal(r, 1.0, sigma))
    }

    fn react(&self, visit: &Visit, page: &[DocId], rng: &mut EnvRng) -> Reaction {
        let mut r = Reaction {
            clicks: vec![false; page.len()],
            purchases: vec![false; page.len()],
            revenue: 0.0,
        };
        let Some(users) = self.users() else {
            return r;
        };
        for (i, d) in page.iter().enumerate() {
            let shown = self.shown(visit, d, i + 1);
            let Some(pc) = users.click_probability(&shown) else {
                continue;
            };
            if !chance(rng, pc) {
                continue;
            }
            r.clicks[i] = true;
            if let Some((pb, price)) = users.purchase(&shown) {
                if chance(rng, pb) {
                    r.purchases[i] = true;
                    r.revenue += price;
                }
            }
        }
        r
    }

    fn expected(&self, visit: &Visit, page: &[DocId]) -> Expected {
        let mut e = Expected::default();
        let Some(users) = self.users() else {
            return e;
        };
        for (i, d) in page.iter().enumerate() {
            let shown = self.shown(visit, d, i + 1);
            let pc = users.click_probability(&shown).unwrap_or(0.0);
            let (pb, price) = users.purchase(&shown).unwrap_or((0.0, 0.0));
            e.clicks.push(pc);
            e.purchases.push(pc * pb);
            e.revenue += pc * pb * price;
        }
        e
    }

    fn expectation_grid(&self) -> Vec<(Visit, f64)> {
        let grid = sensitivity_grid(self.behaviour.price_sensitivity_sigma, GRID);
        let mut out = Vec::with_capacity(self.mix.queries.len() * GRID);
        for q in &self.mix.queries {
            for &s in &grid {
                out.push((
                    Visit {
                        query_id: q.id.clone(),
                        query: q.text.clone(),
                        user: 0,
                        price_sensitivity: s,
                    },
                    q.weight / GRID as f64,
                ));
            }
        }
        out
    }
}

/// Pseudo-count of the conversion back-off (query-document → document →
/// the whole log).
pub const CONVERSION_PRIOR: f64 = 10.0;

/// Conversion rates after a click, per query-document pair, backed off.
#[derive(Debug, Clone, Default)]
pub struct Conversions {
    pair: HashMap<(String, String), (f64, f64)>,
    doc: HashMap<String, (f64, f64)>,
    global: f64,
    price: HashMap<String, f64>,
    mean_price: f64,
}

impl Conversions {
    /// P(purchase | click) of `doc` for `query`:
    /// `(b_qd + m · p_d) / (c_qd + m)`, `p_d = (b_d + m · p) / (c_d + m)`,
    /// `p` the log's rate, `m` = [`CONVERSION_PRIOR`].
    pub fn rate(&self, query: &str, doc: &str) -> f64 {
        let m = CONVERSION_PRIOR;
        let pd = self
            .doc
            .get(doc)
            .map_or(self.global, |(c, b)| (b + m * self.global) / (c + m));
        self.pair
            .get(&(query.to_owned(), doc.to_owned()))
            .map_or(pd, |(c, b)| (b + m * pd) / (c + m))
    }

    /// The unit price logged for `doc`, else the log's mean price.
    pub fn price(&self, doc: &str) -> f64 {
        self.price.get(doc).copied().unwrap_or(self.mean_price)
    }
}

/// An environment fitted on a log: clicks from a click model, purchases
/// from [`Conversions`], queries at their frequency in the log.
#[derive(Debug, Clone)]
pub struct FittedEnv {
    model: ClickModel,
    conversions: Conversions,
    mix: QueryMix,
    page_size: usize,
    name: String,
}

impl FittedEnv {
    /// Fits the purchase side and the query mix on `events`, clicks from
    /// `model`. Query keys are the query id, else the text (as
    /// [`hyrank_eval::clickmodel::sessions_from_events`] keys them).
    pub fn new(
        model: ClickModel,
        events: &[InteractionEvent],
        page_size: usize,
        name: &str,
    ) -> Result<Self> {
        let mut query_of: HashMap<&str, String> = HashMap::new();
        let mut counts: HashMap<String, (String, f64)> = HashMap::new();
        let mut users: std::collections::HashSet<&str> = Default::default();
        let mut conv = Conversions::default();
        let (mut clicks, mut buys) = (0.0, 0.0);
        let mut prices: HashMap<String, (f64, f64)> = HashMap::new();
        for e in events {
            match e {
                InteractionEvent::Impression(i) if !i.partial => {
                    let key = i
                        .query_id
                        .as_ref()
                        .map_or_else(|| i.query.clone(), |q| q.0.clone());
                    query_of.insert(&i.request_id.0, key.clone());
                    counts
                        .entry(key)
                        .or_insert_with(|| (i.query.clone(), 0.0))
                        .1 += 1.0;
                    users.insert(&i.user_id.0);
                }
                InteractionEvent::Click(c) => {
                    if let Some(q) = query_of.get(c.request_id.0.as_str()) {
                        conv.pair.entry((q.clone(), c.doc.0.clone())).or_default().0 += 1.0;
                        conv.doc.entry(c.doc.0.clone()).or_default().0 += 1.0;
                        clicks += 1.0;
                    }
                }
                InteractionEvent::Purchase(p) => {
                    let q = p
                        .request_id
                        .as_ref()
                        .and_then(|r| query_of.get(r.0.as_str()));
                    if let Some(q) = q {
                        conv.pair.entry((q.clone(), p.doc.0.clone())).or_default().1 += 1.0;
                        conv.doc.entry(p.doc.0.clone()).or_default().1 += 1.0;
                        buys += 1.0;
                    }
                    let e = prices.entry(p.doc.0.clone()).or_default();
                    e.0 += p.unit_price;
                    e.1 += 1.0;
                }
                _ => {}
            }
        }
        if counts.is_empty() {
            return Err(Error::InvalidArgument(
                "the log has no full impressions to fit an environment on".into(),
            ));
        }
        conv.global = if clicks > 0.0 { buys / clicks } else { 0.0 };
        let (sum, n) = prices
            .values()
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        conv.mean_price = if n > 0.0 { sum / n } else { 0.0 };
        conv.price = prices.into_iter().map(|(d, (s, n))| (d, s / n)).collect();
        let mut qs: Vec<(String, (String, f64))> = counts.into_iter().collect();
        qs.sort_by(|a, b| a.0.cmp(&b.0));
        let mix = QueryMix::new(
            qs.into_iter().map(|(id, (text, c))| (QueryId(id), text, c)),
            users.len().max(1) as u64,
        );
        Ok(Self {
            model,
            conversions: conv,
            mix,
            page_size,
            name: name.to_owned(),
        })
    }

    /// The conversion table.
    pub fn conversions(&self) -> &Conversions {
        &self.conversions
    }

    /// The click model.
    pub fn model(&self) -> &ClickModel {
        &self.model
    }
}

fn strings(page: &[DocId]) -> Vec<String> {
    page.iter().map(|d| d.0.clone()).collect()
}

impl Environment for FittedEnv {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn queries(&self) -> &[EnvQuery] {
        &self.mix.queries
    }

    fn visit(&self, rng: &mut EnvRng) -> Visit {
        self.mix.visit(rng, |_| 1.0)
    }

    fn react(&self, visit: &Visit, page: &[DocId], rng: &mut EnvRng) -> Reaction {
        let docs = strings(page);
        let clicks = self
            .model
            .sample_clicks(&visit.query_id.0, &docs, &mut || rng.random::<f64>());
        let mut r = Reaction {
            purchases: vec![false; page.len()],
            clicks,
            revenue: 0.0,
        };
        for (i, d) in docs.iter().enumerate() {
            if r.clicks[i] && chance(rng, self.conversions.rate(&visit.query_id.0, d)) {
                r.purchases[i] = true;
                r.revenue += self.conversions.price(d);
            }
        }
        r
    }

    fn expected(&self, visit: &Visit, page: &[DocId]) -> Expected {
        let docs = strings(page);
        let clicks = self.model.full_probs(&visit.query_id.0, &docs);
        let purchases: Vec<f64> = clicks
            .iter()
            .zip(&docs)
            .map(|(c, d)| c * self.conversions.rate(&visit.query_id.0, d))
            .collect();
        let revenue = purchases
            .iter()
            .zip(&docs)
            .map(|(p, d)| p * self.conversions.price(d))
            .sum();
        Expected {
            clicks,
            purchases,
            revenue,
        }
    }

    fn expectation_grid(&self) -> Vec<(Visit, f64)> {
        self.mix
            .queries
            .iter()
            .map(|q| {
                (
                    Visit {
                        query_id: q.id.clone(),
                        query: q.text.clone(),
                        user: 0,
                        price_sensitivity: 1.0,
                    },
                    q.weight,
                )
            })
            .collect()
    }
}
