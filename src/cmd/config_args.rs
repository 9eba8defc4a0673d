//! The search-config flags shared by `hyrank search`, `hyrank serve` and
//! `hyrank tune`: a layer over the base config (`--config FILE`, else the
//! index's stored `search.json`, else the built-in defaults).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use hyrank_index::{ConfigLayer, FieldBoosts, FusionMethod, Normalization, SearchConfig};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    /// BM25 only.
    Bm25,
    /// Sentence embeddings only.
    Dense,
    /// Both, fused.
    Hybrid,
}

impl From<ModeArg> for hyrank_index::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Bm25 => hyrank_index::Mode::Bm25,
            ModeArg::Dense => hyrank_index::Mode::Dense,
            ModeArg::Hybrid => hyrank_index::Mode::Hybrid,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FusionArg {
    /// Reciprocal rank fusion.
    Rrf,
    /// Linear combination of normalised scores.
    Linear,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum NormArg {
    /// Min-max.
    Minmax,
    /// z-score.
    Zscore,
    /// Distribution-based (mean ± 3 sd).
    Dbsf,
}

/// How a search is configured. Every flag is optional: what is not given
/// comes from `--config FILE`, else from the index's stored config, else
/// from the built-in default shown.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// A search config file (JSON, as `hyrank tune` writes) to start from.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Retrieval mode [default: hybrid].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// BM25 field boosts, Elasticsearch style, e.g. `title^2,description^0.5,brand^1.5,category`
    /// (fields left out are not searched) [default: the index's].
    #[arg(long, value_name = "FIELD^BOOST,...")]
    pub fields: Option<String>,
    /// Hybrid fusion [default: rrf].
    #[arg(long, value_enum)]
    pub fusion: Option<FusionArg>,
    /// RRF constant [default: 60].
    #[arg(long)]
    pub rrf_k: Option<f32>,
    /// Normalisation for linear fusion [default: minmax].
    #[arg(long, value_enum)]
    pub norm: Option<NormArg>,
    /// Hybrid weights `BM25,DENSE` [default: 1,1].
    #[arg(long, value_name = "BM25,DENSE")]
    pub weights: Option<String>,
    /// Candidates taken from each retriever before fusion [default: 100].
    #[arg(long)]
    pub depth: Option<usize>,
    /// Filter: category (path prefix or one element).
    #[arg(long)]
    pub category: Option<String>,
    /// Filter: brand.
    #[arg(long)]
    pub brand: Option<String>,
    /// Filter: lowest price.
    #[arg(long)]
    pub min_price: Option<f64>,
    /// Filter: highest price.
    #[arg(long)]
    pub max_price: Option<f64>,
    /// Scan every vector even when the index has an HNSW graph.
    #[arg(long)]
    pub exact: bool,
    /// HNSW candidate list [default: the one stored at build].
    #[arg(long)]
    pub ef_search: Option<usize>,
    /// HNSW level-1 beam [default: the one stored at build; 1 = greedy descent].
    #[arg(long)]
    pub upper_beam: Option<usize>,
}

impl ConfigArgs {
    /// The flags given, as a layer (`k` from the command's own flag).
    pub fn layer(&self, k: Option<usize>) -> Result<ConfigLayer> {
        let weights = match &self.weights {
            None => None,
            Some(w) => {
                let v: Vec<f32> = w
                    .split(',')
                    .map(|x| x.trim().parse::<f32>())
                    .collect::<Result<_, _>>()
                    .context("--weights takes two numbers, e.g. 1,1")?;
                let [b, d] = v[..] else {
                    bail!("--weights takes two numbers, e.g. 1,1")
                };
                Some((b, d))
            }
        };
        if self.ef_search == Some(0) {
            bail!("--ef-search must be > 0");
        }
        if self.upper_beam == Some(0) {
            bail!("--upper-beam must be > 0");
        }
        Ok(ConfigLayer {
            mode: self.mode.map(Into::into),
            k,
            fields: self
                .fields
                .as_deref()
                .map(FieldBoosts::parse)
                .transpose()
                .context("--fields")?,
            fusion: self.fusion.map(|f| match f {
                FusionArg::Rrf => FusionMethod::Rrf,
                FusionArg::Linear => FusionMethod::Linear,
            }),
            rrf_k: self.rrf_k,
            norm: self.norm.map(|n| match n {
                NormArg::Minmax => Normalization::MinMax,
                NormArg::Zscore => Normalization::ZScore,
                NormArg::Dbsf => Normalization::Dbsf,
            }),
            bm25_weight: weights.map(|w| w.0),
            dense_weight: weights.map(|w| w.1),
            depth: self.depth,
            category: self.category.clone(),
            brand: self.brand.clone(),
            min_price: self.min_price,
            max_price: self.max_price,
            exact: self.exact.then_some(true),
            ef_search: self.ef_search,
            upper_beam: self.upper_beam,
        })
    }

    /// The base these flags are a layer over: `--config FILE`, else the
    /// index's stored config, else the built-in defaults.
    pub fn base(&self, index: &Path) -> Result<SearchConfig> {
        Ok(match &self.config {
            Some(f) => SearchConfig::read(f)?,
            None => SearchConfig::of_index(index)?.unwrap_or_default(),
        })
    }

    /// The whole config: the flags over the base, checked.
    pub fn resolve(&self, index: &Path, k: Option<usize>) -> Result<SearchConfig> {
        let c = self.base(index)?.overlay(&self.layer(k)?);
        c.validate()?;
        Ok(c)
    }
}
