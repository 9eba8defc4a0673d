//! Ranking features, with one code path for training and serving.
//!
//! [`extract`] turns a query, a time and a list of candidates into one row
//! per candidate; the training-set builder and the search pipeline both
//! call it, with the same [`ProductTable`] (the indexed catalogue) and a
//! [`FeatureStore`] (the interaction history, read as of the row's time).
//! The groups, in column order ([`NAMES`]):
//!
//! - **retrieval**: BM25 score and log rank, dense cosine and log rank, and
//!   the reciprocal-rank fusion of the two ranks (k = 60), for any product,
//!   retrieved or not; ranks are in the whole catalogue, down to
//!   [`RANK_CAP`](hyrank_index::product_scores::RANK_CAP) (deeper counts as
//!   the cap + 1), so a logged page of ten and a thousand candidates give a
//!   product the same value; and the BM25 score of each field alone (title,
//!   description, brand, category);
//! - **text match**: share of the query's words in the title, the query as a
//!   phrase of the title, brand, category and attribute matches;
//! - **product**: price, log price, price over its category's median,
//!   rating (and whether it has one), log review count;
//! - **behavioural**: impressions (log), CTR, add-to-cart rate and
//!   conversion rate (purchases per impression) of the product and of the
//!   (query, product) pair over 1, 7 and 30 days before the row's time,
//!   smoothed towards the shop-wide rate of the 30 days before it with a
//!   prior of [`PRIOR_IMPRESSIONS`] impressions;
//! - **query**: length in words, times asked in 30 days (log), head query
//!   (asked at least [`HEAD_QUERY_ASKS`] times in 30 days);
//! - **text match through the catalogue's vocabulary** (appended later, so
//!   their columns follow): the title overlap of the spelling-corrected
//!   query, the attribute keys (brand included) on which the product agrees
//!   with a value the query names and those on which it conflicts, and how
//!   many keys the query names ([`text::Vocabulary`]); and the category
//!   affinity: for each query word the catalogue uses, the share of the
//!   products using it that are in the candidate's category, averaged (a
//!   shopper word that only sofa descriptions use points at sofas);
//! - **query words and attribute values from the log** (appended last): the
//!   summed log-lift, over the query's words and the candidate's attribute
//!   values (colour, material, brand, category, ...), of the values clicked
//!   and bought under queries with those words in the 30 days before
//!   ([`FeatureStore::attribute_lift`]; a store made
//!   [`for_catalogue`](FeatureStore::for_catalogue) counts them, any other
//!   gives 0).
//!
//! Products carry no listing date, so the "age" feature is absent;
//! position-debiased CTR waits for the fitted click models.

pub mod store;
pub mod text;

use std::collections::HashMap;

use hyrank_data::{DocId, Product, Timestamp};
use hyrank_index::ProductScores;
use serde::{Deserialize, Serialize};

pub use self::store::{FeatureStore, History, WindowCounts};
use self::text::{text_match, ProductText, QueryText, Vocabulary};
use crate::error::{Error, Result};
use crate::gbdt::FeatureMatrix;

/// The feature set's name in model schemas.
pub const FEATURE_SET: &str = "hyrank-features";
/// Its version: bumped whenever a feature's meaning changes.
pub const FEATURE_VERSION: u32 = 1;
/// Behavioural windows, in days.
pub const WINDOWS_DAYS: [i64; 3] = [1, 7, 30];
/// Strength of the Bayesian prior of every behavioural rate, in impressions.
pub const PRIOR_IMPRESSIONS: f64 = 20.0;
/// Asks in 30 days from which a query is a head query.
pub const HEAD_QUERY_ASKS: u32 = 20;
/// The rates used as priors before the shop has any history.
const DEFAULT_RATES: [f64; 3] = [0.1, 0.02, 0.01];
/// RRF's constant for the fused-rank feature.
const RRF_K: f64 = 60.0;
const DAY_MS: i64 = 86_400_000;

/// Every feature's name, in column order.
pub const NAMES: [&str; 54] = [
    "bm25",
    "bm25_log_rank",
    "cosine",
    "cosine_log_rank",
    "rrf",
    "bm25_title",
    "bm25_description",
    "bm25_brand",
    "bm25_category",
    "title_overlap",
    "phrase_match",
    "brand_match",
    "category_match",
    "attribute_match",
    "price",
    "log_price",
    "price_vs_category",
    "rating",
    "has_rating",
    "log_review_count",
    "product_log_impressions_1d",
    "product_ctr_1d",
    "product_cart_rate_1d",
    "product_conversion_1d",
    "product_log_impressions_7d",
    "product_ctr_7d",
    "product_cart_rate_7d",
    "product_conversion_7d",
    "product_log_impressions_30d",
    "product_ctr_30d",
    "product_cart_rate_30d",
    "product_conversion_30d",
    "pair_log_impressions_1d",
    "pair_ctr_1d",
    "pair_cart_rate_1d",
    "pair_conversion_1d",
    "pair_log_impressions_7d",
    "pair_ctr_7d",
    "pair_cart_rate_7d",
    "pair_conversion_7d",
    "pair_log_impressions_30d",
    "pair_ctr_30d",
    "pair_cart_rate_30d",
    "pair_conversion_30d",
    "query_length",
    "log_query_frequency_30d",
    "head_query",
    "fuzzy_title_overlap",
    "attribute_agree",
    "attribute_conflict",
    "query_named_attributes",
    "category_affinity",
    "query_attribute_click_lift_30d",
    "query_attribute_purchase_lift_30d",
];

/// Number of features.
pub const NUM_FEATURES: usize = NAMES.len();

/// Column of `name`, if the feature set has it.
pub fn column(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// The group of a feature (`retrieval`, `text`, `product`, `behavioural`, `query`).
pub fn group(col: usize) -> &'static str {
    match col {
        0..=8 => "retrieval",
        9..=13 => "text",
        14..=19 => "product",
        20..=43 => "behavioural",
        47..=49 | 51 => "text",
        52 | 53 => "behavioural",
        _ => "query",
    }
}

/// One product's fields as the features read them.
#[derive(Debug, Clone, Default, PartialEq)]
struct ProductRow {
    price: Option<f64>,
    price_vs_category: f64,
    rating: Option<f32>,
    reviews: u32,
    text: ProductText,
    listing_key: String,
}

/// The catalogue as the features read it: text tokenised once, each
/// category's median price computed once.
#[derive(Debug, Clone, Default)]
pub struct ProductTable {
    by_id: HashMap<DocId, ProductRow>,
    vocabulary: Vocabulary,
}

impl ProductTable {
    /// The table of `products`.
    pub fn new(products: &[Product]) -> Self {
        let mut prices: HashMap<String, Vec<f64>> = HashMap::new();
        for p in products {
            if let Some(price) = p.price.filter(|v| v.is_finite() && *v > 0.0) {
                prices.entry(p.category_string()).or_default().push(price);
            }
        }
        let medians: HashMap<String, f64> = prices
            .into_iter()
            .map(|(c, mut v)| {
                v.sort_by(f64::total_cmp);
                let m = if v.len() % 2 == 1 {
                    v[v.len() / 2]
                } else {
                    0.5 * (v[v.len() / 2 - 1] + v[v.len() / 2])
                };
                (c, m)
            })
            .collect();
        let mut vocabulary = Vocabulary::default();
        let by_id: HashMap<DocId, ProductRow> = products
            .iter()
            .map(|p| {
                let price = p.price.filter(|v| v.is_finite() && *v > 0.0);
                let median = medians.get(&p.category_string()).copied();
                let row = ProductRow {
                    price,
                    price_vs_category: match (price, median) {
                        (Some(v), Some(m)) if m > 0.0 => v / m,
                        _ => 1.0,
                    },
                    rating: p.rating.filter(|r| r.is_finite()),
                    reviews: p.review_count.unwrap_or(0),
                    listing_key: crate::rerank::listing_key(
                        p.brand.as_deref().unwrap_or(""),
                        &p.title,
                    ),
                    text: ProductText::new(
                        &p.title,
                        p.brand.as_deref(),
                        p.category.iter().map(String::as_str),
                        p.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    ),
                };
                vocabulary.add_product(
                    [p.title.as_str(), p.description.as_str()]
                        .into_iter()
                        .chain(p.brand.as_deref())
                        .chain(p.category.iter().map(String::as_str))
                        .chain(p.attributes.values().map(String::as_str)),
                    &row.text,
                );
                (p.id.clone(), row)
            })
            .collect();
        vocabulary.finish();
        Self { by_id, vocabulary }
    }

    /// Products in the table.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A product's duplicate key ([`crate::rerank::listing_key`] of brand and title).
    pub fn listing_key(&self, doc: &DocId) -> Option<&str> {
        self.by_id.get(doc).map(|r| r.listing_key.as_str())
    }

    /// A product's price, if known (expected revenue reads it).
    pub fn price(&self, doc: &DocId) -> Option<f64> {
        self.by_id.get(doc).and_then(|r| r.price)
    }
}

/// A smoothed rate: `(k + m · prior) / (n + m)`.
fn smoothed(k: u32, n: u32, prior: f64) -> f32 {
    ((f64::from(k) + PRIOR_IMPRESSIONS * prior) / (f64::from(n) + PRIOR_IMPRESSIONS)) as f32
}

/// A rank as the features read it: 1-based, `RANK_CAP + 1` when deeper.
fn rank(r: Option<u32>) -> f64 {
    f64::from(r.unwrap_or(hyrank_index::product_scores::RANK_CAP as u32 + 1))
}

/// The rows of `docs` for `query` at time `at`: one row of [`NAMES`] per
/// candidate, in order. `scores` are the retrievers' scores of the same
/// candidates ([`hyrank_index::SearchIndex::score_products`]). A product
/// missing from `products` gets neutral product and text features (it is
/// still scored); the store is read strictly before `at`.
pub fn extract(
    query: &str,
    at: Timestamp,
    docs: &[DocId],
    scores: &[ProductScores],
    products: &ProductTable,
    store: &FeatureStore,
) -> Result<FeatureMatrix> {
    if docs.len() != scores.len() {
        return Err(Error::InvalidArgument(format!(
            "{} candidates but {} retrieval scores",
            docs.len(),
            scores.len()
        )));
    }
    let q_text = QueryText::analyse(query, &products.vocabulary);
    let q_key = q_text.tokens.join(" ");
    let lift = store.attribute_lift(query, at, 30 * DAY_MS);
    let mut x = FeatureMatrix::with_cols(NUM_FEATURES);
    let mut row = [0f32; NUM_FEATURES];
    let empty = ProductRow::default();
    // The priors and the query's own counts are the same for every candidate.
    let (priors, query_counts) = match docs.first() {
        Some(d) => {
            let h = store.history(&q_key, d.as_str());
            let g = h.global(at, 30 * DAY_MS);
            let priors = if g.impressions > 0 {
                let n = f64::from(g.impressions);
                [
                    f64::from(g.clicks) / n,
                    f64::from(g.carts) / n,
                    f64::from(g.purchases) / n,
                ]
            } else {
                DEFAULT_RATES
            };
            (priors, h.query(at, 30 * DAY_MS))
        }
        None => (DEFAULT_RATES, WindowCounts::default()),
    };
    for (i, doc) in docs.iter().enumerate() {
        let p = products.by_id.get(doc).unwrap_or(&empty);
        let m = text_match(&q_text, &p.text);
        let s = &scores[i];
        let (rb, rc) = (rank(s.bm25_rank), rank(s.cosine_rank));
        row[0] = s.bm25.unwrap_or(0.0);
        row[1] = rb.ln() as f32;
        row[2] = s.cosine.unwrap_or(0.0);
        row[3] = rc.ln() as f32;
        row[4] = (1.0 / (RRF_K + rb) + 1.0 / (RRF_K + rc)) as f32;
        for f in 0..4 {
            row[5 + f] = s.field_bm25[f].unwrap_or(0.0);
        }
        row[9] = m.title_overlap;
        row[10] = m.phrase;
        row[11] = m.brand;
        row[12] = m.category;
        row[13] = m.attribute;
        row[14] = p.price.unwrap_or(0.0) as f32;
        row[15] = p.price.map_or(0.0, |v| v.ln_1p()) as f32;
        row[16] = p.price_vs_category as f32;
        row[17] = p.rating.unwrap_or(0.0);
        row[18] = f32::from(u8::from(p.rating.is_some()));
        row[19] = f64::from(p.reviews).ln_1p() as f32;
        let h = store.history(&q_key, doc.as_str());
        let mut c = 20;
        for pair in [false, true] {
            for w in WINDOWS_DAYS {
                let n = if pair {
                    h.pair(at, w * DAY_MS)
                } else {
                    h.product(at, w * DAY_MS)
                };
                row[c] = f64::from(n.impressions).ln_1p() as f32;
                row[c + 1] = smoothed(n.clicks, n.impressions, priors[0]);
                row[c + 2] = smoothed(n.carts, n.impressions, priors[1]);
                row[c + 3] = smoothed(n.purchases, n.impressions, priors[2]);
                c += 4;
            }
        }
        row[44] = q_text.tokens.len() as f32;
        row[45] = f64::from(query_counts.impressions).ln_1p() as f32;
        row[46] = f32::from(u8::from(query_counts.impressions >= HEAD_QUERY_ASKS));
        row[47] = m.fuzzy_title_overlap;
        row[48] = m.attribute_agree;
        row[49] = m.attribute_conflict;
        row[50] = q_text.named_keys() as f32;
        row[51] = m.category_affinity;
        [row[52], row[53]] = lift.of(doc.as_str());
        x.push_row(&row)?;
    }
    Ok(x)
}

/// One feature's training distribution: moments, range and deciles (the
/// reference histogram a drift check compares serving traffic with).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureStats {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// The 0 %, 10 %, ..., 100 % quantiles.
    pub deciles: Vec<f64>,
}

/// The statistics of every column of `x` (empty columns for no rows).
pub fn column_stats(x: &FeatureMatrix) -> Vec<FeatureStats> {
    let n = x.rows();
    (0..x.cols())
        .map(|f| {
            let mut v: Vec<f64> = (0..n).map(|r| f64::from(x.get(r, f))).collect();
            if v.is_empty() {
                return FeatureStats {
                    mean: 0.0,
                    std: 0.0,
                    min: 0.0,
                    max: 0.0,
                    deciles: Vec::new(),
                };
            }
            let mean = v.iter().sum::<f64>() / n as f64;
            let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n as f64;
            v.sort_by(f64::total_cmp);
            let deciles = (0..=10).map(|d| v[((n - 1) * d) / 10]).collect();
            FeatureStats {
                mean,
                std: var.sqrt(),
                min: v[0],
                max: v[n - 1],
                deciles,
            }
        })
        .collect()
}

/// The schema of a model trained on rows `train_x` of this feature set:
/// names, version and each column's training statistics.
pub fn schema(train_x: &FeatureMatrix) -> crate::registry::FeatureSchema {
    crate::registry::FeatureSchema {
        source: FEATURE_SET.into(),
        version: FEATURE_VERSION,
        count: NUM_FEATURES,
        names: NAMES.iter().map(|s| (*s).to_owned()).collect(),
        stats: column_stats(train_x),
    }
}

/// How a model's columns come from [`NAMES`]: `columns[j]` is the feature
/// set's column that feeds the model's column `j`. An error names every
/// feature the model reads that this build cannot produce.
pub fn projection(source: &str, version: u32, names: &[String]) -> Result<Vec<usize>> {
    if source != FEATURE_SET {
        return Err(Error::InvalidArgument(format!(
            "the model reads features from `{source}`, which the search pipeline does not compute (it computes `{FEATURE_SET}`)"
        )));
    }
    if version != FEATURE_VERSION {
        return Err(Error::InvalidArgument(format!(
            "the model reads {FEATURE_SET} version {version}; this build computes version {FEATURE_VERSION}"
        )));
    }
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| column(n).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "the model reads features this build cannot produce: {}",
            missing.join(", ")
        )));
    }
    Ok(names.iter().filter_map(|n| column(n)).collect())
}

/// `x` with its columns picked by `columns` (see [`projection`]).
pub fn project(x: &FeatureMatrix, columns: &[usize]) -> Result<FeatureMatrix> {
    if columns.len() == x.cols() && columns.iter().enumerate().all(|(j, &c)| j == c) {
        return Ok(x.clone());
    }
    let mut out = FeatureMatrix::with_cols(columns.len());
    let mut row = vec![0f32; columns.len()];
    for r in 0..x.rows() {
        let src = x.row(r);
        for (j, &c) in columns.iter().enumerate() {
            row[j] = src[c];
        }
        out.push_row(&row)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
