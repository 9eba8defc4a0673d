use proptest::prelude::*;

use super::*;
use hyrank_data::{
    AddToCart, Click, EventId, ImpressedDoc, Impression, InteractionEvent, Purchase, RequestId,
    SessionId, UserId,
};

fn product(id: &str, title: &str, price: f64, category: &str) -> Product {
    let mut p = Product::new(id, title);
    p.price = Some(price);
    p.category = vec!["Home".into(), category.into()];
    p.brand = Some("Acme".into());
    p.rating = Some(4.5);
    p.review_count = Some(12);
    p
}

fn catalog() -> Vec<Product> {
    let mut v = vec![
        product("p0", "grey velvet couch", 300.0, "Sofas"),
        product("p1", "blue couch", 100.0, "Sofas"),
        product("p2", "brass lamp", 40.0, "Lamps"),
        product("p3", "water boiler", 20.0, "Kitchen"),
    ];
    for (p, colour) in v.iter_mut().zip(["grey", "blue", "brass", "white"]) {
        p.attributes.insert("colour".into(), colour.into());
    }
    v
}

fn click(n: usize, t: i64, request: usize, doc: &str) -> InteractionEvent {
    InteractionEvent::Click(Click {
        event_id: EventId(format!("C{n}")),
        timestamp: Timestamp(t),
        request_id: RequestId(format!("R{request}")),
        user_id: UserId("u".into()),
        session_id: SessionId("s".into()),
        doc: DocId(doc.into()),
        position: 1,
    })
}

const QUERIES: [&str; 3] = ["grey couch", "lamp", "water boiler"];

fn impression(n: usize, t: i64, query: &str, docs: &[&str]) -> InteractionEvent {
    InteractionEvent::Impression(Impression {
        event_id: EventId(format!("E{n}")),
        timestamp: Timestamp(t),
        request_id: RequestId(format!("R{n}")),
        query_id: None,
        query: query.into(),
        user_id: UserId("u".into()),
        session_id: SessionId("s".into()),
        results: docs
            .iter()
            .enumerate()
            .map(|(i, d)| ImpressedDoc {
                doc: DocId((*d).into()),
                position: i as u32 + 1,
                propensity: None,
                team: None,
            })
            .collect(),
        ranker: "test".into(),
        arm: None,
        partial: false,
        generation: None,
    })
}

/// A random log: impressions of random queries and products, each followed
/// by clicks, carts and purchases of shown products at later times.
fn arb_log() -> impl Strategy<Value = Vec<InteractionEvent>> {
    prop::collection::vec(
        (
            0usize..3,
            prop::collection::vec(0usize..4, 1..4),
            0i64..40 * DAY_MS,
            prop::collection::vec((0usize..3, 0u8..3, 0i64..DAY_MS), 0..3),
        ),
        1..25,
    )
    .prop_map(|imps| {
        let mut events = Vec::new();
        for (n, (q, docs, t, reactions)) in imps.into_iter().enumerate() {
            let mut docs: Vec<String> = docs.into_iter().map(|d| format!("p{d}")).collect();
            docs.dedup();
            let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
            events.push(impression(n, t, QUERIES[q], &refs));
            for (k, (pos, kind, dt)) in reactions.into_iter().enumerate() {
                let doc = DocId(docs[pos % docs.len()].clone());
                let base = (
                    EventId(format!("E{n}-{k}")),
                    Timestamp(t + dt),
                    UserId("u".into()),
                    SessionId("s".into()),
                );
                let request = RequestId(format!("R{n}"));
                events.push(match kind {
                    0 => InteractionEvent::Click(Click {
                        event_id: base.0,
                        timestamp: base.1,
                        request_id: request,
                        user_id: base.2,
                        session_id: base.3,
                        doc,
                        position: 1,
                    }),
                    1 => InteractionEvent::AddToCart(AddToCart {
                        event_id: base.0,
                        timestamp: base.1,
                        request_id: Some(request),
                        user_id: base.2,
                        session_id: base.3,
                        doc,
                        quantity: 1,
                    }),
                    _ => InteractionEvent::Purchase(Purchase {
                        event_id: base.0,
                        timestamp: base.1,
                        request_id: Some(request),
                        user_id: base.2,
                        session_id: base.3,
                        doc,
                        quantity: 1,
                        unit_price: 10.0,
                    }),
                });
            }
        }
        events.sort_by_key(InteractionEvent::timestamp);
        events
    })
}

fn rows_of(imp: &Impression, table: &ProductTable, store: &FeatureStore) -> FeatureMatrix {
    let docs: Vec<DocId> = imp.results.iter().map(|r| r.doc.clone()).collect();
    let scores: Vec<ProductScores> = (0..docs.len())
        .map(|i| ProductScores {
            bm25: Some(i as f32),
            cosine: Some(0.5),
            bm25_rank: Some(i as u32 + 1),
            cosine_rank: None,
            field_bm25: [Some(1.0), None, None, None],
        })
        .collect();
    extract(&imp.query, imp.timestamp, &docs, &scores, table, store).unwrap()
}

proptest! {
    /// The leakage property: an impression's features are the same from the
    /// whole log and from the log cut at its time.
    #[test]
    fn features_read_only_the_past(log in arb_log()) {
        let table = ProductTable::new(&catalog());
        let full = FeatureStore::from_events_for(&table, &log);
        for e in &log {
            let InteractionEvent::Impression(imp) = e else { continue };
            let past = FeatureStore::from_events_for(&table, log.iter().filter(|x| x.timestamp() < imp.timestamp));
            prop_assert_eq!(rows_of(imp, &table, &full), rows_of(imp, &table, &past));
        }
    }

    /// The order events arrive in does not matter (the online store may see
    /// them slightly out of order), once each click follows its impression.
    #[test]
    fn arrival_order_within_kinds_does_not_matter(log in arb_log()) {
        let table = ProductTable::new(&catalog());
        let forward = FeatureStore::from_events_for(&table, &log);
        let mut shuffled: Vec<&InteractionEvent> = log.iter().filter(|e| e.kind() == "impression").collect();
        shuffled.reverse();
        shuffled.extend(log.iter().filter(|e| e.kind() != "impression").rev());
        let backward = FeatureStore::from_events_for(&table, shuffled);
        for e in &log {
            let InteractionEvent::Impression(imp) = e else { continue };
            prop_assert_eq!(rows_of(imp, &table, &forward), rows_of(imp, &table, &backward));
        }
    }
}

#[test]
fn query_words_learn_the_attribute_values_shoppers_pick() {
    // Shoppers who type "chocolate" click the grey couch (the catalogue
    // never says "chocolate"); those who type "couch" alone click both.
    let table = ProductTable::new(&catalog());
    let mut log = Vec::new();
    for n in 0..30 {
        let t = DAY_MS + n as i64 * 60_000;
        let (query, doc) = if n % 2 == 0 {
            ("chocolate couch", "p0")
        } else {
            ("couch", ["p0", "p1"][n / 2 % 2])
        };
        log.push(impression(n, t, query, &["p0", "p1"]));
        log.push(click(n, t + 1000, n, doc));
    }
    let store = FeatureStore::from_events_for(&table, &log);
    let at = Timestamp(2 * DAY_MS);
    let lift = store.attribute_lift("Chocolate couch", at, 30 * DAY_MS);
    let (grey, blue) = (lift.of("p0"), lift.of("p1"));
    assert!(grey[0] > 0.0 && blue[0] < 0.0, "{grey:?} {blue:?}");
    assert_eq!(grey[1], 0.0, "no purchases: no purchase lift");
    // "couch" alone favours neither colour much; an unknown word nothing.
    let couch = store.attribute_lift("couch", at, 30 * DAY_MS);
    assert!(couch.of("p0")[0] - couch.of("p1")[0] < grey[0] - blue[0]);
    let unknown = store.attribute_lift("wardrobe", at, 30 * DAY_MS);
    assert_eq!(unknown.of("p0"), [0.0, 0.0]);
    // Before the clicks, and from a store made without the catalogue: 0.
    let early = store.attribute_lift("chocolate couch", Timestamp(DAY_MS), 30 * DAY_MS);
    assert_eq!(early.of("p0"), [0.0, 0.0]);
    let plain = FeatureStore::from_events(&log);
    assert_eq!(
        plain
            .attribute_lift("chocolate couch", at, 30 * DAY_MS)
            .of("p0"),
        [0.0, 0.0]
    );
    // The feature columns carry it.
    let docs = [DocId("p0".into()), DocId("p1".into())];
    let none = ProductScores {
        bm25: None,
        cosine: None,
        bm25_rank: None,
        cosine_rank: None,
        field_bm25: [None; 4],
    };
    let scores = [none, none];
    let x = extract("chocolate couch", at, &docs, &scores, &table, &store).unwrap();
    let col = column("query_attribute_click_lift_30d").unwrap();
    assert_eq!(x.get(0, col), grey[0]);
    assert_eq!(x.get(1, col), blue[0]);
}

#[test]
fn behaviour_counts_events_before_the_time_only() {
    let table = ProductTable::new(&catalog());
    let t0 = 10 * DAY_MS;
    let mut log = vec![impression(0, t0, "grey couch", &["p0", "p1"])];
    log.push(InteractionEvent::Click(Click {
        event_id: EventId("c".into()),
        timestamp: Timestamp(t0 + 1000),
        request_id: RequestId("R0".into()),
        user_id: UserId("u".into()),
        session_id: SessionId("s".into()),
        doc: DocId("p0".into()),
        position: 1,
    }));
    let store = FeatureStore::from_events(&log);
    let docs = [DocId("p0".into()), DocId("p1".into())];
    let scores = [
        ProductScores {
            bm25: Some(2.0),
            cosine: Some(0.9),
            bm25_rank: Some(1),
            cosine_rank: Some(3),
            field_bm25: [Some(2.0), Some(0.5), None, None],
        },
        ProductScores {
            bm25: None,
            cosine: None,
            bm25_rank: None,
            cosine_rank: None,
            field_bm25: [None; 4],
        },
    ];
    let col = |name: &str| column(name).unwrap();
    // At the impression's own time nothing is known yet.
    let before = extract("Grey  couch", Timestamp(t0), &docs, &scores, &table, &store).unwrap();
    assert_eq!(before.get(0, col("pair_log_impressions_1d")), 0.0);
    assert!(
        (before.get(0, col("pair_ctr_1d")) - 0.1).abs() < 1e-6,
        "the default prior"
    );
    // An hour later: one impression, one click for p0, none for p1.
    let later = Timestamp(t0 + 3_600_000);
    let after = extract("grey couch", later, &docs, &scores, &table, &store).unwrap();
    assert!((after.get(0, col("pair_log_impressions_1d")) - 2f32.ln()).abs() < 1e-6);
    let prior = 1.0 / 2.0; // the shop-wide CTR of the 30 days before: 1 click in 2 impressions
    let expect = ((1.0 + PRIOR_IMPRESSIONS * prior) / (1.0 + PRIOR_IMPRESSIONS)) as f32;
    assert!((after.get(0, col("pair_ctr_1d")) - expect).abs() < 1e-6);
    assert!(after.get(0, col("pair_ctr_1d")) > after.get(1, col("pair_ctr_1d")));
    // Two days later the 1-day window is empty again, the 7-day one is not.
    let much_later = Timestamp(t0 + 2 * DAY_MS);
    let gone = extract("grey couch", much_later, &docs, &scores, &table, &store).unwrap();
    assert_eq!(gone.get(0, col("product_log_impressions_1d")), 0.0);
    assert!(gone.get(0, col("product_log_impressions_7d")) > 0.0);
    // Retrieval, text and product groups.
    assert_eq!(after.get(0, col("bm25_log_rank")), 0.0, "rank 1");
    assert!(
        (after.get(1, col("cosine_log_rank")) - 1001f32.ln()).abs() < 1e-5,
        "beyond the cap"
    );
    assert_eq!(
        after.get(1, col("bm25")),
        0.0,
        "a product the index lacks scores 0"
    );
    assert_eq!(after.get(0, col("phrase_match")), 0.0);
    assert_eq!(after.get(0, col("title_overlap")), 1.0);
    assert_eq!(after.get(0, col("brand_match")), 0.0);
    assert!(
        (after.get(0, col("price_vs_category")) - 1.5).abs() < 1e-6,
        "300 over the Sofas median 200"
    );
    assert_eq!(after.get(0, col("query_length")), 2.0);
    assert_eq!(after.get(0, col("head_query")), 0.0);
}

#[test]
fn a_model_reading_unknown_features_is_refused_by_name() {
    let names: Vec<String> = vec![
        "bm25".into(),
        "dwell_time".into(),
        "price".into(),
        "age_days".into(),
    ];
    let err = projection(FEATURE_SET, FEATURE_VERSION, &names)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dwell_time, age_days"), "{err}");
    assert!(projection("letor", 0, &names[..1]).is_err());
    assert!(projection(FEATURE_SET, FEATURE_VERSION + 1, &names[..1]).is_err());
    let cols = projection(
        FEATURE_SET,
        FEATURE_VERSION,
        &["price".into(), "bm25".into()],
    )
    .unwrap();
    assert_eq!(cols, vec![14, 0]);
    let x =
        FeatureMatrix::new(NUM_FEATURES, (0..NUM_FEATURES).map(|i| i as f32).collect()).unwrap();
    assert_eq!(project(&x, &cols).unwrap().row(0), &[14.0, 0.0]);
}

#[test]
fn names_and_groups_cover_every_column() {
    let distinct: std::collections::HashSet<&str> = NAMES.iter().copied().collect();
    assert_eq!(distinct.len(), NUM_FEATURES);
    assert_eq!(group(0), "retrieval");
    assert_eq!(group(column("pair_conversion_30d").unwrap()), "behavioural");
    assert_eq!(group(column("head_query").unwrap()), "query");
    let x = FeatureMatrix::new(2, vec![1.0, 5.0, 3.0, 5.0]).unwrap();
    let s = column_stats(&x);
    assert_eq!(s[0].mean, 2.0);
    assert_eq!(s[1].std, 0.0);
    assert_eq!(s[0].deciles.len(), 11);
}
