//! `hyrank train`, `predict` and `eval --letor` on LightGBM's LETOR sample.

use crate::{fails, ok, shared};

#[test]
fn train_predict_and_evaluate_a_letor_file() {
    let (Some(train), Some(test)) = (
        shared("letor_sample/rank.train"),
        shared("letor_sample/rank.test"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    let train_into = |out: &str| {
        let args = [
            "train", "--format", "letor", "--train", train, "--valid", test,
        ];
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--trees", "30", "--out", out].map(String::from));
        v
    };
    let mut args = train_into(model.to_str().unwrap());
    args.push("--json".into());
    let printed = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let report: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(report["rows"], 3005);
    assert_eq!(report["valid_ndcg"].as_array().unwrap().len(), 30);
    let scores = dir.path().join("ours.txt");
    let m = model.to_str().unwrap();
    ok(&[
        "predict",
        "--format",
        "letor",
        "--model",
        m,
        "--input",
        test,
        "--out",
        scores.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap().lines().count(),
        768
    );
    // The last validation value is the nDCG@10 that `eval --letor` computes
    // from the written scores (same queries, gain, cut-off).
    let table = ok(&[
        "eval",
        "--letor",
        test,
        "--scores",
        scores.to_str().unwrap(),
        "--gain",
        "exponential",
        "--metrics",
        "ndcg_cut_10",
        "--format",
        "json",
    ]);
    let c: serde_json::Value = serde_json::from_str(&table).unwrap();
    let evaluated = c["systems"][0]["values"][0]
        .as_f64()
        .unwrap_or_else(|| panic!("{c}"));
    let last = report["valid_ndcg"][29].as_f64().unwrap();
    assert!(
        (evaluated - last).abs() < 1e-4,
        "eval {evaluated} vs training's {last}"
    );

    // Same model bytes from a second run: training is deterministic.
    let again = dir.path().join("m2.json");
    let args = train_into(again.to_str().unwrap());
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

/// A temporary folder with a LETOR file of two queries of two rows.
fn tiny_letor() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.txt");
    let rows = "2 qid:1 1:0.5 2:1\n0 qid:1 1:0.1\n1 qid:2 2:0.3\n0 qid:2 1:0.9\n";
    std::fs::write(&data, rows).unwrap();
    (dir, data)
}

#[test]
fn bad_models_and_files_are_clear_errors_and_write_nothing() {
    let (dir, data) = tiny_letor();
    let model = dir.path().join("m.json");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    ok(&[
        "train",
        "--format",
        "letor",
        "--train",
        d,
        "--out",
        m,
        "--min-data-in-leaf",
        "1",
        "--trees",
        "3",
    ]);

    let mut bytes = std::fs::read(&model).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 1;
    let damaged = dir.path().join("damaged.json");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = dir.path().join("s.txt");
    let e = fails(&[
        "predict",
        "--format",
        "letor",
        "--model",
        damaged.to_str().unwrap(),
        "--input",
        d,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("damaged.json") && e.contains("checksum"), "{e}");
    assert!(!out.exists(), "nothing written on error");

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "1 qid:1 1:0.5\n1 qid:1 1:0.5 1:0.7\n").unwrap();
    let e = fails(&[
        "train",
        "--format",
        "letor",
        "--train",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("x.json").to_str().unwrap(),
    ]);
    assert!(e.contains("bad.txt:2"), "{e}");
    assert!(!dir.path().join("x.json").exists());

    let cfg = dir.path().join("p.json");
    std::fs::write(&cfg, "{\n  \"num_trees\": 5,\n  \"num_leafs\": 3\n}\n").unwrap();
    let e = fails(&[
        "train",
        "--format",
        "letor",
        "--train",
        d,
        "--out",
        m,
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(e.contains("p.json:3:") && e.contains("num_leafs"), "{e}");

    let short = dir.path().join("short.txt");
    std::fs::write(&short, "0.5\n").unwrap();
    let e = fails(&["eval", "--letor", d, "--scores", short.to_str().unwrap()]);
    assert!(e.contains("1 scores") && e.contains("4 rows"), "{e}");
}

#[test]
fn the_registry_keeps_versions_and_moves_the_champion() {
    let (dir, data) = tiny_letor();
    let reg = dir.path().join("registry");
    let (d, r) = (data.to_str().unwrap(), reg.to_str().unwrap());
    for trees in ["2", "4"] {
        let printed = ok(&[
            "train",
            "--format",
            "letor",
            "--train",
            d,
            "--registry",
            r,
            "--trees",
            trees,
            "--min-data-in-leaf",
            "1",
            "--reason",
            "test",
        ]);
        assert!(printed.contains("registered as v000"), "{printed}");
    }
    let printed = ok(&[
        "train",
        "--format",
        "letor",
        "--model",
        "lr",
        "--train",
        d,
        "--registry",
        r,
        "--id",
        "lr-1",
    ]);
    assert!(
        printed.contains("largest standardised coefficients"),
        "{printed}"
    );
    let listed = ok(&["model", "list", "--registry", r]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(
        listed.contains("lr-1") && listed.contains(" lr "),
        "{listed}"
    );
    let lr_scores = dir.path().join("lr.txt");
    let predict = |model: &str, out: &std::path::Path| {
        let args = [
            "predict",
            "--format",
            "letor",
            "--registry",
            r,
            "--model",
            model,
        ];
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--input", d, "--out", out.to_str().unwrap()]);
        ok(&v)
    };
    predict("lr-1", &lr_scores);
    assert_eq!(
        std::fs::read_to_string(&lr_scores).unwrap().lines().count(),
        4
    );
    assert!(!listed.contains('*'), "no champion yet: {listed}");
    ok(&[
        "model",
        "promote",
        "v0001",
        "--registry",
        r,
        "--reason",
        "first",
    ]);
    let printed = ok(&["model", "promote", "v0002", "--registry", r]);
    assert!(
        printed.contains("champion: v0002 (previous: v0001)"),
        "{printed}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["model", "show", "champion", "--registry", r])).unwrap();
    assert_eq!(shown["id"], "v0002");
    assert_eq!(shown["training"]["trees"], 4);

    // The champion scores as the same model read from its file.
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    predict("champion", &a);
    let file = reg.join("versions/v0002/model.json");
    ok(&[
        "predict",
        "--format",
        "letor",
        "--model",
        file.to_str().unwrap(),
        "--input",
        d,
        "--out",
        b.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let printed = ok(&[
        "model",
        "rollback",
        "--registry",
        r,
        "--reason",
        "worse online",
    ]);
    assert!(printed.contains("champion: v0001"), "{printed}");
    let audit = ok(&["model", "audit", "--registry", r]);
    let actions: Vec<&str> = audit
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        actions,
        ["register", "register", "register", "promote", "promote", "rollback"],
        "{audit}"
    );
    assert!(audit.contains("worse online"));

    let no_metric = crate::hyrank(&["model", "promote", "--best", "auc", "--registry", r]);
    assert_eq!(no_metric.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&no_metric.stderr).contains("metric `auc`"));
    let bad = crate::hyrank(&["model", "show", "../etc", "--registry", r]);
    assert_eq!(bad.status.code(), Some(2), "invalid id is invalid input");
    let missing = crate::hyrank(&["model", "promote", "v0042", "--registry", r]);
    assert_eq!(missing.status.code(), Some(3), "unknown id is not found");
    let e = fails(&[
        "model",
        "list",
        "--registry",
        dir.path().join("nope").to_str().unwrap(),
    ]);
    assert!(e.contains("not a model registry"), "{e}");
    assert!(!dir.path().join("nope").exists(), "a typo creates nothing");
}
