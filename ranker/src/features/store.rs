//! The point-in-time feature store: counts of impressions, clicks,
//! add-to-carts and purchases per product, per (query, product) pair and per
//! query, answered "as of time t" from events strictly before t.
//!
//! Every counted event keeps its timestamp (kept sorted per key), so a
//! window `[t − w, t)` is two binary searches, and an answer as of `t`
//! never reads an event at or after `t`, whatever else the store holds. The
//! offline builder loads a whole log and asks as of each impression's
//! time; the online store is the same structure updated event by event.
//!
//! A store made [`for_catalogue`](FeatureStore::for_catalogue) also counts
//! clicks and purchases per (query word, attribute value): which colours,
//! brands, materials and categories shoppers who type a word go on to
//! click or buy (the word "chocolate" in a query and brown products). It
//! reads those counts as a log-lift ([`FeatureStore::attribute_lift`]).

use std::collections::{HashMap, HashSet};

use hyrank_data::{InteractionEvent, RequestId, Timestamp};

use super::text::{query_key, tokens};
use super::ProductTable;

/// Attribute keys with more distinct values than this (model numbers, ...)
/// are not counted per query word: they name products, not preferences.
pub const MAX_VALUES_PER_KEY: usize = 256;

/// Pseudo-events of the prior in the per-word attribute shares.
const LIFT_PRIOR: f64 = 20.0;

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
    attributes: AttributeCounts,
}

/// Clicks and purchases per (query word, attribute value); empty unless the
/// store was made for a catalogue.
#[derive(Debug, Clone, Default)]
struct AttributeCounts {
    /// Product → its counted values (ids into `value_key`).
    by_doc: HashMap<String, Vec<u32>>,
    /// Value id → its key id.
    value_key: Vec<u32>,
    /// Query word → its number.
    word_ids: HashMap<String, u32>,
    /// Query number → its distinct words.
    query_words: Vec<Vec<u32>>,
    /// (word, value) → events on products with the value under queries with the word.
    word_value: HashMap<(u32, u32), Counts>,
    /// (word, key) → events on products having the key under queries with the word.
    word_key: HashMap<(u32, u32), Counts>,
    /// Word → the values it was counted with.
    word_values: HashMap<u32, Vec<u32>>,
    /// Value → every event on products with it (the base rate).
    value: Vec<Counts>,
    /// Key → every event on products having it.
    key: Vec<Counts>,
}

impl AttributeCounts {
    fn new(products: &ProductTable) -> Self {
        let mut distinct: HashMap<&str, HashSet<String>> = HashMap::new();
        for row in products.by_id.values() {
            for (k, v) in &row.text.values {
                distinct.entry(k.as_str()).or_default().insert(v.join(" "));
            }
        }
        let mut keys: Vec<&str> = distinct
            .iter()
            .filter(|(_, v)| v.len() <= MAX_VALUES_PER_KEY)
            .map(|(k, _)| *k)
            .collect();
        keys.push("category");
        keys.sort_unstable();
        keys.dedup();
        let key_ids: HashMap<&str, u32> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        let mut value_ids: HashMap<(u32, String), u32> = HashMap::new();
        let mut value_key = Vec::new();
        let mut by_doc = HashMap::new();
        let mut docs: Vec<(&DocKey, &super::ProductRow)> = products.by_id.iter().collect();
        docs.sort_by(|a, b| a.0.cmp(b.0));
        for (doc, row) in docs {
            let pairs = row
                .text
                .values
                .iter()
                .map(|(k, v)| (k.as_str(), v.join(" ")))
                .chain((!row.text.leaf.is_empty()).then(|| ("category", row.text.leaf.clone())));
            let mut ids = Vec::new();
            for (k, v) in pairs {
                let Some(&key) = key_ids.get(k) else { continue };
                let next = value_key.len() as u32;
                let id = *value_ids.entry((key, v)).or_insert_with(|| {
                    value_key.push(key);
                    next
                });
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            by_doc.insert(doc.as_str().to_owned(), ids);
        }
        Self {
            by_doc,
            value: vec![Counts::default(); value_key.len()],
            key: vec![Counts::default(); keys.len()],
            value_key,
            ..Self::default()
        }
    }

    /// Registers query number `q` (`text` its query) when new.
    fn query(&mut self, q: u32, text: &str) {
        if self.by_doc.is_empty() || (q as usize) < self.query_words.len() {
            return;
        }
        let mut words: Vec<u32> = tokens(text)
            .into_iter()
            .map(|w| {
                let next = self.word_ids.len() as u32;
                *self.word_ids.entry(w).or_insert(next)
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        self.query_words.push(words);
    }

    fn add(&mut self, kind: usize, q: Option<u32>, doc: &str, t: i64) {
        let Some(values) = self.by_doc.get(doc) else {
            return;
        };
        let words = q
            .and_then(|q| self.query_words.get(q as usize))
            .map_or(&[][..], Vec::as_slice);
        let mut keys: Vec<u32> = Vec::with_capacity(values.len());
        for &v in values {
            let k = self.value_key[v as usize];
            self.value[v as usize].add(kind, t);
            if !keys.contains(&k) {
                keys.push(k);
                self.key[k as usize].add(kind, t);
            }
            for &w in words {
                let c = self.word_value.entry((w, v)).or_insert_with(|| {
                    self.word_values.entry(w).or_default().push(v);
                    Counts::default()
                });
                c.add(kind, t);
            }
        }
        for &k in &keys {
            for &w in words {
                self.word_key.entry((w, k)).or_default().add(kind, t);
            }
        }
    }
}

/// Product ids as the catalogue's table keys them.
type DocKey = hyrank_data::DocId;

/// How much the words of one query, as of one time, favour each attribute
/// value ([`FeatureStore::attribute_lift`]): per value, the sum over the
/// query's words of ln(P(value | word) / P(value)), the shares smoothed
/// towards the base rate with [`LIFT_PRIOR`] pseudo-events.
#[derive(Debug, Clone, Default)]
pub struct AttributeLift<'a> {
    by_doc: Option<&'a HashMap<String, Vec<u32>>>,
    value_key: &'a [u32],
    /// Per key, the lift of a value the words were never seen with.
    unseen: Vec<[f64; 2]>,
    /// Per value seen with a word, its lift minus the unseen one.
    seen: HashMap<u32, [f64; 2]>,
}

impl AttributeLift<'_> {
    /// The summed lift of `doc`'s values: `[clicks, purchases]` (0 for a
    /// product or words the store knows nothing of).
    pub fn of(&self, doc: &str) -> [f32; 2] {
        let Some(values) = self.by_doc.and_then(|m| m.get(doc)) else {
            return [0.0; 2];
        };
        let mut out = [0f64; 2];
        for &v in values {
            let base = self.unseen[self.value_key[v as usize] as usize];
            let adj = self.seen.get(&v).copied().unwrap_or_default();
            for i in 0..2 {
                out[i] += base[i] + adj[i];
            }
        }
        [out[0] as f32, out[1] as f32]
    }
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

    /// An empty store that also counts clicks and purchases per (query
    /// word, attribute value) of `products` (see the module docs).
    pub fn for_catalogue(products: &ProductTable) -> Self {
        Self {
            attributes: AttributeCounts::new(products),
            ..Self::default()
        }
    }

    /// [`for_catalogue`](Self::for_catalogue) holding `events` (any order).
    pub fn from_events_for<'a>(
        products: &ProductTable,
        events: impl IntoIterator<Item = &'a InteractionEvent>,
    ) -> Self {
        let mut s = Self::for_catalogue(products);
        for e in events {
            s.apply(e);
        }
        s
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
                self.attributes.query(q, &imp.query);
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
                let q = event
                    .request_id()
                    .and_then(|r| self.requests.get(r))
                    .copied();
                if let Some(q) = q {
                    self.queries[q as usize].add(kind, t);
                    self.pairs.entry((q, d)).or_default().add(kind, t);
                }
                if kind == CLICK || kind == PURCHASE {
                    self.attributes.add(kind, q, doc.as_str(), t);
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

    /// How the words of `query` favour each attribute value in `[at −
    /// window_ms, at)` (see [`AttributeLift`]); all zero for a store not
    /// made for a catalogue.
    pub fn attribute_lift(&self, query: &str, at: Timestamp, window_ms: i64) -> AttributeLift<'_> {
        let a = &self.attributes;
        if a.by_doc.is_empty() {
            return AttributeLift::default();
        }
        let (from, to) = (at.0.saturating_sub(window_ms), at.0);
        let kinds = [CLICK, PURCHASE];
        let base = |c: &Counts, k: &Counts, i: usize| {
            let (cv, ck) = (c.count(kinds[i], from, to), k.count(kinds[i], from, to));
            (f64::from(cv) + 0.5) / (f64::from(ck) + 1.0)
        };
        let mut unseen = vec![[0f64; 2]; a.key.len()];
        let mut seen: HashMap<u32, [f64; 2]> = HashMap::new();
        let mut words: Vec<u32> = tokens(query)
            .iter()
            .filter_map(|w| a.word_ids.get(w).copied())
            .collect();
        words.sort_unstable();
        words.dedup();
        for w in words {
            let mut word_key = vec![[0f64; 2]; a.key.len()];
            for (k, wk) in word_key.iter_mut().enumerate() {
                if let Some(c) = a.word_key.get(&(w, k as u32)) {
                    for i in 0..2 {
                        wk[i] = f64::from(c.count(kinds[i], from, to));
                    }
                }
                for i in 0..2 {
                    // A value never seen with the word: its share is the
                    // prior's part alone.
                    unseen[k][i] += (LIFT_PRIOR / (wk[i] + LIFT_PRIOR)).ln();
                }
            }
            for &v in a.word_values.get(&w).into_iter().flatten() {
                let k = a.value_key[v as usize] as usize;
                let c = &a.word_value[&(w, v)];
                let e = seen.entry(v).or_default();
                for i in 0..2 {
                    let cv = f64::from(c.count(kinds[i], from, to));
                    if cv == 0.0 {
                        continue;
                    }
                    let b = base(&a.value[v as usize], &a.key[k], i);
                    let share = (cv + LIFT_PRIOR * b) / (word_key[k][i] + LIFT_PRIOR);
                    e[i] += (share / b).ln() - (LIFT_PRIOR / (word_key[k][i] + LIFT_PRIOR)).ln();
                }
            }
        }
        AttributeLift {
            by_doc: Some(&a.by_doc),
            value_key: &a.value_key,
            unseen,
            seen,
        }
    }
}
