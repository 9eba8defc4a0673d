//! Invariants of the measures, over random qrels and runs.

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::Judgment;
use hyrank_eval::{evaluate, EvalOptions, Gain, Measure, Qrels, Run};
use proptest::prelude::*;

fn entries(scores: &[(u8, u16)]) -> Vec<RunEntry> {
    let mut seen = std::collections::BTreeSet::new();
    scores
        .iter()
        .filter(|(d, _)| seen.insert(*d))
        .map(|(d, s)| RunEntry {
            query: "q".into(),
            doc: format!("d{d}").into(),
            rank: 0,
            score: f64::from(*s) / 7.0,
            tag: "t".into(),
        })
        .collect()
}

fn judgments(grades: &[(u8, i32)]) -> Vec<Judgment> {
    grades
        .iter()
        .map(|(d, g)| Judgment {
            query: "q".into(),
            doc: format!("d{d}").into(),
            grade: *g,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_measure_is_in_unit_interval(
        grades in prop::collection::vec((0u8..40, 0i32..4), 1..40),
        scores in prop::collection::vec((0u8..40, 0u16..20), 0..40),
        exponential in any::<bool>(),
    ) {
        let opts = EvalOptions { gain: if exponential { Gain::Exponential } else { Gain::Linear }, ..EvalOptions::default() };
        let e = evaluate(&Qrels::new(&judgments(&grades)), &Run::new("r", &entries(&scores)), &Measure::all(), &opts).unwrap();
        for (m, v) in e.measures.iter().zip(&e.all) {
            if m.is_count() || *m == Measure::GmMap {
                continue;
            }
            prop_assert!((0.0..=1.0 + 1e-12).contains(v), "{m} = {v}");
        }
    }

    #[test]
    fn a_perfect_ranking_scores_one(grades in prop::collection::vec((0u8..40, 0i32..4), 1..40)) {
        let qrels = judgments(&grades);
        let q = Qrels::new(&qrels);
        // Rank every judged document by its grade (the last judgment of a doc wins).
        let mut last = std::collections::BTreeMap::new();
        for j in &qrels { last.insert(j.doc.0.clone(), j.grade); }
        // Something must be relevant after that (a document judged 1 then 0 is not).
        prop_assume!(last.values().any(|g| *g > 0));
        let run: Vec<RunEntry> = last.iter().map(|(d, g)| RunEntry { query: "q".into(), doc: d.as_str().into(), rank: 0, score: f64::from(*g), tag: "t".into() }).collect();
        let e = evaluate(&q, &Run::new("ideal", &run), &Measure::parse_list("ndcg,ndcg_cut_5,ndcg_cut_10,map,recip_rank").unwrap(), &EvalOptions::default()).unwrap();
        for v in &e.all {
            prop_assert!((v - 1.0).abs() < 1e-12, "{:?}", e.all);
        }
    }

    #[test]
    fn input_row_order_does_not_matter(
        grades in prop::collection::vec((0u8..30, 0i32..3), 1..30),
        scores in prop::collection::vec((0u8..30, 0u16..5), 1..30),
        seed in any::<u64>(),
    ) {
        let mut rows = entries(&scores);
        let mut qrels = judgments(&grades);
        // Keep one judgment per document so that "last judgment wins" is order-free too.
        let mut seen = std::collections::BTreeSet::new();
        qrels.retain(|j| seen.insert(j.doc.0.clone()));
        let a = evaluate(&Qrels::new(&qrels), &Run::new("r", &rows), &Measure::all(), &EvalOptions::default()).unwrap();
        let mut rng = hyrank_eval::significance::SplitMix64::new(seed);
        for i in (1..rows.len()).rev() { rows.swap(i, rng.below(i + 1)); }
        for i in (1..qrels.len()).rev() { qrels.swap(i, rng.below(i + 1)); }
        let b = evaluate(&Qrels::new(&qrels), &Run::new("r", &rows), &Measure::all(), &EvalOptions::default()).unwrap();
        prop_assert_eq!(a.all, b.all);
    }
}
