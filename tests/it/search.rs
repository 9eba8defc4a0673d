//! `hyrank index build`, `search` and `embed` with a tiny BERT the test writes.

use crate::{fails, ok};

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

    // HYRANK_ENCODER picks the forward pass for every command; a name it
    // does not know is an error naming the variable.
    let embed_with = |backend: &str, out: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hyrank"))
            .args(["embed", "--input", texts.to_str().unwrap(), "--out"])
            .arg(out)
            .args(["--model-dir", m])
            .env("HYRANK_ENCODER", backend)
            .output()
            .unwrap()
    };
    let candle = d.join("candle.npy");
    let out = embed_with("candle", &candle);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&candle).unwrap().len(), bytes.len());
    let out = embed_with("onnx", &d.join("x.npy"));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("HYRANK_ENCODER") && e.contains("fused or candle"),
        "{e}"
    );
}

/// `index build` as a bulk feed: good rows indexed, bad ones reported and
/// listed in the rejects file, another shape read through `--map`, `--strict`
/// failing on the first; an empty query is an error.
#[test]
fn index_build_feeds_like_a_bulk_api() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = d.join("catalog.ndjson");
    std::fs::write(
        &cat,
        "\u{feff}{\"id\":\"1\",\"title\":\"grey sofa\"}\n{\"id\":\"2\",\"title\":\"\"}\n{\"id\":\"1\",\"title\":\"again\"}\n{\"id\":\"3\",\"title\":\"brass lamp\",\"attrs\":{\"Color\":\"gold\"},\"categories\":[\"Home\",\"Lamps\"]}\n",
    )
    .unwrap();
    let (c, i) = (cat.to_str().unwrap(), d.join("index"));
    let out = crate::hyrank(&[
        "index",
        "build",
        "--catalog",
        c,
        "--out",
        i.to_str().unwrap(),
        "--no-dense",
    ]);
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("indexed 2 products"), "{stdout}");
    for needle in [
        "byte-order mark",
        "catalog.ndjson:2:",
        "duplicate id `1`: first at line 1, again at line 3",
        "attrs (1 rows)",
        "--map attributes=attrs",
        "2 of 4 products rejected",
    ] {
        assert!(stderr.contains(needle), "`{needle}` in {stderr}");
    }
    let rejects = std::fs::read_to_string(i.join("rejects.ndjson")).unwrap();
    assert_eq!(rejects.lines().count(), 2, "{rejects}");
    let first: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    assert_eq!(
        (first["line"].as_u64(), first["field"].as_str()),
        (Some(2), Some("title"))
    );

    // The other shape through --map: the attribute is searchable... and the
    // category filter finds the product.
    ok(&[
        "index",
        "build",
        "--catalog",
        c,
        "--out",
        i.to_str().unwrap(),
        "--no-dense",
        "--map",
        "attributes=attrs",
        "--map",
        "category=categories",
    ]);
    let hits = ok(&[
        "search",
        "--index",
        i.to_str().unwrap(),
        "--mode",
        "bm25",
        "--category",
        "Lamps",
        "lamp",
    ]);
    assert!(hits.contains("1 results"), "{hits}");

    let e = fails(&[
        "index",
        "build",
        "--catalog",
        c,
        "--out",
        d.join("strict").to_str().unwrap(),
        "--no-dense",
        "--strict",
    ]);
    assert!(
        e.contains("catalog.ndjson:2:") && e.contains("title"),
        "{e}"
    );
    let e = fails(&[
        "index",
        "build",
        "--catalog",
        c,
        "--out",
        i.to_str().unwrap(),
        "--no-dense",
        "--map",
        "colour=attrs.Color",
    ]);
    assert!(e.contains("unknown product field `colour`"), "{e}");
    let e = fails(&[
        "search",
        "--index",
        i.to_str().unwrap(),
        "--mode",
        "bm25",
        "  ",
    ]);
    assert!(e.contains("the query is empty"), "{e}");
}

/// `hyrank tune` writes a config that `search --config` and, with `--store`,
/// the index's default then use; its table names the held-out numbers.
#[test]
fn tune_writes_a_config_that_search_reads() {
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
        "400",
        "--queries",
        "30",
        "--events",
        "200",
    ]);
    let i = d.join("index");
    let i = i.to_str().unwrap();
    ok(&[
        "index",
        "build",
        "--catalog",
        &format!("{w}/catalog.ndjson"),
        "--out",
        i,
        "--no-dense",
    ]);
    let cfg = d.join("tuned.json");
    let printed = ok(&[
        "tune",
        "--index",
        i,
        "--queries",
        &format!("{w}/queries.tsv"),
        "--qrels",
        &format!("{w}/qrels.trec"),
        "--out",
        cfg.to_str().unwrap(),
        "--modes",
        "bm25",
        "--folds",
        "3",
        "--store",
    ]);
    assert!(
        printed.contains("3-fold cross-validation (held-out folds)") && printed.contains("bm25"),
        "{printed}"
    );
    let tuned: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(tuned["mode"], "bm25");
    assert!(
        std::path::Path::new(i).join("search.json").exists(),
        "--store keeps it in the index"
    );
    // Without flags, search uses the stored config: BM25, no model needed.
    let page: serde_json::Value =
        serde_json::from_str(&ok(&["search", "--index", i, "--json", "sofa"])).unwrap();
    assert_eq!(page["retriever"], "bm25");
    let e = fails(&[
        "tune",
        "--index",
        i,
        "--queries",
        &format!("{w}/queries.tsv"),
        "--qrels",
        &format!("{w}/qrels.trec"),
        "--out",
        cfg.to_str().unwrap(),
        "--modes",
        "bm25",
        "--folds",
        "1",
    ]);
    assert!(e.contains("folds must be 2"), "{e}");
}
