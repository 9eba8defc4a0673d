//! Qrels and runs in the shape the measures want: per query, the grades of
//! the retrieved documents in trec_eval's order, and the judged pool.

use std::collections::{BTreeMap, HashMap};

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::Judgment;

use crate::error::{Error, Result};

/// Judgments by query, then document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Qrels {
    pub(crate) by_query: BTreeMap<String, HashMap<String, i32>>,
}

impl Qrels {
    /// From judgment rows. A document judged twice for one query keeps the last grade,
    /// as trec_eval does.
    pub fn new(rows: &[Judgment]) -> Self {
        let mut by_query: BTreeMap<String, HashMap<String, i32>> = BTreeMap::new();
        for j in rows {
            by_query
                .entry(j.query.0.clone())
                .or_default()
                .insert(j.doc.0.clone(), j.grade);
        }
        Self { by_query }
    }

    /// Judged queries.
    pub fn queries(&self) -> impl Iterator<Item = &str> {
        self.by_query.keys().map(String::as_str)
    }

    /// Largest grade anywhere (ERR's normaliser).
    pub fn max_grade(&self) -> i32 {
        self.by_query
            .values()
            .flat_map(|m| m.values().copied())
            .max()
            .unwrap_or(1)
            .max(1)
    }
}

/// A run: scored documents by query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// Name (the run tag of its first row, or the file name).
    pub name: String,
    pub(crate) by_query: BTreeMap<String, Vec<(String, f64)>>,
}

impl Run {
    /// From run rows. The rank column is ignored (trec_eval re-sorts by score).
    pub fn new(name: impl Into<String>, rows: &[RunEntry]) -> Self {
        let mut by_query: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
        for r in rows {
            by_query
                .entry(r.query.0.clone())
                .or_default()
                .push((r.doc.0.clone(), r.score));
        }
        Self {
            name: name.into(),
            by_query,
        }
    }

    /// From ranked lists (best first); scores are made from ranks.
    pub fn from_rankings(
        name: impl Into<String>,
        rankings: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        let by_query = rankings
            .iter()
            .map(|(q, docs)| {
                (
                    q.clone(),
                    docs.iter()
                        .enumerate()
                        .map(|(i, d)| (d.clone(), (docs.len() - i) as f64))
                        .collect(),
                )
            })
            .collect();
        Self {
            name: name.into(),
            by_query,
        }
    }

    /// Queries with at least one retrieved document.
    pub fn queries(&self) -> impl Iterator<Item = &str> {
        self.by_query.keys().map(String::as_str)
    }
}

/// One query, ready for the measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Grade of each retrieved document in rank order; `None` when unjudged.
    pub rels: Vec<Option<i32>>,
    /// Judged documents with grade ≥ the relevance level.
    pub num_rel: usize,
    /// Judged documents below the relevance level.
    pub num_nonrel: usize,
    /// Grades of every judged document, best first (for ideal DCG).
    pub ideal: Vec<i32>,
}

/// Sorts one query's documents as trec_eval does: score descending, ties by
/// document id descending (byte order). Duplicate documents are an error.
pub fn trec_order(query: &str, docs: &[(String, f64)]) -> Result<Vec<usize>> {
    let mut idx: Vec<usize> = (0..docs.len()).collect();
    idx.sort_by(|&a, &b| {
        docs[b]
            .1
            .total_cmp(&docs[a].1)
            .then_with(|| docs[b].0.as_bytes().cmp(docs[a].0.as_bytes()))
    });
    let mut seen = std::collections::HashSet::with_capacity(docs.len());
    for d in docs {
        if !seen.insert(d.0.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "run: query {query}: document {} is retrieved twice",
                d.0
            )));
        }
    }
    Ok(idx)
}

/// Joins a query's run with its judgments.
pub fn judge(
    query: &str,
    docs: &[(String, f64)],
    qrels: &HashMap<String, i32>,
    relevance_level: i32,
) -> Result<Judged> {
    let order = trec_order(query, docs)?;
    let rels = order
        .iter()
        .map(|&i| qrels.get(&docs[i].0).copied())
        .collect();
    let num_rel = qrels.values().filter(|&&g| g >= relevance_level).count();
    let mut ideal: Vec<i32> = qrels.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    Ok(Judged {
        rels,
        num_rel,
        num_nonrel: qrels.len() - num_rel,
        ideal,
    })
}
