//! The model stage of the search pipeline: features for the top candidates,
//! the champion's scores, and the candidates re-ordered by them.

use std::sync::{Arc, PoisonError, RwLock};

use hyrank_data::{DocId, Timestamp};
use hyrank_index::{FieldBoosts, SearchIndex};
use serde::Serialize;

use crate::artefact::ModelArtefact;
use crate::error::{Error, Result};
use crate::features::{self, FeatureStore, ProductTable};
use crate::gbdt::FeatureMatrix;
use crate::registry::Registry;
use crate::task::{TaskRanker, TaskScores};

/// Candidates the model re-ranks when the caller does not say.
pub const DEFAULT_RERANK_DEPTH: usize = 100;
/// Most candidates a request may ask the model to score.
pub const MAX_RERANK_DEPTH: usize = 1000;

/// A model from the registry, checked against what the pipeline computes.
#[derive(Debug, Clone)]
pub struct RankingModel {
    /// The registry version.
    pub id: String,
    /// The model.
    pub model: TaskRanker,
    /// Feature-set column of each model column.
    columns: Vec<usize>,
    /// Each model column's training mean (the baseline of contributions).
    means: Vec<f32>,
}

impl RankingModel {
    /// Loads version `id` (or `champion`) of `registry`: its artefact
    /// checked, its feature schema one this build computes (an error names
    /// every feature it cannot), a model trained on the log.
    pub fn load(registry: &Registry, id: &str) -> Result<Self> {
        let (manifest, artefact) = registry.load(id)?;
        let ModelArtefact::Task(model) = artefact else {
            return Err(Error::InvalidArgument(format!(
                "model {} reads `{}` features (a feature file's columns); the search pipeline ranks with models trained on the log (`hyrank train --log`)",
                manifest.id, manifest.features.source
            )));
        };
        let f = &manifest.features;
        let columns =
            features::projection(&f.source, f.version, &f.names).map_err(|e| match e {
                Error::InvalidArgument(m) => {
                    Error::InvalidArgument(format!("model {}: {m}", manifest.id))
                }
                other => other,
            })?;
        if model.feature_names != f.names {
            return Err(Error::Model {
                path: registry.root().to_path_buf(),
                message: format!(
                    "model {}: its artefact and manifest name different features",
                    manifest.id
                ),
            });
        }
        let means = if f.stats.len() == columns.len() {
            f.stats.iter().map(|s| s.mean as f32).collect()
        } else {
            vec![0.0; columns.len()]
        };
        Ok(Self {
            id: manifest.id,
            model,
            columns,
            means,
        })
    }

    /// The model's view of full feature rows.
    pub fn project(&self, x: &FeatureMatrix) -> Result<FeatureMatrix> {
        features::project(x, &self.columns)
    }

    /// The largest contributions to row `r`'s score: for each feature, the
    /// score minus the score with that feature at its training mean
    /// (occlusion; exact for logistic regression's logit, an approximation
    /// of attribution for trees and the network). Largest magnitude first.
    pub fn contributions(
        &self,
        x: &FeatureMatrix,
        r: usize,
        top: usize,
    ) -> Result<Vec<Contribution>> {
        let row = x.row(r);
        let mut probes = FeatureMatrix::with_cols(x.cols());
        probes.push_row(row)?;
        for (j, m) in self.means.iter().enumerate() {
            let mut v = row.to_vec();
            v[j] = *m;
            probes.push_row(&v)?;
        }
        let s = self.model.predict(&probes)?;
        let mut out: Vec<Contribution> = (0..x.cols())
            .map(|j| Contribution {
                feature: self.model.feature_names[j].clone(),
                value: row[j],
                contribution: s[0].score - s[j + 1].score,
            })
            .filter(|c| c.contribution != 0.0)
            .collect();
        out.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        out.truncate(top);
        Ok(out)
    }
}

impl RankStage {
    /// The re-rank layer over the model's `order`: near-duplicates out,
    /// then MMR over what is left.
    fn rerank_layer(
        &self,
        index: &SearchIndex,
        products: &ProductTable,
        docs: &[DocId],
        pred: &[TaskScores],
        mut order: Vec<usize>,
    ) -> Result<Vec<usize>> {
        let empty: &[f32] = &[];
        let embeddings: Vec<&[f32]> = docs
            .iter()
            .map(|d| {
                index
                    .vectors
                    .as_ref()
                    .and_then(|v| v.row_of(d).map(|r| v.vector(r)))
                    .unwrap_or(empty)
            })
            .collect();
        if let Some(threshold) = self.rerank.dedupe {
            let keys: Vec<Option<String>> = docs
                .iter()
                .map(|d| products.listing_key(d).map(str::to_owned))
                .collect();
            order = crate::rerank::remove_near_duplicates(&order, &keys, &embeddings, threshold).0;
        }
        if let Some(lambda) = self.rerank.mmr_lambda {
            let scores: Vec<f64> = order.iter().map(|&i| pred[i].score).collect();
            let embs: Vec<&[f32]> = order.iter().map(|&i| embeddings[i]).collect();
            let picked = crate::rerank::mmr(&scores, &embs, lambda, order.len())?;
            order = picked.into_iter().map(|j| order[j]).collect();
        }
        Ok(order)
    }
}

/// One feature's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// The feature.
    pub feature: String,
    /// Its value for this candidate.
    pub value: f32,
    /// Score minus the score with the feature at its training mean.
    pub contribution: f64,
}

/// What the model said of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRanking {
    /// P(click), where the model predicts it.
    pub p_click: Option<f64>,
    /// P(click ∧ purchase), where the model predicts it.
    pub p_purchase: Option<f64>,
    /// The final score the page is ordered by.
    pub score: f64,
    /// Its 1-based rank before the model.
    pub retrieval_rank: u32,
    /// With explain: the largest feature contributions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributions: Vec<Contribution>,
    /// When the hit is an ad: its campaign, bid and auction score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sponsored: Option<crate::sponsored::SponsoredHit>,
}

/// The re-rank layer applied after the model, each step optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RerankOptions {
    /// Remove near-duplicate listings: the same brand and title (folded), or
    /// embeddings at cosine at least this.
    pub dedupe: Option<f64>,
    /// Maximal marginal relevance over the embeddings with this λ (1 keeps
    /// the model's order).
    pub mmr_lambda: Option<f64>,
    /// Sponsored slots, filled last (after duplicates and MMR) so that the
    /// organic order those steps made is kept everywhere else.
    pub sponsored: Option<crate::sponsored::SponsoredSlots>,
}

/// The model stage: a model, the catalogue it reads, the interaction
/// history (updated online while it serves), and how many candidates it scores.
#[derive(Debug)]
pub struct RankStage {
    model: RwLock<Arc<RankingModel>>,
    products: RwLock<Arc<ProductTable>>,
    store: Arc<RwLock<FeatureStore>>,
    depth: usize,
    as_of: Option<Timestamp>,
    rerank: RerankOptions,
}

impl RankStage {
    /// A stage over `model`; `products` from the index's catalogue, `store`
    /// the history, `depth` candidates scored per query.
    pub fn new(
        model: RankingModel,
        products: Arc<ProductTable>,
        store: Arc<RwLock<FeatureStore>>,
        depth: usize,
    ) -> Result<Self> {
        if depth == 0 || depth > MAX_RERANK_DEPTH {
            return Err(Error::InvalidArgument(format!(
                "rerank depth must be 1 to {MAX_RERANK_DEPTH}"
            )));
        }
        Ok(Self {
            model: RwLock::new(Arc::new(model)),
            products: RwLock::new(products),
            store,
            depth,
            as_of: None,
            rerank: RerankOptions::default(),
        })
    }

    /// The stage with the re-rank layer's steps.
    pub fn with_rerank(mut self, rerank: RerankOptions) -> Result<Self> {
        if let Some(l) = rerank.mmr_lambda {
            if !(0.0..=1.0).contains(&l) {
                return Err(Error::InvalidArgument(format!(
                    "mmr lambda {l} is not in [0, 1]"
                )));
            }
        }
        if let Some(t) = rerank.dedupe {
            if !(t > 0.0 && t <= 1.0) {
                return Err(Error::InvalidArgument(format!(
                    "dedupe threshold {t} is not in (0, 1]"
                )));
            }
        }
        self.rerank = rerank;
        Ok(self)
    }

    /// A stage like this one (catalogue, history, depth, re-rank steps)
    /// over another model: a challenger served beside the champion, both
    /// reading the same interaction history.
    pub fn sibling(&self, model: RankingModel) -> Self {
        Self {
            model: RwLock::new(Arc::new(model)),
            products: RwLock::new(Arc::clone(
                &self.products.read().unwrap_or_else(PoisonError::into_inner),
            )),
            store: Arc::clone(&self.store),
            depth: self.depth,
            as_of: self.as_of,
            rerank: self.rerank.clone(),
        }
    }

    /// Features computed as of a fixed time instead of the request's
    /// (replaying a past log, or evaluating as of the end of one).
    pub fn with_as_of(mut self, at: Option<Timestamp>) -> Self {
        self.as_of = at;
        self
    }

    /// The fixed time features are computed as of, if any.
    pub fn as_of(&self) -> Option<Timestamp> {
        self.as_of
    }

    /// The model serving now (a request keeps the one it started with).
    pub fn model(&self) -> Arc<RankingModel> {
        Arc::clone(&self.model.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in another model; requests in flight finish with the old one.
    pub fn swap(&self, model: RankingModel) {
        *self.model.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(model);
    }

    /// Swaps in the catalogue of a new index generation.
    pub fn swap_products(&self, products: Arc<ProductTable>) {
        *self
            .products
            .write()
            .unwrap_or_else(PoisonError::into_inner) = products;
    }

    /// The history the features read.
    pub fn store(&self) -> &Arc<RwLock<FeatureStore>> {
        &self.store
    }

    /// Candidates scored per query.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Scores `docs` (retrieval order) for `query` at time `at`: the new
    /// order (indices into `docs`; with sponsored slots, the page of
    /// `page_len`, else every candidate) and what the model said of each,
    /// with contributions for the first `explain` of the new order.
    #[allow(clippy::too_many_arguments)]
    pub fn rank(
        &self,
        index: &SearchIndex,
        fields: Option<&FieldBoosts>,
        query: &str,
        at: Timestamp,
        docs: &[DocId],
        explain: usize,
        page_len: usize,
    ) -> Result<(Arc<RankingModel>, Vec<usize>, Vec<HitRanking>)> {
        let model = self.model();
        let scores = index.score_products(query, docs, fields)?;
        let products = Arc::clone(&self.products.read().unwrap_or_else(PoisonError::into_inner));
        let x = {
            let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
            features::extract(query, at, docs, &scores, &products, &store)?
        };
        let x = model.project(&x)?;
        let pred: Vec<TaskScores> = model.model.predict(&x)?;
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by(|&a, &b| pred[b].score.total_cmp(&pred[a].score).then(a.cmp(&b)));
        if self.rerank.dedupe.is_some() || self.rerank.mmr_lambda.is_some() {
            order = self.rerank_layer(index, &products, docs, &pred, order)?;
        }
        let mut out: Vec<HitRanking> = pred
            .iter()
            .enumerate()
            .map(|(i, p)| HitRanking {
                p_click: p.p_click,
                p_purchase: p.p_purchase,
                score: p.score,
                retrieval_rank: i as u32 + 1,
                contributions: Vec::new(),
                sponsored: None,
            })
            .collect();
        if let Some(slots) = &self.rerank.sponsored {
            let p_click: Vec<f64> = pred.iter().map(|p| p.p_click.unwrap_or(0.0)).collect();
            let (page, ads) = slots.place(query, docs, &p_click, &order, page_len)?;
            order = page;
            for (i, hit) in ads {
                out[i].sponsored = Some(hit);
            }
        }
        for &i in order.iter().take(explain) {
            out[i].contributions = model.contributions(&x, i, 5)?;
        }
        Ok((model, order, out))
    }
}
