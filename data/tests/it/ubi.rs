//! UBI on a real public file (an excerpt of OpenSearch's sample, see
//! tests/fixtures/ubi_opensearch_sample/README.md) and the round trip
//! hyrank → UBI → hyrank.

use std::collections::{BTreeMap, BTreeSet};

use hyrank_data::check::{check_log, Rule};
use hyrank_data::convert::{read_dataset, write_dataset, Format, ReadOptions};
use hyrank_data::formats::ubi::{read_ubi, UbiOptions};
use hyrank_data::synth::{generate, SimConfig, WorldConfig};
use hyrank_data::InteractionEvent;

use crate::fixture;

#[test]
fn ubi_opensearch_sample_converts() {
    let file = fixture("ubi_opensearch_sample/ubi_queries_events.ndjson");
    let (events, report) = read_ubi(&file, &UbiOptions::default()).unwrap();
    let bases: BTreeMap<&str, u32> = report
        .ordinal_bases
        .iter()
        .map(|(a, b)| (a.as_str(), b.base))
        .collect();
    assert_eq!(
        bases,
        BTreeMap::from([("Chorus", 1), ("esci_ubi_sample", 0), ("ubi-demo", 1)])
    );
    assert_eq!(report.bulk_action_lines, 114);
    // Every event read is accounted for: folded, converted, or reported.
    let read: u64 = report.events_by_action.values().sum();
    let converted: u64 = report.converted.values().sum();
    assert_eq!(
        read,
        report.folded_impression_events + converted + report.events_left_out(),
        "{:#?}",
        report
    );
    assert_eq!(
        report.folded_impression_events, 64,
        "15 esci + 49 Chorus impression events"
    );

    // ps4 (esci_ubi_sample): clicked at ordinal 2, i.e. position 3, in the
    // impression built from its five 0-based impression events.
    let ps4 = events
        .iter()
        .find_map(|e| match e {
            InteractionEvent::Impression(i) if i.query == "ps4" => Some(i),
            _ => None,
        })
        .unwrap();
    assert_eq!(ps4.results.len(), 5);
    assert_eq!(ps4.results[2].doc.as_str(), "B08GPZW3FB");
    assert!(!ps4.partial);
    let click = events
        .iter()
        .find_map(|e| match e {
            InteractionEvent::Click(c) if c.request_id == ps4.request_id => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!((click.doc.as_str(), click.position), ("B08GPZW3FB", 3));
    assert_eq!(click.session_id, ps4.session_id);
    assert_eq!(
        ps4.session_id.as_str(),
        "87d82faf-6601-4b7d-9aa7-b45d7403dffa"
    );

    // ubi-demo has no query documents: its page is what the add-to-cart and
    // the purchase reveal, with the on_search message as text.
    let demo = events
        .iter()
        .find_map(|e| match e {
            InteractionEvent::Impression(i)
                if i.request_id.as_str() == "816c6f03-bb7e-4b96-a014-e41961c8b563" =>
            {
                Some(i)
            }
            _ => None,
        })
        .unwrap();
    assert!(demo.partial);
    assert_eq!(demo.results.len(), 1);
    assert_eq!(
        demo.session_id.as_str(),
        "318e3850-78c4-4234-89b8-b14774d4bbcf"
    );

    // Written as a hyrank log, it passes every consistency rule: clicks at
    // their document's position, CTR ≤ 1 at every position, one session per
    // UBI query, nothing before its impression.
    let out = tempfile::tempdir().unwrap();
    let d = read_dataset(Format::Ubi, &file, &ReadOptions::default()).unwrap();
    write_dataset(Format::Hyrank, &d, out.path()).unwrap();
    let check = check_log(&out.path().join("events"), None).unwrap();
    assert!(check.is_consistent(), "{}", check.details());
    assert!(check.ctr_at_position.iter().all(|c| *c <= 1.0));
    assert!(!check.violations.contains_key(&Rule::OtherSession));
    // Sessions: each UBI session id of a page's events is one hyrank session.
    let sessions: BTreeSet<&str> = events.iter().map(|e| e.session_id().as_str()).collect();
    assert!(sessions.contains("SESSION-ddf28a1d-c8e8-40fd-b6a6-89ca0547c184"));
    assert!(
        !sessions.iter().any(|s| s.starts_with("CLIENT-")),
        "no Chorus page fell back to its client id: {sessions:?}"
    );
}

#[test]
fn hyrank_to_ubi_to_hyrank_keeps_every_event() {
    let src = tempfile::tempdir().unwrap();
    generate(
        &WorldConfig {
            products: 400,
            queries: 30,
            ..WorldConfig::default()
        },
        &SimConfig {
            events: 3000,
            days: 3,
            randomization: Some(hyrank_data::synth::Randomization { epsilon: 0.3, k: 4 }),
            ..SimConfig::default()
        },
        src.path(),
        &|_, _, _| {},
    )
    .unwrap();
    let d = read_dataset(Format::Hyrank, src.path(), &ReadOptions::default()).unwrap();
    let ubi_dir = tempfile::tempdir().unwrap();
    write_dataset(Format::Ubi, &d, ubi_dir.path()).unwrap();
    let back = read_dataset(Format::Ubi, ubi_dir.path(), &ReadOptions::default()).unwrap();
    let by_id = |events: &[InteractionEvent]| -> BTreeMap<String, InteractionEvent> {
        events
            .iter()
            .map(|e| (e.event_id().0.clone(), e.clone()))
            .collect()
    };
    let (a, b) = (
        by_id(d.events.as_ref().unwrap()),
        by_id(back.events.as_ref().unwrap()),
    );
    assert_eq!(a.len(), d.events.as_ref().unwrap().len(), "ids are unique");
    assert_eq!(a.len(), b.len());
    for (id, e) in &a {
        assert_eq!(Some(e), b.get(id), "event {id} changed in the round trip");
    }
    assert!(
        a.values().any(|e| matches!(e, InteractionEvent::Impression(i) if i.results.iter().any(|r| r.propensity.is_some()))),
        "propensities were exercised"
    );
}

#[test]
fn a_click_without_object_is_reported_not_fatal() {
    let (events, report) = read_ubi(
        &fixture("broken/ubi_click_without_object.ndjson"),
        &UbiOptions::default(),
    )
    .unwrap();
    assert!(events.is_empty());
    let lines = report.lines().join("\n");
    assert!(
        lines.contains("ubi_click_without_object.ndjson:1"),
        "{lines}"
    );
}
