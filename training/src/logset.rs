//! Training rows from the interaction log, point-in-time correct.
//!
//! One row per shown product of each impression in a time window: the
//! features of [`hyrank_ranker::features`] computed as of the impression's
//! time (the store is read strictly before it), and the labels click,
//! add-to-cart and purchase from the events of the same request that
//! happened before the window's end (what was known when the window closed).

use std::collections::{HashMap, HashSet};

use hyrank_data::parquet_io::Column;
use hyrank_data::{DocId, Impression, InteractionEvent, RequestId, Timestamp};
use hyrank_index::{ProductScores, SearchIndex};
use hyrank_ranker::features::{self, FeatureStore, ProductTable};
use hyrank_ranker::gbdt::{FeatureMatrix, RankingData};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// A half-open time window `[from, until)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// First instant included.
    pub from: Option<Timestamp>,
    /// First instant excluded.
    pub until: Option<Timestamp>,
}

impl Window {
    /// Whether `t` is inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

/// Training rows: features, labels, and where each row came from.
#[derive(Debug, Clone, Default)]
pub struct LogRows {
    /// One row per shown product, impressions in time order.
    pub x: FeatureMatrix,
    /// Clicked.
    pub click: Vec<bool>,
    /// Added to cart.
    pub cart: Vec<bool>,
    /// Purchased.
    pub purchase: Vec<bool>,
    /// Impression boundaries: impression `g` is rows `groups[g]..groups[g + 1]`.
    pub groups: Vec<usize>,
    /// The request of each impression.
    pub requests: Vec<RequestId>,
    /// The time of each impression.
    pub times: Vec<Timestamp>,
    /// The query of each impression.
    pub queries: Vec<String>,
    /// Each row's product.
    pub docs: Vec<DocId>,
    /// Each row's 1-based position.
    pub positions: Vec<u32>,
    /// Each row's price (0 when unknown), for expected revenue.
    pub prices: Vec<f32>,
}

impl LogRows {
    /// Rows.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Impressions.
    pub fn impressions(&self) -> usize {
        self.groups.len().saturating_sub(1)
    }

    /// The graded label LambdaMART learns: 3 purchase, 2 add-to-cart, 1 click, 0.
    pub fn grades(&self) -> Vec<f32> {
        (0..self.len())
            .map(|i| {
                if self.purchase[i] {
                    3.0
                } else if self.cart[i] {
                    2.0
                } else if self.click[i] {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The rows as a learning-to-rank set over `labels`.
    pub fn ranking_data(&self, labels: Vec<f32>) -> RankingData {
        RankingData {
            x: self.x.clone(),
            labels,
            groups: self.groups.clone(),
        }
    }

    /// The rows as named columns (request, time, query, product, position,
    /// the three labels, then every feature), for Parquet.
    pub fn columns(&self) -> Vec<(String, Column)> {
        let per_row = |f: &dyn Fn(usize) -> String| -> Vec<String> {
            let mut out = Vec::with_capacity(self.len());
            for g in 0..self.impressions() {
                for _ in self.groups[g]..self.groups[g + 1] {
                    out.push(f(g));
                }
            }
            out
        };
        let mut times = Vec::with_capacity(self.len());
        for g in 0..self.impressions() {
            times.extend(std::iter::repeat_n(
                self.times[g].0,
                self.groups[g + 1] - self.groups[g],
            ));
        }
        let flag = |v: &[bool]| Column::I64(v.iter().map(|&b| i64::from(b)).collect());
        let mut cols = vec![
            (
                "request_id".to_owned(),
                Column::Str(per_row(&|g| self.requests[g].0.clone())),
            ),
            ("timestamp_ms".to_owned(), Column::I64(times)),
            (
                "query".to_owned(),
                Column::Str(per_row(&|g| self.queries[g].clone())),
            ),
            (
                "doc_id".to_owned(),
                Column::Str(self.docs.iter().map(|d| d.0.clone()).collect()),
            ),
            (
                "position".to_owned(),
                Column::I64(self.positions.iter().map(|&p| i64::from(p)).collect()),
            ),
            ("click".to_owned(), flag(&self.click)),
            ("add_to_cart".to_owned(), flag(&self.cart)),
            ("purchase".to_owned(), flag(&self.purchase)),
        ];
        for (f, name) in features::NAMES.iter().enumerate() {
            cols.push((
                (*name).to_owned(),
                Column::F32((0..self.len()).map(|r| self.x.get(r, f)).collect()),
            ));
        }
        cols
    }
}

/// What a request led to: the products clicked, carted and bought, each
/// with the time it happened.
#[derive(Debug, Default)]
struct Outcomes {
    by_request: HashMap<RequestId, Vec<(DocId, u8, Timestamp)>>,
}

impl Outcomes {
    fn new(events: &[InteractionEvent]) -> Self {
        let mut by_request: HashMap<RequestId, Vec<(DocId, u8, Timestamp)>> = HashMap::new();
        for e in events {
            let kind = match e {
                InteractionEvent::Click(_) => 0,
                InteractionEvent::AddToCart(_) => 1,
                InteractionEvent::Purchase(_) => 2,
                InteractionEvent::Impression(_) => continue,
            };
            if let (Some(r), Some(d)) = (e.request_id(), e.doc()) {
                by_request
                    .entry(r.clone())
                    .or_default()
                    .push((d.clone(), kind, e.timestamp()));
            }
        }
        Self { by_request }
    }

    /// `[click, cart, purchase]` of `doc` in `request`, counting events before `until`.
    fn labels(&self, request: &RequestId, doc: &DocId, until: Option<Timestamp>) -> [bool; 3] {
        let mut out = [false; 3];
        for (d, k, t) in self
            .by_request
            .get(request)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if d == doc && until.is_none_or(|u| *t < u) {
                out[usize::from(*k)] = true;
            }
        }
        out
    }
}

/// The retrievers' scores of every (query, product) pair the impressions
/// show: one `score_products` call per distinct query (one query encoding).
fn retrieval_scores(
    index: &SearchIndex,
    impressions: &[&Impression],
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<HashMap<String, HashMap<DocId, ProductScores>>> {
    let mut per_query: HashMap<&str, HashSet<&DocId>> = HashMap::new();
    for imp in impressions {
        per_query
            .entry(imp.query.as_str())
            .or_default()
            .extend(imp.results.iter().map(|r| &r.doc));
    }
    let mut queries: Vec<(&str, Vec<DocId>)> = per_query
        .into_iter()
        .map(|(q, d)| {
            let mut d: Vec<DocId> = d.into_iter().cloned().collect();
            d.sort();
            (q, d)
        })
        .collect();
    queries.sort_by(|a, b| a.0.cmp(b.0));
    let total = queries.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    // Chunks in parallel (BM25 is per query; each chunk encodes its queries
    // in one batch), merged in query order.
    let chunks: Vec<&[(&str, Vec<DocId>)]> = queries.chunks(128).collect();
    let scored: Vec<Result<Vec<Vec<ProductScores>>>> = chunks
        .par_iter()
        .map(|chunk| {
            let requests: Vec<(&str, &[DocId])> =
                chunk.iter().map(|(q, d)| (*q, d.as_slice())).collect();
            let s = index.score_products_batch(&requests, None)?;
            let n = done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed) + chunk.len();
            progress("retrieval scores", n, total);
            Ok(s)
        })
        .collect();
    let mut out: HashMap<String, HashMap<DocId, ProductScores>> = HashMap::new();
    for (chunk, scores) in chunks.into_iter().zip(scored) {
        for ((q, docs), s) in chunk.iter().zip(scores?) {
            out.insert((*q).to_owned(), docs.iter().cloned().zip(s).collect());
        }
    }
    Ok(out)
}

/// The training rows of the impressions of `events` inside `window`
/// (features as of each impression, labels known before `window.until`).
/// `store` holds the log (any superset of the events before the window's
/// end gives the same rows); `progress(stage, done, total)`.
pub fn build_rows(
    events: &[InteractionEvent],
    window: Window,
    index: &SearchIndex,
    products: &ProductTable,
    store: &FeatureStore,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LogRows> {
    let mut impressions: Vec<&Impression> = events
        .iter()
        .filter_map(|e| match e {
            InteractionEvent::Impression(i)
                if window.contains(i.timestamp) && !i.results.is_empty() =>
            {
                Some(i)
            }
            _ => None,
        })
        .collect();
    impressions.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then(a.request_id.cmp(&b.request_id))
    });
    let outcomes = Outcomes::new(events);
    let scores = retrieval_scores(index, &impressions, progress)?;
    let total = impressions.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let blocks: Vec<Result<FeatureMatrix>> = impressions
        .par_iter()
        .map(|imp| {
            let docs: Vec<DocId> = imp.results.iter().map(|r| r.doc.clone()).collect();
            let of_query = &scores[imp.query.as_str()];
            let s: Vec<ProductScores> = docs.iter().map(|d| of_query[d]).collect();
            let x = features::extract(&imp.query, imp.timestamp, &docs, &s, products, store)?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(4096) || n == total {
                progress("features", n, total);
            }
            Ok(x)
        })
        .collect();
    let mut rows = LogRows {
        x: FeatureMatrix::with_cols(features::NUM_FEATURES),
        groups: vec![0],
        ..LogRows::default()
    };
    for (imp, block) in impressions.iter().zip(blocks) {
        let block = block?;
        for (i, r) in imp.results.iter().enumerate() {
            rows.x.push_row(block.row(i)).map_err(Error::Ranker)?;
            let [c, a, p] = outcomes.labels(&imp.request_id, &r.doc, window.until);
            rows.click.push(c);
            rows.cart.push(a);
            rows.purchase.push(p);
            rows.docs.push(r.doc.clone());
            rows.positions.push(r.position);
            rows.prices
                .push(products.price(&r.doc).unwrap_or(0.0) as f32);
        }
        rows.groups.push(rows.len());
        rows.requests.push(imp.request_id.clone());
        rows.times.push(imp.timestamp);
        rows.queries.push(imp.query.clone());
    }
    Ok(rows)
}

/// The time span of a log's impressions: first and last impression time.
pub fn impression_span(events: &[InteractionEvent]) -> Option<(Timestamp, Timestamp)> {
    let mut it = events.iter().filter_map(|e| match e {
        InteractionEvent::Impression(i) => Some(i.timestamp),
        _ => None,
    });
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
}
