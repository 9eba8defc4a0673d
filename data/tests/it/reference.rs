//! The shared public reference sets (`../shared/data`), read with our readers.
//! Skipped, with a message, where the folder is absent.

use hyrank_data::formats::{letor, trec};

/// `shared/data/<rel>` beside the repository, or `None` (with a skip note).
fn shared(rel: &str) -> Option<std::path::PathBuf> {
    hyrank_data::reference::shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), rel)
}

#[test]
fn trec_eval_test_collection_reads() {
    let (Some(q), Some(r)) = (
        shared("trec_eval/qrels.test"),
        shared("trec_eval/results.test"),
    ) else {
        return;
    };
    let qrels = trec::read_qrels(q).unwrap();
    let run = trec::read_run(r).unwrap();
    assert_eq!(qrels.len(), 3681);
    assert_eq!(run.len(), 1500);
    let topics: std::collections::BTreeSet<&str> = run.iter().map(|e| e.query.as_str()).collect();
    assert_eq!(topics.len(), 3);
}

#[test]
fn lightgbm_letor_sample_reads_with_group_files() {
    let (Some(data), Some(groups)) = (
        shared("letor_sample/rank.train"),
        shared("letor_sample/rank.train.query"),
    ) else {
        return;
    };
    let mut rows = letor::read_letor(data).unwrap();
    let sizes = letor::read_group_sizes(&groups).unwrap();
    assert_eq!(rows.len(), 3005);
    assert_eq!(sizes.len(), 201);
    letor::assign_groups(&mut rows, &sizes, &groups).unwrap();
    assert_eq!(rows.last().unwrap().qid.as_deref(), Some("200"));
    assert!(rows.iter().all(|r| (0.0..=4.0).contains(&r.label)));
    assert!(rows
        .iter()
        .flat_map(|r| &r.features)
        .all(|(i, _)| *i <= 300));
}

#[test]
fn cranfield_converts_and_names_the_documents_without_text() {
    let Some(dir) = shared("cranfield") else {
        return;
    };
    let d = hyrank_data::convert::read_dataset(
        hyrank_data::convert::Format::Cranfield,
        &dir,
        &hyrank_data::convert::ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(d.products.as_ref().unwrap().len(), 1398);
    assert_eq!(d.queries.as_ref().unwrap().len(), 225);
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("2 Cranfield documents") && n.contains("471, 995")),
        "{:?}",
        d.notes
    );
    assert!(d.products.unwrap().iter().all(|p| p.validate().is_ok()));
}
