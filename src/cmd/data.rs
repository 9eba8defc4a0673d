//! `hyrank data ...`: generate, stats, convert, compact.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hyrank_data::convert::{read_dataset, write_dataset_with, Format, ReadOptions, WriteOptions};
use hyrank_data::formats::srw::RatingMap;
use hyrank_data::synth::queries::QueryMix;
use hyrank_data::synth::{generate, Drift, Examination, Randomization, SimConfig, WorldConfig};
use hyrank_data::GradeMap;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Generate the synthetic world: catalogue, queries, judgments and an interaction log.
    Generate(GenerateArgs),
    /// Print statistics of a data folder (and warn about the log's consistency).
    Stats {
        /// The folder (with catalog.ndjson, queries.tsv, qrels.trec, events/).
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a data folder's log: every click, add-to-cart and purchase on a
    /// shown document of an earlier impression, CTR <= 1 per position, unique
    /// ids. Exits 1 when a rule is broken.
    Check {
        /// The folder (with events/, and catalog.ndjson to check documents against).
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Convert a data set between formats (hyrank, esci, wands, beir, ubi,
    /// cranfield, yandex, srw → hyrank, beir, ubi, srw). The output folder
    /// gets the converted files as one set: a killed run leaves it as it was.
    Convert {
        /// Input format: hyrank, esci, wands, beir, ubi, cranfield, yandex, srw.
        #[arg(long)]
        from: Format,
        /// Input folder (ubi, srw: a file or a folder; yandex: a file).
        #[arg(long)]
        input: PathBuf,
        /// Output format: hyrank, beir, ubi, srw.
        #[arg(long, default_value = "hyrank")]
        to: Format,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// ESCI product locale.
        #[arg(long, default_value = "us")]
        locale: String,
        /// ESCI / BEIR split (BEIR default: test; ESCI default: both).
        #[arg(long)]
        split: Option<String>,
        /// Label → grade map: ESCI / WANDS `E=3,S=2,C=1,I=0,Exact=2,Partial=1,Irrelevant=0`;
        /// SRW ratings `100=3,10=2,1=1,0=0`, `round` or `scale=10` (reading and,
        /// inverted, writing).
        #[arg(long)]
        grades: Option<String>,
        /// UBI: read `position.ordinal` as 0- or 1-based for every application
        /// (default: detected per application, and reported).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1))]
        ubi_ordinal_base: Option<u32>,
    },
    /// Judge runs by a synthetic world's truth: a qrels file with the true
    /// grade of every (query, document) pair of the runs and of the judged
    /// pool, so that runs are evaluated on every candidate they rank, not
    /// only on the pooled judgments (an unjudged relevant product counts as
    /// irrelevant there).
    Judge {
        /// The folder `hyrank data generate` wrote (its world.json).
        #[arg(long)]
        data: PathBuf,
        /// A TREC run whose pairs to judge (repeatable).
        #[arg(long = "run", required = true)]
        runs: Vec<PathBuf>,
        /// The qrels file to write (atomically).
        #[arg(long)]
        out: PathBuf,
    },
    /// Compact the closed segments of an interaction log to Parquet.
    Compact {
        /// The log folder (e.g. data/demo/events).
        log: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExaminationArg {
    /// Web list (position-based model fitted on Yandex WSCD 2012).
    Web,
    /// Product grid, `--grid-columns` tiles a row.
    Grid,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Products in the catalogue.
    #[arg(long, default_value_t = 10_000)]
    pub products: usize,
    /// Distinct queries.
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
    /// Interaction events to simulate (the last session is completed).
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Master seed: same seed and knobs give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Results per page.
    #[arg(long, default_value_t = 10)]
    pub page_size: usize,
    /// Examination model.
    #[arg(long, value_enum, default_value = "web")]
    pub examination: ExaminationArg,
    /// Tiles per row for `--examination grid`.
    #[arg(long, default_value_t = 4)]
    pub grid_columns: usize,
    /// Share of near-duplicate listings.
    #[arg(long, default_value_t = 0.02)]
    pub duplicate_rate: f64,
    /// Share of head queries.
    #[arg(long, default_value_t = 0.2)]
    pub head_share: f64,
    /// Share of torso queries (tail gets the rest).
    #[arg(long, default_value_t = 0.5)]
    pub torso_share: f64,
    /// Probability that a query uses a shopper's word absent from titles.
    #[arg(long, default_value_t = 0.35)]
    pub synonym_rate: f64,
    /// Probability of a typo in a query.
    #[arg(long, default_value_t = 0.1)]
    pub misspelling_rate: f64,
    /// Drift from a day on, e.g. `day=20,category=Sofas,demand=2.0,price=1.2`.
    #[arg(long, value_parser = Drift::parse)]
    pub drift: Option<Drift>,
    /// Randomised logging `EPSILON,K`: swap the top result with a random one of the top K
    /// in a share EPSILON of impressions, logging propensities.
    #[arg(long)]
    pub randomize: Option<String>,
    /// ESCI label → grade map for qrels.trec, e.g. `E=3,S=2,C=1,I=0`.
    #[arg(long)]
    pub grades: Option<String>,
}

impl GenerateArgs {
    pub fn configs(&self) -> Result<(WorldConfig, SimConfig)> {
        let grades = match &self.grades {
            Some(g) => GradeMap::parse(g)
                .map_err(anyhow::Error::msg)
                .context("--grades")?,
            None => GradeMap::default(),
        };
        let world = WorldConfig {
            seed: self.seed,
            products: self.products,
            queries: self.queries,
            duplicate_rate: self.duplicate_rate,
            query_mix: QueryMix {
                head: self.head_share,
                torso: self.torso_share,
                synonym_rate: self.synonym_rate,
                misspelling_rate: self.misspelling_rate,
                ..QueryMix::default()
            },
            grades,
            ..WorldConfig::default()
        };
        let randomization = match &self.randomize {
            None => None,
            Some(s) => {
                let (e, k) = s
                    .split_once(',')
                    .context("--randomize takes EPSILON,K (e.g. 0.1,5)")?;
                let epsilon: f64 = e
                    .trim()
                    .parse()
                    .context("--randomize: EPSILON is not a number")?;
                let k: usize = k
                    .trim()
                    .parse()
                    .context("--randomize: K is not a whole number")?;
                Some(Randomization { epsilon, k })
            }
        };
        let mut sim = SimConfig {
            events: self.events,
            days: self.days,
            page_size: self.page_size,
            drift: self.drift.clone(),
            randomization,
            ..SimConfig::default()
        };
        sim.behaviour.examination = match self.examination {
            ExaminationArg::Web => Examination::Web,
            ExaminationArg::Grid => Examination::Grid {
                per_row: self.grid_columns,
            },
        };
        Ok((world, sim))
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

pub fn run_generate(args: &GenerateArgs) -> Result<hyrank_data::synth::GenerateReport> {
    let (world, sim) = args.configs()?;
    let bar = progress_bar();
    let report = generate(&world, &sim, &args.out, &|stage, done, total| {
        if bar.prefix() != stage {
            bar.set_prefix(stage.to_owned());
            bar.reset();
        }
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.finish_and_clear();
    Ok(report)
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Generate(args) => {
            let r = run_generate(&args)?;
            println!(
                "wrote {}: {} products ({} near-duplicates), {} queries, {} judgments, {} events ({} impressions, {} clicks, {} purchases) in {:.1}s",
                args.out.display(),
                r.products,
                r.duplicates,
                r.queries,
                r.judgments,
                r.simulation.events,
                r.simulation.impressions,
                r.simulation.clicks,
                r.simulation.purchases,
                r.seconds
            );
        }
        DataCommand::Stats { dir, json } => {
            if !dir.is_dir() {
                bail!("{}: not a folder", dir.display());
            }
            let s = hyrank_data::stats::compute(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", s.render());
            }
            if let Some(c) = hyrank_data::check::check_dir(&dir)? {
                if !c.is_consistent() {
                    eprint!("warning: {}", c.summary());
                    eprintln!("warning: `hyrank data check {}` lists them", dir.display());
                }
            }
        }
        DataCommand::Check { dir, json } => {
            if !dir.is_dir() {
                bail!("{}: not a folder", dir.display());
            }
            match hyrank_data::check::check_dir(&dir)? {
                None => println!("{}: no interaction log (events/) to check", dir.display()),
                Some(c) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&c)?);
                    } else {
                        println!("{}", c.headline());
                        print!("{}", c.details());
                    }
                    if !c.is_consistent() {
                        bail!(
                            "{}: {} consistency violations in the log",
                            dir.display(),
                            c.violation_count()
                        );
                    }
                }
            }
        }
        DataCommand::Convert {
            from,
            input,
            to,
            out,
            locale,
            split,
            grades,
            ubi_ordinal_base,
        } => {
            let srw = from == Format::Srw || to == Format::Srw;
            let ratings = match (&grades, srw) {
                (Some(g), true) => RatingMap::parse(g)
                    .map_err(anyhow::Error::msg)
                    .context("--grades (SRW ratings: e.g. 100=3,10=2,1=1,0=0, round, scale=10)")?,
                _ => RatingMap::Whole,
            };
            let grades = match (grades, srw) {
                (Some(g), false) => GradeMap::parse(&g)
                    .map_err(anyhow::Error::msg)
                    .context("--grades")?,
                _ => GradeMap::default(),
            };
            let opts = ReadOptions {
                locale,
                split,
                grades,
                ubi_ordinal_base,
                ratings: ratings.clone(),
            };
            let d = read_dataset(from, &input, &opts)?;
            for n in &d.notes {
                eprintln!("note: {n}");
            }
            for f in write_dataset_with(to, &d, &out, &WriteOptions { ratings })? {
                println!("wrote {}", f.display());
            }
            if to == Format::Hyrank {
                if let Some(c) = hyrank_data::check::check_dir(&out)? {
                    print!("{}", c.summary());
                }
            }
        }
        DataCommand::Judge { data, runs, out } => {
            let (config, _) = hyrank_data::synth::read_world_json(&data)?;
            let world = hyrank_data::synth::World::build(&config)?;
            let report = judge(&world, &runs, &out)?;
            println!(
                "wrote {}: {} judgments by the world's truth ({} pairs of {} runs, {} of them outside the pool)",
                out.display(),
                report.0,
                report.1,
                runs.len(),
                report.2
            );
        }
        DataCommand::Compact { log } => {
            let r = hyrank_data::log::compact(&log)?;
            println!(
                "compacted {} segments ({} events): {} bytes of NDJSON → {} bytes of Parquet",
                r.segments, r.events, r.ndjson_bytes, r.parquet_bytes
            );
        }
    }
    Ok(())
}

/// Writes the true grade of every pair of `runs` and of the world's pool to
/// `out`: (judgments written, run pairs, run pairs outside the pool). A
/// query or document the world does not know is an error naming it.
fn judge(
    world: &hyrank_data::synth::World,
    runs: &[PathBuf],
    out: &std::path::Path,
) -> Result<(usize, usize, usize)> {
    use hyrank_data::{DocId, Judgment, QueryId};
    use std::collections::BTreeMap;
    let mut grades: BTreeMap<(QueryId, DocId), i32> = world
        .qrels()
        .into_iter()
        .map(|j| ((j.query, j.doc), j.grade))
        .collect();
    let pooled = grades.len();
    let mut pairs = std::collections::HashSet::new();
    for run in runs {
        for e in hyrank_data::formats::trec::read_run(run)? {
            let key = (e.query, e.doc);
            if grades.contains_key(&key) {
                pairs.insert(key);
                continue;
            }
            let Some(g) = world.grade(&key.0, &key.1) else {
                bail!(
                    "{}: query {} or document {} is not of the world in its data folder",
                    run.display(),
                    key.0,
                    key.1
                );
            };
            grades.insert(key.clone(), g);
            pairs.insert(key);
        }
    }
    let outside = grades.len() - pooled;
    let qrels: Vec<Judgment> = grades
        .into_iter()
        .map(|((query, doc), grade)| Judgment { query, doc, grade })
        .collect();
    hyrank_data::formats::trec::write_qrels(out, &qrels)?;
    Ok((qrels.len(), pairs.len(), outside))
}
