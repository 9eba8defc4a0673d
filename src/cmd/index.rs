//! `hyrank index build`: a catalogue fed like a bulk API into an index folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hyrank_index::{FieldBoosts, SearchConfig, SearchIndex};

use super::data::progress_bar;
use super::search::load_encoder;

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
        /// BM25's default field boosts, stored with the index (a search may
        /// override them), Elasticsearch style:
        /// `title^2,description^0.5,brand^1.5,category` (fields left out are
        /// not searched) [default: title^2,description^0.5,brand^1.5,category^1].
        #[arg(long, value_name = "FIELD^BOOST,...")]
        fields: Option<String>,
        /// A search config file (as `hyrank tune` writes) to store as the
        /// index's default (`OUT/search.json`, read by search, serve and tune).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
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
            fields,
            config,
        } => {
            let fields = match fields {
                Some(f) => FieldBoosts::parse(&f).context("--fields")?,
                None => FieldBoosts::default(),
            };
            let config = config.as_deref().map(SearchConfig::read).transpose()?;
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
                    fields,
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
            if let Some(c) = config {
                let path = out.join(hyrank_index::config::INDEX_CONFIG_FILE);
                c.write(&path)?;
                println!(
                    "stored the search config as the index's default: {}",
                    path.display()
                );
            }
        }
    }
    Ok(())
}
