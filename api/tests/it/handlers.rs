//! Every route through `Router::oneshot`: answers, explanations, filters, and
//! a JSON 4xx naming the problem for each kind of bad request.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::state;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    call(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &axum::Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    call(app, req).await
}

fn ids(v: &Value) -> Vec<&str> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// A 4xx whose message contains `needle`.
#[track_caller]
fn refused((status, body): (StatusCode, Value), code: u16, needle: &str) {
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["error"]["status"], code, "{body}");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains(needle), "{m:?} should contain {needle:?}");
    // No path, flag or internal detail reaches a client.
    assert!(
        !m.contains("/tmp") && !m.contains("--") && !m.contains(".rs:"),
        "{m:?}"
    );
    let kind = body["error"]["kind"].as_str().unwrap();
    assert_eq!(
        kind,
        match code {
            404 => "not_found",
            413 | 400 => "invalid_input",
            _ => "internal",
        },
        "{body}"
    );
}

#[tokio::test]
async fn health_search_explain_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let app = hyrank_api::router(state(dir.path(), true));

    let (s, h) = get(&app, "/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (h["status"].as_str(), h["products"].as_u64()),
        (Some("ok"), Some(5))
    );
    assert_eq!(
        (h["dense"].as_bool(), h["generation"].as_u64()),
        (Some(true), Some(1))
    );

    // BM25: the only kettle, no explanation unless asked.
    let (s, r) = get(&app, "/search?q=kettle&mode=bm25").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(ids(&r), ["p3"]);
    assert_eq!(r["results"][0]["title"], "steel kettle");
    assert_eq!(r["retriever"], "bm25");
    assert!(r["results"][0].get("bm25").is_none(), "{r}");

    // Hybrid RRF with explain: every fused score is the RRF of the ranks shown.
    let (s, r) = get(&app, "/search?q=grey%20sofa&k=5&explain=true").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["retriever"], "hybrid-rrf");
    assert_eq!(r["fusion"]["method"], "rrf");
    assert_eq!(r["fusion"]["k"], 60.0);
    assert_eq!(r["fusion"]["depth"], 100);
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let rrf = |h: &Value| h["rank"].as_f64().map_or(0.0, |r| 1.0 / (60.0 + r));
    for hit in results {
        let expect = rrf(&hit["bm25"]) + rrf(&hit["dense"]);
        let fused = hit["fused"].as_f64().unwrap();
        assert!((fused - expect).abs() < 1e-6, "{hit}: {fused} vs {expect}");
        assert_eq!(hit["score"], hit["fused"]);
        assert!(
            hit["dense"]["rank"].is_u64(),
            "every product is a dense candidate: {hit}"
        );
    }
    // Only p1 has both words: BM25's first.
    let p1 = results.iter().find(|h| h["id"] == "p1").unwrap();
    assert_eq!(p1["bm25"]["rank"], 1);

    // POST with the same parameters answers the same.
    let (s, p) = post(
        &app,
        "/search",
        r#"{"q": "grey sofa", "k": 5, "explain": true}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(ids(&p), ids(&r));

    // Linear fusion, and filters on every mode.
    let (s, l) = get(
        &app,
        "/search?q=lamp&fusion=linear&norm=zscore&explain=true",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["retriever"], "hybrid-linear");
    assert_eq!(l["fusion"]["normalization"], "zscore");
    for mode in ["bm25", "dense", "hybrid"] {
        let (s, f) = get(
            &app,
            &format!("/search?q=lamp&mode={mode}&brand=lumen&max_price=100"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{f}");
        assert_eq!(ids(&f), ["p5"], "{mode}");
    }
    let (_, f) = post(
        &app,
        "/search",
        r#"{"q": "sofa", "mode": "bm25", "category": "Sofas", "min_price": 500}"#,
    )
    .await;
    assert_eq!(ids(&f), ["p2"]);
}

#[tokio::test]
async fn bad_requests_are_json_4xx_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let app = hyrank_api::router(state(dir.path(), true));
    refused(get(&app, "/search").await, 400, "missing field `q`");
    refused(
        get(&app, "/search?q=sofa&kk=3").await,
        400,
        "unknown field `kk`",
    );
    refused(get(&app, "/search?q=sofa&mode=bm26").await, 400, "bm26");
    refused(get(&app, "/search?q=sofa&k=abc").await, 400, "k");
    refused(
        get(&app, "/search?q=sofa&k=0").await,
        400,
        "k must be 1 to 1000",
    );
    refused(
        get(&app, "/search?q=sofa&k=1001").await,
        400,
        "k must be 1 to 1000",
    );
    refused(
        get(&app, "/search?q=%20").await,
        400,
        "q: the query is empty",
    );
    refused(get(&app, "/search?q=sofa&rrf_k=0").await, 400, "RRF k");
    refused(
        get(&app, "/search?q=sofa&bm25_weight=-1").await,
        400,
        "weights must be finite and >= 0",
    );
    refused(
        get(&app, "/search?q=sofa&min_price=9&max_price=1").await,
        400,
        "above max_price",
    );
    refused(
        post(&app, "/search", r#"{"q": "sofa", "k": 3"#).await,
        400,
        "EOF",
    );
    refused(
        post(&app, "/search", r#"{"q": 3}"#).await,
        400,
        "invalid type",
    );
    refused(get(&app, "/nowhere").await, 404, "no route GET /nowhere");
    let huge = format!(
        "{{\"q\": \"{}\"}}",
        "a".repeat(hyrank_api::BODY_LIMIT_BYTES + 1)
    );
    refused(
        post(&app, "/search", &huge).await,
        413,
        "the limit is 65536 bytes",
    );

    // An index without vectors answers BM25 and refuses the other modes.
    let bm25_only = hyrank_api::router(state(dir.path(), false));
    let (s, h) = get(&bm25_only, "/health").await;
    assert_eq!((s, h["dense"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, r) = get(&bm25_only, "/search?q=kettle&mode=bm25").await;
    assert_eq!((s, ids(&r)), (StatusCode::OK, vec!["p3"]));
    refused(
        get(&bm25_only, "/search?q=kettle").await,
        400,
        "has no vectors",
    );
    refused(
        get(&bm25_only, "/search?q=kettle&mode=dense").await,
        400,
        "has no vectors",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_searches_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let app = hyrank_api::router(state(dir.path(), true));
    let queries = ["kettle", "velvet", "brass", "linen"];
    let calls = (0..32).map(|i| {
        let app = app.clone();
        let q = queries[i % queries.len()];
        async move { (q, get(&app, &format!("/search?q={q}&mode=bm25&k=1")).await) }
    });
    let answers = futures_join_all(calls).await;
    for (q, (s, r)) in answers {
        assert_eq!(s, StatusCode::OK, "{r}");
        let title = r["results"][0]["title"].as_str().unwrap();
        assert!(title.contains(q), "{q}: {title}");
    }
}

/// Runs the futures concurrently on the runtime; their outputs in order.
async fn futures_join_all<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
