//! Rankers from the log end to end: `hyrank features`, `hyrank train --log`,
//! the champion ranking `hyrank search` and a live `hyrank serve` (followed
//! without a restart), and the inputs that must be refused.

use std::time::{Duration, Instant};

use crate::serve::start_server;
use crate::{fails, ok};

pub struct World {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

impl World {
    pub fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_str().unwrap().to_owned()
    }
}

/// A small world, BM25-only index (the cosine features are then absent).
pub fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let w = World { _dir: dir, root };
    ok(&[
        "data",
        "generate",
        "--out",
        &w.path("w"),
        "--products",
        "600",
        "--queries",
        "40",
        "--events",
        "8000",
    ]);
    ok(&[
        "index",
        "build",
        "--catalog",
        &w.path("w/catalog.ndjson"),
        "--out",
        &w.path("index"),
        "--no-dense",
    ]);
    w
}

#[test]
fn models_trained_on_the_log_rank_search_and_serve() {
    let w = world();
    let (log, index, reg) = (w.path("w/events"), w.path("index"), w.path("reg"));
    // The training rows, both formats.
    let out = ok(&[
        "features",
        "--log",
        &log,
        "--index",
        &index,
        "--out",
        &w.path("rows.parquet"),
    ]);
    assert!(out.contains("54 features"), "{out}");
    ok(&[
        "features",
        "--log",
        &log,
        "--index",
        &index,
        "--out",
        &w.path("rows.letor"),
        "--format",
        "letor",
    ]);
    let letor = std::fs::read_to_string(w.path("rows.letor")).unwrap();
    let first = letor.lines().next().unwrap();
    assert!(
        first.contains("qid:1 1:") && first.contains(" 54:") && first.contains("# R"),
        "{first}"
    );
    // LambdaMART can train on the rows `hyrank features` wrote.
    ok(&[
        "train",
        "--format",
        "letor",
        "--train",
        &w.path("rows.letor"),
        "--out",
        &w.path("from-rows.model"),
        "--trees",
        "5",
    ]);

    for m in ["lr", "lambdamart"] {
        let out = ok(&[
            "train",
            "--log",
            &log,
            "--index",
            &index,
            "--model",
            m,
            "--registry",
            &reg,
            "--id",
            m,
        ]);
        assert!(
            out.contains("auc_click") && out.contains(&format!("registered as {m}")),
            "{out}"
        );
    }
    let cmp = ok(&["model", "compare", "--registry", &reg]);
    assert!(
        cmp.contains("valid_auc_purchase") && cmp.contains("lambdamart"),
        "{cmp}"
    );
    ok(&["model", "promote", "lr", "--registry", &reg]);

    // The CLI ranks with the champion and explains.
    let q = "sofa";
    let page: serde_json::Value = serde_json::from_str(&ok(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--registry",
        &reg,
        "--history",
        &log,
        "--as-of",
        "history-end",
        "--json",
        q,
    ]))
    .unwrap();
    assert_eq!(page["ranker"], "lr", "{page}");
    let hits = page["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    let scores: Vec<f64> = hits
        .iter()
        .map(|h| h["ranking"]["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|s| s[0] >= s[1]),
        "ordered by the model: {scores:?}"
    );
    let text = ok(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--registry",
        &reg,
        "--explain",
        q,
    ]);
    assert!(
        text.contains("ranked by lr") && text.contains("p_purchase"),
        "{text}"
    );
    // A batch run names the model.
    std::fs::write(w.path("q.tsv"), "q1\tsofa\nq2\tlamp\n").unwrap();
    ok(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--queries",
        &w.path("q.tsv"),
        "--run-out",
        &w.path("run.trec"),
        "--registry",
        &reg,
    ]);
    assert!(std::fs::read_to_string(w.path("run.trec"))
        .unwrap()
        .contains("bm25+lr"));

    // The server ranks with the champion and follows it without a restart.
    let live = w.path("live");
    let serve_args = [
        "--index",
        index.as_str(),
        "--mode",
        "bm25",
        "--registry",
        reg.as_str(),
        "--history",
        log.as_str(),
        "--event-log",
        live.as_str(),
    ];
    let (child, addr) = start_server(&w.root, &[&serve_args[..], &["--watch", "0.2"]].concat());
    let get = |path: &str| hyrank_api::testing::http_json(addr, "GET", path, "").unwrap();
    let (s, r) = get("/search?q=sofa&k=5&explain=true");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ranker"], "lr", "{r}");
    let h = &r["results"][0]["ranking"];
    assert!(
        h["p_click"].as_f64().unwrap() > 0.0 && h["p_purchase"].as_f64().is_some(),
        "{r}"
    );
    assert!(!h["contributions"].as_array().unwrap().is_empty(), "{r}");
    // Events posted to the server count in the next searches' features.
    let post =
        |path: &str, body: &str| hyrank_api::testing::http_json(addr, "POST", path, body).unwrap();
    let doc = r["results"][0]["id"].as_str().unwrap().to_owned();
    let req = r["request_id"].as_str().unwrap().to_owned();
    let now = 4_102_444_800_000i64; // 2100-01-01: after every logged event
    let imp = serde_json::json!({"type": "impression", "event_id": "live-1", "timestamp": now, "request_id": req,
        "query": "sofa", "user_id": "u", "session_id": "s", "results": [{"doc": doc, "position": 1}], "ranker": "lr"});
    let click = serde_json::json!({"type": "click", "event_id": "live-2", "timestamp": now + 1, "request_id": req,
        "user_id": "u", "session_id": "s", "doc": doc, "position": 1});
    let (s, a) = post("/events", &format!("{imp}\n{click}\n"));
    assert_eq!((s, a["applied"].as_u64()), (200, Some(2)), "{a}");
    let (s, e) = post("/events", &format!("{imp}\n{{\"type\": \"click\"}}\n"));
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("events:2"),
        "{e}"
    );
    let click2 = click.to_string().replace("live-2", "live-3");
    let (_, again) = post("/events", &format!("{click2}\n"));
    assert_eq!(
        again["events_in_store"].as_u64(),
        Some(a["events_in_store"].as_u64().unwrap() + 1),
        "a bad body applies nothing"
    );
    // Acknowledged events are in the durable log, the bad body's are not.
    assert_eq!(
        (again["logged"].as_bool(), again["log_seq"].as_u64()),
        (Some(true), Some(3)),
        "{again}"
    );
    let live: Vec<String> = hyrank_data::log::LogReader::read_all(w.path("live"))
        .unwrap()
        .iter()
        .map(|e| e.event_id().0.clone())
        .collect();
    assert_eq!(live, ["live-1", "live-2", "live-3"]);
    ok(&["model", "promote", "lambdamart", "--registry", &reg]);
    let t = Instant::now();
    loop {
        let (_, health) = get("/health");
        if health["ranker"] == "lambdamart" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the server did not follow the champion: {health}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (s, r) = get("/search?q=sofa&k=5");
    assert_eq!((s, r["ranker"].as_str()), (200, Some("lambdamart")), "{r}");
    let mut child = child;
    child.kill().unwrap();
    let _ = child.wait();

    std::fs::write(
        w.path("ads.jsonl"),
        format!("{{\"campaign\": \"house-ad\", \"doc\": \"{doc}\", \"bid\": 1.0}}\n"),
    )
    .unwrap();
    // Killed and started again on the same log, the server counts what it
    // had acknowledged; a second server on that log is refused.
    let ads = w.path("ads.jsonl");
    let (mut child, addr) = start_server(
        &w.root,
        &[
            &serve_args[..],
            &["--sponsored", &ads, "--sponsored-positions", "2"],
        ]
        .concat(),
    );
    // The API labels an ad on every request, explain or not.
    let (s, r) = hyrank_api::testing::http_json(addr, "GET", "/search?q=sofa&k=5", "").unwrap();
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["results"][1]["id"], doc.as_str(), "{r}");
    assert_eq!(r["results"][1]["sponsored"]["campaign"], "house-ad", "{r}");
    assert!(r["results"][0].get("sponsored").is_none(), "{r}");
    let e = fails(&[
        "serve",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--event-log",
        &w.path("live"),
        "--addr",
        "127.0.0.1:0",
    ]);
    assert!(e.contains("another writer"), "{e}");
    let click4 = click.to_string().replace("live-2", "live-4");
    let (s, after) =
        hyrank_api::testing::http_json(addr, "POST", "/events", &format!("{click4}\n")).unwrap();
    assert_eq!(s, 200, "{after}");
    assert_eq!(
        after["events_in_store"].as_u64(),
        Some(again["events_in_store"].as_u64().unwrap() + 1),
        "the restarted server lost acknowledged events: {after}"
    );

    // Online interleaving: the champion's page and lr's, team-draft, each
    // result with its team; one user gets one page for a query.
    let get = |path: &str| hyrank_api::testing::http_json(addr, "GET", path, "").unwrap();
    let (s, il) = get("/search?q=sofa&k=6&interleave=lr&user=u7");
    assert_eq!(s, 200, "{il}");
    assert_eq!(il["ranker"], "interleave:team-draft:lambdamart,lr", "{il}");
    assert_eq!(
        il["interleaving"]["rankers"],
        serde_json::json!(["lambdamart", "lr"])
    );
    let res = il["results"].as_array().unwrap().clone();
    let teams: Vec<u64> = res.iter().map(|h| h["team"].as_u64().unwrap()).collect();
    assert_eq!(teams.len(), 6, "{il}");
    assert_eq!(teams.iter().filter(|&&t| t == 1).count(), 3, "{il}");
    assert!(res.iter().all(|h| h.get("sponsored").is_none()), "{il}");
    let ids = |r: &serde_json::Value| -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&get("/search?q=sofa&k=6&interleave=lr&user=u7").1),
        ids(&il),
        "one user, one page"
    );
    let (s, e) = get("/search?q=sofa&interleave=no-such-model");
    assert!((400..500).contains(&s), "{s} {e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model"),
        "{e}"
    );
    // Logged with its teams and a click on lr's first result, the page is
    // lr's win.
    let at = teams.iter().position(|&t| t == 1).unwrap();
    let results: Vec<serde_json::Value> = res
        .iter()
        .enumerate()
        .map(|(i, h)| serde_json::json!({"doc": h["id"], "position": i + 1, "team": h["team"]}))
        .collect();
    let req = il["request_id"].as_str().unwrap();
    let imp = serde_json::json!({"type": "impression", "event_id": "il-1", "timestamp": now + 10, "request_id": req,
        "query": "sofa", "user_id": "u7", "session_id": "s7", "results": results, "ranker": il["ranker"]});
    let click = serde_json::json!({"type": "click", "event_id": "il-2", "timestamp": now + 11, "request_id": req,
        "user_id": "u7", "session_id": "s7", "doc": res[at]["id"], "position": at + 1});
    let (s, a) =
        hyrank_api::testing::http_json(addr, "POST", "/events", &format!("{imp}\n{click}\n"))
            .unwrap();
    assert_eq!(s, 200, "{a}");
    let out = ok(&["experiment", "credit", "--log", &w.path("live"), "--json"]);
    let c: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let x = &c["experiments"][0];
    assert_eq!(x["rankers"], serde_json::json!(["lambdamart", "lr"]), "{c}");
    assert_eq!(
        (x["pages"].as_u64(), &x["wins"]),
        (Some(1), &serde_json::json!([0, 1])),
        "{c}"
    );
    assert_eq!(x["leader"], "lr", "{c}");
    child.kill().unwrap();
    let _ = child.wait();
}

/// `hyrank search` ranking with `ranker`, which must fail; its stderr.
fn ranked_search_fails(index: &str, reg: &str, ranker: &str) -> String {
    fails(&[
        "search",
        "--index",
        index,
        "--mode",
        "bm25",
        "--registry",
        reg,
        "--ranker",
        ranker,
        "sofa",
    ])
}

#[test]
fn bad_logs_models_and_ids_are_refused_by_name() {
    let w = world();
    let (log, index, reg) = (w.path("w/events"), w.path("index"), w.path("reg"));
    // An empty log.
    std::fs::create_dir_all(w.path("empty")).unwrap();
    let e = fails(&[
        "train",
        "--log",
        &w.path("empty"),
        "--index",
        &index,
        "--model",
        "lr",
        "--registry",
        &reg,
    ]);
    assert!(e.contains("no events"), "{e}");
    // A log without purchases: the purchase head cannot be trained.
    let events = hyrank_data::log::LogReader::read_all(&log).unwrap();
    let kept: Vec<_> = events
        .into_iter()
        .filter(|e| e.kind() != "purchase")
        .collect();
    let mut nobuys =
        hyrank_data::log::EventLog::open(w.path("nobuys"), hyrank_data::log::LogConfig::default())
            .unwrap();
    nobuys.append_batch(&kept).unwrap();
    nobuys.close().unwrap();
    let e = fails(&[
        "train",
        "--log",
        &w.path("nobuys"),
        "--index",
        &index,
        "--model",
        "lr",
        "--registry",
        &reg,
    ]);
    assert!(e.contains("purchase head cannot be trained"), "{e}");
    assert!(
        !std::path::Path::new(&reg).join("versions").exists()
            || ok(&["model", "list", "--registry", &reg]).is_empty(),
        "nothing registered"
    );
    // A damaged artefact is refused when the pipeline loads it.
    ok(&[
        "train",
        "--log",
        &log,
        "--index",
        &index,
        "--model",
        "lr",
        "--registry",
        &reg,
        "--id",
        "lr",
    ]);
    let art = std::path::Path::new(&reg).join("versions/lr/model.json");
    let mut bytes = std::fs::read(&art).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&art, bytes).unwrap();
    let e = ranked_search_fails(&index, &reg, "lr");
    assert!(e.contains("damaged"), "{e}");
    // A manifest whose features this build cannot produce.
    ok(&[
        "train",
        "--log",
        &log,
        "--index",
        &index,
        "--model",
        "lambdamart",
        "--registry",
        &reg,
        "--id",
        "lm",
    ]);
    let man = std::path::Path::new(&reg).join("versions/lm/manifest.json");
    let text = std::fs::read_to_string(&man)
        .unwrap()
        .replace("\"head_query\"", "\"dwell_time\"");
    std::fs::write(&man, text).unwrap();
    let e = ranked_search_fails(&index, &reg, "lm");
    assert!(e.contains("cannot produce: dwell_time"), "{e}");
    // Unknown and malformed ids.
    let e = ranked_search_fails(&index, &reg, "nope");
    assert!(e.contains("nope"), "{e}");
    let e = ranked_search_fails(&index, &reg, "../x");
    assert!(e.contains("model id"), "{e}");
    // Bad config keys name the line.
    std::fs::write(w.path("p.json"), "{\n  \"mtl\": {\"epoch\": 3}\n}\n").unwrap();
    let e = fails(&[
        "train",
        "--log",
        &log,
        "--index",
        &index,
        "--model",
        "mtl",
        "--config",
        &w.path("p.json"),
        "--registry",
        &reg,
    ]);
    assert!(e.contains("p.json:2") && e.contains("epoch"), "{e}");
}

#[test]
fn lambdamart_trained_on_judgments_ranks_and_reports_held_out_queries() {
    let w = world();
    let (index, reg) = (w.path("index"), w.path("reg"));
    let held = w.path("held.tsv");
    let (qrels, queries) = (w.path("w/qrels.trec"), w.path("w/queries.tsv"));
    let train = |more: &[&str]| {
        let judged = [
            "train",
            "--qrels",
            &qrels,
            "--queries",
            &queries,
            "--index",
            &index,
            "--model",
            "lambdamart",
            "--valid-fraction",
            "0.3",
        ];
        ok(&[&judged[..], more].concat())
    };
    let out = train(&[
        "--history",
        &w.path("w/events"),
        "--registry",
        &reg,
        "--id",
        "judged",
        "--holdout-out",
        &held,
    ]);
    assert!(
        out.contains("held-out queries") && out.contains("registered as judged"),
        "{out}"
    );
    // No early stopping unless asked for (ADR 0018).
    assert!(!out.contains("early stopping"), "{out}");
    let stopped = train(&[
        "--early-stopping-rounds",
        "3",
        "--out",
        &w.path("stopped.model"),
    ]);
    assert!(stopped.contains("(early stopping on "), "{stopped}");
    let held_out = std::fs::read_to_string(&held).unwrap();
    assert!(
        !held_out.trim().is_empty(),
        "the held-out queries are written"
    );
    let m = ok(&["model", "show", "judged", "--registry", &reg]);
    assert!(
        m.contains("valid_ndcg@10_oracle") && m.contains("\"format\": \"judgments\""),
        "{m}"
    );
    assert!(
        m.contains("\"unjudged\": \"drop\"") && m.contains("\"early_stopping_rounds\": null"),
        "the defaults are recorded: {m}"
    );
    let text = ok(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--registry",
        &reg,
        "--ranker",
        "judged",
        "--explain",
        "sofa",
    ]);
    assert!(text.contains("ranked by judged"), "{text}");

    // Runs judged by the world's truth: every pair graded, the pool kept.
    ok(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--queries",
        &held,
        "--k",
        "50",
        "--registry",
        &reg,
        "--ranker",
        "judged",
        "--run-out",
        &w.path("judged.trec"),
    ]);
    let out = ok(&[
        "data",
        "judge",
        "--data",
        &w.path("w"),
        "--run",
        &w.path("judged.trec"),
        "--out",
        &w.path("truth.trec"),
    ]);
    assert!(out.contains("by the world's truth"), "{out}");
    let run = hyrank_data::formats::trec::read_run(w.path("judged.trec")).unwrap();
    let truth = hyrank_data::formats::trec::read_qrels(w.path("truth.trec")).unwrap();
    let pool = hyrank_data::formats::trec::read_qrels(w.path("w/qrels.trec")).unwrap();
    let judged: std::collections::HashMap<(String, String), i32> = truth
        .iter()
        .map(|j| ((j.query.0.clone(), j.doc.0.clone()), j.grade))
        .collect();
    assert!(run
        .iter()
        .all(|e| judged.contains_key(&(e.query.0.clone(), e.doc.0.clone()))));
    assert!(
        pool.iter()
            .all(|j| judged[&(j.query.0.clone(), j.doc.0.clone())] == j.grade),
        "the truth agrees with the pooled judgments"
    );
    assert!(truth.len() > pool.len());
    std::fs::write(w.path("bad-run.trec"), "Q99999 Q0 P0000001 1 1.0 x\n").unwrap();
    let e = fails(&[
        "data",
        "judge",
        "--data",
        &w.path("w"),
        "--run",
        &w.path("bad-run.trec"),
        "--out",
        &w.path("t2.trec"),
    ]);
    assert!(
        e.contains("Q99999") && !std::path::Path::new(&w.path("t2.trec")).exists(),
        "{e}"
    );

    // Sponsored slots: the ad at its slot, the organic order kept elsewhere.
    let page = |extra: &[&str]| -> (String, Vec<String>) {
        let mut args = vec![
            "search",
            "--index",
            &index,
            "--mode",
            "bm25",
            "--registry",
            &reg,
            "--ranker",
            "judged",
            "--k",
            "6",
        ];
        args.extend_from_slice(extra);
        args.push("sofa");
        let text = ok(&args);
        let ids = text
            .lines()
            .filter_map(|l| {
                l.trim_start()
                    .split_once(". ")
                    .map(|(_, r)| r.split_whitespace().next().unwrap().to_owned())
            })
            .collect();
        (text, ids)
    };
    let (organic, ids) = page(&[]);
    assert_eq!(ids.len(), 6, "{organic}");
    let ad = ids[4].clone();
    std::fs::write(
        w.path("ads.jsonl"),
        format!("{{\"campaign\": \"c1\", \"doc\": \"{ad}\", \"bid\": 2.0, \"keywords\": [\"sofa\"]}}\n{{\"campaign\": \"c2\", \"doc\": \"{}\", \"bid\": 1.0, \"keywords\": [\"lamp\"]}}\n", ids[5]),
    )
    .unwrap();
    let ads = w.path("ads.jsonl");
    let (text, got) = page(&["--sponsored", &ads, "--sponsored-positions", "2"]);
    let mut want = ids.clone();
    want.remove(4);
    want.insert(1, ad.clone());
    assert_eq!(got, want, "{text}");
    assert!(text.contains("[sponsored: c1"), "{text}");
    std::fs::write(
        w.path("bad-ads.jsonl"),
        "{\"campaign\": \"c1\", \"doc\": \"P1\", \"bid\": -1}\n",
    )
    .unwrap();
    let e = fails(&[
        "search",
        "--index",
        &index,
        "--mode",
        "bm25",
        "--registry",
        &reg,
        "--ranker",
        "judged",
        "--sponsored",
        &w.path("bad-ads.jsonl"),
        "sofa",
    ]);
    assert!(e.contains("bad-ads.jsonl:1") && e.contains("bid"), "{e}");
    // LR on judgments is refused with the reason.
    let e = fails(&[
        "train",
        "--qrels",
        &w.path("w/qrels.trec"),
        "--queries",
        &w.path("w/queries.tsv"),
        "--index",
        &index,
        "--model",
        "lr",
        "--out",
        &w.path("x"),
    ]);
    assert!(e.contains("--model lambdamart"), "{e}");
}
