//! `hyrank eval` against trec_eval and between runs.

use crate::{fails, ok, shared};

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
