//! `hyrank search`, `hyrank embed`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use hyrank_data::formats::ndjson::read_queries;
use hyrank_data::formats::trec::write_run;
use hyrank_index::{Encoder, EncoderConfig, Mode, SearchIndex};
use hyrank_ranker::Pipeline;

use super::config_args::ConfigArgs;
use super::data::progress_bar;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// The query (or use --queries for a batch).
    pub query: Option<String>,
    /// Queries file (`id<TAB>text` or JSONL) for a batch run.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// With --queries: write a TREC run here.
    #[arg(long)]
    pub run_out: Option<PathBuf>,
    /// With --queries: write the oracle instead: each query's candidates
    /// re-ordered by their grade in these qrels (the bound of any re-ranker).
    #[arg(long, requires = "run_out")]
    pub oracle: Option<PathBuf>,
    /// Results per query [default: 10].
    #[arg(long)]
    pub k: Option<usize>,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub ranking: super::ranker_args::RankerArgs,
    /// Show each retriever's score and rank (and, with a ranker, p_click,
    /// p_purchase, the final score and the largest feature contributions).
    #[arg(long)]
    pub explain: bool,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Print JSON (the API's answer for the same search).
    #[arg(long)]
    pub json: bool,
}

/// Opens the index with the model when `needs_model` (its vectors need it).
pub fn open_index(
    dir: &Path,
    model_dir: Option<&Path>,
    needs_model: bool,
) -> Result<Arc<SearchIndex>> {
    let encoder = if needs_model {
        Some(load_encoder(model_dir, 32)?)
    } else {
        None
    };
    let index = SearchIndex::open(dir, encoder)
        .with_context(|| format!("opening index {}", dir.display()))?;
    Ok(Arc::new(index))
}

pub fn run_search(a: SearchArgs) -> Result<()> {
    if a.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
        bail!("the query is empty: give the text to search for (the API refuses an empty `q` too)");
    }
    let config = a.config.resolve(&a.index, a.k)?;
    let needs_model = config.mode != Mode::Bm25
        || (a.ranking.ranks() && hyrank_index::Manifest::read(&a.index)?.model_id.is_some());
    let index = open_index(&a.index, a.model_dir.as_deref(), needs_model)?;
    let stage = a.ranking.stage(&index)?;
    let pipeline = Pipeline::new(index).with_ranker(stage);
    match (&a.query, &a.queries) {
        (Some(q), None) => {
            let page = pipeline.search_explained(q, &config, a.explain)?;
            if a.json {
                println!("{}", serde_json::to_string(&page)?);
                return Ok(());
            }
            println!(
                "{} results for {q:?} ({}{}, {:.1} ms, request {}, generation {})",
                page.hits.len(),
                page.retriever,
                page.ranker
                    .as_deref()
                    .map(|r| format!(", ranked by {r}"))
                    .unwrap_or_default(),
                page.took_ms,
                page.request_id,
                page.generation
            );
            for (i, h) in page.hits.iter().enumerate() {
                let c = &h.candidate;
                print!("{:>3}. {:<10} {:>9.4}  ", i + 1, c.doc, c.score);
                if a.explain {
                    let show = |h: Option<hyrank_index::retriever::Hit>| {
                        h.map_or("-".to_owned(), |h| format!("{:.4}@{}", h.score, h.rank))
                    };
                    print!("[bm25 {:<14} dense {:<12}] ", show(c.bm25), show(c.dense));
                }
                match h.sponsored() {
                    Some(ad) => println!(
                        "{}  [sponsored: {}, bid {:.2}]",
                        h.title, ad.campaign, ad.bid
                    ),
                    None => println!("{}", h.title),
                }
                if let (true, Some(r)) = (a.explain, &h.ranking) {
                    let p = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
                    let parts: Vec<String> = r
                        .contributions
                        .iter()
                        .map(|c| format!("{} {:+.4}", c.feature, c.contribution))
                        .collect();
                    println!(
                        "       model: score {:.5} p_click {} p_purchase {} (retrieval rank {}); {}",
                        r.score,
                        p(r.p_click),
                        p(r.p_purchase),
                        r.retrieval_rank,
                        parts.join(", ")
                    );
                }
            }
        }
        (None, Some(file)) => {
            let out = a
                .run_out
                .clone()
                .context("--queries needs --run-out FILE")?;
            let queries = read_queries(file)?;
            let bar = progress_bar();
            bar.set_prefix("search");
            bar.set_length(queries.len() as u64);
            let t = Instant::now();
            let mut rows =
                pipeline.run(&queries, &config, &|done| bar.set_position(done as u64))?;
            bar.finish_and_clear();
            if let Some(q) = &a.oracle {
                let tag = format!("{}+oracle", rows.first().map_or("run", |r| r.tag.as_str()));
                rows = hyrank_eval::oracle::oracle_rerank(
                    &rows,
                    &hyrank_data::formats::trec::read_qrels(q)?,
                    &tag,
                );
            }
            let secs = t.elapsed().as_secs_f64();
            write_run(&out, &rows)?;
            println!(
                "{}: {} queries in {secs:.1}s ({:.1} ms/query), {} rows → {}",
                rows.first().map_or("search", |r| r.tag.as_str()),
                queries.len(),
                1000.0 * secs / queries.len().max(1) as f64,
                rows.len(),
                out.display()
            );
        }
        _ => bail!("give a QUERY, or --queries FILE --run-out FILE"),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Text file, one text per line.
    #[arg(long)]
    pub input: PathBuf,
    /// Output: `.npy` (float32, n × dim) or `.jsonl`.
    #[arg(long)]
    pub out: PathBuf,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

pub fn load_encoder(model_dir: Option<&Path>, batch_size: usize) -> Result<Encoder> {
    load_encoder_with(
        model_dir,
        EncoderConfig {
            batch_size,
            ..EncoderConfig::from_env()?
        },
    )
}

pub fn load_encoder_with(model_dir: Option<&Path>, config: EncoderConfig) -> Result<Encoder> {
    let (enc, m) = Encoder::find_and_load(model_dir, Path::new("."), config)?;
    tracing::info!(dir = %m.dir.display(), source = %m.source, backend = enc.backend().name(), "model");
    Ok(enc)
}

pub fn run_embed(a: EmbedArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.input)
        .with_context(|| format!("reading {}", a.input.display()))?;
    let texts: Vec<&str> = text.lines().collect();
    let enc = load_encoder(a.model_dir.as_deref(), a.batch_size)?;
    let t = Instant::now();
    let vecs = enc.encode(&texts)?;
    let secs = t.elapsed().as_secs_f64();
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "npy" => hyrank_data::formats::npy::write_npy(&a.out, &vecs, enc.dim())?,
        "jsonl" => {
            let mut f = hyrank_data::fsio::AtomicFile::create(&a.out)?;
            for (t, v) in texts.iter().zip(&vecs) {
                writeln!(f, "{}", serde_json::json!({"text": t, "embedding": v}))?;
            }
            f.commit()?;
        }
        other => bail!("--out must end in .npy or .jsonl, not `.{other}`"),
    }
    println!(
        "embedded {} texts ({} dims) in {secs:.2}s ({:.0} sentences/s) → {}",
        vecs.len(),
        enc.dim(),
        vecs.len() as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}
