//! `hyrank train --log` (rankers from the interaction log) and `hyrank
//! features` (the training rows, for inspection or training elsewhere).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use hyrank_data::log::LogReader;
use hyrank_data::{InteractionEvent, Timestamp};
use hyrank_index::SearchIndex;
use hyrank_ranker::features::{self, FeatureStore, ProductTable};
use hyrank_ranker::registry::{NewVersion, Registry};
use hyrank_ranker::task::FinalScore;
use hyrank_ranker::ModelArtefact;
use hyrank_training::logset::{build_rows, impression_span, LogRows, Window};
use hyrank_training::logtrain::{train_from_log, LogModel, LogTrainParams, LogTrainReport};

use super::data::progress_bar;

/// `2026-01-20` (midnight UTC) or an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Result<Timestamp> {
    let b = s.trim();
    if b.len() == 10 && b.as_bytes()[4] == b'-' && b.as_bytes()[7] == b'-' {
        return Timestamp::parse_rfc3339(&format!("{b}T00:00:00Z")).map_err(anyhow::Error::msg);
    }
    Timestamp::parse_rfc3339(b).map_err(anyhow::Error::msg)
}

/// Everything the log trainers read: the events, the store over them, the
/// index and the product table.
pub struct LogInputs {
    pub events: Vec<InteractionEvent>,
    pub store: FeatureStore,
    pub index: SearchIndex,
    pub products: ProductTable,
}

/// Every event of a log, in time order.
pub fn read_log_sorted(log: &Path) -> Result<Vec<InteractionEvent>> {
    let mut events = LogReader::read_all(log)?;
    events.sort_by_key(|e| e.timestamp());
    Ok(events)
}

/// Opens an index with its encoder when it has vectors (the cosine features need it).
pub fn open_for_features(index: &Path, model: Option<&Path>) -> Result<SearchIndex> {
    let encoder = match hyrank_index::Manifest::read(index)?.model_id {
        Some(_) => Some(super::search::load_encoder(model, 64)?),
        None => None,
    };
    Ok(hyrank_index::OpenOptions::new()
        .encoder(encoder)
        .open(index)?)
}

/// Opens the index with its encoder (cosine features need it) and reads the log.
pub fn load_inputs(log: &Path, index: &Path, model: Option<&Path>) -> Result<LogInputs> {
    let events = read_log_sorted(log)?;
    if events.is_empty() {
        bail!("{}: the log holds no events", log.display());
    }
    let index = open_for_features(index, model)?;
    let products = ProductTable::new(&index.products()?);
    let store = FeatureStore::from_events_for(&products, &events);
    Ok(LogInputs {
        events,
        store,
        index,
        products,
    })
}

fn rows(inp: &LogInputs, window: Window, label: &str) -> Result<LogRows> {
    let bar = progress_bar();
    let r = build_rows(
        &inp.events,
        window,
        &inp.index,
        &inp.products,
        &inp.store,
        &|stage, done, total| {
            bar.set_prefix(format!("{label} {stage}"));
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    Ok(r)
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RowFormat {
    /// One row per shown product with request, time, query, product,
    /// position, the labels click / add_to_cart / purchase and every feature.
    Parquet,
    /// LETOR rows: grade (3 purchase, 2 add-to-cart, 1 click, 0), `qid:` the
    /// impression, features 1..=N, `# request doc position` as the comment.
    Letor,
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// The interaction log folder.
    #[arg(long)]
    pub log: PathBuf,
    /// The index (its stored catalogue and retrievers give the features).
    #[arg(long)]
    pub index: PathBuf,
    /// Where the rows go (written crash-safely).
    #[arg(long)]
    pub out: PathBuf,
    /// Impressions from this time (2026-01-20 or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Impressions before this time; labels known before it.
    #[arg(long)]
    pub until: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: RowFormat,
    /// The model folder (for the cosine features of an index with vectors).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn run_features(a: FeaturesArgs) -> Result<()> {
    let inp = load_inputs(&a.log, &a.index, a.model.as_deref())?;
    let window = Window {
        from: a.from.as_deref().map(parse_time).transpose()?,
        until: a.until.as_deref().map(parse_time).transpose()?,
    };
    let r = rows(&inp, window, "rows")?;
    match a.format {
        RowFormat::Parquet => hyrank_data::parquet_io::write_table(&a.out, r.columns())?,
        RowFormat::Letor => {
            let grades = r.grades();
            let mut out = Vec::with_capacity(r.len());
            for g in 0..r.impressions() {
                for (i, &label) in grades
                    .iter()
                    .enumerate()
                    .take(r.groups[g + 1])
                    .skip(r.groups[g])
                {
                    out.push(hyrank_data::formats::letor::LetorRow {
                        label,
                        qid: Some((g + 1).to_string()),
                        features: r
                            .x
                            .row(i)
                            .iter()
                            .enumerate()
                            .map(|(j, v)| (j as u32 + 1, *v))
                            .collect(),
                        comment: Some(format!(
                            "{} {} {}",
                            r.requests[g], r.docs[i], r.positions[i]
                        )),
                    });
                }
            }
            hyrank_data::formats::letor::write_letor(&a.out, &out)?;
        }
    }
    println!(
        "wrote {} rows of {} impressions, {} features ({} v{}) to {}",
        r.len(),
        r.impressions(),
        features::NUM_FEATURES,
        features::FEATURE_SET,
        features::FEATURE_VERSION,
        a.out.display()
    );
    Ok(())
}

/// The log-training flags of `hyrank train`.
#[derive(Debug, Args)]
pub struct LogTrainArgs {
    /// Train on this interaction log (with --index); the model comes from
    /// --model lr, lambdamart or mtl.
    #[arg(long, requires = "index", conflicts_with = "train")]
    pub log: Option<PathBuf>,
    /// The index whose catalogue and retrievers give the features.
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Training impressions are those before this time [default: 80 % into the log].
    #[arg(long)]
    pub train_until: Option<String>,
    /// Validation impressions are from --train-until to this time [default: the log's end].
    #[arg(long)]
    pub validate_until: Option<String>,
    /// What the probabilistic models rank by: p_click, p_purchase,
    /// expected_revenue or blend:W_CLICK,W_PURCHASE [default: p_purchase].
    #[arg(long)]
    pub final_score: Option<String>,
    /// The sentence-embedding model folder (cosine features).
    #[arg(long = "embedding-model")]
    pub embedding_model: Option<PathBuf>,
    /// Train LambdaMART on these judgments (TREC qrels) instead of a log,
    /// with --queries and --index, as OpenSearch LTR does.
    #[arg(long, requires_all = ["queries", "index"], conflicts_with_all = ["log", "train"])]
    pub qrels: Option<PathBuf>,
    /// The judged queries (`id<TAB>text` or JSONL).
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Share of the judged queries held out for validation (early stopping
    /// and the report), chosen by a seeded hash of the query id.
    #[arg(long, default_value_t = 0.2)]
    pub valid_fraction: f64,
    /// Seed of the held-out split.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// With --qrels: what a retrieved candidate without a judgment is.
    /// `drop` (default) trains on the judged pairs only, as LETOR sets and
    /// OpenSearch LTR's judgment lists do; `zero` keeps it as irrelevant
    /// (right only when the judgments are complete: with pooled ones it
    /// teaches the model which products were judged).
    #[arg(long, value_enum, default_value = "drop")]
    pub unjudged: Unjudged,

    /// Candidates retrieved per judged query (the re-rank depth to train for).
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Write the held-out queries here (TSV), to evaluate runs on them.
    #[arg(long)]
    pub holdout_out: Option<PathBuf>,
    /// With --qrels: the log whose history the behavioural features read,
    /// as of just after its last event.
    #[arg(long)]
    pub history: Option<PathBuf>,
}

/// The windows: explicit, or the first 80 % of the log's impression span
/// for training and the rest for validation.
fn windows(events: &[InteractionEvent], a: &LogTrainArgs) -> Result<(Window, Window)> {
    let (first, last) = impression_span(events).context("the log holds no impressions")?;
    let split = match &a.train_until {
        Some(t) => parse_time(t)?,
        None => Timestamp(first.0 + (last.0 - first.0) * 4 / 5),
    };
    let end = match &a.validate_until {
        Some(t) => parse_time(t)?,
        None => Timestamp(last.0 + 1),
    };
    if end <= split {
        bail!("--validate-until must be after --train-until");
    }
    Ok((
        Window {
            from: None,
            until: Some(split),
        },
        Window {
            from: Some(split),
            until: Some(end),
        },
    ))
}

/// Trains `model` on the log; `config` is a JSON `LogTrainParams`.
pub fn run_train_log(t: &super::train::TrainArgs, model: LogModel) -> Result<()> {
    let (a, config, registry, id, reason, out, json) = (
        &t.log,
        t.config.as_deref(),
        t.registry.as_deref(),
        t.id.clone(),
        t.reason.as_str(),
        t.out.as_deref(),
        t.json,
    );
    let log = a.log.as_deref().expect("called with --log");
    let index = a.index.as_deref().context("--log needs --index")?;
    let mut params = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            hyrank_data::formats::parse_json::<LogTrainParams>(
                &text,
                hyrank_data::Location::new(path, 1),
            )?
        }
        None => LogTrainParams::default(),
    };
    if let Some(s) = &a.final_score {
        params.final_score = FinalScore::parse(s)?;
    }
    let inp = load_inputs(log, index, a.embedding_model.as_deref())?;
    let (tw, vw) = windows(&inp.events, a)?;
    let train = rows(&inp, tw, "train")?;
    let valid = rows(&inp, vw, "valid")?;
    let bar = progress_bar();
    bar.set_prefix(model.name());
    let (ranker, report) = train_from_log(model, &train, &valid, &params, &mut |s| {
        bar.set_length(s.of as u64);
        bar.set_position(s.index as u64);
        if let Some(v) = s.valid {
            bar.set_message(format!("{} {} valid {v:.5}", s.unit, s.index));
        }
    })?;
    bar.finish_and_clear();
    let artefact = ModelArtefact::Task(ranker);
    if let Some(o) = out {
        artefact.save(o)?;
    }
    let registered = match registry {
        Some(dir) => {
            let reg = Registry::open(dir)?;
            let files = serde_json::json!([{
                "role": "log", "path": log, "events": inp.events.len(),
            }]);
            let m = reg.register(
                NewVersion {
                    id,
                    model: artefact,
                    features: features::schema(&train.x),
                    training: serde_json::json!({
                        "format": "log",
                        "files": files,
                        "index": index,
                        "index_generation": inp.index.manifest.generation,
                        "train_window": {"until": tw.until},
                        "validation_window": {"from": vw.from, "until": vw.until},
                        "train_rows": report.train_rows,
                        "valid_rows": report.valid_rows,
                        "params": params,
                    }),
                    metrics: report
                        .metrics
                        .iter()
                        .map(|(k, v)| (format!("valid_{k}"), *v))
                        .collect(),
                },
                reason,
            )?;
            Some((dir.to_path_buf(), m.id))
        }
        None => None,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_report(&report);
    if let Some(o) = out {
        println!("wrote {}", o.display());
    }
    if let Some((dir, id)) = registered {
        println!("registered as {id} in {}", dir.display());
    }
    Ok(())
}

fn print_report(r: &LogTrainReport) {
    println!(
        "trained {} on {} rows ({} impressions) in {:.1} s; validated on {} rows ({} impressions)",
        r.model.name(),
        r.train_rows,
        r.train_impressions,
        r.train_seconds,
        r.valid_rows,
        r.valid_impressions
    );
    if let Some(last) = r.steps.last() {
        println!("  {} {} of {}", last.unit, last.index, last.of);
    }
    for (k, v) in &r.metrics {
        println!("  {k:<18} {v:.4}");
    }
    if let Some(c) = &r.calibration_purchase {
        println!("  reliability of p_purchase by decile (predicted → observed):");
        let cells: Vec<String> = c
            .bins
            .iter()
            .map(|b| format!("{:.4}→{:.4}", b.mean_predicted, b.observed))
            .collect();
        println!("    {}", cells.join("  "));
    }
    if !r.coefficients.is_empty() {
        let mut c: Vec<&(String, f64, f64)> = r.coefficients.iter().skip(1).collect();
        c.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
        println!("  largest purchase coefficients (raw scale; click beside):");
        for (n, click, buy) in c.into_iter().take(8) {
            println!("    {n:<28} {buy:+.4}  (click {click:+.4})");
        }
    }
}

/// `hyrank train --qrels R --queries Q --index DIR`: LambdaMART on judgments.
pub fn run_train_judgments(t: &super::train::TrainArgs) -> Result<()> {
    use hyrank_training::judgments::{
        is_validation, judged_rows, subset, train_on_judgments, EarlyStopping, JudgedOptions,
    };
    let a = &t.log;
    let qrels_path = a.qrels.as_deref().expect("called with --qrels");
    let index_dir = a.index.as_deref().context("--qrels needs --index")?;
    if !(a.valid_fraction > 0.0 && a.valid_fraction < 1.0) {
        bail!(
            "--valid-fraction must be between 0 and 1, got {}",
            a.valid_fraction
        );
    }
    let queries = hyrank_data::formats::ndjson::read_queries(
        a.queries.as_deref().context("--qrels needs --queries")?,
    )?;
    let qrels = hyrank_data::formats::trec::read_qrels(qrels_path)?;
    let index = std::sync::Arc::new(open_for_features(index_dir, a.embedding_model.as_deref())?);
    let products = ProductTable::new(&index.products()?);
    let (store, at) = match &a.history {
        Some(log) => {
            let events = read_log_sorted(log)?;
            let at = events
                .last()
                .map_or(Timestamp(0), |e| Timestamp(e.timestamp().0 + 1));
            (FeatureStore::from_events_for(&products, &events), at)
        }
        None => (FeatureStore::for_catalogue(&products), Timestamp(0)),
    };
    let config = hyrank_index::SearchConfig {
        mode: if index.vectors.is_some() && index.encoder.is_some() {
            hyrank_index::Mode::Hybrid
        } else {
            hyrank_index::Mode::Bm25
        },
        k: a.depth,
        ..hyrank_index::SearchConfig::default()
    };
    let pipeline = hyrank_ranker::Pipeline::new(std::sync::Arc::clone(&index));
    let bar = progress_bar();
    bar.set_prefix("features");
    bar.set_length(queries.len() as u64);
    let rows = judged_rows(
        &pipeline,
        &queries,
        &qrels,
        &products,
        &store,
        &JudgedOptions {
            config,
            add_judged: true,
            drop_unjudged: a.unjudged == Unjudged::Drop,
            at,
        },
        &|done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let valid_q = |q: &hyrank_data::QueryId| is_validation(q, a.valid_fraction, a.split_seed);
    // Early stopping is off unless asked for (as in LightGBM): on judged
    // pairs the retrieval order is already near the oracle's (nDCG@10
    // about 0.99 on the demo world), so the watched nDCG stops improving
    // after a dozen trees whatever the model learns (ADR 0018). When asked
    // for, it watches an eighth of the training queries, so that the
    // held-out queries the report (and `--holdout-out`) gives are untouched.
    let rounds = t.early_stopping_rounds.filter(|&n| n > 0);
    let stop_q = |q: &hyrank_data::QueryId| {
        rounds.is_some() && !valid_q(q) && is_validation(q, 0.125, a.split_seed ^ 0x5707)
    };
    let train = subset(&rows, &|q| !valid_q(q) && !stop_q(q))?;
    let stop = match rounds {
        Some(_) => Some(subset(&rows, &stop_q)?),
        None => None,
    };
    let valid = subset(&rows, &valid_q)?;
    let params = super::train::params(t)?;
    let bar = progress_bar();
    bar.set_prefix("lambdamart");
    let (ranker, report) = train_on_judgments(
        &train,
        stop.as_ref()
            .zip(rounds)
            .map(|(queries, rounds)| EarlyStopping { queries, rounds }),
        &valid,
        &params,
        &mut |i, of, v| {
            bar.set_length(of as u64);
            bar.set_position(i as u64);
            if v.is_finite() {
                bar.set_message(format!("early-stopping ndcg@10 {v:.4}"));
            }
        },
    )?;
    bar.finish_and_clear();
    if let Some(path) = &a.holdout_out {
        let held: Vec<hyrank_data::Query> = queries
            .iter()
            .filter(|q| valid.queries.contains(&q.id))
            .cloned()
            .collect();
        hyrank_data::formats::ndjson::write_queries_tsv(path, &held)?;
    }
    let artefact = ModelArtefact::Task(ranker);
    if let Some(o) = &t.out {
        artefact.save(o)?;
    }
    let registered = match &t.registry {
        Some(dir) => {
            let reg = Registry::open(dir)?;
            let m = reg.register(
                NewVersion {
                    id: t.id.clone(),
                    model: artefact,
                    features: features::schema(&train.data.x),
                    training: serde_json::json!({
                        "format": "judgments",
                        "files": [
                            {"role": "qrels", "path": qrels_path, "sha256": hyrank_index::model::sha256_file(qrels_path)?},
                        ],
                        "index": index_dir,
                        "index_generation": index.manifest.generation,
                        "depth": a.depth,
                        "unjudged": format!("{:?}", a.unjudged).to_lowercase(),
                        "early_stopping_rounds": rounds,
                        "valid_fraction": a.valid_fraction,
                        "split_seed": a.split_seed,
                        "train_queries": report.train_queries,
                        "valid_queries": report.valid_queries,
                    }),
                    metrics: std::collections::BTreeMap::from([
                        ("valid_ndcg@10".to_owned(), report.valid_ndcg10_model),
                        ("valid_ndcg@10_retrieval".to_owned(), report.valid_ndcg10_retrieval),
                        ("valid_ndcg@10_oracle".to_owned(), report.valid_ndcg10_oracle),
                    ]),
                },
                &t.reason,
            )?;
            Some((dir.clone(), m.id))
        }
        None => None,
    };
    if t.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "trained lambdamart on {} judged queries ({} rows), {} trees{}; {} held-out queries, nDCG@10 (exponential gain) over the retrieved candidates:",
        report.train_queries,
        report.train_rows,
        report.trees,
        if report.stop_queries > 0 {
            format!(" (early stopping on {} more)", report.stop_queries)
        } else {
            String::new()
        },
        report.valid_queries
    );
    println!(
        "  retrieval {:.4}  model {:.4}  oracle {:.4}",
        report.valid_ndcg10_retrieval, report.valid_ndcg10_model, report.valid_ndcg10_oracle
    );
    if let Some(o) = &t.out {
        println!("wrote {}", o.display());
    }
    if let Some((dir, id)) = registered {
        println!("registered as {id} in {}", dir.display());
    }
    Ok(())
}

/// `--unjudged`: what a retrieved candidate without a judgment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unjudged {
    /// Left out of training and of the report's candidates.
    Drop,
    /// Irrelevant (grade 0).
    Zero,
}
