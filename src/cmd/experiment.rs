//! `hyrank experiment ab|interleave|offpolicy|study` and `hyrank promote`:
//! rankers of the registry (or retrieval alone, or the synthetic world's
//! logging ranker) deployed in an environment, and the promotion gate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use hyrank_data::policy::RankingPolicy;
use hyrank_data::synth::LoggingPolicy;
use hyrank_eval::gate::Decision;
use hyrank_eval::interleaving::Method;
use hyrank_experiment::ab::{run_ab, AbConfig};
use hyrank_experiment::env::{Environment, FittedEnv, SyntheticEnv};
use hyrank_experiment::gate::{run_gate, GatePolicy, OfflineValues};
use hyrank_experiment::interleave::{run_interleave, Credit, InterleaveConfig};
use hyrank_experiment::offpolicy::{estimate, simulate_log, visits_from_events, OffPolicyReport};
use hyrank_experiment::online::credit_online;
use hyrank_experiment::policy::CachedPolicy;
use hyrank_experiment::study::{run_study, StudyConfig};
use hyrank_experiment::{report, write_report};
use hyrank_index::{Mode, SearchIndex};
use hyrank_ranker::features::ProductTable;
use hyrank_ranker::registry::Registry;
use hyrank_ranker::stage::{RankStage, RankingModel, DEFAULT_RERANK_DEPTH};
use hyrank_ranker::{Pipeline, PipelinePolicy};
use rayon::prelude::*;

use super::config_args::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// A simulated A/B test: users split by hash between two rankers.
    Ab(AbArgs),
    /// Interleaving (team-draft, balanced, or team-draft multileaving of
    /// three or more rankers) in an environment.
    Interleave(InterleaveArgs),
    /// Off-policy estimates (IPS, SNIPS, doubly robust) of rankers' click
    /// and purchase rates from a log with propensities.
    Offpolicy(OffPolicyArgs),
    /// The measurements: interleaving vs A/B sensitivity, the gate's
    /// validity, off-policy coverage, over many seeds.
    Study(StudyArgs),
    /// Credit for interleaving served online: the search API's interleaved
    /// pages (`interleave=ID`) in a log, with their clicks or purchases.
    Credit(CreditArgs),
}

#[derive(Debug, Args)]
pub struct CreditArgs {
    /// The log the pages and their events were written to (`hyrank serve
    /// --event-log DIR`, or any log folder).
    #[arg(long)]
    pub log: PathBuf,
    /// Credit from `clicks` or `purchases`.
    #[arg(long, default_value = "clicks")]
    pub credit: String,
    /// One JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Where the rankers are deployed.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// `synthetic` (the world in --data, true grades known) or a click-model
    /// file (`hyrank clickmodel fit`) whose clicks, with the conversions of
    /// --env-log, simulate the users.
    #[arg(long, default_value = "synthetic")]
    pub env: String,
    /// The folder `hyrank data generate` wrote (world.json).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With a fitted --env: the log its queries and conversion rates come from.
    #[arg(long)]
    pub env_log: Option<PathBuf>,
    /// Results per page.
    #[arg(long, default_value_t = 10)]
    pub page_size: usize,
}

/// How ranker ids become rankers.
#[derive(Debug, Args)]
pub struct RankersArgs {
    /// Index folder (for registry rankers and `bm25`, `dense`, `hybrid`).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Model registry (ids: `champion` or a version id).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// The interaction log the behavioural features read.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Features as of this time (`history-end`, the default with
    /// --history; a date; an RFC 3339 time).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Candidates a model scores per query.
    #[arg(long, default_value_t = DEFAULT_RERANK_DEPTH)]
    pub rerank_depth: usize,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Sentence-embedding model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AbArgs {
    /// The control arm's ranker.
    #[arg(long)]
    pub control: String,
    /// The treatment arm's ranker.
    #[arg(long)]
    pub treatment: String,
    /// Sessions in all.
    #[arg(long, default_value_t = 20_000)]
    pub sessions: u64,
    /// Seed of users, visits and reactions.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of users in treatment.
    #[arg(long, default_value_t = 0.5)]
    pub split: f64,
    /// Bootstrap resamples of the effect's CI (0: none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Report stem: writes STEM.json and STEM.html.
    #[arg(long, default_value = "ab")]
    pub out: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub rankers: RankersArgs,
}

#[derive(Debug, Args)]
pub struct InterleaveArgs {
    /// Two rankers (or more: team-draft multileaving), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub rankers: Vec<String>,
    /// Sessions.
    #[arg(long, default_value_t = 20_000)]
    pub sessions: u64,
    /// team-draft or balanced.
    #[arg(long, default_value = "team-draft")]
    pub method: String,
    /// The credit the verdict is on: clicks or purchases.
    #[arg(long, default_value = "clicks")]
    pub credit: String,
    /// Significance level of the sign test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report stem: writes STEM.json and STEM.html.
    #[arg(long, default_value = "interleave")]
    pub out: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub rankers_from: RankersArgs,
}

#[derive(Debug, Args)]
pub struct OffPolicyArgs {
    /// A log whose impressions carry propensities (`hyrank data generate
    /// --randomize`); or give --simulate to log in the environment.
    #[arg(long, required_unless_present = "simulate")]
    pub log: Option<PathBuf>,
    /// The rankers to estimate, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub ranker: Vec<String>,
    /// Simulate this many randomised logged pages of --logging instead of
    /// reading --log.
    #[arg(long, conflicts_with = "log")]
    pub simulate: Option<u64>,
    /// With --simulate: the logging ranker.
    #[arg(long, default_value = "logging")]
    pub logging: String,
    /// With --simulate: share of uniformly permuted pages.
    #[arg(long, default_value_t = 0.3)]
    pub epsilon: f64,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report stem: writes STEM.json and STEM.html.
    #[arg(long, default_value = "offpolicy")]
    pub out: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub rankers_from: RankersArgs,
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The base ranker the study improves on.
    #[arg(long, default_value = "logging")]
    pub base: String,
    /// Seeds of the sensitivity study.
    #[arg(long, default_value_t = 50)]
    pub sensitivity_seeds: u64,
    /// Sessions per seed and method in the sensitivity study.
    #[arg(long, default_value_t = 200_000)]
    pub sensitivity_sessions: u64,
    /// Sessions every seed runs both methods to, looking for p < 0.05 and
    /// whether it is kept (0: ten times --sensitivity-sessions). Set it well
    /// past the A/B test's 80 %-power point, or its figures are capped.
    #[arg(long, default_value_t = 0)]
    pub sensitivity_max_sessions: u64,
    /// Seeds of the gate study.
    #[arg(long, default_value_t = 200)]
    pub gate_seeds: u64,
    /// Seeds of the off-policy study.
    #[arg(long, default_value_t = 200)]
    pub offpolicy_seeds: u64,
    /// Logged pages per seed of the off-policy study.
    #[arg(long, default_value_t = 20_000)]
    pub offpolicy_sessions: u64,
    /// Share of randomised logged pages.
    #[arg(long, default_value_t = 0.3)]
    pub epsilon: f64,
    /// True relative purchase lift of the improved ranker.
    #[arg(long, default_value_t = 0.02)]
    pub lift: f64,
    /// The gate's policy (TOML); default: examples/promotion.toml's evidence.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Report file (JSON).
    #[arg(long, default_value = "study.json")]
    pub out: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub rankers_from: RankersArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The candidate version.
    #[arg(long)]
    pub candidate: String,
    /// The gate's policy (TOML).
    #[arg(long)]
    pub policy: PathBuf,
    /// Why (in the audit entry, with the decision).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Report stem: writes STEM.json and STEM.html.
    #[arg(long, default_value = "decision")]
    pub out: PathBuf,
    /// Decide and report, but change nothing in the registry.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub rankers: RankersArgs,
}

/// The default gate policy of the study (what examples/promotion.toml asks).
pub const DEFAULT_POLICY: &str = "[gate]\nalpha = 0.05\nonline = \"any\"\n\n[ab]\nsessions = 20000\n\n[interleaving]\nsessions = 20000\nmethod = \"team-draft\"\ncredit = \"purchases\"\n";

/// An environment and what is needed to deploy rankers in it.
struct Deployment {
    env: Arc<dyn Environment>,
    /// The synthetic world's environment, for the `logging` ranker.
    world: Option<Arc<SyntheticEnv>>,
    index: Option<Arc<SearchIndex>>,
    registry: Option<Registry>,
    stage_parts: Option<StageParts>,
}

struct StageParts {
    products: Arc<ProductTable>,
    store: Arc<std::sync::RwLock<hyrank_ranker::features::FeatureStore>>,
    as_of: Option<hyrank_data::Timestamp>,
}

/// Ranker ids that are not registry versions.
fn is_builtin(id: &str) -> bool {
    matches!(id, "logging" | "bm25" | "dense" | "hybrid")
}

/// The environment, and the synthetic world's where it is one.
type Loaded = (Arc<dyn Environment>, Option<Arc<SyntheticEnv>>);

fn load_env(a: &EnvArgs) -> Result<Loaded> {
    if a.page_size == 0 {
        bail!("--page-size must be at least 1");
    }
    if a.env == "synthetic" {
        let dir = a.data.as_deref().context(
            "--env synthetic needs --data DIR (the folder `hyrank data generate` wrote)",
        )?;
        let env = Arc::new(SyntheticEnv::from_dir(dir, a.page_size)?);
        return Ok((env.clone(), Some(env)));
    }
    let path = Path::new(&a.env);
    let file = super::clickmodel::read_model(path).with_context(|| {
        format!(
            "--env is `synthetic` or a click-model file; {} is neither",
            path.display()
        )
    })?;
    let log = a.env_log.as_deref().context(
        "a fitted --env needs --env-log DIR: the log its queries and conversion rates come from",
    )?;
    let events = super::train_log::read_log_sorted(log)?;
    let env = FittedEnv::new(
        file.model,
        &events,
        a.page_size,
        &format!("fitted {} ({})", path.display(), log.display()),
    )?;
    Ok((Arc::new(env), None))
}

fn deploy(env: &EnvArgs, r: &RankersArgs, ids: &[&str]) -> Result<Deployment> {
    let (env, world) = load_env(env)?;
    let needs_index = ids.iter().any(|id| *id != "logging");
    let versions: Vec<&str> = ids.iter().copied().filter(|id| !is_builtin(id)).collect();
    let registry = match (&r.registry, versions.first()) {
        (Some(d), Some(_)) => Some(super::model::open_existing(d)?),
        (None, Some(id)) => {
            bail!("ranker `{id}` is a registry id: give --registry DIR (or use logging, bm25, dense or hybrid)")
        }
        (_, None) => None,
    };
    if let Some(reg) = &registry {
        for id in &versions {
            reg.resolve(id)
                .with_context(|| format!("unknown ranker `{id}`"))?;
        }
    }
    let index = if needs_index {
        let dir = r
            .index
            .as_deref()
            .context("rankers other than `logging` search an index: give --index DIR")?;
        let has_vectors = hyrank_index::Manifest::read(dir)?.model_id.is_some();
        Some(super::search::open_index(
            dir,
            r.model_dir.as_deref(),
            has_vectors,
        )?)
    } else {
        None
    };
    let stage_parts = match (&registry, &index) {
        (Some(_), Some(index)) => {
            let as_of = r
                .as_of
                .as_deref()
                .or(r.history.as_ref().map(|_| "history-end"));
            let products = Arc::new(ProductTable::new(&index.products()?));
            let (store, as_of) =
                super::ranker_args::history_store(r.history.as_deref(), as_of, &products)?;
            Some(StageParts {
                products,
                store,
                as_of,
            })
        }
        _ => None,
    };
    Ok(Deployment {
        env,
        world,
        index,
        registry,
        stage_parts,
    })
}

impl Deployment {
    /// The ranker named `id`, cached per query, its lists computed for every
    /// query of the environment (with progress).
    fn policy(&self, id: &str, r: &RankersArgs) -> Result<CachedPolicy> {
        let depth = self.env.page_size();
        let inner: Arc<dyn RankingPolicy> = match id {
            "logging" => {
                let env = self.world.as_ref().context(
                    "ranker `logging` is the synthetic world's: it needs --env synthetic --data DIR",
                )?;
                // Seeded as `hyrank data generate` seeds the logger it logs with.
                let world = env.world();
                Arc::new(LoggingPolicy::new(world, world.config.seed))
            }
            _ => {
                let index = self.index.clone().context("no index")?;
                let dir = r.index.as_deref().context("no index")?;
                let mut config = r.config.resolve(dir, Some(depth))?;
                let stage = match id {
                    "bm25" | "dense" | "hybrid" => {
                        config.mode = match id {
                            "bm25" => Mode::Bm25,
                            "dense" => Mode::Dense,
                            _ => Mode::Hybrid,
                        };
                        None
                    }
                    _ => Some(self.stage(id, r)?),
                };
                let name = match (id, &self.registry) {
                    ("champion", Some(reg)) => reg.resolve("champion")?,
                    _ => id.to_owned(),
                };
                Arc::new(PipelinePolicy::new(
                    Pipeline::new(index).with_ranker(stage),
                    config,
                    name,
                )?)
            }
        };
        let p = CachedPolicy::new(inner, depth);
        warm(&p, self.env.as_ref())?;
        Ok(p)
    }

    fn stage(&self, id: &str, r: &RankersArgs) -> Result<Arc<RankStage>> {
        let reg = self.registry.as_ref().context("no registry")?;
        let parts = self.stage_parts.as_ref().context("no index")?;
        let model =
            RankingModel::load(reg, id).with_context(|| format!("loading ranker `{id}`"))?;
        let stage = RankStage::new(
            model,
            parts.products.clone(),
            parts.store.clone(),
            r.rerank_depth,
        )?
        .with_as_of(parts.as_of);
        Ok(Arc::new(stage))
    }
}

/// Ranks every query of `env` once, in parallel, with a progress bar.
fn warm(p: &CachedPolicy, env: &dyn Environment) -> Result<()> {
    let bar = super::data::progress_bar();
    bar.set_prefix(p.name().to_owned());
    bar.set_length(env.queries().len() as u64);
    let done = AtomicUsize::new(0);
    env.queries().par_iter().try_for_each(|q| -> Result<()> {
        p.list(&q.id, &q.text)
            .with_context(|| format!("ranker `{}` on query {}", p.name(), q.id.0))?;
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(20) {
            bar.set_position(n as u64);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{}: ranked the {} queries of the environment",
        p.name(),
        env.queries().len()
    );
    Ok(())
}

fn say_written(what: &str, (json, html): (PathBuf, PathBuf)) {
    println!(
        "{what} written to {} and {}",
        json.display(),
        html.display()
    );
}

pub fn run(cmd: ExperimentCommand) -> Result<()> {
    match cmd {
        ExperimentCommand::Ab(a) => run_ab_cmd(&a),
        ExperimentCommand::Interleave(a) => run_interleave_cmd(&a),
        ExperimentCommand::Offpolicy(a) => run_offpolicy_cmd(&a),
        ExperimentCommand::Study(a) => run_study_cmd(&a),
        ExperimentCommand::Credit(a) => run_credit_cmd(&a),
    }
}

fn run_credit_cmd(a: &CreditArgs) -> Result<()> {
    let credit = Credit::parse(&a.credit)?;
    let events = super::train_log::read_log_sorted(&a.log)?;
    let r = credit_online(&events, credit);
    if r.malformed_pages > 0 || r.unmatched_events > 0 {
        eprintln!(
            "note: {} interleaved pages left out (a result without its team, or a ranker list that does not parse); {} {} on a position or product the page did not show, not credited",
            r.malformed_pages,
            r.unmatched_events,
            credit.name()
        );
    }
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    if r.experiments.is_empty() {
        println!(
            "no interleaved pages in {} (search with interleave=ID and log the page with each result's team)",
            a.log.display()
        );
    }
    for x in &r.experiments {
        println!(
            "{} of {} on {}: {} pages, {} ties",
            x.method,
            x.rankers.join(", "),
            x.credit,
            x.pages,
            x.ties
        );
        for (i, name) in x.rankers.iter().enumerate() {
            println!(
                "  {name:<24} won {:>8} pages, credited {:>10.0} {}",
                x.wins[i], x.credited[i], x.credit
            );
        }
        match (x.p_value, &x.leader) {
            (Some(p), Some(l)) => println!("  sign test p = {p:.4}; ahead: {l}"),
            (Some(p), None) => println!("  sign test p = {p:.4}; even"),
            (None, _) => {}
        }
    }
    Ok(())
}

fn run_ab_cmd(a: &AbArgs) -> Result<()> {
    if !(a.split > 0.0 && a.split < 1.0) {
        bail!(
            "--split must be between 0 and 1 (exclusive), got {}",
            a.split
        );
    }
    if a.sessions < 2 {
        bail!("--sessions must be at least 2");
    }
    let d = deploy(&a.env, &a.rankers, &[&a.control, &a.treatment])?;
    let control = d.policy(&a.control, &a.rankers)?;
    let treatment = d.policy(&a.treatment, &a.rankers)?;
    eprintln!("A/B: {} sessions in {}", a.sessions, d.env.name());
    let r = run_ab(
        d.env.as_ref(),
        &control,
        &treatment,
        &AbConfig {
            sessions: a.sessions,
            seed: a.seed,
            split: a.split,
            bootstrap: a.bootstrap,
            ..AbConfig::default()
        },
    )?;
    print_ab(&r);
    say_written(
        "A/B report",
        write_report(&a.out, &r, &report::ab_html(&r))?,
    );
    Ok(())
}

fn print_ab(r: &hyrank_experiment::ab::AbReport) {
    println!(
        "A/B {} (control) vs {} (treatment): {} sessions, {:.0} sessions/s, sample-ratio p = {:.3}",
        r.arms[0].ranker, r.arms[1].ranker, r.config.sessions, r.sessions_per_second, r.srm_p_value
    );
    println!(
        "  {:<22} {:>10} {:>10} {:>9} {:>22} {:>9}",
        "metric", "control", "treatment", "lift", "95 % CI of the effect", "p"
    );
    for m in &r.metrics {
        println!(
            "  {:<22} {:>10.5} {:>10.5} {:>8.2}% [{:>9.5}, {:>9.5}] {:>9.2e}",
            m.name,
            m.control,
            m.treatment,
            100.0 * m.comparison.relative,
            m.comparison.ci.0,
            m.comparison.ci.1,
            m.comparison.p_value
        );
    }
    if let (Some(c), Some(t)) = (&r.arms[0].true_value, &r.arms[1].true_value) {
        println!(
            "  true purchases per session: control {:.5}, treatment {:.5}",
            c.purchases, t.purchases
        );
    }
}

fn run_interleave_cmd(a: &InterleaveArgs) -> Result<()> {
    if a.rankers.len() < 2 {
        bail!("--rankers needs two rankers or more, comma-separated");
    }
    let method = match a.method.as_str() {
        "team-draft" | "team_draft" | "td" => Method::TeamDraft,
        "balanced" => Method::Balanced,
        other => bail!("--method: unknown `{other}` (team-draft or balanced)"),
    };
    if method == Method::Balanced && a.rankers.len() != 2 {
        bail!("balanced interleaving compares two rankers; team-draft multileaves more");
    }
    let credit = Credit::parse(&a.credit)?;
    let ids: Vec<&str> = a.rankers.iter().map(String::as_str).collect();
    let d = deploy(&a.env, &a.rankers_from, &ids)?;
    let policies = ids
        .iter()
        .map(|id| d.policy(id, &a.rankers_from))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&CachedPolicy> = policies.iter().collect();
    eprintln!(
        "interleaving ({}): {} sessions in {}",
        a.method,
        a.sessions,
        d.env.name()
    );
    let r = run_interleave(
        d.env.as_ref(),
        &refs,
        &InterleaveConfig {
            sessions: a.sessions,
            seed: a.seed,
            method,
            credit,
            alpha: a.alpha,
            true_values: true,
        },
    )?;
    print_interleave(&r);
    say_written(
        "interleaving report",
        write_report(&a.out, &r, &report::interleave_html(&r))?,
    );
    Ok(())
}

fn print_interleave(r: &hyrank_experiment::interleave::InterleaveReport) {
    println!(
        "interleaving of {}: {:.0} sessions/s",
        r.rankers.join(", "),
        r.sessions_per_second
    );
    for p in &r.pairs {
        println!(
            "  {} vs {}: clicks {}-{} (preference {:+.4}, p = {:.2e}); purchases {}-{} (preference {:+.4}, p = {:.2e})",
            r.rankers[p.a],
            r.rankers[p.b],
            p.wins[0],
            p.losses[0],
            p.preference[0],
            p.p_value[0],
            p.wins[1],
            p.losses[1],
            p.preference[1],
            p.p_value[1]
        );
    }
    match &r.winner {
        Some(w) => println!("  winner: {w}"),
        None => println!("  no significant winner"),
    }
}

fn run_offpolicy_cmd(a: &OffPolicyArgs) -> Result<()> {
    let mut ids: Vec<&str> = a.ranker.iter().map(String::as_str).collect();
    if a.simulate.is_some() {
        ids.push(&a.logging);
    }
    let d = deploy(&a.env, &a.rankers_from, &ids)?;
    let visits = match (&a.log, a.simulate) {
        (_, Some(n)) => {
            let logging = d.policy(&a.logging, &a.rankers_from)?;
            simulate_log(d.env.as_ref(), &logging, a.epsilon, n, a.seed)?
        }
        (Some(log), None) => {
            let events = super::train_log::read_log_sorted(log)?;
            visits_from_events(&events).with_context(|| log.display().to_string())?
        }
        (None, None) => bail!("give --log DIR or --simulate N"),
    };
    eprintln!("{} logged pages with propensities", visits.len());
    let truth_env = d.world.is_some().then_some(d.env.as_ref());
    let mut reports: Vec<OffPolicyReport> = Vec::new();
    for id in &a.ranker {
        let p = d.policy(id, &a.rankers_from)?;
        reports.push(estimate(&visits, &p, a.level, truth_env)?);
    }
    for r in &reports {
        println!(
            "{}: {} pages, {:.1} % of its results unsupported by the log",
            r.ranker,
            r.pages,
            100.0 * r.unsupported
        );
        if r.unsupported > 0.05 {
            println!(
                "  warning: the log never showed {:.1} % of this ranker's results for their query; the estimators credit them nothing, so the estimates are biased low (log with wider randomisation, or compare rankers close to the logger)",
                100.0 * r.unsupported
            );
        }
        for w in &r.rewards {
            let truth = w
                .true_value
                .map_or(String::new(), |t| format!(", true {t:.5}"));
            println!(
                "  {:?} per page (logged {:.5}{truth}):",
                w.reward, w.logged_value
            );
            for e in &w.estimates {
                println!(
                    "    {:<6} {:.5} [{:.5}, {:.5}]",
                    e.estimator, e.value, e.ci.0, e.ci.1
                );
            }
        }
    }
    let html = report::offpolicy_html(&reports);
    say_written("off-policy report", write_report(&a.out, &reports, &html)?);
    Ok(())
}

fn run_study_cmd(a: &StudyArgs) -> Result<()> {
    let policy = match &a.policy {
        Some(p) => GatePolicy::read(p)?,
        None => GatePolicy::parse(DEFAULT_POLICY, "the default policy")?,
    };
    let d = deploy(&a.env, &a.rankers_from, &[&a.base])?;
    let base = d.policy(&a.base, &a.rankers_from)?;
    let t = std::time::Instant::now();
    let r = run_study(
        d.env.as_ref(),
        &base,
        &StudyConfig {
            sensitivity_seeds: a.sensitivity_seeds,
            sensitivity_sessions: a.sensitivity_sessions,
            sensitivity_max_sessions: a.sensitivity_max_sessions,
            gate_seeds: a.gate_seeds,
            offpolicy_seeds: a.offpolicy_seeds,
            offpolicy_sessions: a.offpolicy_sessions,
            epsilon: a.epsilon,
            lift: a.lift,
            policy,
        },
        &|line| eprintln!("{line}"),
    )?;
    let mut text = serde_json::to_string_pretty(&r)?;
    text.push('\n');
    hyrank_data::fsio::write_atomic(&a.out, text.as_bytes())?;
    println!(
        "study finished in {:.0} s; written to {}",
        t.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

/// `hyrank promote`: the gate decides on the candidate against the
/// champion; promote swaps the champion, every decision is audited.
pub fn run_promote(a: PromoteArgs) -> Result<()> {
    let policy = GatePolicy::read(&a.policy)?;
    let reg_dir = a
        .rankers
        .registry
        .as_deref()
        .context("hyrank promote needs --registry DIR")?;
    let reg = super::model::open_existing(reg_dir)?;
    let candidate = reg
        .resolve(&a.candidate)
        .with_context(|| format!("unknown candidate `{}`", a.candidate))?;
    let champion = reg.pointer()?.champion.with_context(|| {
        format!(
            "{} has no champion to compare {candidate} with: promote a first one with `hyrank model promote`",
            reg_dir.display()
        )
    })?;
    if champion == candidate {
        bail!("{candidate} is already the champion");
    }
    let offline = match &policy.offline {
        Some(rule) => {
            let value = |id: &str| -> Result<f64> {
                reg.show(id)?
                    .metrics
                    .get(&rule.metric)
                    .copied()
                    .with_context(|| {
                        format!(
                            "the policy's offline.metric `{}` is not among {id}'s metrics (see `hyrank model show {id}`)",
                            rule.metric
                        )
                    })
            };
            Some(OfflineValues {
                candidate: value(&candidate)?,
                champion: value(&champion)?,
            })
        }
        None => None,
    };
    let d = deploy(&a.env, &a.rankers, &[&candidate, &champion])?;
    let cand = d.policy(&candidate, &a.rankers)?;
    let champ = d.policy(&champion, &a.rankers)?;
    eprintln!("gate: {candidate} (candidate) against {champion} (champion)");
    let r = run_gate(&policy, d.env.as_ref(), &cand, &champ, offline, policy.seed)?;
    for c in &r.checks {
        println!(
            "  {:<14} {:<13} {}",
            c.kind,
            format!("{:?}", c.verdict),
            c.detail
        );
    }
    let because: Vec<String> = r
        .checks
        .iter()
        .map(|c| format!("{} {:?}", c.kind, c.verdict).to_lowercase())
        .collect();
    let because = because.join(", ");
    let written = write_report(&a.out, &r, &report::gate_html(&r))?;
    let summary = format!(
        "gate {}: {}{}",
        a.policy.display(),
        because,
        if a.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", a.reason)
        }
    );
    let action = match r.decision {
        Decision::Promote => "promote",
        Decision::Hold => "hold",
        Decision::Reject => "reject",
    };
    println!("decision: {action} {candidate} ({because})");
    say_written("decision", written);
    if a.dry_run {
        println!("(dry run: the registry is unchanged)");
        return Ok(());
    }
    match r.decision {
        Decision::Promote => {
            let p = reg.promote(&candidate, &summary)?;
            println!(
                "champion: {} (was {champion}; `hyrank model rollback` undoes it)",
                p.champion.unwrap_or_default()
            );
        }
        _ => {
            reg.record_decision(action, &candidate, &summary)?;
            println!("champion unchanged: {champion}");
        }
    }
    Ok(())
}
