//! `POST /events`: interaction events (the log's NDJSON, one event a line)
//! into the server's feature store, so that the behavioural features of the
//! next searches count them. All or nothing: a bad line is a 400 naming its
//! line, and no event of that body is applied.

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

/// `{"applied": n, "events_in_store": m}`.
pub async fn post(State(state): State<AppState>, body: String) -> Result<Json<serde_json::Value>> {
    let Some(stage) = state.ranker().cloned() else {
        return Err(Error::Unavailable(
            "this server ranks without a model and keeps no event history (start it with --registry)".into(),
        ));
    };
    let events = parse_events(&body)?;
    let total = {
        let mut store = stage
            .store()
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for e in &events {
            store.apply(e);
        }
        store.len()
    };
    tracing::info!(applied = events.len(), total, "events");
    Ok(Json(
        serde_json::json!({"applied": events.len(), "events_in_store": total}),
    ))
}
