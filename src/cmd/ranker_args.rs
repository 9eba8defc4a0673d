//! The flags that put a ranking model into `hyrank search` and `hyrank serve`.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use clap::Args;
use hyrank_data::Timestamp;
use hyrank_index::SearchIndex;
use hyrank_ranker::features::{FeatureStore, ProductTable};
use hyrank_ranker::registry::Registry;
use hyrank_ranker::stage::{RankStage, RankingModel, DEFAULT_RERANK_DEPTH};

#[derive(Debug, Args)]
pub struct RankerArgs {
    /// Rank with a model of this registry (trained by `hyrank train --log`).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Which version: `champion`, a version id, or `none` (retrieval only).
    #[arg(long, default_value = "champion", requires = "registry")]
    pub ranker: String,
    /// Candidates the model scores per query (then cut to k).
    #[arg(long, default_value_t = DEFAULT_RERANK_DEPTH, requires = "registry")]
    pub rerank_depth: usize,
    /// The interaction log whose history the behavioural features read
    /// (without it they sit at their priors, as for a new shop).
    #[arg(long = "history", requires = "registry")]
    pub history: Option<PathBuf>,
    /// Compute features as of this time instead of each request's:
    /// `history-end` (just after the last event of --history), a date
    /// (2026-01-31) or an RFC 3339 time. For replaying or evaluating on a
    /// past log, such as the demo world's.
    #[arg(long, requires = "registry")]
    pub as_of: Option<String>,
    /// Re-rank layer: drop near-duplicate listings (same brand and title, or
    /// embeddings at cosine at least THRESHOLD).
    #[arg(long, requires = "registry", num_args = 0..=1, default_missing_value = "0.97")]
    pub dedupe: Option<f64>,
    /// Re-rank layer: maximal marginal relevance with this λ (1 = the model's order).
    #[arg(long, requires = "registry")]
    pub mmr_lambda: Option<f64>,
    /// Re-rank layer, last step: sponsored products from this campaign file
    /// (JSON Lines: campaign, doc, bid, keywords; docs/ranking.md) at
    /// --sponsored-positions, the organic order kept everywhere else.
    #[arg(long, requires = "registry")]
    pub sponsored: Option<PathBuf>,
    /// The 1-based positions sponsored products may take.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,5",
        requires = "sponsored"
    )]
    pub sponsored_positions: Vec<usize>,
}

impl RankerArgs {
    /// Whether a model will rank (then the encoder is needed for the cosine features).
    pub fn ranks(&self) -> bool {
        self.registry.is_some() && self.ranker != "none"
    }

    /// The model stage, or `None` without --registry or with `--ranker none`.
    pub fn stage(&self, index: &SearchIndex) -> Result<Option<Arc<RankStage>>> {
        let Some(dir) = self.registry.as_deref().filter(|_| self.ranks()) else {
            return Ok(None);
        };
        let reg = super::model::open_existing(dir)?;
        let model = RankingModel::load(&reg, &self.ranker)
            .with_context(|| format!("loading ranker `{}` from {}", self.ranker, dir.display()))?;
        let products = Arc::new(ProductTable::new(&index.products()?));
        let (store, as_of) =
            history_store(self.history.as_deref(), self.as_of.as_deref(), &products)?;
        let stage = RankStage::new(model, products, store, self.rerank_depth)?;
        let stage = stage
            .with_as_of(as_of)
            .with_rerank(hyrank_ranker::stage::RerankOptions {
                dedupe: self.dedupe,
                mmr_lambda: self.mmr_lambda,
                sponsored: self.sponsored_slots()?,
            })?;
        Ok(Some(Arc::new(stage)))
    }

    /// The sponsored slots of `--sponsored`, if given.
    fn sponsored_slots(&self) -> Result<Option<hyrank_ranker::sponsored::SponsoredSlots>> {
        let Some(path) = &self.sponsored else {
            return Ok(None);
        };
        let campaigns = hyrank_ranker::sponsored::Campaigns::read(path)
            .with_context(|| format!("reading the campaigns of --sponsored {}", path.display()))?;
        Ok(Some(hyrank_ranker::sponsored::SponsoredSlots::new(
            Arc::new(campaigns),
            self.sponsored_positions.clone(),
        )?))
    }

    /// The registry, when one is named.
    pub fn registry(&self) -> Result<Option<Registry>> {
        self.registry
            .as_deref()
            .map(super::model::open_existing)
            .transpose()
    }
}

/// The feature store of `history` (empty without it), counting per
/// attribute value of `products`, and the time features
/// are computed as of: `as_of` (`history-end`, a date or an RFC 3339 time)
/// or, without it, `None` (each request's own time). Notes on stderr when
/// the history ends long before that time.
pub fn history_store(
    history: Option<&std::path::Path>,
    as_of: Option<&str>,
    products: &ProductTable,
) -> Result<(Arc<RwLock<FeatureStore>>, Option<Timestamp>)> {
    let (store, last) = match history {
        Some(log) => {
            let events = super::train_log::read_log_sorted(log)?;
            let last = events.last().map(|e| e.timestamp());
            (FeatureStore::from_events_for(products, &events), last)
        }
        None => (FeatureStore::for_catalogue(products), None),
    };
    let as_of = match as_of {
        None => None,
        Some("history-end") => Some(
            last.map(|t| Timestamp(t.0 + 1))
                .context("--as-of history-end needs --history with events")?,
        ),
        Some(t) => Some(super::train_log::parse_time(t)?),
    };
    let now = as_of.unwrap_or_else(Timestamp::now);
    if let Some(l) = last.filter(|l| now.0 - l.0 > 30 * 86_400_000) {
        eprintln!(
            "note: the history ends {} days before the time features are computed as of: behavioural features sit at their priors (--as-of history-end replays it)",
            (now.0 - l.0) / 86_400_000
        );
    }
    Ok((Arc::new(RwLock::new(store)), as_of))
}
