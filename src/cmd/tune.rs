//! `hyrank tune`: retrieval tuned on judgments, with cross-validated numbers.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use hyrank_data::formats::ndjson::read_queries;
use hyrank_data::formats::trec::read_qrels;
use hyrank_eval::{Gain, Measure};
use hyrank_index::Mode;
use hyrank_training::{tune, TuneOptions};

use super::config_args::ConfigArgs;
use super::data::progress_bar;
use super::search::open_index;

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// Queries (`id<TAB>text` or JSONL).
    #[arg(long)]
    pub queries: PathBuf,
    /// Judgments (TREC qrels).
    #[arg(long)]
    pub qrels: PathBuf,
    /// Where the tuned config goes (JSON; read by `search`, `serve` and
    /// `tune` with --config): the mode that does best held out.
    #[arg(long)]
    pub out: PathBuf,
    /// Also store it as the index's default (`INDEX/search.json`).
    #[arg(long)]
    pub store: bool,
    /// Folds of the cross-validation over queries.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Seed of the split into folds.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The measure to maximise (trec_eval names).
    #[arg(long, default_value = "ndcg_cut_10")]
    pub metric: String,
    /// Gain of the nDCG family: linear (trec_eval), exponential, esci, or G=V,...
    #[arg(long, default_value = "linear")]
    pub gain: String,
    /// The modes to tune (dense and hybrid need an index with vectors).
    #[arg(long, value_delimiter = ',', default_value = "bm25,dense,hybrid")]
    pub modes: Vec<super::config_args::ModeArg>,
    /// Results per query in the runs scored.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// The default to start from and compare with.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Write the whole report (every fold) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

pub fn run(a: TuneArgs) -> Result<()> {
    let base = a.config.resolve(&a.index, None)?;
    let modes: Vec<Mode> = a.modes.iter().map(|&m| m.into()).collect();
    let metric = Measure::parse_list(&a.metric)?
        .into_iter()
        .next()
        .context("--metric names no measure")?;
    let gain: Gain = super::eval::parse_gain(&a.gain)?;
    let opts = TuneOptions {
        folds: a.folds,
        seed: a.seed,
        metric,
        eval: hyrank_eval::EvalOptions {
            gain,
            ..hyrank_eval::EvalOptions::default()
        },
        k: a.k,
        modes: modes.clone(),
    };
    let queries = read_queries(&a.queries)?;
    let qrels = read_qrels(&a.qrels)?;
    let index = open_index(
        &a.index,
        a.model_dir.as_deref(),
        modes.iter().any(|m| *m != Mode::Bm25),
    )?;
    let bar = progress_bar();
    let report = tune(
        &index,
        &queries,
        &qrels,
        &base,
        &opts,
        &|stage, done, total| {
            if bar.prefix() != stage {
                bar.set_prefix(stage.to_owned());
            }
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    print!("{}", report.render());
    for m in &report.modes {
        for (i, f) in m.folds.iter().enumerate() {
            tracing::info!(mode = ?m.mode, fold = i + 1, queries = f.queries, default = f.default, tuned = f.tuned, config = %f.config, "fold");
        }
    }
    let best = report.best().context("no mode was tuned")?;
    best.config.write(&a.out)?;
    println!(
        "wrote the tuned {} config ({} held out, {:+.4} over the default) to {}",
        format!("{:?}", best.mode).to_lowercase(),
        report.metric,
        best.tuned_held_out - best.default,
        a.out.display()
    );
    if a.store {
        let p = a.index.join(hyrank_index::config::INDEX_CONFIG_FILE);
        best.config.write(&p)?;
        println!("stored it as the index's default: {}", p.display());
    }
    if let Some(r) = &a.report {
        hyrank_data::fsio::write_atomic(r, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}
