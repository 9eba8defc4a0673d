//! `POST /events`: interaction events (the log's NDJSON, one event a line)
//! appended to the server's durable log (`hyrank serve --event-log DIR`) and
//! counted by its feature store, so that the behavioural features of the
//! next searches see them. All or nothing: a bad line is a 400 naming its
//! line, and no event of that body is logged or applied; a body the log
//! cannot write is a 503 and none of it is applied either (the client may
//! send it again). Acknowledged (200) means written and fsynced.

use axum::extract::State;
use axum::Json;
use hyrank_data::{InteractionEvent, Location};
use std::sync::PoisonError;

use crate::error::{Error, Result};
use crate::server::AppState;

/// Reads every line of `body` as an event; the first bad one is the error.
pub fn parse_events(body: &str) -> Result<Vec<InteractionEvent>> {
    let mut out = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = Location::new("events", i as u64 + 1);
        let e = InteractionEvent::parse_line(line, at.clone())?;
        if let Err((field, why)) = e.validate() {
            return Err(Error::Data(hyrank_data::Error::parse(at.field(field), why)));
        }
        out.push(e);
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(
            "the body holds no event (NDJSON, one event a line)".into(),
        ));
    }
    Ok(out)
}

/// `{"applied": n, "events_in_store": m or null, "logged": bool,
/// "log_seq": the last event's sequence number in this server's log, or null}`.
pub async fn post(State(state): State<AppState>, body: String) -> Result<Json<serde_json::Value>> {
    let stage = state.ranker().cloned();
    let log = state.event_log.clone();
    if stage.is_none() && log.is_none() {
        return Err(Error::Unavailable(
            "this server keeps no event history: start it with --registry (features) or --event-log DIR (a durable log)".into(),
        ));
    }
    let events = parse_events(&body)?;
    let (events, seq) = match log {
        Some(log) => {
            let (events, r) = tokio::task::spawn_blocking(move || {
                let r = log
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .append_all(&events);
                (events, r)
            })
            .await
            .map_err(|e| Error::Internal(format!("event log worker: {e}")))?;
            let seq = r.map_err(|e| {
                tracing::error!(error = %e, "could not write the event log");
                Error::Unavailable(format!(
                    "could not write the event log ({e}); no event of this body was logged or applied"
                ))
            })?;
            (events, Some(seq))
        }
        None => (events, None),
    };
    let total = stage.map(|stage| {
        let mut store = stage
            .store()
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for e in &events {
            store.apply(e);
        }
        store.len()
    });
    tracing::info!(applied = events.len(), total, seq, "events");
    Ok(Json(serde_json::json!({
        "applied": events.len(),
        "events_in_store": total,
        "logged": seq.is_some(),
        "log_seq": seq,
    })))
}
