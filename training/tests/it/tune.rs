//! `tune` on a catalogue built so that the default field boosts are wrong:
//! every query's words are in the titles of products judged irrelevant and
//! in the descriptions of the relevant ones.

use std::sync::Arc;

use hyrank_data::{Judgment, Product, Query};
use hyrank_index::{BuildOptions, FieldBoosts, Mode, SearchConfig, SearchIndex};
use hyrank_training::{tune, TuneOptions};

fn world(dir: &std::path::Path) -> (Arc<SearchIndex>, Vec<Query>, Vec<Judgment>) {
    let words = [
        "anchor", "badger", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "ivory",
        "juniper", "kestrel", "lagoon", "mesa", "nectar", "onyx", "prairie", "quartz", "raven",
        "sierra", "tundra",
    ];
    let mut products = Vec::new();
    let mut queries = Vec::new();
    let mut qrels = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // A decoy with the word in its title, the relevant one with it in its description.
        let mut decoy = Product::new(format!("d{i}").as_str(), format!("{w} {w} edition"));
        decoy.description = "plain filler text".into();
        let mut good = Product::new(format!("g{i}").as_str(), format!("item number {i}"));
        good.description = format!("the {w} one people want");
        products.push(decoy);
        products.push(good);
        queries.push(Query {
            id: format!("q{i}").into(),
            text: (*w).to_owned(),
        });
        qrels.push(Judgment {
            query: format!("q{i}").into(),
            doc: format!("g{i}").into(),
            grade: 2,
        });
        qrels.push(Judgment {
            query: format!("q{i}").into(),
            doc: format!("d{i}").into(),
            grade: 0,
        });
    }
    let idx = dir.join("index");
    SearchIndex::build(&idx, &products, None, BuildOptions::default(), &|_, _| {}).unwrap();
    (
        Arc::new(SearchIndex::open(&idx, None).unwrap()),
        queries,
        qrels,
    )
}

#[test]
fn held_out_folds_show_the_gain_of_tuned_field_boosts() {
    let dir = tempfile::tempdir().unwrap();
    let (index, queries, qrels) = world(dir.path());
    let opts = TuneOptions {
        folds: 4,
        modes: vec![Mode::Bm25],
        ..TuneOptions::default()
    };
    let report = tune(
        &index,
        &queries,
        &qrels,
        &SearchConfig::default(),
        &opts,
        &|_, _, _| {},
    )
    .unwrap();
    let m = &report.modes[0];
    assert_eq!(report.queries, 20);
    assert_eq!(m.folds.len(), 4);
    assert_eq!(
        m.folds.iter().map(|f| f.queries).sum::<usize>(),
        20,
        "every query held out once"
    );
    assert!(
        m.default < 0.8,
        "the title boost puts decoys first: {}",
        m.default
    );
    assert!(
        m.tuned_held_out > m.default + 0.1,
        "{} vs {}",
        m.tuned_held_out,
        m.default
    );
    assert!(m.p_value < 0.05, "p = {}", m.p_value);
    let f = m.config.fields.unwrap();
    assert!(f.description > f.title, "the description wins: {f}");
    // The same seed gives the same report.
    let again = tune(
        &index,
        &queries,
        &qrels,
        &SearchConfig::default(),
        &opts,
        &|_, _, _| {},
    )
    .unwrap();
    assert_eq!(again.modes[0].config, m.config);
    assert_eq!(again.modes[0].tuned_held_out, m.tuned_held_out);
    assert!(report.render().contains("bm25"));

    // The tuned config, searched: the relevant product first.
    let page = hyrank_ranker::Pipeline::new(Arc::clone(&index))
        .search("cobalt", &m.config)
        .unwrap();
    assert_eq!(page.hits[0].candidate.doc.as_str(), "g2");
}

#[test]
fn bad_tuning_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (index, queries, qrels) = world(dir.path());
    let base = SearchConfig::default();
    let run = |opts: TuneOptions, q: &[Query]| tune(&index, q, &qrels, &base, &opts, &|_, _, _| {});
    let one_fold = TuneOptions {
        folds: 1,
        modes: vec![Mode::Bm25],
        ..TuneOptions::default()
    };
    assert!(run(one_fold, &queries)
        .unwrap_err()
        .to_string()
        .contains("folds must be 2"));
    let many = TuneOptions {
        folds: 30,
        modes: vec![Mode::Bm25],
        ..TuneOptions::default()
    };
    assert!(run(many, &queries)
        .unwrap_err()
        .to_string()
        .contains("20 judged queries for 30 folds"));
    let unjudged: Vec<Query> = vec![Query {
        id: "x".into(),
        text: "anchor".into(),
    }];
    let e = run(
        TuneOptions {
            modes: vec![Mode::Bm25],
            ..TuneOptions::default()
        },
        &unjudged,
    )
    .unwrap_err();
    assert!(e.to_string().contains("share ids"), "{e}");
    let dense = TuneOptions {
        modes: vec![Mode::Dense],
        ..TuneOptions::default()
    };
    assert!(run(dense, &queries)
        .unwrap_err()
        .to_string()
        .contains("no vectors"));
    assert!(FieldBoosts::parse("title^0").is_err());
}
