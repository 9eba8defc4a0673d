//! The neutral contract between whatever ranks and whatever asks: a
//! [`RankingPolicy`] answers a [`RankRequest`] with a [`Ranking`]. The
//! synthetic world's logging ranker implements it, the simulator and the
//! experiment environments call it, and a trained ranker behind the search
//! pipeline will implement it too, so that one ranker serves many simulated
//! or real requests (`&self`, `Send + Sync`).

use crate::error::Result;
use crate::time::Timestamp;
use crate::types::{DocId, QueryId, RequestId, SessionId, UserId};

/// Restricts a ranking (as a search filter does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// A category path prefix or one element.
    pub category: Option<String>,
    /// A brand (case-insensitive).
    pub brand: Option<String>,
    /// Lowest price, inclusive.
    pub min_price: Option<f64>,
    /// Highest price, inclusive.
    pub max_price: Option<f64>,
}

/// One request to rank.
#[derive(Debug, Clone, Copy)]
pub struct RankRequest<'a> {
    /// The query text.
    pub query: &'a str,
    /// The query's id, when it is a known one.
    pub query_id: Option<&'a QueryId>,
    /// The id the served page will carry.
    pub request_id: &'a RequestId,
    /// Who asks.
    pub user: &'a UserId,
    /// In which session.
    pub session: &'a SessionId,
    /// When.
    pub timestamp: Timestamp,
    /// How many results the page shows.
    pub k: usize,
    /// Restrictions, if any.
    pub filter: Option<&'a RequestFilter>,
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedDoc {
    /// The document.
    pub doc: DocId,
    /// The policy's score, when it has one.
    pub score: Option<f32>,
    /// The probability that the policy put this document at this position,
    /// when it randomises (what off-policy estimators divide by).
    pub propensity: Option<f64>,
}

impl RankedDoc {
    /// A document with neither score nor propensity.
    pub fn new(doc: DocId) -> Self {
        Self {
            doc,
            score: None,
            propensity: None,
        }
    }
}

/// A policy's answer: at most `k` distinct documents, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranking {
    /// Best first.
    pub docs: Vec<RankedDoc>,
    /// The index generation that answered, when the policy searches an index
    /// (logged with the impression).
    pub generation: Option<u64>,
}

impl Ranking {
    /// From document ids, best first.
    pub fn from_docs(docs: impl IntoIterator<Item = DocId>) -> Self {
        Self {
            docs: docs.into_iter().map(RankedDoc::new).collect(),
            generation: None,
        }
    }
}

/// Something that ranks.
///
/// Contract: answer with at most `request.k` distinct documents, best
/// first; give propensities when the ranking is randomised; never change
/// state in a way that makes two calls with the same request differ unless
/// the policy says it randomises. An error is for a request the policy
/// cannot answer (invalid input, a failing index).
pub trait RankingPolicy: Send + Sync {
    /// The ranker id written in every impression it serves.
    fn name(&self) -> &str;
    /// Ranks for one request.
    fn rank(&self, request: &RankRequest<'_>) -> Result<Ranking>;
}
