//! Reading UBI files into raw documents: bulk action lines skipped, queries
//! told from events, optional fields tolerated.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::UbiReport;
use crate::error::{Location, Result};
use crate::formats::{bulk_action, json_error, Lines};
use crate::time::Timestamp;

/// A `ubi_queries` document, with what we read from it.
#[derive(Debug, Clone)]
pub(super) struct RawQuery {
    pub bulk_id: Option<String>,
    pub application: Option<String>,
    pub query_id: String,
    pub client_id: Option<String>,
    pub user_query: Option<String>,
    /// Each response's `query_response_hit_ids` with its time: one, or more
    /// when documents of the same `query_id` were merged.
    pub responses: Vec<(Timestamp, Vec<String>)>,
    pub timestamp: Timestamp,
    /// `query_attributes` values we read (hyrank's extras among them).
    pub session_id: Option<String>,
    pub ranker: Option<String>,
    pub arm: Option<String>,
    pub event_id: Option<String>,
    pub hyrank_query_id: Option<String>,
    pub partial: bool,
    pub generation: Option<u64>,
}

/// A `ubi_events` document, with what we read from it.
#[derive(Debug, Clone)]
pub(super) struct RawEvent {
    pub at: Location,
    pub bulk_id: Option<String>,
    pub application: Option<String>,
    pub action: String,
    pub query_id: Option<String>,
    pub session_id: Option<String>,
    pub client_id: Option<String>,
    pub user_query: Option<String>,
    pub message: Option<String>,
    pub timestamp: Timestamp,
    pub object_id: Option<String>,
    pub ordinal: Option<i64>,
    pub price: Option<f64>,
    pub quantity: Option<i64>,
    pub propensity: Option<f64>,
    pub event_id: Option<String>,
}

/// One UBI document.
#[derive(Debug, Clone)]
pub(super) enum Doc {
    Query(RawQuery),
    Event(RawEvent),
}

/// The value at a dotted path; `null` reads as absent.
fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// A non-empty string, or a number written as one (ids are often numbers).
fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer from a number or a numeric string.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finite float from a number or a numeric string.
fn float(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn timestamp(v: &Value) -> std::result::Result<Timestamp, String> {
    match get(v, "timestamp") {
        None => Err("no timestamp".into()),
        Some(t) => Timestamp::deserialize(t).map_err(|e| format!("timestamp: {e}")),
    }
}

/// Which kind of document the next line holds, from a bulk action's `_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Query,
    Event,
    Unknown,
}

fn read_query(v: &Value, bulk_id: Option<String>) -> std::result::Result<RawQuery, String> {
    let query_id = string(get(v, "query_id")).ok_or("no query_id")?;
    let timestamp = timestamp(v)?;
    // `query_attributes` is an object (a flat_object in OpenSearch); some
    // clients send it as a JSON string.
    let attrs_owned;
    let attrs = match get(v, "query_attributes") {
        Some(Value::String(s)) => {
            attrs_owned = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            Some(&attrs_owned)
        }
        other => other,
    };
    let attr = |k: &str| attrs.and_then(|a| string(get(a, k)));
    Ok(RawQuery {
        bulk_id,
        application: string(get(v, "application")),
        query_id,
        client_id: string(get(v, "client_id")),
        user_query: string(get(v, "user_query")),
        responses: vec![(
            timestamp,
            get(v, "query_response_hit_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|h| string(Some(h))).collect())
                .unwrap_or_default(),
        )],
        timestamp,
        session_id: attr("session_id"),
        ranker: attr("ranker"),
        arm: attr("arm"),
        event_id: attr("event_id"),
        hyrank_query_id: attr("query_id"),
        partial: attrs
            .and_then(|a| get(a, "partial"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        generation: int(attrs.and_then(|a| get(a, "generation")))
            .and_then(|g| u64::try_from(g).ok()),
    })
}

fn read_event(
    v: &Value,
    at: Location,
    bulk_id: Option<String>,
) -> std::result::Result<RawEvent, String> {
    let action = string(get(v, "action_name")).ok_or("no action_name")?;
    let timestamp = timestamp(v)?;
    let attrs = get(v, "event_attributes").filter(|a| a.is_object());
    let attr = |k: &str| attrs.and_then(|a| get(a, k));
    let user_id = string(get(v, "user_id"));
    Ok(RawEvent {
        at,
        bulk_id,
        application: string(get(v, "application")),
        action,
        query_id: string(get(v, "query_id")),
        session_id: string(get(v, "session_id")).or_else(|| string(attr("session_id"))),
        client_id: string(get(v, "client_id")).or(user_id),
        user_query: string(get(v, "user_query")),
        message: string(get(v, "message")),
        timestamp,
        object_id: string(attr("object.object_id")),
        ordinal: int(attr("position.ordinal")),
        price: float(attr("object.object_detail.price")),
        quantity: int(attr("object.object_detail.quantity")),
        propensity: float(attr("propensity")),
        event_id: string(attr("event_id")),
    })
}

/// Reads every document of `files` in file order. Lines that are not JSON,
/// and documents that are neither a query nor an event or lack what every
/// document needs (an id, a timestamp), are counted in `report` and left out.
pub(super) fn read_documents(files: &[PathBuf], report: &mut UbiReport) -> Result<Vec<Doc>> {
    let mut docs = Vec::new();
    for path in files {
        let mut lines = Lines::open(path)?;
        let mut pending: Option<(Expect, Option<String>)> = None;
        while let Some(next) = lines.next_line() {
            let (_, line) = next?;
            if line.trim().is_empty() {
                continue;
            }
            let at = lines.location();
            let v: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => {
                    let err = json_error(&line, at.clone(), "", &e);
                    let where_ = err.location().cloned().unwrap_or(at);
                    report.skip("document", "not JSON", &where_);
                    pending = None;
                    continue;
                }
            };
            if let Some((action, meta)) = bulk_action(&v) {
                report.bulk_action_lines += 1;
                let index = meta.get("_index").and_then(Value::as_str).unwrap_or("");
                let expect = if index.contains("ubi_queries") {
                    Expect::Query
                } else if index.contains("ubi_events") {
                    Expect::Event
                } else {
                    Expect::Unknown
                };
                if action == "delete" {
                    report.skip(
                        "bulk action",
                        "a `delete` action removes nothing from a log",
                        &at,
                    );
                    pending = None;
                } else {
                    pending = Some((expect, string(meta.get("_id"))));
                }
                continue;
            }
            let (expect, bulk_id) = pending.take().unwrap_or((Expect::Unknown, None));
            if !v.is_object() {
                report.skip("document", "not a JSON object", &at);
                continue;
            }
            let is_event = match expect {
                Expect::Event => true,
                Expect::Query => false,
                Expect::Unknown => v.get("action_name").is_some(),
            };
            let looks_like_query = ["query_id", "user_query", "query_response_hit_ids"]
                .iter()
                .any(|k| v.get(*k).is_some());
            if is_event {
                let action = string(get(&v, "action_name")).unwrap_or_else(|| "?".into());
                match read_event(&v, at.clone(), bulk_id) {
                    Ok(e) => {
                        *report.events_by_action.entry(e.action.clone()).or_default() += 1;
                        docs.push(Doc::Event(e));
                    }
                    Err(why) => report.skip(&action, why, &at),
                }
            } else if looks_like_query {
                match read_query(&v, bulk_id) {
                    Ok(q) => {
                        report.query_documents += 1;
                        docs.push(Doc::Query(q));
                    }
                    Err(why) => report.skip("query", why, &at),
                }
            } else {
                report.skip(
                    "document",
                    "neither a UBI query (query_id, user_query) nor an event (action_name)",
                    &at,
                );
            }
        }
    }
    Ok(docs)
}
