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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate, inspect and convert data sets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Score TREC runs against qrels (trec_eval-conformant) and compare them.
    Eval(cmd::eval::EvalArgs),
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
        .init();
    let result = match cli.command {
        Command::Data(c) => cmd::data::run(c),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Bench(c) => cmd::bench::run(c),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
