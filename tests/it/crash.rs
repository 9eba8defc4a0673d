//! Killed writers: `data generate` and `data convert` killed (SIGKILL) at
//! random points leave the previous data set or the new one, whole, and a
//! re-run needs no cleanup.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::ok;

/// A fixed-seed generator of kill delays (reproducible runs).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn stats(dir: &Path) -> String {
    ok(&["data", "stats", dir.to_str().unwrap(), "--json"])
}

/// No staging folder, trash, journal, lock or temporary file is left.
fn no_leftovers(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".hyrank-") && !name.contains(".tmp-"),
            "{name} left in {}",
            dir.display()
        );
    }
}

/// Runs `args` into `out` (already holding the old set), killing it after
/// random delays, `rounds` times; after each kill `out` reads as the old set
/// or the new one. Returns how many kills landed before and after the commit.
fn kill_at_random(
    args: &[&str],
    out: &Path,
    old: &str,
    new: &str,
    rounds: usize,
    seed: u64,
) -> (usize, usize) {
    // How long a whole run takes, to spread the kills over it.
    let started = Instant::now();
    let scratch = tempfile::tempdir().unwrap();
    let mut full: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    full.extend([
        "--out".into(),
        scratch.path().join("x").to_str().unwrap().into(),
    ]);
    let f: Vec<&str> = full.iter().map(String::as_str).collect();
    ok(&f);
    let whole = started.elapsed();
    let mut rng = Lcg(seed);
    let (mut before, mut after) = (0, 0);
    for round in 0..rounds {
        let delay = whole.mul_f64(rng.next_unit() * 1.1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_hyrank"))
            .args(args)
            .args(["--out", out.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; a run that already ended is fine
        child.wait().unwrap();
        let now = stats(out);
        if now == old {
            before += 1;
        } else {
            assert_eq!(
                now, new,
                "round {round} (killed after {delay:?}): neither the old set nor the new one"
            );
            after += 1;
            // Back to the old set for the next round, by the same command.
            return_to(out, old);
        }
    }
    (before, after)
}

fn return_to(out: &Path, old: &str) {
    // The old set is the small world of seed 1 in every test.
    small_world(out);
    assert_eq!(stats(out), old);
}

/// The previous state every test starts from: a small world, seed 1.
fn small_world(out: &Path) {
    ok(&[
        "data",
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--products",
        "200",
        "--queries",
        "10",
        "--events",
        "800",
        "--days",
        "2",
        "--seed",
        "1",
    ]);
}

#[test]
fn killed_generate_leaves_the_old_world_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("world");
    let old = {
        small_world(&out);
        stats(&out)
    };
    let args = [
        "data",
        "generate",
        "--products",
        "3000",
        "--queries",
        "100",
        "--events",
        "60000",
        "--days",
        "5",
        "--seed",
        "2",
    ];
    let new = run_into(&args, &dir.path().join("reference"));
    kills_then_a_clean_rerun("generate", &args, &out, &old, &new, 7);
}

/// `args` run to the end into `out`; the stats of what it wrote.
fn run_into(args: &[&str], out: &Path) -> String {
    let mut a = args.to_vec();
    a.extend(["--out", out.to_str().unwrap()]);
    ok(&a);
    stats(out)
}

/// Eight random kills, then a re-run that needs no cleanup, gives the new
/// set and leaves nothing behind.
fn kills_then_a_clean_rerun(
    what: &str,
    args: &[&str],
    out: &Path,
    old: &str,
    new: &str,
    seed: u64,
) {
    assert_ne!(old, new);
    let (before, after) = kill_at_random(args, out, old, new, 8, seed);
    assert_eq!(before + after, 8);
    assert!(before >= 1, "no kill landed before the commit");
    assert_eq!(run_into(args, out), new);
    no_leftovers(out);
    eprintln!("{what}: {before} kills before the commit, {after} after");
}

#[test]
fn killed_convert_leaves_the_old_log_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    // The source: a world written as UBI.
    let src = dir.path().join("src");
    ok(&[
        "data",
        "generate",
        "--out",
        src.to_str().unwrap(),
        "--products",
        "1000",
        "--queries",
        "60",
        "--events",
        "15000",
        "--days",
        "4",
        "--seed",
        "3",
    ]);
    let ubi = dir.path().join("ubi");
    ok(&[
        "data",
        "convert",
        "--from",
        "hyrank",
        "--input",
        src.to_str().unwrap(),
        "--to",
        "ubi",
        "--out",
        ubi.to_str().unwrap(),
    ]);
    let out = dir.path().join("out");
    small_world(&out);
    let old = stats(&out);
    let args = [
        "data",
        "convert",
        "--from",
        "ubi",
        "--input",
        ubi.to_str().unwrap(),
    ];
    // What the conversion gives, over the same old folder.
    let other = dir.path().join("reference");
    small_world(&other);
    let new = run_into(&args, &other);
    kills_then_a_clean_rerun("convert", &args, &out, &old, &new, 11);
}
