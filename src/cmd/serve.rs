//! `hyrank serve`: the search API over one index folder.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use hyrank_api::AppState;
use hyrank_index::{Manifest, SearchIndex};

use super::config_args::ConfigArgs;
use super::search::load_encoder;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Model folder (else resolved as `hyrank model fetch` does); needed when
    /// the index has vectors.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Once listening, write the URL (`http://host:port`) to this file
    /// (atomically), for scripts that start the server in the background.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// The base every request is layered over: these flags over `--config
    /// FILE`, else over the index's stored config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Ranking: with `--registry DIR` the champion (or `--ranker ID`) re-ranks
    /// the top `--rerank-depth` candidates; the server follows the champion.
    #[command(flatten)]
    pub ranking: super::ranker_args::RankerArgs,
    /// Seconds between checks for a new index generation (published by
    /// `hyrank index build`) and a new champion (`hyrank model promote`),
    /// which are then served without a restart; 0 never checks.
    #[arg(long, default_value_t = 2.0)]
    pub watch: f64,
    /// Append the events of `POST /events` to this interaction log (created
    /// if absent; one server per log), each body fsynced before it is
    /// acknowledged. With --registry its events so far are counted by the
    /// feature store at start (after --history's, unless it is the same
    /// folder), so a restart loses none.
    #[arg(long)]
    pub event_log: Option<PathBuf>,
}

pub fn run(a: ServeArgs) -> Result<()> {
    let base = a.config.resolve(&a.index, None)?;
    if !(a.watch.is_finite() && a.watch >= 0.0) {
        bail!("--watch takes seconds >= 0, got {}", a.watch);
    }
    let manifest =
        Manifest::read(&a.index).with_context(|| format!("opening index {}", a.index.display()))?;
    let encoder = match manifest.model_id {
        Some(_) => Some(load_encoder(a.model_dir.as_deref(), 32)?),
        None => None,
    };
    let index = SearchIndex::open(&a.index, encoder)
        .with_context(|| format!("opening index {}", a.index.display()))?;
    let stage = a.ranking.stage(&index)?;
    let mut state = AppState::with_config(Arc::new(index), base);
    if let Some(dir) = &a.event_log {
        let log = hyrank_data::log::EventLog::open(dir, hyrank_data::log::LogConfig::default())
            .with_context(|| format!("opening the event log {}", dir.display()))?;
        if let Some(r) = log.recovery() {
            eprintln!(
                "note: {}: dropped a torn final line {} ({} bytes, never acknowledged): {}",
                r.segment.display(),
                r.line,
                r.dropped_bytes,
                r.reason
            );
        }
        if let Some(stage) = &stage {
            let same =
                a.ranking.history.as_deref().is_some_and(|h| {
                    std::fs::canonicalize(h).ok() == std::fs::canonicalize(dir).ok()
                });
            if !same {
                let events = super::train_log::read_log_sorted(dir)?;
                let mut store = stage
                    .store()
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for e in &events {
                    store.apply(e);
                }
                eprintln!(
                    "event log {}: {} events counted by the feature store",
                    dir.display(),
                    events.len()
                );
            }
        }
        state = state.with_event_log(log);
    }
    if let Some(stage) = stage {
        // `--ranker champion` follows the champion; a named version stays.
        let follow = if a.ranking.ranker == "champion" {
            a.ranking.registry()?
        } else {
            None
        };
        state = state.with_ranker(stage, follow);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.addr)
            .await
            .with_context(|| format!("listening on {}", a.addr))?;
        let url = format!("http://{}", listener.local_addr()?);
        if let Some(f) = &a.ready_file {
            hyrank_data::fsio::write_atomic(f, format!("{url}\n").as_bytes())?;
        }
        eprintln!(
            "hyrank API on {url} over {} (generation {}, {} products{}); try {url}/search?q=sofa&explain=true",
            a.index.display(),
            state.index().manifest.generation,
            state.index().bm25.len(),
            state
                .ranker()
                .map(|r| format!(", ranked by {}", r.model().id))
                .unwrap_or_default()
        );
        if a.watch > 0.0 {
            tokio::spawn(hyrank_api::watch(
                state.clone(),
                std::time::Duration::from_secs_f64(a.watch),
            ));
        }
        hyrank_api::serve(listener, state, shutdown_signal()).await?;
        eprintln!("hyrank API stopped");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
