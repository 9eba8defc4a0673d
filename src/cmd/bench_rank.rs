//! `hyrank bench rank`: the ranking goals of issue 14 measured on a world's
//! log: building features by replaying it, training each model, and scoring
//! 1,000 candidates with features on one thread.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use hyrank_data::DocId;
use hyrank_ranker::features;
use hyrank_ranker::task::TaskRanker;
use hyrank_training::logset::{build_rows, Window};
use hyrank_training::logtrain::{train_from_log, LogModel, LogTrainParams};

use super::bench::{machine, peak_rss_mib};
use super::train_log::load_inputs;

#[derive(Debug, clap::Args)]
pub struct RankBenchArgs {
    /// The interaction log.
    #[arg(long)]
    pub log: PathBuf,
    /// The index of the world's catalogue.
    #[arg(long)]
    pub index: PathBuf,
    /// Models to train and time (lr, lambdamart, mtl).
    #[arg(long, value_delimiter = ',', default_value = "lr,lambdamart,mtl")]
    pub models: Vec<String>,
    /// Candidates scored per query in the scoring measurement.
    #[arg(long, default_value_t = 1000)]
    pub candidates: usize,
    /// Scoring repetitions (the median is reported).
    #[arg(long, default_value_t = 50)]
    pub repeat: usize,
    /// The sentence-embedding model folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// One JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn bench_rank(a: &RankBenchArgs) -> Result<()> {
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let inp = load_inputs(&a.log, &a.index, a.model_dir.as_deref())?;
    let load_s = t.elapsed().as_secs_f64();
    let (first, last) =
        hyrank_training::logset::impression_span(&inp.events).context("no impressions")?;
    let split = hyrank_data::Timestamp(first.0 + (last.0 - first.0) * 4 / 5);
    let t = Instant::now();
    let quiet = |_: &str, _: usize, _: usize| {};
    let train = build_rows(
        &inp.events,
        Window {
            from: None,
            until: Some(split),
        },
        &inp.index,
        &inp.products,
        &inp.store,
        &quiet,
    )?;
    let valid = build_rows(
        &inp.events,
        Window {
            from: Some(split),
            until: None,
        },
        &inp.index,
        &inp.products,
        &inp.store,
        &quiet,
    )?;
    let features_s = t.elapsed().as_secs_f64();
    let rss_features = peak_rss_mib();
    let mut models: Vec<(String, f64, TaskRanker)> = Vec::new();
    for m in &a.models {
        let model = LogModel::parse(m)?;
        let t = Instant::now();
        let (ranker, _) = train_from_log(
            model,
            &train,
            &valid,
            &LogTrainParams::default(),
            &mut |_| {},
        )?;
        models.push((m.clone(), t.elapsed().as_secs_f64(), ranker));
    }
    // Scoring: one query, `candidates` products of the catalogue, one thread.
    let query = valid
        .queries
        .first()
        .or(train.queries.first())
        .context("no impressions")?
        .clone();
    let docs: Vec<DocId> = inp
        .index
        .products()?
        .into_iter()
        .take(a.candidates)
        .map(|p| p.id)
        .collect();
    let scores = inp.index.score_products(&query, &docs, None)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (features_us, x) =
        pool.install(|| -> Result<(f64, hyrank_ranker::gbdt::FeatureMatrix)> {
            let mut times = Vec::new();
            let mut x = None;
            for _ in 0..a.repeat.max(1) {
                let t = Instant::now();
                x = Some(features::extract(
                    &query,
                    last,
                    &docs,
                    &scores,
                    &inp.products,
                    &inp.store,
                )?);
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Ok((median(times), x.expect("at least one repetition")))
        })?;
    let mut scoring = Vec::new();
    for (name, _, ranker) in &models {
        let us = pool.install(|| -> Result<f64> {
            let mut times = Vec::new();
            for _ in 0..a.repeat.max(1) {
                let t = Instant::now();
                std::hint::black_box(ranker.predict(&x)?);
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Ok(median(times))
        })?;
        scoring.push((name.clone(), us));
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let report = serde_json::json!({
        "machine": machine(),
        "profile": profile,
        "threads": threads,
        "events": inp.events.len(),
        "products": inp.products.len(),
        "train_rows": train.len(),
        "valid_rows": valid.len(),
        "load_seconds": load_s,
        "features_seconds": features_s,
        "peak_rss_mib_after_features": rss_features,
        "train_seconds": models.iter().map(|(n, s, _)| (n.clone(), *s)).collect::<std::collections::BTreeMap<_, _>>(),
        "candidates": docs.len(),
        "features_us_per_query": features_us,
        "score_us": scoring.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "peak_rss_mib": peak_rss_mib(),
    });
    if a.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "bench rank ({profile} build, {threads} threads, {})",
        machine()
    );
    println!(
        "  log: {} events, {} products; {} training rows, {} validation rows",
        inp.events.len(),
        inp.products.len(),
        train.len(),
        valid.len()
    );
    println!("  read log + index + store   {load_s:.1} s");
    println!(
        "  features (replay, all impressions) {features_s:.1} s; peak RSS {:.0} MiB",
        rss_features.unwrap_or(0.0)
    );
    for (n, s, _) in &models {
        println!("  train {n:<11} {s:.1} s");
    }
    println!(
        "  {} candidates, one thread: features {:.0} µs",
        docs.len(),
        features_us
    );
    for (n, us) in &scoring {
        println!("    score {n:<11} {us:.0} µs");
    }
    println!("  peak RSS {:.0} MiB", peak_rss_mib().unwrap_or(0.0));
    Ok(())
}
