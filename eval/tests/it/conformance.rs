//! trec_eval conformance: reproduce, to the 4 printed decimals, every number
//! that trec_eval 9.x prints for its own test collection (`out.test`,
//! `out.test.a`) for the measures hyrank implements.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hyrank_data::formats::trec::{read_qrels, read_run};
use hyrank_eval::{evaluate, format_trec, EvalOptions, Measure, Qrels, Run};

/// `measure -> printed value` of a trec_eval output file (the `all` rows).
fn expected(path: &PathBuf) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[1] == "all")
                .then(|| (f[0].trim().to_owned(), f[2].trim().to_owned()))
        })
        .collect()
}

/// `shared/data/<rel>` beside the repository, or `None` (with a skip note).
fn shared(rel: &str) -> Option<std::path::PathBuf> {
    hyrank_data::reference::shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), rel)
}

#[test]
fn reproduces_trec_eval_test_outputs() {
    let (Some(q), Some(r), Some(out), Some(out_a)) = (
        shared("trec_eval/qrels.test"),
        shared("trec_eval/results.test"),
        shared("trec_eval/out.test"),
        shared("trec_eval/out.test.a"),
    ) else {
        return;
    };
    let qrels = Qrels::new(&read_qrels(q).unwrap());
    let rows = read_run(&r).unwrap();
    let run = Run::new(rows[0].tag.clone(), &rows);
    let e = evaluate(&qrels, &run, &Measure::all(), &EvalOptions::default()).unwrap();
    let printed: BTreeMap<String, String> = format_trec(&e, false)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].trim().to_owned(), f[2].to_owned())
        })
        .collect();

    let mut checked = 0;
    let mut mismatches = Vec::new();
    for file in [out, out_a] {
        for (name, want) in expected(&file) {
            let Some(got) = printed.get(&name) else {
                continue;
            };
            checked += 1;
            if *got != want {
                mismatches.push(format!("{name}: trec_eval {want}, hyrank {got}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Every measure the issue names is among those checked.
    for name in [
        "num_q",
        "num_ret",
        "num_rel",
        "num_rel_ret",
        "map",
        "gm_map",
        "Rprec",
        "bpref",
        "recip_rank",
        "iprec_at_recall_0.00",
        "iprec_at_recall_1.00",
        "P_5",
        "P_1000",
        "recall_5",
        "recall_1000",
        "ndcg",
        "ndcg_cut_5",
        "ndcg_cut_1000",
        "map_cut_5",
        "map_cut_1000",
        "Rprec_mult_0.20",
        "Rprec_mult_2.00",
        "11pt_avg",
        "success_1",
        "success_5",
        "success_10",
    ] {
        assert!(printed.contains_key(name), "{name} not produced");
    }
    assert!(checked >= 80, "only {checked} values compared");
}
