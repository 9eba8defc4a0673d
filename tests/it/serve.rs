//! `hyrank serve` as a process on a loopback port.

use std::process::Command;

use crate::{fails, ok};

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
