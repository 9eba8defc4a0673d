//! `hyrank clickmodel fit|eval|compare|recovery`: click models fitted on a
//! log's result pages and clicks, evaluated as click-model research reports
//! them (PyClick's log-likelihood and perplexity per rank), and their
//! parameter recovery from pages of known parameters.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hyrank_eval::clickmodel::recovery::{recover, Errors};
use hyrank_eval::clickmodel::{
    evaluate, fit, sessions_from_events, ClickModelEval, ClickModelFile, ClickSession, FitOptions,
    ModelKind, SessionReport,
};
use hyrank_experiment::recovery::pbm_on_world;

#[derive(Debug, Subcommand)]
pub enum ClickModelCommand {
    /// Fit a click model on a log's pages and clicks; write it as JSON.
    Fit {
        /// Interaction log folder (or file).
        #[arg(long)]
        log: PathBuf,
        /// pbm, cascade, dbn, sdbn, ubm, dcm or rank_ctr.
        #[arg(long)]
        model: String,
        /// The model file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        fit: FitArgs,
    },
    /// Evaluate a fitted model on a (held-out) log.
    Eval {
        /// The model file (`hyrank clickmodel fit --out`).
        #[arg(long)]
        model: PathBuf,
        /// Interaction log folder (or file).
        #[arg(long)]
        log: PathBuf,
        /// Ranks evaluated (top first).
        #[arg(long, default_value_t = 10)]
        max_rank: usize,
        /// One JSON object: model, log_likelihood, perplexity, perplexity_at_rank.
        #[arg(long)]
        json: bool,
    },
    /// Fit every model (and the rank-CTR baseline) on one log, evaluate each
    /// on another, side by side.
    Compare {
        /// Training log.
        #[arg(long)]
        train: PathBuf,
        /// Held-out log (or give --holdout).
        #[arg(long, required_unless_present = "holdout")]
        test: Option<PathBuf>,
        /// Hold out this share of the training log's pages instead (the
        /// latest ones), e.g. 0.2.
        #[arg(long, conflicts_with = "test")]
        holdout: Option<f64>,
        #[command(flatten)]
        fit: FitArgs,
        /// One JSON array of evaluations.
        #[arg(long)]
        json: bool,
    },
    /// Parameter recovery: draw pages from each model with known parameters,
    /// fit it on them and print the errors; with --data, also a PBM fitted
    /// on a generated world's log against the world's own examination curve
    /// and attractiveness.
    Recovery {
        /// Queries of the known models (40 documents each).
        #[arg(long, default_value_t = 5)]
        queries: usize,
        /// Pages drawn per model.
        #[arg(long, default_value_t = 40_000)]
        sessions: usize,
        /// Seed of the draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A folder written by `hyrank data generate` (its world and log).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The world's pairs compared are those shown at least this often.
        #[arg(long, default_value_t = 20)]
        min_impressions: usize,
        #[command(flatten)]
        fit: FitArgs,
        /// One JSON object: `known` (a row per model) and `world`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// Ranks of each page used (top first).
    #[arg(long, default_value_t = 10)]
    max_rank: usize,
    /// EM iterations (PBM, UBM, DBN).
    #[arg(long, default_value_t = 40)]
    iterations: usize,
    /// Beta pseudo-count pulling each pair's parameter to the prior.
    #[arg(long, default_value_t = 1.0)]
    prior_strength: f64,
}

impl FitArgs {
    fn options(&self) -> Result<FitOptions> {
        if self.max_rank == 0 || self.iterations == 0 {
            bail!("--max-rank and --iterations must be at least 1");
        }
        if !(self.prior_strength.is_finite() && self.prior_strength >= 0.0) {
            bail!(
                "--prior-strength must be 0 or more, got {}",
                self.prior_strength
            );
        }
        Ok(FitOptions {
            max_rank: self.max_rank,
            iterations: self.iterations,
            prior_strength: self.prior_strength,
        })
    }
}

/// The pages and clicks of a log, with what was left out said on stderr.
pub fn read_sessions(log: &Path, max_rank: usize) -> Result<Vec<ClickSession>> {
    let events = super::train_log::read_log_sorted(log)?;
    let (sessions, report) = sessions_from_events(&events, max_rank);
    say_left_out(log, &report);
    if sessions.is_empty() {
        bail!(
            "{}: no result pages to fit on ({} impressions, {} of them partial: a click model needs full pages)",
            log.display(),
            report.impressions,
            report.partial
        );
    }
    Ok(sessions)
}

fn say_left_out(log: &Path, r: &SessionReport) {
    eprintln!(
        "{}: {} pages, {} clicks{}",
        log.display(),
        r.sessions,
        r.clicks,
        if r.partial + r.orphan_clicks + r.mismatched_clicks > 0 {
            format!(
                " (left out: {} partial impressions, {} clicks without their page, {} clicks on another document than the page shows)",
                r.partial, r.orphan_clicks, r.mismatched_clicks
            )
        } else {
            String::new()
        }
    );
}

/// Reads a model file, naming it in errors.
pub fn read_model(path: &Path) -> Result<ClickModelFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading click model {}", path.display()))?;
    Ok(ClickModelFile::parse(&text, &path.display().to_string())?)
}

fn print_evals(evals: &[ClickModelEval]) {
    let ranks = evals.first().map_or(0, |e| e.perplexity_at_rank.len());
    print!(
        "{:<10} {:>9} {:>13} {:>10} {:>11}",
        "model", "sessions", "log-lik", "perplexity", "cond. ppl."
    );
    for r in 1..=ranks {
        print!(" {:>6}", format!("@{r}"));
    }
    println!();
    for e in evals {
        print!(
            "{:<10} {:>9} {:>13.5} {:>10.5} {:>11.5}",
            e.model, e.sessions, e.log_likelihood, e.perplexity, e.conditional_perplexity
        );
        for p in &e.perplexity_at_rank {
            print!(" {p:>6.4}");
        }
        println!();
    }
}

fn fmt_errors(e: Option<Errors>) -> String {
    e.map_or("–".into(), |e| format!("{:.4} / {:.4}", e.mean, e.max))
}

fn recovery(
    queries: usize,
    sessions: usize,
    seed: u64,
    data: Option<PathBuf>,
    min_impressions: usize,
    opts: &FitOptions,
    json: bool,
) -> Result<()> {
    let known = ModelKind::ALL
        .into_iter()
        .map(|k| recover(k, queries, sessions, seed, opts))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let world = match data {
        Some(dir) => {
            let env = hyrank_experiment::env::SyntheticEnv::from_dir(&dir, 10)?;
            let pages = read_sessions(&dir.join("events"), opts.max_rank)?;
            Some(pbm_on_world(&env, &pages, opts, min_impressions)?)
        }
        None => None,
    };
    if json {
        println!("{}", serde_json::json!({ "known": known, "world": world }));
        return Ok(());
    }
    println!(
        "{sessions} pages a model over {queries} queries of 40 documents (seed {seed}); errors as mean / largest absolute"
    );
    println!(
        "{:<10} {:>22} {:>22} {:>22}",
        "model", "examination", "attractiveness", "satisfaction"
    );
    for r in &known {
        println!(
            "{:<10} {:>22} {:>22} {:>22}",
            r.model,
            fmt_errors(r.examination),
            fmt_errors(r.attractiveness),
            fmt_errors(r.satisfaction)
        );
    }
    if let Some(w) = world {
        println!(
            "PBM on the world's log ({} pages): examination relative to rank 1, fitted vs true:",
            w.sessions
        );
        for (r, (got, want)) in w.examination.iter().enumerate() {
            println!("  rank {:>2}: {got:.3} vs {want:.3}", r + 2);
        }
        println!(
            "  attractiveness x top examination over the {} of {} pairs shown {}+ times: error {}; weighted by impressions {:.4}",
            w.pairs.1,
            w.pairs.0,
            w.min_impressions,
            fmt_errors(Some(w.attractiveness)),
            w.attractiveness_weighted_mean
        );
    }
    Ok(())
}

pub fn run(cmd: ClickModelCommand) -> Result<()> {
    match cmd {
        ClickModelCommand::Recovery {
            queries,
            sessions,
            seed,
            data,
            min_impressions,
            fit: f,
            json,
        } => recovery(
            queries,
            sessions,
            seed,
            data,
            min_impressions,
            &f.options()?,
            json,
        )?,
        ClickModelCommand::Fit {
            log,
            model,
            out,
            fit: f,
        } => {
            let kind = ModelKind::parse(&model)?;
            let opts = f.options()?;
            let sessions = read_sessions(&log, opts.max_rank)?;
            let t = Instant::now();
            let m = fit(kind, &sessions, &opts)?;
            let file = ClickModelFile::new(m, sessions.len() as u64, opts.max_rank);
            let mut text = serde_json::to_string_pretty(&file)?;
            text.push('\n');
            hyrank_data::fsio::write_atomic(&out, text.as_bytes())?;
            let e = evaluate(&file.model, &sessions, opts.max_rank);
            println!(
                "{kind} fitted on {} pages in {:.2} s: training log-likelihood {:.5}, perplexity {:.5}; written to {}",
                sessions.len(),
                t.elapsed().as_secs_f64(),
                e.log_likelihood,
                e.perplexity,
                out.display()
            );
        }
        ClickModelCommand::Eval {
            model,
            log,
            max_rank,
            json,
        } => {
            if max_rank == 0 {
                bail!("--max-rank must be at least 1");
            }
            let file = read_model(&model)?;
            let sessions = read_sessions(&log, max_rank)?;
            let e = evaluate(&file.model, &sessions, max_rank);
            if json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                print_evals(std::slice::from_ref(&e));
            }
        }
        ClickModelCommand::Compare {
            train,
            test,
            holdout,
            fit: f,
            json,
        } => {
            let opts = f.options()?;
            let mut tr = read_sessions(&train, opts.max_rank)?;
            let te = match (test, holdout) {
                (Some(t), _) => read_sessions(&t, opts.max_rank)?,
                (None, Some(h)) if h > 0.0 && h < 1.0 => {
                    let cut = ((tr.len() as f64) * (1.0 - h)).round() as usize;
                    if cut == 0 || cut >= tr.len() {
                        bail!(
                            "--holdout {h} leaves no pages on one side of {} pages",
                            tr.len()
                        );
                    }
                    let te = tr.split_off(cut);
                    eprintln!(
                        "{} pages to fit on, the latest {} held out",
                        tr.len(),
                        te.len()
                    );
                    te
                }
                (None, Some(h)) => bail!("--holdout must be between 0 and 1, got {h}"),
                (None, None) => bail!("give --test DIR or --holdout FRACTION"),
            };
            let mut evals = Vec::new();
            for kind in ModelKind::ALL {
                let t = Instant::now();
                let m = fit(kind, &tr, &opts)?;
                evals.push(evaluate(&m, &te, opts.max_rank));
                eprintln!("{kind}: fitted in {:.2} s", t.elapsed().as_secs_f64());
            }
            if json {
                println!("{}", serde_json::to_string(&evals)?);
            } else {
                print_evals(&evals);
            }
        }
    }
    Ok(())
}
