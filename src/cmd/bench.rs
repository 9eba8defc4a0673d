//! `hyrank bench ...`: speed and memory of hyrank's own work, measured in
//! process (wall time, peak RSS from /proc/self/status), with the machine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::data::{run_generate, GenerateArgs};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time the synthetic-world generator and report its peak memory.
    Generate(GenerateArgs),
    /// Time evaluation: read a qrels and a run, compute the measures.
    Eval(EvalBenchArgs),
    /// Vector search: exact (f32, f16, int8) and HNSW over `.npy` matrices.
    Vectors(VectorBenchArgs),
    /// Encoder throughput (sentences/s) over a text file.
    Encode(EncodeBenchArgs),
    /// Per-query latency (p50/p99) of BM25, dense and hybrid search,
    /// including query encoding, one query at a time.
    Search(SearchBenchArgs),
    /// Ranking on a world's log: features by replay, training each model,
    /// scoring 1,000 candidates with features on one thread.
    Rank(super::bench_rank::RankBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct VectorBenchArgs {
    /// Corpus vectors, `.npy` float32 rows × dim (unit length).
    #[arg(long)]
    pub base: PathBuf,
    /// Query vectors, `.npy` float32.
    #[arg(long)]
    pub queries: PathBuf,
    /// Folder for the vector indexes built.
    #[arg(long, default_value = "out/bench-vectors")]
    pub dir: PathBuf,
    /// Depth of the exact search.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// HNSW M.
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// HNSW ef_construction.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// HNSW ef_search values to measure (recall@10 and QPS at k = 10).
    #[arg(long, default_value = "16,32,64,128")]
    pub ef_search: String,
    /// HNSW level-1 beams to measure, each over every ef_search (the first
    /// is reported as `curve`; 1 = hnswlib's greedy descent).
    #[arg(long, default_value = "16,1")]
    pub upper_beam: String,
}

#[derive(Debug, clap::Args)]
pub struct EncodeBenchArgs {
    /// Text file, one sentence a line.
    #[arg(long)]
    pub input: PathBuf,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Timed repetitions (best reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// The fused pass's matrix products: `best` (the AVX-512 kernel where
    /// the CPU has it) or `faer` (to measure what that kernel gains).
    #[arg(long, default_value = "best")]
    pub matmul: String,
}

#[derive(Debug, clap::Args)]
pub struct SearchBenchArgs {
    /// Index folder (built by `hyrank index build`).
    #[arg(long)]
    pub index: PathBuf,
    /// Queries (`id<TAB>text` or JSONL).
    #[arg(long)]
    pub queries: PathBuf,
    /// Queries to time (the first N).
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Results per query.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// Model folder.
    #[arg(long, env = "HYRANK_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Scan every vector even when the index has an HNSW graph.
    #[arg(long)]
    pub exact: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalBenchArgs {
    /// Folder for `qrels.trec` and `run.trec`; generated there if absent.
    #[arg(long, default_value = "out/bench-eval")]
    pub dir: PathBuf,
    /// Queries to generate.
    #[arg(long, default_value_t = 10_000)]
    pub queries: usize,
    /// Run depth per query (queries × depth rows).
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Judged documents per query.
    #[arg(long, default_value_t = 30)]
    pub judged: usize,
    /// Measures (default: every measure hyrank implements).
    #[arg(long, default_value = "all")]
    pub metrics: String,
    /// Timed repetitions (the best and the median are reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Peak resident set size of this process in MiB (Linux), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The CPU model and core count.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

fn dir_bytes(p: &PathBuf) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Writes a qrels and a run of the requested size (seeded, deterministic).
fn write_eval_files(a: &EvalBenchArgs) -> Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(&a.dir)?;
    let mut rng = hyrank_eval::significance::SplitMix64::new(7);
    let mut q = std::io::BufWriter::new(std::fs::File::create(a.dir.join("qrels.trec"))?);
    let mut r = std::io::BufWriter::new(std::fs::File::create(a.dir.join("run.trec"))?);
    let pool = (a.depth * 2).max(a.judged);
    for qi in 0..a.queries {
        for _ in 0..a.judged {
            // Judged documents are drawn from the same pool as retrieved ones; grades 0-3.
            writeln!(q, "q{qi} 0 d{} {}", rng.below(pool), rng.below(4))?;
        }
        let mut docs: Vec<usize> = (0..pool).collect();
        for i in 0..a.depth {
            let j = i + rng.below(pool - i);
            docs.swap(i, j);
            let score = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            writeln!(r, "q{qi} Q0 d{} {} {score:.6} bench", docs[i], i + 1)?;
        }
    }
    q.flush()?;
    r.flush()?;
    Ok(())
}

fn bench_eval(a: &EvalBenchArgs) -> Result<()> {
    use hyrank_data::formats::trec::{read_qrels, read_run};
    use hyrank_eval::{evaluate, EvalOptions, Measure, Qrels, Run};
    let (qp, rp) = (a.dir.join("qrels.trec"), a.dir.join("run.trec"));
    if !qp.exists() || !rp.exists() {
        write_eval_files(a)?;
    }
    let measures = Measure::parse_list(&a.metrics)?;
    let (mut parse, mut compute) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let qrels = Qrels::new(&read_qrels(&qp)?);
        let rows = read_run(&rp)?;
        let run = Run::new("bench", &rows);
        parse.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let e = evaluate(&qrels, &run, &measures, &EvalOptions::default())?;
        compute.push(t.elapsed().as_secs_f64());
        last = Some((rows.len(), e));
    }
    let Some((rows, e)) = last else {
        anyhow::bail!("no repetition ran")
    };
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (p_best, p_med) = stat(&mut parse);
    let (c_best, c_med) = stat(&mut compute);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let means: serde_json::Map<String, serde_json::Value> = e
        .measures
        .iter()
        .zip(&e.all)
        .map(|(m, v)| (m.to_string(), serde_json::json!(v)))
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "rows": rows, "queries": e.per_query.len(), "measures": e.measures.len(), "threads": threads,
                "parse_s": {"best": p_best, "median": p_med}, "evaluate_s": {"best": c_best, "median": c_med},
                "machine": machine(), "means": means,
            })
        );
    } else {
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        println!(
            "bench eval ({profile} build, {threads} threads, {})",
            machine()
        );
        println!(
            "  {rows} run rows, {} queries, {} measures",
            e.per_query.len(),
            e.measures.len()
        );
        println!("  read qrels + run   best {p_best:.3} s  median {p_med:.3} s");
        println!("  evaluate           best {c_best:.3} s  median {c_med:.3} s");
        println!("  total              best {:.3} s", p_best + c_best);
    }
    Ok(())
}

/// Reads a 2-d float32 `.npy` (C order) as rows.
pub fn read_npy(path: &std::path::Path) -> Result<Vec<Vec<f32>>> {
    Ok(hyrank_data::formats::npy::read_npy(path)?)
}

fn bench_vectors(a: &VectorBenchArgs) -> Result<()> {
    use hyrank_data::DocId;
    use hyrank_index::{HnswParams, SearchOptions, Storage, VectorConfig, VectorIndex};
    let base = read_npy(&a.base)?;
    let queries = read_npy(&a.queries)?;
    let dim = base.first().map_or(0, Vec::len);
    let threads = rayon_threads();
    let _ = std::fs::remove_dir_all(&a.dir);
    let mut out = serde_json::Map::new();
    out.insert("rows".into(), base.len().into());
    out.insert("dim".into(), dim.into());
    out.insert("queries".into(), queries.len().into());
    out.insert("threads".into(), threads.into());
    out.insert("machine".into(), machine().into());
    let rows = || {
        base.iter()
            .enumerate()
            .map(|(i, v)| (DocId(i.to_string()), v.as_slice()))
    };
    // Exact search, batched (all queries in one call), for each storage.
    let mut truth10: Vec<Vec<usize>> = Vec::new();
    for (name, storage) in [
        ("f32", Storage::F32),
        ("f16", Storage::F16),
        ("int8", Storage::Int8),
    ] {
        let dir = a.dir.join(name);
        let cfg = VectorConfig {
            storage,
            hnsw: None,
        };
        VectorIndex::build(&dir, rows(), dim, cfg)?;
        let idx = VectorIndex::open(&dir)?;
        let opts = SearchOptions {
            exact: true,
            ..Default::default()
        };
        let (best, hits) = best_of_3(|| idx.search_batch(&queries, a.k, None, opts))?;
        if storage == Storage::F32 {
            truth10 = hits
                .iter()
                .map(|h| h.iter().take(10).map(|x| x.0).collect())
                .collect();
        }
        let recall = recall_at(&truth10, &hits, 10);
        out.insert(
            format!("exact_{name}"),
            serde_json::json!({"k": a.k, "seconds": best, "qps": queries.len() as f64 / best, "recall_at_10": recall}),
        );
    }
    // HNSW.
    let params = HnswParams {
        m: a.m,
        ef_construction: a.ef_construction,
        ef_search: 64,
        upper_beam: hyrank_index::vectors::DEFAULT_UPPER_BEAM,
    };
    let dir = a.dir.join("hnsw");
    let t = Instant::now();
    VectorIndex::build(
        &dir,
        rows(),
        dim,
        VectorConfig {
            storage: Storage::F32,
            hnsw: Some(params),
        },
    )?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let idx = VectorIndex::open(&dir)?;
    let open_s = t.elapsed().as_secs_f64();
    // One search thread, as hnswlib's `knn_query(num_threads=1)`: the batch
    // would otherwise be split over the rayon pool.
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let parse = |list: &str, what: &str| -> Result<Vec<usize>> {
        list.split(',')
            .map(|x| {
                x.trim()
                    .parse::<usize>()
                    .with_context(|| format!("{what}: {x:?} is not a count"))
            })
            .collect()
    };
    let efs = parse(&a.ef_search, "--ef-search")?;
    // QPS and recall@10 of one search setting, on one thread.
    let point = |idx: &VectorIndex, opts: SearchOptions, ef: usize| -> Result<serde_json::Value> {
        let (best, hits) =
            best_of_3(|| one_thread.install(|| idx.search_batch(&queries, 10, None, opts)))?;
        Ok(serde_json::json!({
            "ef_search": ef, "qps": queries.len() as f64 / best, "recall_at_10": recall_at(&truth10, &hits, 10)
        }))
    };
    let mut curves = Vec::new();
    for beam in parse(&a.upper_beam, "--upper-beam")? {
        let mut curve = Vec::new();
        for &ef in &efs {
            let opts = SearchOptions {
                ef_search: Some(ef),
                upper_beam: Some(beam),
                ..Default::default()
            };
            curve.push(point(&idx, opts, ef)?);
        }
        curves.push(serde_json::json!({"upper_beam": beam, "curve": curve}));
    }
    // The same graph over f16 and int8 rows (walked compact, re-scored from f32).
    let mut compact = Vec::new();
    for (name, storage) in [("f16", Storage::F16), ("int8", Storage::Int8)] {
        let dir = a.dir.join(format!("hnsw-{name}"));
        VectorIndex::build(
            &dir,
            rows(),
            dim,
            VectorConfig {
                storage,
                hnsw: Some(params),
            },
        )?;
        let idx = VectorIndex::open(&dir)?;
        let mut curve = Vec::new();
        for &ef in &efs {
            let opts = SearchOptions {
                ef_search: Some(ef),
                ..Default::default()
            };
            curve.push(point(&idx, opts, ef)?);
        }
        compact.push(serde_json::json!({"storage": name, "curve": curve}));
    }
    out.insert("hnsw_compact".into(), serde_json::Value::Array(compact));
    let curve = curves.first().map(|c| c["curve"].clone());
    out.insert(
        "hnsw".into(),
        serde_json::json!({"m": a.m, "ef_construction": a.ef_construction, "build_s": build_s, "open_s": open_s, "search_threads": 1, "simd": idx.hnsw_hardware(), "curve": curve, "curves": curves}),
    );
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// The fastest of three runs of `f` (seconds) and its result.
fn best_of_3<T>(mut f: impl FnMut() -> hyrank_index::Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        let r = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    Ok((best, out.context("no run")?))
}

fn recall_at(truth: &[Vec<usize>], hits: &[Vec<(usize, f32)>], k: usize) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for (t, h) in truth.iter().zip(hits) {
        let t: std::collections::HashSet<usize> = t.iter().take(k).copied().collect();
        found += h.iter().take(k).filter(|x| t.contains(&x.0)).count();
        total += t.len();
    }
    found as f64 / total.max(1) as f64
}

/// The threads searches and encoding run on (the global rayon pool, which
/// `--threads` sizes).
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

fn bench_encode(a: &EncodeBenchArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.input)?;
    let texts: Vec<&str> = text.lines().collect();
    let enc = super::search::load_encoder_with(
        a.model_dir.as_deref(),
        hyrank_index::EncoderConfig {
            batch_size: a.batch_size,
            matmul: a.matmul.parse()?,
            ..hyrank_index::EncoderConfig::from_env()?
        },
    )?;
    enc.encode(&texts[..texts.len().min(a.batch_size)])?; // warm-up
    let mut best = f64::INFINITY;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        enc.encode(&texts)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        serde_json::json!({
            "sentences": texts.len(), "batch_size": a.batch_size, "threads": rayon_threads(),
            "backend": enc.backend().name(), "matmul": enc.matmul_kernel(),
            "seconds": best, "sentences_per_s": texts.len() as f64 / best, "machine": machine(),
        })
    );
    Ok(())
}

fn bench_search(a: &SearchBenchArgs) -> Result<()> {
    use hyrank_data::formats::ndjson::read_queries;
    use hyrank_index::{Bm25Retriever, DenseRetriever, Filter, Fusion, HybridRetriever, Retriever};
    use std::sync::Arc;
    let queries = read_queries(&a.queries)?;
    let queries = &queries[..queries.len().min(a.n)];
    let enc = super::search::load_encoder(a.model_dir.as_deref(), 32)?;
    let t = Instant::now();
    let index = hyrank_index::OpenOptions::new()
        .encoder(Some(enc))
        .search_options(hyrank_index::SearchOptions {
            exact: a.exact,
            ..hyrank_index::SearchOptions::default()
        })
        .open(&a.index)?;
    let open_s = t.elapsed().as_secs_f64();
    let index = Arc::new(index);
    let retrievers: Vec<Box<dyn Retriever>> = vec![
        Box::new(Bm25Retriever::new(Arc::clone(&index))),
        Box::new(DenseRetriever::new(Arc::clone(&index))),
        Box::new(HybridRetriever::new(
            Arc::clone(&index),
            Fusion::Rrf { k: 60.0 },
            [1.0, 1.0],
            a.k,
        )?),
    ];
    let none = Filter::default();
    let mut out = serde_json::Map::new();
    for r in &retrievers {
        for q in queries.iter().take(20) {
            r.retrieve(&q.text, a.k, &none)?; // warm-up
        }
        let mut ms: Vec<f64> = Vec::with_capacity(queries.len());
        for q in queries {
            let t = Instant::now();
            r.retrieve(&q.text, a.k, &none)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        out.insert(
            r.name().to_owned(),
            serde_json::json!({"p50_ms": pct(0.5), "p99_ms": pct(0.99), "mean_ms": mean}),
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "products": index.manifest.products, "queries": queries.len(), "k": a.k,
            "open_s": open_s, "hnsw": index.manifest.vectors.hnsw.is_some() && !a.exact,
            "threads": rayon_threads(), "machine": machine(), "latency": out,
        })
    );
    Ok(())
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Vectors(a) => bench_vectors(&a)?,
        BenchCommand::Encode(a) => bench_encode(&a)?,
        BenchCommand::Search(a) => bench_search(&a)?,
        BenchCommand::Eval(a) => bench_eval(&a)?,
        BenchCommand::Rank(a) => super::bench_rank::bench_rank(&a)?,
        BenchCommand::Generate(args) => {
            let started = Instant::now();
            let r = run_generate(&args)?;
            let secs = started.elapsed().as_secs_f64();
            let profile = if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            };
            println!("bench generate ({profile} build, 1 thread, {})", machine());
            println!(
                "  products {}  queries {}  judgments {}  events {}",
                r.products, r.queries, r.judgments, r.simulation.events
            );
            println!("  wall time        {secs:.2} s");
            println!(
                "  events/s         {:.0}",
                r.simulation.events as f64 / secs
            );
            if let Some(rss) = peak_rss_mib() {
                println!("  peak RSS         {rss:.0} MiB");
            }
            println!(
                "  output           {:.1} MiB in {}",
                dir_bytes(&args.out) as f64 / (1 << 20) as f64,
                args.out.display()
            );
        }
    }
    Ok(())
}
