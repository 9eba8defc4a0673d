//! Integration tests of hyrank-ranker: the pipeline as the simulator's ranking policy.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use hyrank_data::synth::{simulate, SimConfig, World, WorldConfig};
use hyrank_data::InteractionEvent;
use hyrank_index::{BuildOptions, Mode, SearchConfig, SearchIndex};
use hyrank_ranker::{Pipeline, PipelinePolicy};

#[test]
fn the_pipeline_serves_simulated_traffic() {
    let world = World::build(&WorldConfig {
        products: 600,
        queries: 30,
        ..WorldConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut products = Vec::new();
    world
        .render_catalog(|p| {
            products.push(p);
            Ok(())
        })
        .unwrap();
    SearchIndex::build(
        dir.path(),
        &products,
        None,
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    let index = Arc::new(SearchIndex::open(dir.path(), None).unwrap());
    let generation = index.manifest.generation;
    let config = SearchConfig {
        mode: Mode::Bm25,
        ..SearchConfig::default()
    };
    let policy = PipelinePolicy::new(Pipeline::new(index), config, "pipeline-bm25").unwrap();
    let mut impressions = 0;
    let mut clicks = 0;
    let report = simulate(
        &world,
        &SimConfig {
            events: 1500,
            days: 2,
            ..SimConfig::default()
        },
        5,
        &policy,
        |_, events| {
            for e in events {
                match e {
                    InteractionEvent::Impression(i) => {
                        assert_eq!(i.ranker, "pipeline-bm25");
                        assert!(i.results.len() <= 10);
                        assert_eq!(
                            i.generation,
                            Some(generation),
                            "logged page names its index"
                        );
                        impressions += 1;
                    }
                    InteractionEvent::Click(_) => clicks += 1,
                    _ => {}
                }
            }
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(report.impressions, impressions);
    assert!(clicks > 0, "BM25 pages get clicked: {report:?}");
    assert!(PipelinePolicy::new(
        Pipeline::new(Arc::new(SearchIndex::open(dir.path(), None).unwrap())),
        SearchConfig {
            k: 0,
            ..SearchConfig::default()
        },
        "bad"
    )
    .is_err());
}
