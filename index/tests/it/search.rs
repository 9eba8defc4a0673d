//! Index build and the three retrievers over a small catalogue, with a tiny
//! random BERT written by the test.

use std::sync::Arc;

use hyrank_data::Product;
use hyrank_index::encoder::testing::write_tiny_bert;
use hyrank_index::{
    Bm25Retriever, BuildOptions, DenseRetriever, Encoder, EncoderConfig, Filter, Fusion,
    HnswParams, HybridRetriever, Normalization, Retriever, SearchIndex, Storage, VectorConfig,
};

const WORDS: &[&str] = &[
    "grey", "velvet", "sofa", "blue", "linen", "steel", "kettle", "brass", "floor", "lamp",
];

fn catalogue() -> Vec<Product> {
    let rows = [
        ("p1", "grey velvet sofa", "Sofas", 499.0),
        ("p2", "blue linen sofa", "Sofas", 899.0),
        ("p3", "steel kettle", "Kettles", 39.0),
        ("p4", "brass floor lamp", "Floor Lamps", 120.0),
        ("p5", "grey steel lamp", "Floor Lamps", 80.0),
    ];
    rows.iter()
        .map(|(id, t, c, p)| {
            let mut x = Product::new(*id, *t);
            x.category = vec!["Home".into(), (*c).into()];
            x.price = Some(*p);
            x
        })
        .collect()
}

/// Builds the test catalogue into `dir` with vectors.
fn build_catalogue(dir: &std::path::Path, enc: &Encoder) {
    SearchIndex::build(
        dir,
        &catalogue(),
        Some(enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
}

#[test]
fn build_search_explain_filter_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    write_tiny_bert(&model, WORDS).unwrap();
    let enc = Encoder::load(&model, EncoderConfig::default()).unwrap();
    let idx_dir = dir.path().join("index");
    let r = SearchIndex::build(
        &idx_dir,
        &catalogue(),
        Some(&enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!((r.products, r.encoded, r.cached), (5, 5, 0));
    // A full rebuild of unchanged products never re-encodes them.
    let full = BuildOptions {
        full: true,
        ..BuildOptions::default()
    };
    let r = SearchIndex::build(&idx_dir, &catalogue(), Some(&enc), full, &|_, _| {}).unwrap();
    assert_eq!((r.encoded, r.cached, r.incremental), (0, 5, false));
    // Two new products with the same text: one encoding, and neither from the cache.
    let mut twins = catalogue();
    let mut p6 = twins[2].clone();
    p6.id = "p6".into();
    twins.push(p6);
    let r = SearchIndex::build(
        &dir.path().join("twins"),
        &twins,
        Some(&enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!((r.products, r.encoded, r.cached), (6, 5, 0));

    let index = Arc::new(
        SearchIndex::open(
            &idx_dir,
            Some(Encoder::load(&model, EncoderConfig::default()).unwrap()),
        )
        .unwrap(),
    );
    let none = Filter::default();
    let bm25 = Bm25Retriever::new(Arc::clone(&index))
        .retrieve("grey sofa", 3, &none)
        .unwrap();
    assert_eq!(bm25[0].doc.as_str(), "p1");
    assert!(bm25[0].bm25.is_some() && bm25[0].dense.is_none());

    let dense = DenseRetriever::new(Arc::clone(&index))
        .retrieve("grey sofa", 5, &none)
        .unwrap();
    assert_eq!(dense.len(), 5);
    assert!(dense.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(dense
        .iter()
        .all(|c| c.dense.is_some_and(|h| h.score <= 1.0001)));

    for fusion in [
        Fusion::Rrf { k: 60.0 },
        Fusion::Linear {
            normalization: Normalization::MinMax,
        },
    ] {
        let h = HybridRetriever::new(Arc::clone(&index), fusion, [1.0, 1.0], 10).unwrap();
        // p1's own embedded text: top for dense (cosine 1) and for BM25 (every
        // term), hence top after fusion whatever the random weights.
        let hits = h.retrieve("grey velvet sofa (Sofas)", 3, &none).unwrap();
        assert_eq!(hits[0].doc.as_str(), "p1", "{:?}", hits);
        assert!(hits[0].bm25.is_some() && hits[0].dense.is_some() && hits[0].fused.is_some());
    }

    // Filters restrict every retriever.
    let cheap = Filter {
        max_price: Some(100.0),
        ..Filter::default()
    };
    for r in [
        &Bm25Retriever::new(Arc::clone(&index)) as &dyn Retriever,
        &DenseRetriever::new(Arc::clone(&index)),
    ] {
        let hits = r.retrieve("lamp", 5, &cheap).unwrap();
        assert!(
            hits.iter().all(|c| ["p3", "p5"].contains(&c.doc.as_str())),
            "{}: {hits:?}",
            r.name()
        );
    }
    assert!(
        HybridRetriever::new(Arc::clone(&index), Fusion::Rrf { k: -1.0 }, [1.0, 1.0], 10).is_err()
    );

    // An index built with other weights refuses a different encoder.
    let other = dir.path().join("other");
    write_tiny_bert(&other, &["grey"]).unwrap();
    let e = SearchIndex::open(
        &idx_dir,
        Some(Encoder::load(&other, EncoderConfig::default()).unwrap()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("rebuild the index"), "{e}");
    // BM25-only index: dense search is a clear error.
    let bm_only = dir.path().join("bm25-only");
    SearchIndex::build(
        &bm_only,
        &catalogue(),
        None,
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    let idx = Arc::new(SearchIndex::open(&bm_only, None).unwrap());
    assert!(DenseRetriever::new(idx)
        .retrieve("sofa", 3, &none)
        .unwrap_err()
        .to_string()
        .contains("no vectors"));
}

fn ids(hits: &[hyrank_index::Candidate]) -> Vec<&str> {
    hits.iter().map(|c| c.doc.as_str()).collect()
}

/// Add, update and delete products by rebuilding against a changed catalogue,
/// with every vector configuration; then a build that dies half-way leaves the
/// previous generation readable.
#[test]
fn incremental_builds_and_killed_builds() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    write_tiny_bert(&model, WORDS).unwrap();
    let enc = Encoder::load(&model, EncoderConfig::default()).unwrap();
    let none = Filter::default();
    for (n, storage, hnsw) in [
        (0, Storage::F32, None),
        (1, Storage::F16, Some(HnswParams::default())),
        (2, Storage::Int8, None),
    ] {
        let opts = BuildOptions {
            vectors: VectorConfig { storage, hnsw },
            ..BuildOptions::default()
        };
        let idx_dir = dir.path().join(format!("index-{n}"));
        SearchIndex::build(&idx_dir, &catalogue(), Some(&enc), opts, &|_, _| {}).unwrap();
        let mut next = catalogue();
        next.retain(|p| p.id.as_str() != "p3"); // deleted
        next[0].title = "brass kettle".into(); // p1 updated
        let mut p6 = hyrank_data::Product::new("p6", "linen floor lamp");
        p6.category = vec!["Home".into(), "Floor Lamps".into()];
        next.push(p6); // added
        let r = SearchIndex::build(&idx_dir, &next, Some(&enc), opts, &|_, _| {}).unwrap();
        assert!(r.incremental, "{storage:?}");
        assert_eq!(
            (r.added, r.updated, r.deleted, r.unchanged, r.encoded),
            (1, 1, 1, 3, 2),
            "{storage:?}"
        );
        assert_eq!(r.generation, 2);
        let index = Arc::new(
            SearchIndex::open(
                &idx_dir,
                Some(Encoder::load(&model, EncoderConfig::default()).unwrap()),
            )
            .unwrap(),
        );
        assert_eq!(index.bm25.len(), 5);
        assert_eq!(index.vectors.as_ref().unwrap().len(), 5);
        for r in [
            &Bm25Retriever::new(Arc::clone(&index)) as &dyn Retriever,
            &DenseRetriever::new(Arc::clone(&index)),
        ] {
            let hits = r.retrieve("steel kettle", 10, &none).unwrap();
            assert!(!ids(&hits).contains(&"p3"), "{}: {hits:?}", r.name());
            assert_eq!(hits.len(), if r.name() == "bm25" { hits.len() } else { 5 });
        }
        let bm = Bm25Retriever::new(Arc::clone(&index))
            .retrieve("brass kettle", 1, &none)
            .unwrap();
        assert_eq!(ids(&bm), ["p1"]);
        // p6's own embedded text: cosine 1 with the new product's vector.
        let dense = DenseRetriever::new(Arc::clone(&index))
            .retrieve("linen floor lamp (Floor Lamps)", 1, &none)
            .unwrap();
        assert_eq!(ids(&dense), ["p6"], "{storage:?}");
        assert!(dense[0].score > 0.999, "{dense:?}");
        // Only the live generation is kept.
        let gens = std::fs::read_dir(&idx_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("gen-")
            })
            .count();
        assert_eq!(gens, 1);
    }

    // A build that dies while encoding (here: a panic in the progress
    // callback) leaves generation 1 in place and readable.
    let idx_dir = dir.path().join("killed");
    build_catalogue(&idx_dir, &enc);
    let mut bigger = catalogue();
    for i in 0..300 {
        bigger.push(hyrank_data::Product::new(
            format!("n{i}").as_str(),
            format!("velvet lamp {i}").as_str(),
        ));
    }
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SearchIndex::build(
            &idx_dir,
            &bigger,
            Some(&enc),
            BuildOptions::default(),
            &|done, _| assert!(done < 256, "killed"),
        )
    }));
    assert!(died.is_err());
    let index = SearchIndex::open(&idx_dir, None).unwrap();
    assert_eq!((index.manifest.generation, index.bm25.len()), (1, 5));
    // The next build cleans up and completes; it reuses what was encoded.
    let r = SearchIndex::build(
        &idx_dir,
        &bigger,
        Some(&enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!((r.generation, r.added, r.cached), (2, 300, 256));
    let leftovers: Vec<String> = std::fs::read_dir(&idx_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Duplicate ids are refused before anything is written.
    let mut dup = catalogue();
    dup.push(hyrank_data::Product::new("p1", "again"));
    let e = SearchIndex::build(
        &idx_dir,
        &dup,
        Some(&enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("p1 appears twice"), "{e}");
    // So are ids that would break line-based files (TREC runs, ids.txt).
    let mut bad = catalogue();
    bad.push(hyrank_data::Product::new("bad id", "lamp"));
    let e = SearchIndex::build(
        &idx_dir,
        &bad,
        Some(&enc),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"bad id\": field `id`"), "{e}");
    assert_eq!(
        SearchIndex::open(&idx_dir, None)
            .unwrap()
            .manifest
            .generation,
        2
    );
}

#[test]
fn given_products_get_the_scores_their_retrieval_reports() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    write_tiny_bert(&model, WORDS).unwrap();
    let enc = Encoder::load(&model, EncoderConfig::default()).unwrap();
    let idx_dir = dir.path().join("index");
    build_catalogue(&idx_dir, &enc);
    let index = SearchIndex::open(&idx_dir, Some(enc)).unwrap();
    let none = Filter::default();
    let query = "grey sofa";
    let bm25 = index.bm25.search(query, 10, &none).unwrap();
    let dense = &index.dense_lists(&[query], 10, &none, None).unwrap()[0];
    let all: Vec<hyrank_data::DocId> = ["p1", "p2", "p3", "p4", "p5", "nope"]
        .iter()
        .map(|&s| s.into())
        .collect();
    let scores = index.score_products(query, &all, None).unwrap();
    for (id, s) in all.iter().zip(&scores) {
        match bm25.iter().find(|(d, _)| d == id) {
            Some((_, b)) => assert!((s.bm25.unwrap() - b).abs() < 1e-5, "{id}: {s:?} vs {b}"),
            // Not returned: in the index but matching no term, or absent.
            None if id.as_str() == "nope" => assert_eq!(s.bm25, None),
            None => assert_eq!(s.bm25, Some(0.0), "{id}"),
        }
        match dense.iter().find(|(d, _)| d == id) {
            Some((_, c)) => assert!((s.cosine.unwrap() - c).abs() < 1e-4, "{id}: {s:?} vs {c}"),
            None => assert_eq!(s.cosine, None, "{id}"),
        }
    }
    // p3 ("steel kettle") matches no term of the query but still has a dense score.
    assert_eq!(scores[2].bm25, Some(0.0));
    assert!(scores[2].cosine.is_some());
    // Other field boosts change BM25 as a search with them would.
    let title_only = hyrank_index::FieldBoosts::parse("title^1").unwrap();
    let boosted = index
        .score_products(query, &all[..1], Some(&title_only))
        .unwrap();
    let searched = index
        .bm25_lists(&[query], 10, &none, Some(&title_only))
        .unwrap();
    let p1 = searched[0]
        .iter()
        .find(|(d, _)| d.as_str() == "p1")
        .unwrap()
        .1;
    assert!((boosted[0].bm25.unwrap() - p1).abs() < 1e-5);
    assert!(index.score_products(query, &[], None).unwrap().is_empty());
}
