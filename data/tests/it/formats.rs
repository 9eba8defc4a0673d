//! The readers added for real logs and judgments: Yandex click logs, SRW
//! judgments and query sets, and what a Git LFS pointer gets.

use hyrank_data::convert::{read_dataset, Format, ReadOptions};
use hyrank_data::formats::srw::{self, RatingMap};
use hyrank_data::formats::yandex::{read_yandex, YandexLayout};
use hyrank_data::InteractionEvent;

use crate::fixture;

#[test]
fn yandex_fixture_converts() {
    let (events, report) = read_yandex(&fixture("yandex/relpred_sample.tsv")).unwrap();
    assert_eq!(report.layout, Some(YandexLayout::RelevancePrediction));
    assert_eq!(
        (report.sessions, report.impressions, report.clicks),
        (4, 4, 6)
    );
    let clicks: Vec<(&str, &str, u32)> = events
        .iter()
        .filter_map(|e| match e {
            InteractionEvent::Click(c) => Some((c.request_id.as_str(), c.doc.as_str(), c.position)),
            _ => None,
        })
        .collect();
    assert_eq!(
        clicks,
        [
            ("0-1", "1077", 2),
            ("0-1", "3106", 3),
            ("0-2", "9004", 4),
            ("0-1", "2405", 1), // back on the first page
            ("1-1", "2405", 1),
            ("1-1", "2405", 1),
        ]
    );
    let reasons: Vec<&str> = report.skipped.keys().map(String::as_str).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        report.skipped["a click before any query of its session"].1[0]
            .to_string()
            .ends_with("relpred_sample.tsv:13")
    );
    let d = read_dataset(
        Format::Yandex,
        &fixture("yandex/relpred_sample.tsv"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(d.events.unwrap().len(), 10);
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("424242") || n.contains("no page")),
        "{:?}",
        d.notes
    );
}

#[test]
fn srw_real_excerpt_reads_with_the_esci_scale() {
    let esci = RatingMap::parse("100=3,10=2,1=1,0=0").unwrap();
    let d = srw::read_srw(&fixture("srw"), &esci).unwrap();
    assert_eq!(
        d.queries.len(),
        5,
        "the query set's 5 queries, judged ones among them"
    );
    assert_eq!(d.queries[0].text, "t towels kitchen");
    assert_eq!(d.qrels.len(), 121);
    let mut by_grade = [0; 4];
    for j in &d.qrels {
        by_grade[j.grade as usize] += 1;
    }
    assert_eq!(by_grade.iter().sum::<i32>(), 121);
    assert!(by_grade[3] > by_grade[0], "{by_grade:?}");
    // Judged queries are the query set's (same ids from the same text).
    let judged: std::collections::BTreeSet<_> = d.qrels.iter().map(|j| j.query.clone()).collect();
    assert!(judged
        .iter()
        .all(|q| d.queries.iter().take(3).any(|x| &x.id == q)));
    let err = srw::read_srw(&fixture("srw/esci_us_judgments.json"), &RatingMap::Whole)
        .map(|d| d.qrels[0].grade);
    assert_eq!(
        err.unwrap(),
        100,
        "whole ratings without a map are the grades"
    );
}

#[test]
fn a_git_lfs_pointer_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 102367052\n";
    std::fs::write(
        dir.path().join("shopping_queries_dataset_examples.parquet"),
        pointer,
    )
    .unwrap();
    let err = read_dataset(Format::Esci, dir.path(), &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shopping_queries_dataset_examples.parquet:1:1")
            && err.contains("Git LFS pointer"),
        "{err}"
    );
    std::fs::write(dir.path().join("catalog.ndjson"), pointer).unwrap();
    let err = hyrank_data::formats::ndjson::read_catalog_vec(dir.path().join("catalog.ndjson"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Git LFS pointer"), "{err}");
}
