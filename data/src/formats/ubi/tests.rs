use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read(path: &Path, base: Option<u32>) -> (Vec<InteractionEvent>, UbiReport) {
    read_ubi(path, &UbiOptions { ordinal_base: base }).unwrap()
}

/// A bulk file in the shape of OpenSearch's sample: 0-based ordinals, one
/// impression event per shown object, the session only on the events.
const BULK: &str = r#"{"index": {"_index": "ubi_queries", "_id": "bq1"}}
{"application": "shop", "query_id": "q1", "client_id": "c1", "user_query": "sofa", "query_attributes": {}, "timestamp": "2024-12-10T00:01:29.378+0000"}
{"index": {"_index": "ubi_events", "_id": "e1"}}
{"application": "shop", "action_name": "impression", "query_id": "q1", "session_id": "s1", "client_id": "c1", "timestamp": "2024-12-10T00:01:29.378Z", "message_type": null, "event_attributes": {"object": {"object_id": "A", "object_id_field": "asin"}, "position": {"ordinal": 0}}}
{"index": {"_index": "ubi_events", "_id": "e2"}}
{"application": "shop", "action_name": "impression", "query_id": "q1", "session_id": "s1", "client_id": "c1", "timestamp": "2024-12-10T00:01:29.378Z", "event_attributes": {"object": {"object_id": "B"}, "position": {"ordinal": 1}}}
{"index": {"_index": "ubi_events", "_id": "e3"}}
{"application": "shop", "action_name": "click", "query_id": "q1", "session_id": "s1", "client_id": "c1", "user_id": "", "timestamp": "2024-12-10T00:01:31.000+00:00", "event_attributes": {"object": {"object_id": "B"}, "position": {"ordinal": 1}}}
{"index": {"_index": "ubi_events", "_id": "e4"}}
{"application": "shop", "action_name": "search", "query_id": "q1", "client_id": "c1", "timestamp": 1733788889000, "message_type": "QUERY", "message": "sofa", "event_attributes": null}
{"index": {"_index": "ubi_events", "_id": "e5"}}
{"application": "shop", "action_name": "click", "query_id": "q1", "client_id": "c1", "timestamp": "2024-12-10T00:01:32Z", "event_attributes": {"object": {"object_id_field": "asin"}, "position": {"ordinal": 0}}}
"#;

#[test]
fn bulk_file_with_zero_based_impression_events() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "sample.ndjson", BULK);
    let (events, report) = read(&f, None);
    assert_eq!(report.bulk_action_lines, 6);
    assert_eq!(report.ordinal_bases["shop"].base, 0);
    let kinds: Vec<&str> = events.iter().map(InteractionEvent::kind).collect();
    assert_eq!(kinds, ["impression", "click"]);
    let InteractionEvent::Impression(i) = &events[0] else {
        panic!()
    };
    assert_eq!(i.event_id.as_str(), "bq1", "the bulk _id is the event id");
    assert_eq!(
        i.session_id.as_str(),
        "s1",
        "the session comes from the query's events"
    );
    let shown: Vec<(&str, u32)> = i
        .results
        .iter()
        .map(|r| (r.doc.as_str(), r.position))
        .collect();
    assert_eq!(shown, [("A", 1), ("B", 2)]);
    assert!(!i.partial);
    let InteractionEvent::Click(c) = &events[1] else {
        panic!()
    };
    assert_eq!(
        (c.doc.as_str(), c.position, c.session_id.as_str()),
        ("B", 2, "s1")
    );
    assert_eq!(c.event_id.as_str(), "e3");
    assert_eq!(report.folded_impression_events, 2);
    assert_eq!(report.unmapped_actions.get("search"), Some(&1));
    let no_object = &report.skipped[&("click".to_owned(), "no object_id".to_owned())];
    assert_eq!(no_object.count, 1);
    assert_eq!(no_object.examples[0].line, 12, "the skip names the line");
    assert!(
        report.lines().iter().any(|l| l.contains("0-based")),
        "{:?}",
        report.lines()
    );

    // The override puts ordinal 0 below a 1-based list: reported, not fatal.
    let (events, report) = read(&f, Some(1));
    let InteractionEvent::Impression(i) = &events[0] else {
        panic!()
    };
    assert_eq!(
        i.results.iter().map(|r| r.position).collect::<Vec<_>>(),
        [1]
    );
    assert!(report
        .skipped
        .keys()
        .any(|(_, r)| r.contains("below the application's base")));
    assert!(read_ubi(
        &f,
        &UbiOptions {
            ordinal_base: Some(2)
        }
    )
    .is_err());
}

#[test]
fn a_query_without_impression_events_is_a_partial_page_of_what_events_reveal() {
    let dir = tempfile::tempdir().unwrap();
    // Epoch-millisecond timestamps, the session inside event_attributes, no
    // query document: the text is the search event's message.
    write(
        dir.path(),
        "ubi_events.ndjson",
        r#"{"action_name": "on_search", "client_id": "c9", "query_id": "q7", "message_type": "QUERY", "message": "laptop bag", "timestamp": 1717527762025, "event_attributes": {"session_id": "s9"}}
{"action_name": "item_click", "client_id": "c9", "query_id": "q7", "timestamp": 1717527762080, "event_attributes": {"position": {"ordinal": 10}, "object": {"url": "/docs/x"}}}
{"action_name": "add_to_cart", "client_id": "c9", "query_id": "q7", "timestamp": "1717527762118", "event_attributes": {"object": {"object_id": "4033874254060", "object_detail": {"price": 22695}}, "session_id": "s9", "position": {"ordinal": 3}}}
{"action_name": "purchase", "client_id": "c9", "query_id": "q7", "timestamp": 1717527762129, "event_attributes": {"object": {"object_id": "4033874254060", "object_detail": {"price": 22695}}, "session_id": "s9", "position": {"ordinal": 3}}}
{"action_name": "purchase", "client_id": "c9", "timestamp": 1717527763000, "event_attributes": {"object": {"object_id": "X1"}}}
{"action_name": "page_exit", "client_id": "c9", "timestamp": 1717527763001}
not json at all
"#,
    );
    let (events, report) = read(dir.path(), None);
    let kinds: Vec<&str> = events.iter().map(InteractionEvent::kind).collect();
    assert_eq!(kinds, ["impression", "add_to_cart", "purchase", "purchase"]);
    let InteractionEvent::Impression(i) = &events[0] else {
        panic!()
    };
    assert!(i.partial);
    assert_eq!(i.query, "laptop bag");
    assert_eq!(i.session_id.as_str(), "s9");
    assert_eq!(
        i.results
            .iter()
            .map(|r| (r.doc.as_str(), r.position))
            .collect::<Vec<_>>(),
        [("4033874254060", 3)]
    );
    let InteractionEvent::Purchase(p) = &events[2] else {
        panic!()
    };
    assert_eq!(
        (p.unit_price, p.request_id.as_ref().map(|r| r.as_str())),
        (22695.0, Some("q7"))
    );
    let InteractionEvent::Purchase(loose) = &events[3] else {
        panic!()
    };
    assert_eq!((loose.request_id.clone(), loose.unit_price), (None, 0.0));
    assert_eq!(report.purchases_without_price, 1);
    assert_eq!(report.partial_impressions, 1);
    assert_eq!(
        report.skipped[&("item_click".to_owned(), "no object_id".to_owned())].count,
        1
    );
    let not_json = &report.skipped[&("document".to_owned(), "not JSON".to_owned())];
    assert_eq!(
        (not_json.examples[0].line, not_json.examples[0].column),
        (7, Some(2))
    );
    assert_eq!(report.unmapped_actions.get("page_exit"), Some(&1));
    assert_eq!(report.unmapped_actions.get("on_search"), Some(&1));
}

#[test]
fn type_ahead_searches_are_reported_and_nothing_usable_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "e.ndjson",
        r#"{"application": "Chorus", "action_name": "search", "query_id": "t1", "client_id": "c", "timestamp": "2025-01-22T14:57:24.305Z", "message_type": "QUERY", "message": "g", "event_attributes": null}
{"application": "Chorus", "action_name": "search", "query_id": "t2", "client_id": "c", "timestamp": "2025-01-22T14:57:24.405Z", "message": "go", "event_attributes": null}
"#,
    );
    let (events, report) = read(&f, None);
    assert!(events.is_empty());
    assert_eq!(report.skipped.values().map(|s| s.count).sum::<u64>(), 2);
    assert_eq!(report.events_left_out(), 2);
    let f = write(dir.path(), "x.ndjson", "{\"a\": 1}\n");
    let err = read_ubi(&f, &UbiOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no UBI query or event documents") && err.contains("x.ndjson:1"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = read_ubi(empty.path(), &UbiOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no UBI files"), "{err}");
}

#[test]
fn written_ubi_reads_back_to_the_same_events() {
    use crate::types::{Click, ImpressedDoc, Impression, Purchase};
    use crate::Timestamp;
    let imp = InteractionEvent::Impression(Impression {
        event_id: "E1".into(),
        timestamp: Timestamp(1_000),
        request_id: "R1".into(),
        query_id: Some("Q1".into()),
        query: "grey sofa".into(),
        user_id: "U1".into(),
        session_id: "S1".into(),
        results: vec![
            ImpressedDoc {
                doc: "P1".into(),
                position: 1,
                propensity: Some(0.9),
                team: None,
            },
            ImpressedDoc {
                doc: "P2".into(),
                position: 2,
                propensity: None,
                team: None,
            },
        ],
        ranker: "logging-v1".into(),
        arm: Some("B".into()),
        partial: false,
        generation: Some(7),
    });
    let click = InteractionEvent::Click(Click {
        event_id: "E2".into(),
        timestamp: Timestamp(2_000),
        request_id: "R1".into(),
        user_id: "U1".into(),
        session_id: "S1".into(),
        doc: "P2".into(),
        position: 2,
    });
    let buy = InteractionEvent::Purchase(Purchase {
        event_id: "E3".into(),
        timestamp: Timestamp(3_000),
        request_id: Some("R1".into()),
        user_id: "U1".into(),
        session_id: "S1".into(),
        doc: "P2".into(),
        quantity: 2,
        unit_price: 19.5,
    });
    let events = vec![imp, click, buy];
    let (qs, es) = to_ubi(&events, "hyrank");
    let dir = tempfile::tempdir().unwrap();
    let text = |rows: &[Value]| rows.iter().map(|r| format!("{r}\n")).collect::<String>();
    write(dir.path(), "ubi_queries.ndjson", &text(&qs));
    write(dir.path(), "ubi_events.ndjson", &text(&es));
    let (back, report) = read(dir.path(), None);
    assert_eq!(back, events);
    assert_eq!(report.ordinal_bases["hyrank"].base, 1);
    assert_eq!(report.events_left_out(), 0);
}

#[test]
fn a_query_whose_ordinals_match_its_hits_only_with_the_other_base_is_read_with_it() {
    let dir = tempfile::tempdir().unwrap();
    // Query a: 1-based (the application's base, smallest ordinal 1). Query b:
    // its impression events sit where its hit list puts them only 0-based.
    let f = write(
        dir.path(),
        "chorus.ndjson",
        r#"{"application": "Chorus", "query_id": "a", "client_id": "c", "user_query": "gold", "query_response_hit_ids": ["A1", "A2"], "timestamp": "2025-01-22T14:57:24.305Z"}
{"application": "Chorus", "action_name": "impression", "query_id": "a", "client_id": "c", "timestamp": "2025-01-22T14:57:25Z", "event_attributes": {"object": {"object_id": "A1"}, "position": {"ordinal": 1}}}
{"application": "Chorus", "action_name": "impression", "query_id": "a", "client_id": "c", "timestamp": "2025-01-22T14:57:25Z", "event_attributes": {"object": {"object_id": "A2"}, "position": {"ordinal": 2}}}
{"application": "Chorus", "query_id": "b", "client_id": "c", "user_query": "toner", "query_response_hit_ids": ["B1", "B2", "B3"], "timestamp": "2025-01-22T15:00:00Z"}
{"application": "Chorus", "action_name": "impression", "query_id": "b", "client_id": "c", "timestamp": "2025-01-22T15:00:01Z", "event_attributes": {"object": {"object_id": "B2"}, "position": {"ordinal": 1}}}
{"application": "Chorus", "action_name": "impression", "query_id": "b", "client_id": "c", "timestamp": "2025-01-22T15:00:01Z", "event_attributes": {"object": {"object_id": "B3"}, "position": {"ordinal": 2}}}
{"application": "Chorus", "action_name": "click", "query_id": "b", "client_id": "c", "timestamp": "2025-01-22T15:00:05Z", "event_attributes": {"object": {"object_id": "B3"}, "position": {"ordinal": 2}}}
"#,
    );
    let (events, report) = read(&f, None);
    assert_eq!(report.ordinal_bases["Chorus"].base, 1);
    assert_eq!(report.queries_read_with_the_other_base, 1);
    let pages: Vec<Vec<(&str, u32)>> = events
        .iter()
        .filter_map(|e| match e {
            InteractionEvent::Impression(i) => Some(
                i.results
                    .iter()
                    .map(|r| (r.doc.as_str(), r.position))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(
        pages,
        [
            vec![("A1", 1), ("A2", 2)],
            vec![("B1", 1), ("B2", 2), ("B3", 3)]
        ]
    );
    let InteractionEvent::Click(c) = events.last().unwrap() else {
        panic!()
    };
    assert_eq!((c.doc.as_str(), c.position), ("B3", 3));
}
