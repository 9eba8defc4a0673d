use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::formats::ndjson::{read_catalog_vec, read_queries};
use crate::formats::trec::read_qrels;
use crate::log::LogReader;
use crate::types::InteractionEvent;

fn small() -> (WorldConfig, SimConfig) {
    (
        WorldConfig {
            products: 3000,
            queries: 150,
            ..WorldConfig::default()
        },
        SimConfig {
            events: 20_000,
            days: 5,
            ..SimConfig::default()
        },
    )
}

fn digest(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        out.insert(
            entry.strip_prefix(dir).unwrap().display().to_string(),
            fs::read(&entry).unwrap(),
        );
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let (w, s) = small();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(&w, &s, a.path(), &|_, _, _| {}).unwrap();
    generate(&w, &s, b.path(), &|_, _, _| {}).unwrap();
    let (da, db) = (digest(a.path()), digest(b.path()));
    assert!(da.contains_key("catalog.ndjson") && da.keys().any(|k| k.starts_with("events/")));
    assert_eq!(da, db);
    generate(&WorldConfig { seed: 7, ..w }, &s, c.path(), &|_, _, _| {}).unwrap();
    assert_ne!(da["catalog.ndjson"], digest(c.path())["catalog.ndjson"]);
}

#[test]
fn generated_files_read_back_and_are_consistent() {
    let (w, s) = small();
    let dir = tempfile::tempdir().unwrap();
    let report = generate(&w, &s, dir.path(), &|_, _, _| {}).unwrap();
    let products = read_catalog_vec(dir.path().join("catalog.ndjson")).unwrap();
    assert_eq!(products.len(), 3000);
    assert!(report.duplicates > 0, "near-duplicates exist");
    let queries = read_queries(dir.path().join("queries.tsv")).unwrap();
    assert_eq!(queries.len() as u64, report.queries);
    let qrels = read_qrels(dir.path().join("qrels.trec")).unwrap();
    let mut mix = [0usize; 4];
    for j in &qrels {
        mix[(3 - j.grade) as usize] += 1;
    }
    let share = |i: usize| mix[i] as f64 / qrels.len() as f64;
    eprintln!("label mix E/S/C/I: {mix:?}");
    // ESCI's mix is 51/28/5/16 %: stay in that neighbourhood.
    assert!((0.35..0.65).contains(&share(0)), "exact share {}", share(0));
    assert!(
        (0.15..0.45).contains(&share(1)),
        "substitute share {}",
        share(1)
    );
    assert!(share(3) > 0.08, "irrelevant share {}", share(3));

    let events = LogReader::read_all(dir.path().join("events")).unwrap();
    assert!(events.len() as u64 >= s.events);
    assert_eq!(events.len() as u64, report.simulation.events);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].timestamp() <= w[1].timestamp()),
        "log is in time order"
    );
    let ids: std::collections::BTreeSet<&str> = products.iter().map(|p| p.id.as_str()).collect();
    let (mut clicks, mut purchases) = (0, 0);
    for e in &events {
        if let Some(d) = e.doc() {
            assert!(ids.contains(d.as_str()));
        }
        match e {
            InteractionEvent::Click(_) => clicks += 1,
            InteractionEvent::Purchase(_) => purchases += 1,
            _ => {}
        }
    }
    assert!(clicks > 0 && purchases > 0 && purchases < clicks);
    // Position bias: the top slot is clicked far more than slot 10.
    let ctr = simulator::ctr_by_position(&events, 10);
    assert!(ctr[0] > 2.0 * ctr[9], "{ctr:?}");
}

#[test]
fn lexical_gap_queries_use_words_absent_from_titles() {
    let world = World::build(&WorldConfig {
        products: 2000,
        queries: 200,
        ..WorldConfig::default()
    })
    .unwrap();
    let gap: Vec<&SimQuery> = world
        .queries
        .iter()
        .filter(|q| q.lexical_gap && q.kind == queries::QueryKind::Head && !q.misspelt)
        .collect();
    assert!(!gap.is_empty());
    let mut titles = String::new();
    world
        .render_catalog(|p| {
            titles.push_str(&p.title.to_lowercase());
            titles.push('\n');
            Ok(())
        })
        .unwrap();
    for q in gap {
        assert!(
            !titles.contains(&format!(" {} ", q.text)),
            "`{}` appears in a title",
            q.text
        );
    }
}

#[test]
fn randomised_logging_records_propensities_and_drift_moves_demand() {
    let w = WorldConfig {
        products: 2000,
        queries: 100,
        ..WorldConfig::default()
    };
    let world = World::build(&w).unwrap();
    let leaf = world.leaves[world.queries[0].intent.leaf as usize]
        .spec
        .name
        .to_owned();
    let sim = SimConfig {
        events: 20_000,
        days: 10,
        randomization: Some(Randomization { epsilon: 0.5, k: 4 }),
        drift: Some(Drift {
            day: 5,
            category: leaf.clone(),
            demand: 8.0,
            price: 1.0,
        }),
        ..SimConfig::default()
    };
    let policy = LoggingPolicy::new(&world, 1);
    let mut share = [(0u64, 0u64); 2];
    let mut props_ok = true;
    let leaf_i = world.queries[0].intent.leaf;
    let by_id: BTreeMap<&str, u16> = world
        .queries
        .iter()
        .map(|q| (q.text.as_str(), q.intent.leaf))
        .collect();
    simulate(&world, &sim, 1, &policy, |day, events| {
        for e in &events {
            if let InteractionEvent::Impression(i) = e {
                props_ok &= i
                    .results
                    .iter()
                    .all(|r| r.propensity.is_some_and(|p| p > 0.0 && p <= 1.0));
                let half = usize::from(day >= 5);
                share[half].1 += 1;
                if by_id.get(i.query.as_str()) == Some(&leaf_i) {
                    share[half].0 += 1;
                }
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(props_ok);
    let before = share[0].0 as f64 / share[0].1 as f64;
    let after = share[1].0 as f64 / share[1].1 as f64;
    assert!(
        after > 1.5 * before,
        "demand for {leaf}: {before} -> {after}"
    );
}

#[test]
fn bad_knobs_are_errors() {
    assert!(World::build(&WorldConfig {
        products: 0,
        ..WorldConfig::default()
    })
    .is_err());
    assert!(World::build(&WorldConfig {
        duplicate_rate: 1.5,
        ..WorldConfig::default()
    })
    .is_err());
    let world = World::build(&WorldConfig {
        products: 100,
        queries: 10,
        ..WorldConfig::default()
    })
    .unwrap();
    let p = LoggingPolicy::new(&world, 0);
    let bad = SimConfig {
        drift: Some(Drift {
            day: 0,
            category: "Spaceships".into(),
            demand: 2.0,
            price: 1.0,
        }),
        ..SimConfig::default()
    };
    let e = simulate(&world, &bad, 0, &p, |_, _| Ok(())).unwrap_err();
    assert!(e.to_string().contains("Spaceships"));
}

#[test]
fn popularity_and_query_frequencies_are_zipf() {
    let world = World::build(&WorldConfig {
        products: 5000,
        queries: 300,
        ..WorldConfig::default()
    })
    .unwrap();
    let mut w: Vec<f64> = world.queries.iter().map(|q| q.weight).collect();
    w.sort_by(|a, b| b.total_cmp(a));
    for (r, x) in w.iter().enumerate() {
        assert!((x - 1.0 / (r + 1) as f64).abs() < 1e-12, "rank {r}: {x}");
    }
    // Head queries take most of the top ranks.
    let top: Vec<&SimQuery> = world
        .queries
        .iter()
        .filter(|q| q.weight >= 1.0 / 20.0)
        .collect();
    let heads = top
        .iter()
        .filter(|q| q.kind == queries::QueryKind::Head)
        .count();
    assert!(heads * 2 > top.len(), "{heads} of {}", top.len());
    let mut pop: Vec<f32> = world
        .products
        .iter()
        .filter(|p| p.duplicate_of.is_none())
        .map(|p| p.popularity)
        .collect();
    pop.sort_by(|a, b| b.total_cmp(a));
    let median = pop[pop.len() / 2];
    assert!((0.8..1.25).contains(&median), "median popularity {median}");
    assert!(
        pop[0] > 100.0 * median,
        "heavy head: top {} vs median {median}",
        pop[0]
    );
}

/// Any policy and any user model plug into the simulator: a policy that
/// reverses the logging ranker's list and says its propensities, shared by
/// threads; users who click the first result and never buy.
#[test]
fn policies_and_user_models_are_plugins() {
    use crate::policy::{RankRequest, RankedDoc, Ranking, RankingPolicy};
    use crate::synth::{simulate_with, Shown, UserModel};

    struct Reversed(LoggingPolicy);
    impl RankingPolicy for Reversed {
        fn name(&self) -> &str {
            "reversed"
        }
        fn rank(&self, r: &RankRequest<'_>) -> crate::Result<Ranking> {
            let mut docs = self.0.rank(r)?.docs;
            docs.reverse();
            Ok(Ranking {
                generation: None,
                docs: docs
                    .into_iter()
                    .map(|d| RankedDoc {
                        propensity: Some(0.5),
                        ..d
                    })
                    .collect(),
            })
        }
    }
    struct FirstOnly;
    impl UserModel for FirstOnly {
        fn click_probability(&self, s: &Shown<'_>) -> Option<f64> {
            Some(if s.position == 1 { 1.0 } else { 0.0 })
        }
        fn purchase(&self, _: &Shown<'_>) -> Option<(f64, f64)> {
            Some((0.0, 1.0))
        }
    }
    let (wc, _) = small();
    let world = World::build(&wc).unwrap();
    let policy = std::sync::Arc::new(Reversed(LoggingPolicy::new(&world, 3)));
    // One policy serves many requests from many threads.
    let p2 = std::sync::Arc::clone(&policy);
    let q = world.queries[0].clone();
    let from_thread = std::thread::spawn(move || {
        let (rid, user, session) = ("R1".into(), "U1".into(), "S1".into());
        p2.rank(&RankRequest {
            query: &q.text,
            query_id: Some(&q.id),
            request_id: &rid,
            user: &user,
            session: &session,
            timestamp: crate::Timestamp(0),
            k: 5,
            filter: None,
        })
        .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(from_thread.docs.len(), 5);
    let sim = SimConfig {
        events: 2000,
        days: 2,
        ..SimConfig::default()
    };
    let mut events = Vec::new();
    let report = simulate_with(&world, &sim, 9, policy.as_ref(), &FirstOnly, |_, e| {
        events.extend(e);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        report.clicks, report.impressions,
        "every page's first result is clicked, nothing else"
    );
    assert_eq!(report.purchases, 0);
    for e in &events {
        match e {
            InteractionEvent::Impression(i) => {
                assert_eq!(i.ranker, "reversed");
                assert!(i.results.iter().all(|r| r.propensity == Some(0.5)));
            }
            InteractionEvent::Click(c) => assert_eq!(c.position, 1),
            _ => {}
        }
    }
}
