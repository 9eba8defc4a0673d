//! `hyrank data`: generate, stats, convert, compact, and clear errors on bad input.

use std::path::Path;

use crate::{fails, ok};

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
    assert!(e.contains("catalog.ndjson:2:23: field `price`"), "{e}");
}
