//! The `hyrank` binary end to end: generate, stats, convert, compact, and
//! clear errors on bad input.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::{Command, Output};

fn hyrank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyrank"))
        .args(args)
        .output()
        .expect("run hyrank")
}

fn ok(args: &[&str]) -> String {
    let out = hyrank(args);
    assert!(
        out.status.success(),
        "hyrank {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = hyrank(args);
    assert!(!out.status.success(), "hyrank {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `shared/data/<rel>` beside the repository, or `None` (with a skip note).
fn shared(rel: &str) -> Option<std::path::PathBuf> {
    hyrank_data::reference::shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), rel)
}

#[test]
fn generate_stats_convert_compact() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let w = world.to_str().unwrap();
    let out = ok(&[
        "data",
        "generate",
        "--out",
        w,
        "--products",
        "800",
        "--queries",
        "40",
        "--events",
        "6000",
        "--days",
        "4",
        "--randomize",
        "0.2,4",
    ]);
    assert!(out.contains("800 products"), "{out}");
    let stats = ok(&["data", "stats", w]);
    assert!(
        stats.contains("800 products") && stats.contains("CTR@1..10"),
        "{stats}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["data", "stats", w, "--json"])).unwrap();
    assert_eq!(json["catalog"]["products"], 800);

    let beir = dir.path().join("beir");
    ok(&[
        "data",
        "convert",
        "--from",
        "hyrank",
        "--input",
        w,
        "--to",
        "beir",
        "--out",
        beir.to_str().unwrap(),
    ]);
    assert!(beir.join("corpus.jsonl").exists() && beir.join("qrels/test.tsv").exists());

    let ubi = dir.path().join("ubi");
    ok(&[
        "data",
        "convert",
        "--from",
        "hyrank",
        "--input",
        w,
        "--to",
        "ubi",
        "--out",
        ubi.to_str().unwrap(),
    ]);
    let back = dir.path().join("back");
    ok(&[
        "data",
        "convert",
        "--from",
        "ubi",
        "--input",
        ubi.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
    ]);
    let back_stats: serde_json::Value =
        serde_json::from_str(&ok(&["data", "stats", back.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(
        back_stats["log"]["events"], json["log"]["events"],
        "no event lost through UBI and back"
    );

    let c = ok(&["data", "compact", world.join("events").to_str().unwrap()]);
    assert!(c.starts_with("compacted"), "{c}");
}

#[test]
fn generation_is_deterministic_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let p = dir.path().join(name);
        ok(&[
            "data",
            "generate",
            "--out",
            p.to_str().unwrap(),
            "--products",
            "300",
            "--queries",
            "20",
            "--events",
            "2000",
            "--seed",
            "9",
        ]);
        p
    };
    let (a, b) = (run("a"), run("b"));
    for f in [
        "catalog.ndjson",
        "queries.tsv",
        "qrels.trec",
        "events/segment-0000000001.ndjson",
        "world.json",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let e = fails(&["data", "generate", "--out", d, "--drift", "day=3"]);
    assert!(e.contains("drift needs category"), "{e}");
    let e = fails(&[
        "data",
        "generate",
        "--out",
        d,
        "--products",
        "10",
        "--drift",
        "day=1,category=Spaceships,demand=2",
    ]);
    assert!(e.contains("Spaceships"), "{e}");
    let e = fails(&["data", "generate", "--out", d, "--randomize", "lots"]);
    assert!(e.contains("EPSILON,K"), "{e}");
    let e = fails(&["data", "stats", &format!("{d}/missing")]);
    assert!(e.contains("not a folder"), "{e}");
    let e = fails(&[
        "data", "convert", "--from", "esci", "--input", d, "--out", d,
    ]);
    assert!(
        e.contains("shopping_queries_dataset_examples.parquet"),
        "{e}"
    );
    let e = fails(&[
        "data", "convert", "--from", "klingon", "--input", d, "--out", d,
    ]);
    assert!(e.contains("unknown format"), "{e}");
    std::fs::write(
        Path::new(d).join("catalog.ndjson"),
        "{\"id\":\"1\",\"title\":\"ok\"}\n{\"id\":\"2\",\"title\":\"x\",\"price\":-4}\n",
    )
    .unwrap();
    let e = fails(&["data", "stats", d]);
    assert!(e.contains("catalog.ndjson:2: field `price`"), "{e}");
}

#[test]
fn eval_trec_format_is_byte_identical_to_trec_eval() {
    let (Some(q), Some(r), Some(out)) = (
        shared("trec_eval/qrels.test"),
        shared("trec_eval/results.test"),
        shared("trec_eval/out.test"),
    ) else {
        return;
    };
    let printed = ok(&[
        "eval",
        "--qrels",
        q.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
        "--format",
        "trec",
    ]);
    assert_eq!(printed, std::fs::read_to_string(out).unwrap());
    let per_query = ok(&[
        "eval",
        "--qrels",
        q.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
        "--format",
        "trec",
        "--per-query",
        "--metrics",
        "map,P_10",
    ]);
    assert_eq!(
        per_query.lines().filter(|l| l.starts_with("map ")).count(),
        4,
        "3 queries + all:\n{per_query}"
    );
}

#[test]
fn eval_compares_runs_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let qrels = d.join("qrels.trec");
    std::fs::write(&qrels, "q1 0 a 2\nq1 0 b 1\nq1 0 c 0\nq2 0 x 1\nq2 0 y 0\n").unwrap();
    let good = d.join("good.trec");
    std::fs::write(&good, "q1 Q0 a 1 3 good\nq1 Q0 b 2 2 good\nq1 Q0 c 3 1 good\nq2 Q0 x 1 2 good\nq2 Q0 y 2 1 good\n").unwrap();
    let bad = d.join("bad.trec");
    std::fs::write(
        &bad,
        "q1 Q0 c 1 3 bad\nq1 Q0 b 2 2 bad\nq1 Q0 a 3 1 bad\nq2 Q0 y 1 2 bad\nq2 Q0 x 2 1 bad\n",
    )
    .unwrap();
    let out = d.join("report");
    let table = ok(&[
        "eval",
        "--qrels",
        qrels.to_str().unwrap(),
        "--run",
        bad.to_str().unwrap(),
        "--run",
        good.to_str().unwrap(),
        "--metrics",
        "ndcg_cut_10,mrr",
        "--trials",
        "500",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        table.contains("bad") && table.contains("good") && table.contains("baseline"),
        "{table}"
    );
    assert!(
        table.contains("+0.5000"),
        "MRR delta of the good run: {table}"
    );
    for f in ["report.json", "report.md", "report.html"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let e = fails(&[
        "eval",
        "--qrels",
        qrels.to_str().unwrap(),
        "--run",
        good.to_str().unwrap(),
        "--metrics",
        "ndcg_at_ten",
    ]);
    assert!(e.contains("unknown measure `ndcg_at_ten`"), "{e}");
    std::fs::write(&bad, "q1 Q0 a 1 3 bad\nq1 Q0 a 2 2 bad\n").unwrap();
    let e = fails(&[
        "eval",
        "--qrels",
        qrels.to_str().unwrap(),
        "--run",
        bad.to_str().unwrap(),
    ]);
    assert!(e.contains("document a is retrieved twice"), "{e}");
}

#[test]
fn index_search_and_embed_with_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("model");
    hyrank_index::encoder::testing::write_tiny_bert(
        &model,
        &["grey", "sofa", "steel", "kettle", "brass", "lamp"],
    )
    .unwrap();
    let m = model.to_str().unwrap();
    let world = d.join("world");
    let w = world.to_str().unwrap();
    ok(&[
        "data",
        "generate",
        "--out",
        w,
        "--products",
        "300",
        "--queries",
        "15",
        "--events",
        "500",
    ]);
    let index = d.join("index");
    let i = index.to_str().unwrap();
    let built = ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--model-dir",
        m,
    ]);
    assert!(
        built.contains("indexed 300 products") && built.contains("300 encoded"),
        "{built}"
    );
    let again = ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--model-dir",
        m,
    ]);
    assert!(
        again.contains("(incremental): 0 added, 0 updated, 0 deleted, 300 unchanged"),
        "{again}"
    );
    // A full rebuild with HNSW and int8 storage re-encodes nothing.
    let full = ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--model-dir",
        m,
        "--full",
        "--hnsw",
        "--storage",
        "int8",
        "--hnsw-m",
        "8",
    ]);
    assert!(
        full.contains("(full build)")
            && full.contains("0 encoded")
            && full.contains("300 from cache"),
        "{full}"
    );
    let e = fails(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--model-dir",
        m,
        "--hnsw",
        "--hnsw-m",
        "1",
    ]);
    assert!(e.contains("HNSW M must be in 2..=256"), "{e}");
    let exact = ok(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "dense",
        "--exact",
        "--json",
        "lamp",
    ]);
    let approx = ok(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "dense",
        "--ef-search",
        "200",
        "--json",
        "lamp",
    ]);
    let greedy = ok(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "dense",
        "--ef-search",
        "200",
        "--upper-beam",
        "1",
        "--json",
        "lamp",
    ]);
    let top = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["results"][0]["doc"].clone()
    };
    assert_eq!(top(&exact), top(&approx));
    assert_eq!(top(&exact), top(&greedy));
    let e = fails(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "dense",
        "--upper-beam",
        "0",
        "lamp",
    ]);
    assert!(e.contains("--upper-beam must be > 0"), "{e}");

    let out = ok(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "hybrid",
        "--k",
        "5",
        "--explain",
        "grey sofa",
    ]);
    assert!(out.contains("5 results") && out.contains("[bm25 "), "{out}");
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "search", "--index", i, "--mode", "bm25", "--json", "lamp",
    ]))
    .unwrap();
    assert_eq!(json["retriever"], "bm25");
    let run = d.join("dense.trec");
    ok(&[
        "search",
        "--index",
        i,
        "--model-dir",
        m,
        "--mode",
        "dense",
        "--queries",
        &format!("{w}/queries.tsv"),
        "--k",
        "20",
        "--run-out",
        run.to_str().unwrap(),
    ]);
    let rows = std::fs::read_to_string(&run).unwrap();
    assert_eq!(rows.lines().count(), 15 * 20);
    let report = ok(&[
        "eval",
        "--qrels",
        &format!("{w}/qrels.trec"),
        "--run",
        run.to_str().unwrap(),
        "--trials",
        "100",
    ]);
    assert!(report.contains("dense"), "{report}");

    let texts = d.join("texts.txt");
    std::fs::write(&texts, "grey sofa\nsteel kettle\n").unwrap();
    let npy = d.join("v.npy");
    ok(&[
        "embed",
        "--input",
        texts.to_str().unwrap(),
        "--out",
        npy.to_str().unwrap(),
        "--model-dir",
        m,
    ]);
    let bytes = std::fs::read(&npy).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "npy header aligned");
    assert_eq!(
        bytes.len(),
        10 + header_len + 2 * 32 * 4,
        "2 vectors of 32 floats"
    );

    let e = fails(&[
        "search",
        "--index",
        i,
        "--mode",
        "hybrid",
        "--model-dir",
        m,
        "--rrf-k",
        "0",
        "sofa",
    ]);
    assert!(e.contains("RRF k"), "{e}");
    let e = fails(&[
        "search",
        "--index",
        &format!("{w}/nowhere"),
        "--mode",
        "bm25",
        "sofa",
    ]);
    assert!(e.contains("manifest.json"), "{e}");
    let e = fails(&[
        "embed",
        "--input",
        texts.to_str().unwrap(),
        "--out",
        d.join("v.csv").to_str().unwrap(),
        "--model-dir",
        m,
    ]);
    assert!(e.contains(".npy or .jsonl"), "{e}");
}

#[test]
fn serve_answers_on_a_loopback_port_and_stops_on_sigterm() {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = d.join("world");
    let w = w.to_str().unwrap();
    ok(&[
        "data",
        "generate",
        "--out",
        w,
        "--products",
        "200",
        "--queries",
        "5",
        "--events",
        "100",
    ]);
    let index = d.join("index");
    let i = index.to_str().unwrap();
    ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--no-dense",
    ]);

    // A taken port is a clear error.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let e = fails(&["serve", "--index", i, "--addr", &busy]);
    assert!(e.contains(&format!("listening on {busy}")), "{e}");

    let ready = d.join("url");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyrank"))
        .args([
            "serve",
            "--index",
            i,
            "--addr",
            "127.0.0.1:0",
            "--ready-file",
        ])
        .arg(&ready)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "hyrank serve exited early"
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no ready file after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = std::fs::read_to_string(&ready).unwrap();
    let addr: SocketAddr = url.trim().strip_prefix("http://").unwrap().parse().unwrap();
    let get = |path: &str| hyrank_api::testing::http_json(addr, "GET", path, "").unwrap();
    let (s, h) = get("/health");
    assert_eq!(
        (s, h["products"].as_u64(), h["dense"].as_bool()),
        (200, Some(200), Some(false))
    );
    let (s, r) = get("/search?q=sofa&mode=bm25&k=3&explain=true");
    assert_eq!(s, 200, "{r}");
    let hits = r["results"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 3, "{r}");
    assert_eq!(hits[0]["bm25"]["rank"], 1, "{r}");
    let (s, e) = get("/search?q=sofa");
    assert_eq!(s, 400, "hybrid on a BM25-only index: {e}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("hyrank API on http://127.0.0.1:") && log.contains("stopped"),
        "{log}"
    );
}
