//! A generation published by an index build while the server runs is
//! served without a restart; a broken one leaves the current one serving.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use hyrank_data::Product;
use hyrank_index::{BuildOptions, Encoder, EncoderConfig, Manifest, SearchIndex};
use serde_json::Value;
use tower::ServiceExt;

use super::{catalogue, state};

async fn get(app: &axum::Router, uri: &str) -> Value {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_generations_are_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path(), true);
    let app = hyrank_api::router(st.clone());
    assert_eq!(get(&app, "/health").await["generation"], 1);
    assert_eq!(st.reload().unwrap(), None, "nothing new yet");

    let mut more = catalogue();
    more.push(Product::new("p6", "copper kettle"));
    let enc = Encoder::load(&dir.path().join("model"), EncoderConfig::default()).unwrap();
    let idx = dir.path().join("index");
    SearchIndex::build(&idx, &more, Some(&enc), BuildOptions::default(), &|_, _| {}).unwrap();
    assert!(
        !idx.join("gen-000001").exists(),
        "the build removed generation 1"
    );
    // Generation 1's files are unlinked but still open: it still answers, in every mode.
    let r = get(&app, "/search?q=kettle&explain=true").await;
    assert_eq!(
        (&r["generation"], &r["results"][0]["id"]),
        (&Value::from(1), &Value::from("p3")),
        "{r}"
    );
    assert_eq!(r["results"].as_array().unwrap().len(), 5, "{r}");

    let watcher = tokio::spawn(hyrank_api::watch(st.clone(), Duration::from_millis(20)));
    let t = Instant::now();
    while get(&app, "/health").await["generation"] != 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "generation 2 not served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get(&app, "/health").await["products"], 6);
    let r = get(&app, "/search?q=copper&mode=bm25").await;
    assert_eq!(r["results"][0]["id"], "p6", "{r}");
    assert_eq!(r["generation"], 2);
    // The encoder came along: hybrid search still works on the new generation.
    let r = get(&app, "/search?q=copper%20kettle&k=6").await;
    assert_eq!(r["results"].as_array().unwrap().len(), 6, "{r}");
    watcher.abort();

    // A manifest naming a generation that is not there: the reload fails with
    // a named error and generation 2 keeps serving.
    let mut m = Manifest::read(&idx).unwrap();
    m.generation = 99;
    std::fs::write(idx.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let e = st.reload().unwrap_err().to_string();
    assert!(e.contains("gen-000099"), "{e}");
    assert_eq!(get(&app, "/health").await["generation"], 2);
    assert_eq!(
        get(&app, "/search?q=copper&mode=bm25").await["results"][0]["id"],
        "p6"
    );
}
