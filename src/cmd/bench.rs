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

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
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
