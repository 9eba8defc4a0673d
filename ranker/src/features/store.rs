//! The point-in-time feature store: counts of impressions, clicks,
//! add-to-carts and purchases per product, per (query, product) pair and per
//! query, answered "as of time t" from events strictly before t.
//!
//! Every counted event keeps its timestamp (kept sorted per key), so a
//! window `[t − w, t)` is two binary searches, and an answer as of `t`
//! never reads an event at or after `t`, whatever else the store holds. The
//! offline builder loads a whole log and asks as of each impression's
//! time; the online store is the same structure updated event by event.

use std::collections::HashMap;

use hyrank_data::{InteractionEvent, RequestId, Timestamp};

use super::text::query_key;

/// Kinds of counted events, the index into [`Counts`].
const IMPRESSION: usize = 0;
const CLICK: usize = 1;
const CART: usize = 2;
const PURCHASE: usize = 3;

/// The timestamps of one key's events, one sorted list per kind.
#[derive(Debug, Clone, Default)]
struct Counts([Vec<i64>; 4]);

impl Counts {
    fn add(&mut self, kind: usize, t: i64) {
        let v = &mut self.0[kind];
        // Events arrive nearly in order: append, or insert where it belongs.
        if v.last().is_none_or(|&last| last <= t) {
            v.push(t);
        } else {
            let at = v.partition_point(|&x| x <= t);
            v.insert(at, t);
        }
    }

    /// Events of `kind` in `[from, to)`.
    fn count(&self, kind: usize, from: i64, to: i64) -> u32 {
        let v = &self.0[kind];
        (v.partition_point(|&x| x < to) - v.partition_point(|&x| x < from)) as u32
    }

    fn window(&self, from: i64, to: i64) -> WindowCounts {
        WindowCounts {
            impressions: self.count(IMPRESSION, from, to),
            clicks: self.count(CLICK, from, to),
            carts: self.count(CART, from, to),
            purchases: self.count(PURCHASE, from, to),
        }
    }
}

/// Counts of one key over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Times shown.
    pub impressions: u32,
    /// Clicks.
    pub clicks: u32,
    /// Add-to-carts.
    pub carts: u32,
    /// Purchases.
    pub purchases: u32,
}

/// Per-product, per-pair and per-query event history (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct FeatureStore {
    /// Product id → its number.
    product_ids: HashMap<String, u32>,
    /// Query key → its number.
    query_ids: HashMap<String, u32>,
    products: Vec<Counts>,
    queries: Vec<Counts>,
    pairs: HashMap<(u32, u32), Counts>,
    global: Counts,
    /// Request → the query of its impression (to give clicks their query).
    requests: HashMap<RequestId, u32>,
    events: u64,
}

fn intern(ids: &mut HashMap<String, u32>, rows: &mut Vec<Counts>, key: &str) -> u32 {
    if let Some(&i) = ids.get(key) {
        return i;
    }
    let i = rows.len() as u32;
    ids.insert(key.to_owned(), i);
    rows.push(Counts::default());
    i
}

/// One (query, product) pair's history, looked up once and read for any
/// time and window.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    product: Option<&'a Counts>,
    pair: Option<&'a Counts>,
    query: Option<&'a Counts>,
    global: &'a Counts,
}

fn window(c: Option<&Counts>, at: Timestamp, window_ms: i64) -> WindowCounts {
    c.map(|c| c.window(at.0.saturating_sub(window_ms), at.0))
        .unwrap_or_default()
}

impl History<'_> {
    /// The product's counts in `[at − window_ms, at)`.
    pub fn product(&self, at: Timestamp, window_ms: i64) -> WindowCounts {
        window(self.product, at, window_ms)
    }

    /// The pair's counts in `[at − window_ms, at)`.
    pub fn pair(&self, at: Timestamp, window_ms: i64) -> WindowCounts {
        window(self.pair, at, window_ms)
    }

    /// The query's counts in `[at − window_ms, at)` (impressions: times asked).
    pub fn query(&self, at: Timestamp, window_ms: i64) -> WindowCounts {
        window(self.query, at, window_ms)
    }

    /// Every product's counts in `[at − window_ms, at)` (the priors' source).
    pub fn global(&self, at: Timestamp, window_ms: i64) -> WindowCounts {
        window(Some(self.global), at, window_ms)
    }
}

impl FeatureStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `events` (any order).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a InteractionEvent>) -> Self {
        let mut s = Self::new();
        for e in events {
            s.apply(e);
        }
        s
    }

    /// Events applied so far.
    pub fn len(&self) -> u64 {
        self.events
    }

    /// Whether no event was applied.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Counts one event. An impression counts once per shown product; a
    /// click, add-to-cart or purchase counts for its product and, when its
    /// request's impression was applied before it, for that query and pair.
    pub fn apply(&mut self, event: &InteractionEvent) {
        self.events += 1;
        let t = event.timestamp().0;
        match event {
            InteractionEvent::Impression(imp) => {
                let q = intern(
                    &mut self.query_ids,
                    &mut self.queries,
                    &query_key(&imp.query),
                );
                self.queries[q as usize].add(IMPRESSION, t);
                for r in &imp.results {
                    let d = intern(&mut self.product_ids, &mut self.products, r.doc.as_str());
                    self.products[d as usize].add(IMPRESSION, t);
                    self.pairs.entry((q, d)).or_default().add(IMPRESSION, t);
                    self.global.add(IMPRESSION, t);
                }
                self.requests.insert(imp.request_id.clone(), q);
            }
            InteractionEvent::Click(_)
            | InteractionEvent::AddToCart(_)
            | InteractionEvent::Purchase(_) => {
                let kind = match event {
                    InteractionEvent::Click(_) => CLICK,
                    InteractionEvent::AddToCart(_) => CART,
                    _ => PURCHASE,
                };
                let Some(doc) = event.doc() else { return };
                let d = intern(&mut self.product_ids, &mut self.products, doc.as_str());
                self.products[d as usize].add(kind, t);
                self.global.add(kind, t);
                if let Some(&q) = event.request_id().and_then(|r| self.requests.get(r)) {
                    self.queries[q as usize].add(kind, t);
                    self.pairs.entry((q, d)).or_default().add(kind, t);
                }
            }
        }
    }

    /// The history of `doc` under the query whose key is `query_key`
    /// ([`query_key`](super::text::query_key) of its text).
    pub fn history(&self, query_key: &str, doc: &str) -> History<'_> {
        let q = self.query_ids.get(query_key).copied();
        let d = self.product_ids.get(doc).copied();
        History {
            product: d.map(|d| &self.products[d as usize]),
            pair: q.zip(d).and_then(|k| self.pairs.get(&k)),
            query: q.map(|q| &self.queries[q as usize]),
            global: &self.global,
        }
    }
}
