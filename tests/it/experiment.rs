//! `hyrank clickmodel`, `hyrank experiment` and `hyrank promote` end to
//! end on a small generated world with two rankers trained on its log.

use crate::{fails, ok};

use crate::rank::World;

trait Deploy {
    fn deploy(&self) -> Vec<String>;
}

impl Deploy for World {
    /// The flags that deploy the registry's rankers in the synthetic world.
    fn deploy(&self) -> Vec<String> {
        [
            "--data",
            &self.path("w"),
            "--index",
            &self.path("index"),
            "--mode",
            "bm25",
            "--registry",
            &self.path("reg"),
            "--history",
            &self.path("w/events"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }
}

fn run(args: &[&str], w: &World) -> String {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(w.deploy());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    ok(&refs)
}

fn run_fails(args: &[&str], w: &World) -> String {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(w.deploy());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    fails(&refs)
}

/// The ranking tests' world with two rankers trained on its log, lr the champion.
fn world() -> World {
    let w = crate::rank::world();
    for m in ["lr", "lambdamart"] {
        ok(&[
            "train",
            "--log",
            &w.path("w/events"),
            "--index",
            &w.path("index"),
            "--model",
            m,
            "--registry",
            &w.path("reg"),
            "--id",
            m,
        ]);
    }
    ok(&["model", "promote", "lr", "--registry", &w.path("reg")]);
    w
}

fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn click_models_fit_evaluate_and_compare() {
    let w = world();
    let out = ok(&[
        "clickmodel",
        "fit",
        "--log",
        &w.path("w/events"),
        "--model",
        "dbn",
        "--out",
        &w.path("dbn.json"),
    ]);
    assert!(out.contains("dbn fitted on"), "{out}");
    let e: serde_json::Value = serde_json::from_str(&ok(&[
        "clickmodel",
        "eval",
        "--model",
        &w.path("dbn.json"),
        "--log",
        &w.path("w/events"),
        "--json",
    ]))
    .unwrap();
    assert_eq!(e["model"], "dbn");
    assert!(e["log_likelihood"].as_f64().unwrap() < 0.0);
    let ppl = e["perplexity_at_rank"].as_array().unwrap();
    assert_eq!(ppl.len(), 10);
    assert!(ppl
        .iter()
        .all(|p| (1.0..2.0).contains(&p.as_f64().unwrap())));

    let table = ok(&[
        "clickmodel",
        "compare",
        "--train",
        &w.path("w/events"),
        "--test",
        &w.path("w/events"),
    ]);
    for m in ["rank_ctr", "pbm", "cascade", "dbn", "sdbn", "ubm"] {
        assert!(table.lines().any(|l| l.starts_with(m)), "{m}: {table}");
    }

    std::fs::write(w.path("bad.json"), "{\"format\": \"something else\"}").unwrap();
    let e = fails(&[
        "clickmodel",
        "eval",
        "--model",
        &w.path("bad.json"),
        "--log",
        &w.path("w/events"),
    ]);
    assert!(e.contains("bad.json"), "{e}");
    let e = fails(&[
        "clickmodel",
        "fit",
        "--log",
        &w.path("w/events"),
        "--model",
        "dcm2",
        "--out",
        &w.path("x.json"),
    ]);
    assert!(e.contains("unknown click model"), "{e}");
    assert!(!std::path::Path::new(&w.path("x.json")).exists());
}

#[test]
fn ab_interleaving_offpolicy_and_the_gate_from_the_command_line() {
    let w = world();
    let out = run(
        &[
            "experiment",
            "ab",
            "--control",
            "champion",
            "--treatment",
            "lambdamart",
            "--sessions",
            "4000",
            "--bootstrap",
            "100",
            "--out",
            &w.path("exp/ab"),
        ],
        &w,
    );
    assert!(out.contains("conversion"), "{out}");
    let ab = json(&w.path("exp/ab.json"));
    assert_eq!(ab["arms"][0]["ranker"], "lr");
    assert_eq!(ab["arms"][1]["ranker"], "lambdamart");
    let n =
        ab["arms"][0]["sessions"].as_u64().unwrap() + ab["arms"][1]["sessions"].as_u64().unwrap();
    assert_eq!(n, 4000);
    assert!(std::fs::read_to_string(w.path("exp/ab.html"))
        .unwrap()
        .contains("<svg"));

    run(
        &[
            "experiment",
            "interleave",
            "--rankers",
            "lr,lambdamart,logging",
            "--sessions",
            "3000",
            "--out",
            &w.path("exp/il"),
        ],
        &w,
    );
    let il = json(&w.path("exp/il.json"));
    assert_eq!(il["pairs"].as_array().unwrap().len(), 3);
    assert_eq!(il["clicks"]["sessions"], 3000);

    let out = run(
        &[
            "experiment",
            "offpolicy",
            "--simulate",
            "3000",
            "--ranker",
            "logging",
            "--epsilon",
            "0.5",
            "--out",
            &w.path("exp/ope"),
        ],
        &w,
    );
    assert!(out.contains("snips"), "{out}");
    let ope = json(&w.path("exp/ope.json"));
    assert_eq!(ope[0]["ranker"], "logging-v1");
    assert!(ope[0]["unsupported"].as_f64().unwrap() < 0.05);
    // The world's own log has no propensities: the error says how to get them.
    let e = run_fails(
        &[
            "experiment",
            "offpolicy",
            "--log",
            &w.path("w/events"),
            "--ranker",
            "lr",
        ],
        &w,
    );
    assert!(e.contains("--randomize"), "{e}");

    // Unknown ids and malformed policies change nothing.
    let audit_before = ok(&["model", "audit", "--registry", &w.path("reg")]);
    let e = run_fails(
        &["experiment", "ab", "--control", "lr", "--treatment", "nope"],
        &w,
    );
    assert!(e.contains("nope"), "{e}");
    std::fs::write(
        w.path("bad.toml"),
        "[gate]\nalpha = 0.05\n\n[ab]\nsessions = \"many\"\n",
    )
    .unwrap();
    let e = run_fails(
        &[
            "promote",
            "--candidate",
            "lambdamart",
            "--policy",
            &w.path("bad.toml"),
        ],
        &w,
    );
    assert!(
        e.contains("bad.toml:5:12") && e.contains("ab.sessions"),
        "{e}"
    );
    let e = run_fails(
        &[
            "promote",
            "--candidate",
            "../x",
            "--policy",
            "examples/promotion.toml",
        ],
        &w,
    );
    assert!(e.contains("../x"), "{e}");
    assert_eq!(
        ok(&["model", "audit", "--registry", &w.path("reg")]),
        audit_before
    );

    // The gate decides; every decision is audited; promote swaps the champion.
    std::fs::write(
        w.path("gate.toml"),
        "[gate]\nalpha = 0.05\n\n[ab]\nsessions = 4000\n\n[interleaving]\nsessions = 4000\ncredit = \"purchases\"\n",
    )
    .unwrap();
    let out = run(
        &[
            "promote",
            "--candidate",
            "lambdamart",
            "--policy",
            &w.path("gate.toml"),
            "--out",
            &w.path("exp/decision"),
        ],
        &w,
    );
    let d = json(&w.path("exp/decision.json"));
    let decision = d["decision"].as_str().unwrap().to_owned();
    assert!(
        ["promote", "hold", "reject"].contains(&decision.as_str()),
        "{d}"
    );
    assert!(
        out.contains(&format!("decision: {decision} lambdamart")),
        "{out}"
    );
    let audit = ok(&["model", "audit", "--registry", &w.path("reg")]);
    let last = audit.lines().last().unwrap();
    assert!(
        last.contains(&decision) && last.contains("lambdamart"),
        "{audit}"
    );
    let champion = json(&w.path("reg/champion.json"))["champion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        champion,
        if decision == "promote" {
            "lambdamart"
        } else {
            "lr"
        }
    );
    // An offline rule alone decides predictably: lambdamart is compared
    // with the champion on a metric both manifests carry.
    std::fs::write(
        w.path("offline.toml"),
        "[gate]\nalpha = 0.05\n\n[offline]\nmetric = \"valid_auc_click\"\nmax_drop = 1.0\n\n[interleaving]\nsessions = 200\n",
    )
    .unwrap();
    if decision != "promote" {
        run(
            &[
                "promote",
                "--candidate",
                "lambdamart",
                "--policy",
                &w.path("offline.toml"),
                "--dry-run",
                "--out",
                &w.path("exp/dry"),
            ],
            &w,
        );
        assert_eq!(
            json(&w.path("reg/champion.json"))["champion"],
            "lr",
            "a dry run changes nothing"
        );
    }
}

#[test]
fn off_policy_estimates_read_a_generated_log_with_propensities() {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str| dir.path().join(rel).to_str().unwrap().to_owned();
    ok(&[
        "data",
        "generate",
        "--out",
        &w("w"),
        "--products",
        "600",
        "--queries",
        "40",
        "--events",
        "12000",
        "--randomize",
        "0.5,10",
    ]);
    ok(&[
        "experiment",
        "offpolicy",
        "--log",
        &w("w/events"),
        "--ranker",
        "logging",
        "--data",
        &w("w"),
        "--out",
        &w("ope"),
    ]);
    let r = json(&w("ope.json"));
    let purchases = &r[0]["rewards"][1];
    let truth = purchases["true_value"].as_f64().unwrap();
    let snips = &purchases["estimates"][1];
    assert_eq!(snips["estimator"], "snips");
    let (lo, hi) = (
        snips["ci"][0].as_f64().unwrap(),
        snips["ci"][1].as_f64().unwrap(),
    );
    // The logging ranker estimated from its own randomised log: the CI is
    // near the truth (3 widths of slack against an unlucky seed).
    let width = hi - lo;
    assert!(
        width > 0.0 && lo - 3.0 * width < truth && truth < hi + 3.0 * width,
        "{r}"
    );
}
