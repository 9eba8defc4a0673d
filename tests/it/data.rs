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

/// `data convert --from ubi` on the excerpt of OpenSearch's sample (a bulk
/// file), `data check` on the result and on a broken log, and a folder
/// without hyrank files.
#[test]
fn ubi_sample_converts_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/tests/fixtures/ubi_opensearch_sample/ubi_queries_events.ndjson");
    let out = dir.path().join("ubi");
    let o = out.to_str().unwrap();
    let printed = crate::hyrank(&[
        "data",
        "convert",
        "--from",
        "ubi",
        "--input",
        sample.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(printed.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&printed.stdout),
        String::from_utf8_lossy(&printed.stderr),
    );
    assert!(
        stdout.contains("log check:") && stdout.contains("consistent"),
        "{stdout}"
    );
    assert!(
        stderr.contains("`esci_ubi_sample`: position.ordinal read as 0-based"),
        "{stderr}"
    );
    let check = ok(&["data", "check", o]);
    assert!(check.contains("consistent"), "{check}");

    // A click on a page that never was: `data check` fails, naming it.
    std::fs::write(
        out.join("events/segment-0000000099.ndjson"),
        "{\"type\":\"click\",\"event_id\":\"X1\",\"timestamp\":\"2030-01-01T00:00:00Z\",\"request_id\":\"nope\",\"user_id\":\"u\",\"session_id\":\"s\",\"doc\":\"d\",\"position\":1}\n",
    )
    .unwrap();
    let e = fails(&["data", "check", o]);
    assert!(e.contains("1 consistency violations"), "{e}");
    let printed = crate::hyrank(&["data", "check", o]);
    assert!(String::from_utf8_lossy(&printed.stdout)
        .contains("segment-0000000099.ndjson:1: click of `d` names request `nope`"));
    let warned = crate::hyrank(&["data", "stats", o]);
    assert!(warned.status.success(), "stats warns, it does not fail");
    assert!(String::from_utf8_lossy(&warned.stderr).contains("warning: log check"));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for cmd in ["stats", "check"] {
        let e = fails(&["data", cmd, empty.to_str().unwrap()]);
        assert!(e.contains("no hyrank data files"), "{cmd}: {e}");
    }
}

/// Exit codes say the kind of failure: 2 invalid input, 3 not found,
/// 4 conflict (another process writes the folder).
#[test]
fn exit_codes_follow_the_error_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let code = |args: &[&str]| crate::hyrank(args).status.code();
    std::fs::write(d.join("catalog.ndjson"), "{\"id\":\"1\",\"title\":\"\"}\n").unwrap();
    assert_eq!(code(&["data", "stats", d.to_str().unwrap()]), Some(2));
    assert_eq!(
        code(&["search", "--index", d.to_str().unwrap(), "  "]),
        Some(2)
    );
    let missing = d.join("nope.tsv");
    assert_eq!(
        code(&[
            "data",
            "convert",
            "--from",
            "yandex",
            "--input",
            missing.to_str().unwrap(),
            "--out",
            d.join("o").to_str().unwrap()
        ]),
        Some(3)
    );
    // A live process's lock on the folder.
    let busy = d.join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join(".hyrank-lock"), std::process::id().to_string()).unwrap();
    let out = crate::hyrank(&[
        "data",
        "generate",
        "--out",
        busy.to_str().unwrap(),
        "--products",
        "50",
        "--queries",
        "5",
        "--events",
        "100",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("another hyrank process"));
}
