//! LambdaMART trained on judgment lists, as OpenSearch LTR and
//! Elasticsearch LTR do: features computed for each judged query's
//! retrieved candidates and judged products (the same features the search
//! pipeline computes), labels the grades (unjudged candidates left out, or
//! grade 0 when the judgments are complete), queries
//! split into training and validation by a seeded hash.

use std::collections::{HashMap, HashSet};

use hyrank_data::{DocId, Judgment, Query, QueryId, Timestamp};
use hyrank_index::SearchConfig;
use hyrank_ranker::features::{self, FeatureStore, ProductTable};
use hyrank_ranker::gbdt::{self, FeatureMatrix, GbdtParams, Objective, RankingData};
use hyrank_ranker::task::{FinalScore, Heads, TaskRanker};
use hyrank_ranker::Pipeline;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::letor::mean_ndcg;

/// Rows of judged queries.
#[derive(Debug, Clone, Default)]
pub struct JudgedRows {
    /// Features, labels (grades) and query groups.
    pub data: RankingData,
    /// Each group's query.
    pub queries: Vec<QueryId>,
    /// Each row's product.
    pub docs: Vec<DocId>,
    /// Rows per group that the retriever returned (the first ones); the rest
    /// are judged products it missed.
    pub retrieved: Vec<usize>,
}

/// How the rows are built.
#[derive(Debug, Clone)]
pub struct JudgedOptions {
    /// The retrieval that gives the candidates (its `k` is the depth).
    pub config: SearchConfig,
    /// Also add judged products the retriever did not return.
    pub add_judged: bool,
    /// Leave out candidates without a judgment (else they are grade 0).
    pub drop_unjudged: bool,
    /// The time behavioural features are read as of.
    pub at: Timestamp,
}

/// The rows of every query that has judgments.
pub fn judged_rows(
    pipeline: &Pipeline,
    queries: &[Query],
    qrels: &[Judgment],
    products: &ProductTable,
    store: &FeatureStore,
    opts: &JudgedOptions,
    progress: &dyn Fn(usize),
) -> Result<JudgedRows> {
    let mut grades: HashMap<&QueryId, Vec<(&DocId, i32)>> = HashMap::new();
    for j in qrels {
        grades.entry(&j.query).or_default().push((&j.doc, j.grade));
    }
    let judged: Vec<Query> = queries
        .iter()
        .filter(|q| grades.contains_key(&q.id))
        .cloned()
        .collect();
    if judged.is_empty() {
        return Err(Error::InvalidArgument(
            "no query of the queries file has judgments".into(),
        ));
    }
    let (lists, _) = pipeline.search_batch(&judged, &opts.config, progress)?;
    let index = pipeline.index();
    let mut out = JudgedRows {
        data: RankingData {
            x: FeatureMatrix::with_cols(features::NUM_FEATURES),
            labels: Vec::new(),
            groups: vec![0],
        },
        ..JudgedRows::default()
    };
    // Each query's candidates: the retrieved ones, then judged ones it missed.
    let mut pools: Vec<(&Query, Vec<DocId>, usize)> = Vec::with_capacity(judged.len());
    for (q, found) in judged.iter().zip(lists) {
        let mut docs: Vec<DocId> = found.into_iter().map(|c| c.doc).collect();
        let retrieved = docs.len();
        if opts.add_judged {
            let seen: HashSet<DocId> = docs.iter().cloned().collect();
            docs.extend(
                grades[&q.id]
                    .iter()
                    .filter(|(d, _)| !seen.contains(*d))
                    .map(|(d, _)| (*d).clone()),
            );
        }
        if !docs.is_empty() {
            pools.push((q, docs, retrieved));
        }
    }
    // Their retrieval features in batches (one encoding pass per batch).
    let requests: Vec<(&str, &[DocId])> = pools
        .iter()
        .map(|(q, d, _)| (q.text.as_str(), d.as_slice()))
        .collect();
    let all_scores = index.score_products_batch(&requests, opts.config.fields.as_ref())?;
    for ((q, docs, retrieved), scores) in pools.into_iter().zip(all_scores) {
        let x = features::extract(&q.text, opts.at, &docs, &scores, products, store)?;
        let by_doc: HashMap<&DocId, i32> = grades[&q.id].iter().copied().collect();
        let mut kept_retrieved = 0;
        let start = out.data.x.rows();
        for (i, d) in docs.iter().enumerate() {
            let grade = by_doc.get(d).copied();
            if opts.drop_unjudged && grade.is_none() {
                continue;
            }
            kept_retrieved += usize::from(i < retrieved);
            out.data.x.push_row(x.row(i))?;
            out.data.labels.push(grade.unwrap_or(0).max(0) as f32);
            out.docs.push(d.clone());
        }
        if out.data.x.rows() == start {
            continue;
        }
        out.data.groups.push(out.data.x.rows());
        out.queries.push(q.id.clone());
        out.retrieved.push(kept_retrieved);
    }
    Ok(out)
}

/// Whether query `id` falls in the validation share (a seeded FNV-1a hash).
pub fn is_validation(id: &QueryId, fraction: f64, seed: u64) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in id.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10_000) as f64 / 10_000.0 < fraction
}

/// The groups of `rows` whose query `keep` says yes.
pub fn subset(rows: &JudgedRows, keep: &dyn Fn(&QueryId) -> bool) -> Result<JudgedRows> {
    let mut out = JudgedRows {
        data: RankingData {
            x: FeatureMatrix::with_cols(rows.data.x.cols()),
            labels: Vec::new(),
            groups: vec![0],
        },
        ..JudgedRows::default()
    };
    for (g, q) in rows.queries.iter().enumerate() {
        if !keep(q) {
            continue;
        }
        for r in rows.data.group(g) {
            out.data.x.push_row(rows.data.x.row(r))?;
            out.data.labels.push(rows.data.labels[r]);
            out.docs.push(rows.docs[r].clone());
        }
        out.data.groups.push(out.data.x.rows());
        out.queries.push(q.clone());
        out.retrieved.push(rows.retrieved[g]);
    }
    Ok(out)
}

/// What training on judgments measured (validation queries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgedReport {
    /// Training queries (early-stopping ones excluded).
    pub train_queries: usize,
    /// Queries early stopping watched (held out of training, not of the report's).
    pub stop_queries: usize,
    /// Training rows.
    pub train_rows: usize,
    /// Validation queries.
    pub valid_queries: usize,
    /// nDCG@10 (exponential gain, over the candidates) of the retrieval
    /// order, of the model, and of the candidates ordered by grade.
    pub valid_ndcg10_retrieval: f64,
    /// The model's.
    pub valid_ndcg10_model: f64,
    /// The oracle's.
    pub valid_ndcg10_oracle: f64,
    /// Trees kept.
    pub trees: usize,
}

/// Early stopping: the queries it watches and the rounds without a better
/// nDCG@10 it waits.
#[derive(Debug, Clone, Copy)]
pub struct EarlyStopping<'a> {
    /// Queries neither training nor validation has.
    pub queries: &'a JudgedRows,
    /// Rounds without a better nDCG@10 before it stops.
    pub rounds: usize,
}

/// LambdaMART on `train`, with early stopping where given (on queries
/// of their own: rounds without a better nDCG@10, the best round kept),
/// measured on `valid`, queries neither of the others has (so the reported
/// figures are not the ones early stopping chose). The figures are over the
/// retrieved rows only. `progress` gets (round, rounds, the early-stopping
/// queries' nDCG@10, NaN without them).
pub fn train_on_judgments(
    train: &JudgedRows,
    stop: Option<EarlyStopping<'_>>,
    valid: &JudgedRows,
    params: &GbdtParams,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<(TaskRanker, JudgedReport)> {
    let stop_queries = stop.map_or(0, |s| s.queries.queries.len());
    if train.queries.is_empty() || valid.queries.is_empty() || (stop.is_some() && stop_queries == 0)
    {
        return Err(Error::InvalidArgument(format!(
            "{} training, {stop_queries} early-stopping and {} validation queries: each needs at least one (change --valid-fraction)",
            train.queries.len(),
            valid.queries.len()
        )));
    }
    let mut p = params.clone();
    p.objective = Objective::LambdaRank;
    let watched = match stop {
        Some(s) => Some(retrieved_only(s.queries)?),
        None => None,
    };
    let mut scores = vec![0.0; watched.as_ref().map_or(0, |w| w.x.rows())];
    let (mut best, mut best_round, mut since) = (f64::NEG_INFINITY, 0, 0);
    let mut model = gbdt::train(&train.data, &p, |round| {
        let Some((w, s)) = watched.as_ref().zip(stop) else {
            progress(round.index + 1, p.num_trees, f64::NAN);
            return true;
        };
        if round.index == 0 {
            scores.iter_mut().for_each(|s| *s = round.init_score);
        }
        for (r, s) in scores.iter_mut().enumerate() {
            *s += round.tree.predict(w.x.row(r));
        }
        let v = mean_ndcg(w, &scores, 10);
        progress(round.index + 1, p.num_trees, v);
        if v > best {
            (best, best_round, since) = (v, round.index + 1, 0);
        } else {
            since += 1;
        }
        since < s.rounds
    })?;
    if stop.is_some() && best_round > 0 {
        model.truncate(best_round);
    }
    let names: Vec<String> = features::NAMES.iter().map(|s| (*s).to_owned()).collect();
    model.feature_names.clone_from(&names);
    let retrieved = retrieved_only(valid)?;
    let final_scores = model.predict(&retrieved.x)?;
    let n = retrieved.x.rows();
    let retrieval: Vec<f64> = (0..n).map(|i| -(i as f64)).collect();
    let report = JudgedReport {
        train_queries: train.queries.len(),
        stop_queries,
        train_rows: train.data.x.rows(),
        valid_queries: valid.queries.len(),
        valid_ndcg10_retrieval: mean_ndcg(&retrieved, &retrieval, 10),
        valid_ndcg10_model: mean_ndcg(&retrieved, &final_scores, 10),
        valid_ndcg10_oracle: mean_ndcg(
            &retrieved,
            &retrieved
                .labels
                .iter()
                .map(|&l| f64::from(l))
                .collect::<Vec<_>>(),
            10,
        ),
        trees: model.trees.len(),
    };
    Ok((
        TaskRanker {
            kind: "lambdamart".into(),
            feature_names: names,
            heads: Heads::LambdaMart { model },
            final_score: FinalScore::PPurchase,
        },
        report,
    ))
}

/// The retrieved rows of each group (what serving re-ranks).
fn retrieved_only(rows: &JudgedRows) -> Result<RankingData> {
    let mut x = FeatureMatrix::with_cols(rows.data.x.cols());
    let mut labels = Vec::new();
    let mut groups = vec![0];
    for (g, &n) in rows.retrieved.iter().enumerate() {
        let r = rows.data.group(g);
        for i in r.start..r.start + n {
            x.push_row(rows.data.x.row(i))?;
            labels.push(rows.data.labels[i]);
        }
        if n > 0 {
            groups.push(x.rows());
        }
    }
    Ok(RankingData { x, labels, groups })
}
