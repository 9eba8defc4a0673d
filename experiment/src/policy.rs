//! Rankers as environments call them: cached per query, fixed tables, and
//! the study's rankers of known quality.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hyrank_data::policy::{RankRequest, Ranking, RankingPolicy};
use hyrank_data::{DocId, QueryId, RequestId, SessionId, Timestamp, UserId};
use serde::Serialize;

use crate::env::{Environment, Expected};
use crate::error::{Error, Result};

/// Asks `policy` for the top `k` of a query.
pub fn rank_query(
    policy: &dyn RankingPolicy,
    query_id: &QueryId,
    query: &str,
    k: usize,
) -> Result<Vec<DocId>> {
    let (request_id, user, session) = (
        RequestId("experiment".into()),
        UserId("experiment".into()),
        SessionId("experiment".into()),
    );
    let request = RankRequest {
        query,
        query_id: Some(query_id),
        request_id: &request_id,
        user: &user,
        session: &session,
        timestamp: Timestamp::now(),
        k,
        filter: None,
    };
    let ranking = policy.rank(&request)?;
    Ok(ranking.docs.into_iter().map(|d| d.doc).take(k).collect())
}

/// Ranked lists by (query id, query text).
type ListCache = HashMap<(QueryId, String), Arc<Vec<DocId>>>;

/// A deterministic ranker's answers, cached per query (id and text), so a
/// query asked again in a simulation is not searched (or encoded) again.
/// Only for rankers whose answer depends on the query alone, as a
/// registry ranker with fixed `as_of` features does.
pub struct CachedPolicy {
    inner: Arc<dyn RankingPolicy>,
    depth: usize,
    cache: RwLock<ListCache>,
}

impl std::fmt::Debug for CachedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedPolicy")
            .field("ranker", &self.inner.name())
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

impl CachedPolicy {
    /// Caches the top `depth` of `inner`.
    pub fn new(inner: Arc<dyn RankingPolicy>, depth: usize) -> Self {
        Self {
            inner,
            depth: depth.max(1),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The top `depth` for a query, from the cache or the ranker.
    pub fn list(&self, query_id: &QueryId, query: &str) -> Result<Arc<Vec<DocId>>> {
        let key = (query_id.clone(), query.to_owned());
        if let Some(v) = self.cache.read().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(v);
        }
        let v = Arc::new(rank_query(
            self.inner.as_ref(),
            query_id,
            query,
            self.depth,
        )?);
        if let Ok(mut c) = self.cache.write() {
            c.insert(key, v.clone());
        }
        Ok(v)
    }

    /// The ranker's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }
}

impl RankingPolicy for CachedPolicy {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn rank(&self, request: &RankRequest<'_>) -> hyrank_data::Result<Ranking> {
        let qid = request
            .query_id
            .cloned()
            .unwrap_or_else(|| QueryId(request.query.to_owned()));
        let list = self.list(&qid, request.query).map_err(|e| match e {
            Error::Data(d) => d,
            other => hyrank_data::Error::InvalidArgument(other.to_string()),
        })?;
        Ok(Ranking::from_docs(list.iter().take(request.k).cloned()))
    }
}

/// A fixed ranking per query id (empty for other queries).
#[derive(Debug, Clone)]
pub struct TablePolicy {
    name: String,
    table: HashMap<QueryId, Vec<DocId>>,
}

impl TablePolicy {
    /// A ranker named `name` answering from `table`.
    pub fn new(name: impl Into<String>, table: HashMap<QueryId, Vec<DocId>>) -> Self {
        Self {
            name: name.into(),
            table,
        }
    }

    /// The ranking of every query.
    pub fn table(&self) -> &HashMap<QueryId, Vec<DocId>> {
        &self.table
    }
}

impl RankingPolicy for TablePolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn rank(&self, request: &RankRequest<'_>) -> hyrank_data::Result<Ranking> {
        let list = request.query_id.and_then(|q| self.table.get(q));
        Ok(Ranking::from_docs(
            list.into_iter().flatten().take(request.k).cloned(),
        ))
    }
}

/// A ranker's true (or, in a fitted environment, predicted) value per
/// visit: clicks, purchases and revenue per page, averaged over the
/// environment's expectation grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TrueValue {
    /// Expected clicks per page.
    pub clicks: f64,
    /// Expected purchases per page.
    pub purchases: f64,
    /// Expected revenue per page.
    pub revenue: f64,
}

/// The value of `policy` in `env`, exactly (over the expectation grid).
pub fn true_value(env: &dyn Environment, policy: &dyn RankingPolicy) -> Result<TrueValue> {
    let k = env.page_size();
    let mut pages: HashMap<QueryId, Vec<DocId>> = HashMap::new();
    let mut v = TrueValue::default();
    for (visit, w) in env.expectation_grid() {
        if !pages.contains_key(&visit.query_id) {
            let p = rank_query(policy, &visit.query_id, &visit.query, k)?;
            pages.insert(visit.query_id.clone(), p);
        }
        let e: Expected = env.expected(&visit, &pages[&visit.query_id]);
        v.clicks += w * e.total_clicks();
        v.purchases += w * e.total_purchases();
        v.revenue += w * e.revenue;
    }
    Ok(v)
}

fn unit_hash(s: &str, salt: u64) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = hyrank_eval::significance::SplitMix64::new(h);
    rng.next_f64()
}

/// The study's rankers: `base` (a ranking of `depth` per query), and an
/// improved one that, for a share of the queries (chosen by a hash of the
/// query id), re-orders the base's top `depth` by the true expected
/// purchases at the top position, keeping the base's order elsewhere.
#[derive(Debug, Clone)]
pub struct Improvement {
    base: HashMap<QueryId, Vec<DocId>>,
    best: HashMap<QueryId, Vec<DocId>>,
    page: usize,
}

impl Improvement {
    /// From `base` (a policy asked for `depth` per query) in `env`.
    pub fn new(env: &dyn Environment, base: &dyn RankingPolicy, depth: usize) -> Result<Self> {
        let page = env.page_size();
        let mut b = HashMap::new();
        let mut best = HashMap::new();
        let grid = env.expectation_grid();
        let mut seen = std::collections::HashSet::new();
        for (visit, _) in &grid {
            if !seen.insert(visit.query_id.clone()) {
                continue;
            }
            let list = rank_query(base, &visit.query_id, &visit.query, depth)?;
            let mut scored: Vec<(f64, usize, DocId)> = list
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let e = env.expected(visit, std::slice::from_ref(d));
                    (e.total_purchases(), i, d.clone())
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            best.insert(
                visit.query_id.clone(),
                scored.into_iter().map(|s| s.2).collect(),
            );
            b.insert(visit.query_id.clone(), list);
        }
        Ok(Self {
            base: b,
            best,
            page,
        })
    }

    /// The base ranker's pages.
    pub fn base(&self, name: &str) -> TablePolicy {
        let t = self
            .base
            .iter()
            .map(|(q, l)| (q.clone(), l.iter().take(self.page).cloned().collect()))
            .collect();
        TablePolicy::new(name, t)
    }

    /// The improved ranker with `share` of the queries re-ordered.
    pub fn improved(&self, name: &str, share: f64, salt: u64) -> TablePolicy {
        let t = self
            .base
            .iter()
            .map(|(q, l)| {
                let list = if unit_hash(&q.0, salt) < share {
                    &self.best[q]
                } else {
                    l
                };
                (q.clone(), list.iter().take(self.page).cloned().collect())
            })
            .collect();
        TablePolicy::new(name, t)
    }

    /// The share of queries to re-order for a true relative purchase lift
    /// of `lift` (bisection; the lift steps query by query, so the
    /// achieved lift is returned too).
    pub fn calibrate(&self, env: &dyn Environment, lift: f64, salt: u64) -> Result<(f64, f64)> {
        let base = true_value(env, &self.base("base"))?.purchases;
        if base <= 0.0 {
            return Err(Error::InvalidArgument(
                "the base ranker has no expected purchases to improve on".into(),
            ));
        }
        let lift_at = |s: f64| -> Result<f64> {
            Ok(true_value(env, &self.improved("x", s, salt))?.purchases / base - 1.0)
        };
        let full = lift_at(1.0)?;
        if full < lift {
            return Err(Error::InvalidArgument(format!(
                "re-ordering every query gives a {:.2} % lift, below the {:.2} % asked",
                100.0 * full,
                100.0 * lift
            )));
        }
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..30 {
            let mid = (lo + hi) / 2.0;
            if lift_at(mid)? < lift {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok((hi, lift_at(hi)?))
    }
}
