//! Integration tests of hyrank-api: handlers through `oneshot`, and the server
//! on a real loopback port.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod e2e;
mod handlers;
mod reload;

use std::path::Path;
use std::sync::Arc;

use hyrank_api::AppState;
use hyrank_data::Product;
use hyrank_index::encoder::testing::write_tiny_bert;
use hyrank_index::{BuildOptions, Encoder, EncoderConfig, SearchIndex};

const WORDS: &[&str] = &[
    "grey", "velvet", "sofa", "blue", "linen", "steel", "kettle", "brass", "floor", "lamp",
];

fn catalogue() -> Vec<Product> {
    let rows = [
        ("p1", "grey velvet sofa", "Sofas", "Acme", 499.0),
        ("p2", "blue linen sofa", "Sofas", "Nordic", 899.0),
        ("p3", "steel kettle", "Kettles", "Acme", 39.0),
        ("p4", "brass floor lamp", "Floor Lamps", "Lumen", 120.0),
        ("p5", "grey steel lamp", "Floor Lamps", "Lumen", 80.0),
    ];
    rows.iter()
        .map(|(id, t, c, b, p)| {
            let mut x = Product::new(*id, *t);
            x.category = vec!["Home".into(), (*c).into()];
            x.brand = Some((*b).into());
            x.price = Some(*p);
            x
        })
        .collect()
}

/// An index over the catalogue under `dir`: with vectors (and the tiny
/// model as its encoder) or BM25 only.
fn state(dir: &Path, dense: bool) -> AppState {
    let idx = dir.join(if dense { "index" } else { "bm25-only" });
    let enc = dense.then(|| {
        let model = dir.join("model");
        write_tiny_bert(&model, WORDS).unwrap();
        Encoder::load(&model, EncoderConfig::default()).unwrap()
    });
    SearchIndex::build(
        &idx,
        &catalogue(),
        enc.as_ref(),
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    AppState::new(Arc::new(SearchIndex::open(&idx, enc).unwrap()))
}
