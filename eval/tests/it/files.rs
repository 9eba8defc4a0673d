//! `evaluate_files`: run files read, named and scored like in-memory runs.

use hyrank_data::formats::trec::{read_qrels, read_run};
use hyrank_eval::{evaluate, evaluate_files, EvalOptions, Measure, Qrels, Run, RunNames};

#[test]
fn run_files_are_named_and_scored_like_in_memory_runs() {
    let dir = tempfile::tempdir().unwrap();
    let qrels = dir.path().join("qrels.trec");
    std::fs::write(&qrels, "q1 0 a 2\nq1 0 b 0\nq2 0 c 1\n").unwrap();
    let good = dir.path().join("good.trec");
    std::fs::write(
        &good,
        "q1 Q0 a 1 3.0 tagA\nq1 Q0 b 2 2.0 tagA\nq2 Q0 c 1 1.0 tagA\n",
    )
    .unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let other = sub.join("good.trec");
    std::fs::write(&other, "q1 Q0 b 1 3.0 tagB\nq1 Q0 a 2 2.0 tagB\n").unwrap();
    let measures = Measure::parse_list("ndcg_cut_10,recip_rank").unwrap();
    let opts = EvalOptions::default();
    let runs = [good.clone(), other.clone()];

    let by_stem = evaluate_files(&qrels, &runs, &measures, &opts, RunNames::FileStem).unwrap();
    assert_eq!(by_stem[0].run, "good");
    assert_eq!(
        by_stem[1].run,
        other.display().to_string(),
        "second `good` keeps its path"
    );
    let by_tag = evaluate_files(&qrels, &runs, &measures, &opts, RunNames::Tag).unwrap();
    assert_eq!(
        (by_tag[0].run.as_str(), by_tag[1].run.as_str()),
        ("tagA", "tagB")
    );

    let q = Qrels::new(&read_qrels(&qrels).unwrap());
    for (path, e) in runs.iter().zip(&by_stem) {
        let direct = evaluate(
            &q,
            &Run::new("x", &read_run(path).unwrap()),
            &measures,
            &opts,
        )
        .unwrap();
        assert_eq!(e.get("ndcg_cut_10"), direct.get("ndcg_cut_10"));
        assert_eq!(e.get("recip_rank"), direct.get("recip_rank"));
    }
    assert!(by_stem[0].get("recip_rank").unwrap() > by_stem[1].get("recip_rank").unwrap());

    let bad = dir.path().join("bad.trec");
    std::fs::write(&bad, "q1 Q0 a 1 3.0 t\nq1 Q0 b two 2.0 t\n").unwrap();
    let err = evaluate_files(&qrels, &[bad], &measures, &opts, RunNames::FileStem).unwrap_err();
    assert!(err.to_string().contains("bad.trec:2"), "{err}");
}
