//! `hyrank train` and `hyrank predict` on feature files (LETOR / SVMlight),
//! as LightGBM's CLI does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use hyrank_data::formats::letor::write_scores;
use hyrank_index::model::sha256_file;
use hyrank_ranker::gbdt::{GbdtParams, Objective};
use hyrank_ranker::linear::LogisticParams;
use hyrank_ranker::registry::{FeatureSchema, NewVersion, Registry};
use hyrank_ranker::{ModelArtefact, Ranker};
use hyrank_training::{predict_letor, train_letor, train_letor_logistic, LetorTrainOptions};

use super::data::progress_bar;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FeatureFormat {
    /// LETOR / SVMlight rows (`label qid:Q idx:val ...`), groups from `qid:`
    /// or a `FILE.query` file (LightGBM's layout).
    Letor,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ObjectiveArg {
    /// LambdaMART: graded labels 0..=30, gain 2^grade - 1.
    Lambdarank,
    /// Gradient-boosted logistic regression: 0/1 labels (clicks, purchases).
    Binary,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModelArg {
    /// Gradient-boosted trees (LambdaMART, or binary with --objective binary
    /// on feature files).
    #[value(alias = "lambdamart")]
    Gbdt,
    /// The multi-task click and purchase network (ESMM; --log only).
    Mtl,
    /// Logistic regression (L2, Newton's method): 0/1 labels, or graded
    /// labels cut at --binarize-at.
    Lr,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training from the interaction log.
    #[command(flatten)]
    pub log: super::train_log::LogTrainArgs,
    /// The input's format, for feature files.
    #[arg(long, value_enum, requires = "train")]
    pub format: Option<FeatureFormat>,
    /// Training rows (a feature file).
    #[arg(long, requires = "format", required_unless_present_any = ["log", "qrels"])]
    pub train: Option<PathBuf>,
    /// Validation rows, scored after every round (nDCG@--eval-at, exponential gain).
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Where the model goes (written crash-safely; sha256-checked on load).
    /// Without it and without --registry, a log or judgment training only
    /// reports what it measured.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also (or instead) register it as a new version in this registry
    /// (created if absent); `hyrank model promote` makes it the champion.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// The new version's id [default: the next vNNNN].
    #[arg(long, requires = "registry")]
    pub id: Option<String>,
    /// Why it was trained (recorded in the registry's audit log).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Parameters as JSON: for feature files the boosting parameters (every
    /// field of the model's `params`, LightGBM's names; the flags below
    /// override it); with --log every model's (`lr`, `lambdamart`, `mtl`,
    /// `early_stopping_rounds`, `final_score`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The model family.
    #[arg(long, value_enum, default_value = "gbdt")]
    pub model: ModelArg,
    /// The loss (gbdt).
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveArg>,
    /// L2 penalty on the standardised coefficients (lr).
    #[arg(long, default_value_t = 1.0)]
    pub l2: f64,
    /// A label at least this becomes 1, below it 0 (lr).
    #[arg(long, default_value_t = 1.0)]
    pub binarize_at: f32,
    /// Boosting rounds [default: 100].
    #[arg(long)]
    pub trees: Option<usize>,
    /// Shrinkage [default: 0.1].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Leaves per tree [default: 31].
    #[arg(long)]
    pub leaves: Option<usize>,
    /// Fewest rows in a leaf [default: 20].
    #[arg(long)]
    pub min_data_in_leaf: Option<usize>,
    /// Fraction of features per tree [default: 1].
    #[arg(long)]
    pub feature_fraction: Option<f64>,
    /// Seed of the feature sampling [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many rounds without a better validation nDCG; keep the
    /// best round. Off by default (0: off); with --qrels it watches an eighth
    /// of the training queries.
    #[arg(long)]
    pub early_stopping_rounds: Option<usize>,
    /// Cut-off of the validation nDCG.
    #[arg(long, default_value_t = 10)]
    pub eval_at: usize,
    /// Print the training report as JSON (rows, features, curve, seconds).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The input's format.
    #[arg(long, value_enum)]
    pub format: FeatureFormat,
    /// A model file written by `hyrank train --out`, or with --registry a
    /// version id or `champion`.
    #[arg(long)]
    pub model: String,
    /// Read the model from this registry.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Rows to score.
    #[arg(long)]
    pub input: PathBuf,
    /// One score a line, in input order (written crash-safely).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn params(a: &TrainArgs) -> Result<GbdtParams> {
    let mut p = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            hyrank_data::formats::parse_json::<GbdtParams>(
                &text,
                hyrank_data::Location::new(path, 1),
            )?
        }
        None => GbdtParams::default(),
    };
    if let Some(o) = a.objective {
        p.objective = match o {
            ObjectiveArg::Lambdarank => Objective::LambdaRank,
            ObjectiveArg::Binary => Objective::Binary,
        };
    }
    if let Some(v) = a.trees {
        p.num_trees = v;
    }
    if let Some(v) = a.learning_rate {
        p.learning_rate = v;
    }
    if let Some(v) = a.leaves {
        p.num_leaves = v;
    }
    if let Some(v) = a.min_data_in_leaf {
        p.min_data_in_leaf = v;
    }
    if let Some(v) = a.feature_fraction {
        p.feature_fraction = v;
    }
    if let Some(v) = a.seed {
        p.seed = v;
    }
    Ok(p)
}

pub fn run_train(a: TrainArgs) -> Result<()> {
    if a.log.qrels.is_some() {
        if a.model != ModelArg::Gbdt {
            anyhow::bail!("--qrels trains LambdaMART on graded judgments: use --model lambdamart");
        }
        return super::train_log::run_train_judgments(&a);
    }
    if a.log.log.is_some() {
        let model = match a.model {
            ModelArg::Gbdt => hyrank_training::logtrain::LogModel::LambdaMart,
            ModelArg::Lr => hyrank_training::logtrain::LogModel::Lr,
            ModelArg::Mtl => hyrank_training::logtrain::LogModel::Mtl,
        };
        return super::train_log::run_train_log(&a, model);
    }
    let train = a.train.clone().context("--train FILE (or --log DIR)")?;
    if a.model == ModelArg::Mtl {
        anyhow::bail!("--model mtl trains on the interaction log: give --log DIR --index DIR");
    }
    if a.out.is_none() && a.registry.is_none() {
        anyhow::bail!("give --out FILE or --registry DIR for the model");
    }
    let early_stopping_rounds = a.early_stopping_rounds.filter(|&n| n > 0);
    if early_stopping_rounds.is_some() && a.valid.is_none() {
        anyhow::bail!("--early-stopping-rounds needs --valid FILE");
    }
    if a.model == ModelArg::Lr {
        return run_train_lr(&a);
    }
    let opts = LetorTrainOptions {
        params: params(&a)?,
        valid: a.valid.clone(),
        early_stopping_rounds,
        eval_at: a.eval_at,
    };
    let bar = progress_bar();
    bar.set_prefix("boosting");
    let report = train_letor(&train, &opts, |r| {
        bar.set_length(r.of as u64);
        bar.set_position(r.round as u64);
        if let Some(m) = r.valid_ndcg {
            bar.set_message(format!("valid ndcg@{} {m:.4}", a.eval_at));
        }
    })?;
    bar.finish_and_clear();
    if let Some(out) = &a.out {
        report.model.save(out)?;
    }
    let mut metrics = std::collections::BTreeMap::new();
    if let Some(last) = report.valid_ndcg.last() {
        let kept = report
            .best_round
            .map_or(*last, |b| report.valid_ndcg[b - 1]);
        metrics.insert(format!("valid_ndcg@{}", a.eval_at), kept);
    }
    let registered = match &a.registry {
        Some(dir) => Some(register(
            dir,
            &a,
            ModelArtefact::Gbdt(report.model.clone()),
            serde_json::json!({
                "rows": report.rows,
                "queries": report.queries,
                "trees": report.model.trees.len(),
                "best_round": report.best_round,
            }),
            metrics,
        )?),
        None => None,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "trained {} on {} rows, {} queries, {} features: {} trees in {:.2} s (+{:.2} s reading)",
        report.model.objective.name(),
        report.rows,
        report.queries,
        report.features,
        report.model.trees.len(),
        report.train_seconds,
        report.load_seconds
    );
    if let Some(last) = report.valid_ndcg.last() {
        let shown = report
            .best_round
            .map_or(*last, |b| report.valid_ndcg[b - 1]);
        println!(
            "validation ndcg@{} (exponential gain) {shown:.4}{}",
            a.eval_at,
            report
                .best_round
                .map(|b| format!(" at the best round, {b}"))
                .unwrap_or_default()
        );
    }
    if report.valid_ignored_values > 0 {
        println!(
            "note: {} validation values have feature indices the training file never has (ignored)",
            report.valid_ignored_values
        );
    }
    if let Some(out) = &a.out {
        println!("wrote {}", out.display());
    }
    if let (Some(dir), Some(id)) = (&a.registry, registered) {
        println!("registered as {id} in {}", dir.display());
    }
    Ok(())
}

fn run_train_lr(a: &TrainArgs) -> Result<()> {
    let params = LogisticParams {
        l2: a.l2,
        ..LogisticParams::default()
    };
    let train = a.train.clone().context("--train FILE")?;
    let report = train_letor_logistic(
        &train,
        a.valid.as_deref(),
        &params,
        a.binarize_at,
        a.eval_at,
    )?;
    let model = ModelArtefact::Logistic(report.model.clone());
    if let Some(out) = &a.out {
        model.save(out)?;
    }
    let mut metrics =
        std::collections::BTreeMap::from([("train_log_loss".to_owned(), report.train_log_loss)]);
    if let Some(v) = report.valid_ndcg {
        metrics.insert(format!("valid_ndcg@{}", a.eval_at), v);
    }
    let registered = match &a.registry {
        Some(dir) => Some(register(
            dir,
            a,
            model,
            serde_json::json!({
                "rows": report.rows,
                "queries": report.queries,
                "positives": report.positives,
                "binarize_at": a.binarize_at,
                "iterations": report.iterations,
            }),
            metrics,
        )?),
        None => None,
    };
    let (intercept, coef) = report.model.raw_coefficients();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["intercept"] = serde_json::json!(intercept);
        v["coefficients"] = serde_json::json!(coef);
        v["standardised_coefficients"] = serde_json::json!(report.model.coef);
        println!("{v}");
        return Ok(());
    }
    println!(
        "trained lr on {} rows ({} positive at label >= {}), {} features: {} Newton steps{} in {:.2} s (+{:.2} s reading); train log-loss {:.4}",
        report.rows,
        report.positives,
        a.binarize_at,
        report.features,
        report.iterations,
        if report.converged { "" } else { " (not converged)" },
        report.train_seconds,
        report.load_seconds,
        report.train_log_loss
    );
    if let Some(v) = report.valid_ndcg {
        println!("validation ndcg@{} (exponential gain) {v:.4}", a.eval_at);
    }
    let mut order: Vec<usize> = (0..coef.len()).collect();
    order.sort_by(|&x, &y| {
        report.model.coef[y]
            .abs()
            .total_cmp(&report.model.coef[x].abs())
    });
    println!(
        "intercept {intercept:.4}; largest standardised coefficients (feature: standardised, raw):"
    );
    for &f in order
        .iter()
        .take(10)
        .filter(|&&f| report.model.coef[f] != 0.0)
    {
        println!("  {f:>5}: {:+.4}  {:+.6}", report.model.coef[f], coef[f]);
    }
    if let Some(out) = &a.out {
        println!("wrote {}", out.display());
    }
    if let (Some(dir), Some(id)) = (&a.registry, registered) {
        println!("registered as {id} in {}", dir.display());
    }
    Ok(())
}

fn register(
    dir: &Path,
    a: &TrainArgs,
    model: ModelArtefact,
    details: serde_json::Value,
    metrics: std::collections::BTreeMap<String, f64>,
) -> Result<String> {
    let reg = Registry::open(dir)?;
    let train = a.train.as_deref().context("--train FILE")?;
    let mut files =
        vec![serde_json::json!({"role": "train", "path": train, "sha256": sha256_file(train)?})];
    if let Some(v) = &a.valid {
        files.push(serde_json::json!({"role": "valid", "path": v, "sha256": sha256_file(v)?}));
    }
    let mut training = serde_json::json!({"format": "letor", "files": files});
    if let (Some(t), Some(d)) = (training.as_object_mut(), details.as_object()) {
        t.extend(d.clone());
    }
    let count = model.num_features();
    let m = reg.register(
        NewVersion {
            id: a.id.clone(),
            model,
            features: FeatureSchema {
                source: "letor".into(),
                version: 0,
                count,
                names: Vec::new(),
                stats: Vec::new(),
            },
            training,
            metrics,
        },
        &a.reason,
    )?;
    Ok(m.id)
}

pub fn run_predict(a: PredictArgs) -> Result<()> {
    let FeatureFormat::Letor = a.format;
    let model = match &a.registry {
        Some(dir) => super::model::open_existing(dir)?.load(&a.model)?.1,
        None => ModelArtefact::load(Path::new(&a.model))?,
    };
    let (scores, ignored) = predict_letor(&model, &a.input)?;
    write_scores(&a.out, &scores)?;
    eprintln!(
        "scored {} rows with the {} model into {}",
        scores.len(),
        model.name(),
        a.out.display()
    );
    if ignored > 0 {
        eprintln!("note: {ignored} values have feature indices the model does not know (ignored)");
    }
    Ok(())
}
