//! `hyrank bench ...`: speed and memory of hyrank's own work, measured in
//! process (wall time, peak RSS from /proc/self/status), with the machine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;

use super::data::{run_generate, GenerateArgs};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time the synthetic-world generator and report its peak memory.
    Generate(GenerateArgs),
    /// Time evaluation: read a qrels and a run, compute the measures.
    Eval(EvalBenchArgs),
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

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Eval(a) => bench_eval(&a)?,
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
