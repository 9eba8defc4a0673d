//! Index build and the three retrievers over a small catalogue, with a tiny
//! random BERT written by the test.

use std::sync::Arc;

use hyrank_data::Product;
use hyrank_index::encoder::testing::write_tiny_bert;
use hyrank_index::retriever::EmbedText;
use hyrank_index::{
    Bm25Retriever, DenseRetriever, Encoder, EncoderConfig, Filter, Fusion, HybridRetriever,
    Normalization, Retriever, SearchIndex,
};

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

#[test]
fn build_search_explain_filter_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    write_tiny_bert(
        &model,
        &[
            "grey", "velvet", "sofa", "blue", "linen", "steel", "kettle", "brass", "floor", "lamp",
        ],
    )
    .unwrap();
    let enc = Encoder::load(&model, EncoderConfig::default()).unwrap();
    let idx_dir = dir.path().join("index");
    let r = SearchIndex::build(
        &idx_dir,
        &catalogue(),
        Some(&enc),
        EmbedText::Title,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!((r.products, r.encoded, r.cached), (5, 5, 0));
    // Re-indexing unchanged products never re-encodes them.
    let r = SearchIndex::build(
        &idx_dir,
        &catalogue(),
        Some(&enc),
        EmbedText::Title,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!((r.encoded, r.cached), (0, 5));

    let index = Arc::new(
        SearchIndex::open(
            &idx_dir,
            Some(Encoder::load(&model, EncoderConfig::default()).unwrap()),
        )
        .unwrap(),
    );
    let none = Filter::default();
    let bm25 = Bm25Retriever(Arc::clone(&index))
        .retrieve("grey sofa", 3, &none)
        .unwrap();
    assert_eq!(bm25[0].doc.as_str(), "p1");
    assert!(bm25[0].bm25.is_some() && bm25[0].dense.is_none());

    let dense = DenseRetriever(Arc::clone(&index))
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
        let hits = h.retrieve("grey sofa", 3, &none).unwrap();
        assert_eq!(hits[0].doc.as_str(), "p1", "{:?}", hits);
        assert!(hits[0].bm25.is_some() && hits[0].dense.is_some() && hits[0].fused.is_some());
    }

    // Filters restrict every retriever.
    let cheap = Filter {
        max_price: Some(100.0),
        ..Filter::default()
    };
    for r in [
        &Bm25Retriever(Arc::clone(&index)) as &dyn Retriever,
        &DenseRetriever(Arc::clone(&index)),
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
    SearchIndex::build(&bm_only, &catalogue(), None, EmbedText::Title, &|_, _| {}).unwrap();
    let idx = Arc::new(SearchIndex::open(&bm_only, None).unwrap());
    assert!(DenseRetriever(idx)
        .retrieve("sofa", 3, &none)
        .unwrap_err()
        .to_string()
        .contains("no vectors"));
}
