//! The server on a real loopback port: HTTP/1.1 requests over TCP, then a
//! graceful shutdown.

use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

use super::state;

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    hyrank_api::testing::http_json(addr, method, path, body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_a_loopback_port_and_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hyrank_api::serve(
        listener,
        state(dir.path(), true),
        async {
            stopped.await.ok();
        },
    ));

    let answers = tokio::task::spawn_blocking(move || {
        let health = http(addr, "GET", "/health", "");
        let get = http(addr, "GET", "/search?q=brass%20lamp&mode=bm25&k=2", "");
        let post = http(
            addr,
            "POST",
            "/search",
            r#"{"q": "brass lamp", "mode": "bm25", "k": 2}"#,
        );
        let bad = http(addr, "GET", "/search?q=lamp&k=0", "");
        // A body far over the limit: a 413 answer, not a reset connection.
        let big = format!("{{\"q\": \"{}\"}}", "a".repeat(4 << 20));
        let big = hyrank_api::testing::http_json(addr, "POST", "/search", &big)
            .map_err(|e| e.to_string());
        (health, get, post, bad, big)
    })
    .await
    .unwrap();
    let (health, get, post, bad, big) = answers;
    let (status, body) = big.expect("the server answers a body over its limit");
    assert_eq!(status, 413, "{body}");
    assert_eq!((health.0, &health.1["status"]), (200, &Value::from("ok")));
    assert_eq!(get.0, 200, "{}", get.1);
    assert_eq!(get.1["results"][0]["id"], "p4", "{}", get.1);
    assert_eq!(get.1["results"].as_array().unwrap().len(), 2);
    assert_eq!(post.1["results"], get.1["results"]);
    assert_eq!(bad.0, 400, "{}", bad.1);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after shutdown"
    );
}
