//! `hyrank eval`: score runs against qrels and compare them.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use hyrank_data::fsio::write_atomic;
use hyrank_eval::{
    compare, evaluate_files, evaluate_letor_scores, format_trec, CompareOptions, EvalOptions, Gain,
    Measure, RunNames,
};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// Comparison table (baseline first, deltas, p-values, best in bold).
    Table,
    /// trec_eval's layout, one block per run (`--per-query` as `trec_eval -q`).
    Trec,
    /// The comparison as JSON.
    Json,
    /// The comparison as Markdown.
    Markdown,
    /// A self-contained HTML page with plots.
    Html,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// TREC qrels file.
    #[arg(long, required_unless_present = "letor", conflicts_with = "letor")]
    pub qrels: Option<PathBuf>,
    /// TREC run file; repeat for several (the first is the baseline).
    #[arg(
        long = "run",
        required_unless_present = "letor",
        conflicts_with = "letor"
    )]
    pub runs: Vec<PathBuf>,
    /// A LETOR file whose labels are the judgments (queries from `qid:` or
    /// `FILE.query`), to evaluate `--scores` files against; queries with no
    /// relevant row are left out.
    #[arg(long, requires = "scores")]
    pub letor: Option<PathBuf>,
    /// A score file for `--letor` (one score a line, in its row order, as
    /// `hyrank predict` and LightGBM write them); repeat for several.
    #[arg(long = "scores", requires = "letor")]
    pub scores: Vec<PathBuf>,
    /// Comma-separated measures (trec_eval names, families such as `P` or
    /// `ndcg_cut`, aliases such as `ndcg@10`, `mrr`; `all` for every one).
    /// Default: trec_eval's default set with `--format trec`, else
    /// `ndcg_cut_10,recip_rank,map,P_10,recall_100`.
    #[arg(long)]
    pub metrics: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// With `--format trec`: per-query rows too.
    #[arg(long)]
    pub per_query: bool,
    /// Gain of the nDCG family: linear (trec_eval), exponential (2^g - 1),
    /// esci (3=1.0,2=0.1,1=0.01,0=0), or a map such as `2=3,1=1,0=0`.
    #[arg(long, default_value = "linear")]
    pub gain: String,
    /// A grade at least this counts as relevant (trec_eval -l).
    #[arg(long, default_value_t = 1)]
    pub relevance_level: i32,
    /// Judged queries missing from a run count as 0 (trec_eval -c).
    #[arg(short = 'c', long)]
    pub complete: bool,
    /// Randomisation-test trials and bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    pub trials: usize,
    /// Seed of the randomisation test and the bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write report.json, report.md and report.html into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn parse_gain(s: &str) -> Result<Gain> {
    s.parse().map_err(anyhow::Error::msg).context("--gain")
}

pub fn run(args: EvalArgs) -> Result<()> {
    let default = if args.format == OutputFormat::Trec {
        "trec"
    } else {
        "ndcg_cut_10,recip_rank,map,P_10,recall_100"
    };
    let measures = Measure::parse_list(args.metrics.as_deref().unwrap_or(default))?;
    let opts = EvalOptions {
        relevance_level: args.relevance_level,
        gain: parse_gain(&args.gain)?,
        complete: args.complete,
        err_max_grade: None,
    };
    if args.per_query && args.format != OutputFormat::Trec {
        bail!("--per-query goes with --format trec");
    }
    let names = if args.format == OutputFormat::Trec {
        RunNames::Tag
    } else {
        RunNames::FileStem
    };
    let evals = match (&args.letor, &args.qrels) {
        (Some(letor), _) => {
            let e = evaluate_letor_scores(letor, &args.scores, &measures, &opts)?;
            eprintln!(
                "{}: {} queries judged, {} without a relevant row left out",
                letor.display(),
                e.queries,
                e.without_relevant
            );
            e.evaluations
        }
        (None, Some(qrels)) => evaluate_files(qrels, &args.runs, &measures, &opts, names)?,
        (None, None) => bail!("give --qrels and --run, or --letor and --scores"),
    };
    if args.format == OutputFormat::Trec {
        for e in &evals {
            print!("{}", format_trec(e, args.per_query));
        }
        return Ok(());
    }
    let c = compare(
        &evals,
        &opts.describe(),
        &CompareOptions {
            trials: args.trials,
            bootstrap: args.trials,
            seed: args.seed,
            ..CompareOptions::default()
        },
    )?;
    match args.format {
        OutputFormat::Table => print!("{}", c.render_text(std::io::stdout().is_terminal())),
        OutputFormat::Json => println!("{}", c.render_json()),
        OutputFormat::Markdown => print!("{}", c.render_markdown()),
        OutputFormat::Html => print!("{}", c.render_html()),
        OutputFormat::Trec => {}
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(dir.join("report.json"), c.render_json().as_bytes())?;
        write_atomic(dir.join("report.md"), c.render_markdown().as_bytes())?;
        write_atomic(dir.join("report.html"), c.render_html().as_bytes())?;
        eprintln!(
            "wrote report.json, report.md, report.html to {}",
            dir.display()
        );
    }
    Ok(())
}
