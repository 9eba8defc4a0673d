//! `hyrank serve` as a process on a loopback port.

use std::process::Command;

use crate::{fails, ok};

#[test]
fn serve_answers_on_a_loopback_port_and_stops_on_sigterm() {
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

    let (child, addr) = start_server(d, &["--index", i]);
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

/// Starts `hyrank serve ARGS --addr 127.0.0.1:0` and waits for its ready file.
pub fn start_server(
    dir: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, std::net::SocketAddr) {
    use std::time::{Duration, Instant};
    let ready = dir.join("ready-url");
    let _ = std::fs::remove_file(&ready);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyrank"))
        .arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--ready-file"])
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
    (
        child,
        url.trim().strip_prefix("http://").unwrap().parse().unwrap(),
    )
}

/// The CLI and the API run one pipeline: for the same configuration (a
/// config file, the index's stored config, or flags and parameters) they
/// return the same products with the same scores.
#[test]
fn cli_and_api_give_identical_results_for_one_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("model");
    hyrank_index::encoder::testing::write_tiny_bert(
        &model,
        &["grey", "sofa", "steel", "kettle", "brass", "lamp"],
    )
    .unwrap();
    let m = model.to_str().unwrap();
    let w = d.join("world");
    ok(&[
        "data",
        "generate",
        "--out",
        w.to_str().unwrap(),
        "--products",
        "300",
        "--queries",
        "5",
        "--events",
        "100",
    ]);
    let i = d.join("index");
    let i = i.to_str().unwrap();
    let cfg = d.join("tuned.json");
    std::fs::write(
        &cfg,
        r#"{"mode": "hybrid", "k": 7, "fields": "title^3,brand", "fusion": "linear", "norm": "zscore", "bm25_weight": 2.0, "dense_weight": 0.5, "depth": 40}"#,
    )
    .unwrap();
    ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{}/catalog.ndjson", w.display()),
        "--out",
        i,
        "--model-dir",
        m,
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let cli = |extra: &[&str]| -> Vec<(String, f64)> {
        let mut args = vec!["search", "--index", i, "--model-dir", m, "--json"];
        args.extend_from_slice(extra);
        let page: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
        page["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["doc"].as_str().unwrap().to_owned(),
                    h["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (mut child, addr) = start_server(d, &["--index", i, "--model-dir", m]);
    let api = |query: &str| -> Vec<(String, f64)> {
        let (s, r) =
            hyrank_api::testing::http_json(addr, "GET", &format!("/search?{query}"), "").unwrap();
        assert_eq!(s, 200, "{r}");
        assert!(r["request_id"].as_str().unwrap().starts_with('R'), "{r}");
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["id"].as_str().unwrap().to_owned(),
                    h["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    // The index's stored config on both sides.
    let stored_cli = cli(&["grey sofa"]);
    assert_eq!(stored_cli.len(), 7, "k from the stored config");
    assert_eq!(stored_cli, api("q=grey+sofa"));
    // Flags and parameters over it.
    let flags = cli(&[
        "--mode",
        "bm25",
        "--fields",
        "title^2,description^0.5",
        "--k",
        "4",
        "steel kettle",
    ]);
    assert_eq!(
        flags,
        api("q=steel+kettle&mode=bm25&fields=title%5E2,description%5E0.5&k=4")
    );
    assert_ne!(
        flags,
        cli(&["--mode", "bm25", "--k", "4", "steel kettle"]),
        "the fields change the scores"
    );
    let rrf = cli(&[
        "--fusion",
        "rrf",
        "--rrf-k",
        "20",
        "--weights",
        "1,1",
        "brass lamp",
    ]);
    assert_eq!(
        rrf,
        api("q=brass+lamp&fusion=rrf&rrf_k=20&bm25_weight=1&dense_weight=1")
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    // A config file on the command line wins over the index's stored one.
    std::fs::write(&cfg, r#"{"mode": "bm25", "k": 3}"#).unwrap();
    let from_file = cli(&["--config", cfg.to_str().unwrap(), "grey sofa"]);
    assert_eq!(from_file.len(), 3);
    let (mut child, addr2) = start_server(
        d,
        &[
            "--index",
            i,
            "--model-dir",
            m,
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    let (s, r) = hyrank_api::testing::http_json(addr2, "GET", "/search?q=grey+sofa", "").unwrap();
    assert_eq!(s, 200);
    let served: Vec<(String, f64)> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_owned(),
                h["score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(served, from_file);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
