//! `hyrank`: the one binary. Each subcommand is a thin layer over a library crate.

mod cmd;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Hybrid product search that learns to rank from its own traffic.
#[derive(Debug, Parser)]
#[command(name = "hyrank", version, about, long_about = None)]
struct Cli {
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Threads for encoding and vector search (the size of the global rayon
    /// pool; default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate, inspect and convert data sets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// The sentence-embedding model (fetch) and the ranker registry
    /// (list, show, promote, rollback, audit).
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
    /// Build search indexes.
    #[command(subcommand)]
    Index(cmd::index::IndexCommand),
    /// Search an index: one query, or a batch written as a TREC run.
    Search(cmd::search::SearchArgs),
    /// Embed texts (one a line) into .npy or .jsonl, to check the encoder against another implementation.
    Embed(cmd::search::EmbedArgs),
    /// Serve the search API (HTTP, JSON) over an index folder.
    Serve(cmd::serve::ServeArgs),
    /// Tune retrieval (field boosts, fusion, weights, depth) on judgments,
    /// with k-fold cross-validation; write the tuned search config.
    Tune(cmd::tune::TuneArgs),
    /// Train a ranker: on the interaction log (--log, --index; lr,
    /// lambdamart or mtl), or on a feature file (LETOR) as LightGBM's CLI does.
    Train(cmd::train::TrainArgs),
    /// Write the training rows of a log (features as of each impression,
    /// labels) as Parquet or LETOR.
    Features(cmd::train_log::FeaturesArgs),
    /// Score a feature file with a trained model: one score a line.
    Predict(cmd::train::PredictArgs),
    /// Score TREC runs against qrels (trec_eval-conformant) and compare them.
    Eval(cmd::eval::EvalArgs),
    /// Click models (PBM, cascade, DBN, SDBN, UBM) fitted on a log and
    /// evaluated by log-likelihood and perplexity.
    #[command(subcommand)]
    Clickmodel(cmd::clickmodel::ClickModelCommand),
    /// Online experiments offline: simulated A/B tests, interleaving,
    /// off-policy estimates, and the study of their sensitivity.
    #[command(subcommand)]
    Experiment(cmd::experiment::ExperimentCommand),
    /// The promotion gate: gather the evidence a policy file asks for,
    /// decide (promote, hold, reject), swap the champion on promote.
    Promote(cmd::experiment::PromoteArgs),
    /// Measure hyrank's own speed and memory.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
        {
            eprintln!("error: --threads {n}: {e}");
            std::process::exit(1);
        }
    }
    let result = match cli.command {
        Command::Model(c) => cmd::model::run(c),
        Command::Index(c) => cmd::index::run_index(c),
        Command::Search(a) => cmd::search::run_search(a),
        Command::Embed(a) => cmd::search::run_embed(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Tune(a) => cmd::tune::run(a),
        Command::Data(c) => cmd::data::run(c),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Train(a) => cmd::train::run_train(a),
        Command::Predict(a) => cmd::train::run_predict(a),
        Command::Features(a) => cmd::train_log::run_features(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Clickmodel(c) => cmd::clickmodel::run(c),
        Command::Experiment(c) => cmd::experiment::run(c),
        Command::Promote(a) => cmd::experiment::run_promote(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(error_kind(&e).exit_code());
    }
}

/// The kind of a failed command, for its exit code: the kind of the first
/// hyrank error in the chain; else not found or internal for an I/O error;
/// else invalid input (the binary's own checks of flags and files).
fn error_kind(e: &anyhow::Error) -> hyrank_data::ErrorKind {
    use hyrank_data::ErrorKind;
    for cause in e.chain() {
        if let Some(x) = cause.downcast_ref::<hyrank_data::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_index::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_eval::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_ranker::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_training::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_experiment::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<hyrank_api::Error>() {
            return x.kind();
        }
        if let Some(x) = cause.downcast_ref::<std::io::Error>() {
            return if x.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::Internal
            };
        }
    }
    ErrorKind::InvalidInput
}
