//! OpenSearch User Behavior Insights (UBI): the `ubi_queries` and
//! `ubi_events` documents, one JSON object per line.
//!
//! A UBI query becomes an [`Impression`] (its `query_response_hit_ids` are the
//! ranked list); a UBI event becomes a [`Click`], [`AddToCart`] or
//! [`Purchase`] by its `action_name`. Events of other actions (hover, scroll,
//! ...) have no counterpart: they are counted by name in [`UbiReport`], never
//! dropped silently.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{parse_json, Lines};
use crate::error::{Error, Result};
use crate::time::Timestamp;
use crate::types::{
    AddToCart, Click, DocId, ImpressedDoc, Impression, InteractionEvent, Purchase, RequestId,
    SessionId, UserId,
};

/// A `ubi_queries` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UbiQuery {
    /// Application name.
    #[serde(default)]
    pub application: Option<String>,
    /// Unique id of this query instance.
    pub query_id: String,
    /// The client (user) id.
    pub client_id: String,
    /// The text typed.
    pub user_query: String,
    /// Free attributes (we read `session_id`, `ranker`, `arm` from here when present).
    #[serde(default)]
    pub query_attributes: BTreeMap<String, Value>,
    /// Name of the id field of the hits.
    #[serde(default)]
    pub object_id_field: Option<String>,
    /// Id of the response.
    #[serde(default)]
    pub query_response_id: Option<String>,
    /// The returned ids in rank order.
    #[serde(default)]
    pub query_response_hit_ids: Vec<String>,
    /// When.
    pub timestamp: Timestamp,
}

/// The `event_attributes.object` of a UBI event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UbiObject {
    /// The object's id (our doc id).
    pub object_id: String,
    /// Which field the id is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id_field: Option<String>,
    /// Free detail; `price` and `quantity` are read for purchases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_detail: Option<Value>,
}

/// The `event_attributes.position` of a UBI event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UbiPosition {
    /// 1-based ordinal in the result list (UBI clients differ; we write 1-based).
    #[serde(default)]
    pub ordinal: Option<u32>,
}

/// `event_attributes` of a UBI event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UbiEventAttributes {
    /// What the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<UbiObject>,
    /// Where it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<UbiPosition>,
    /// Anything else.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A `ubi_events` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UbiEvent {
    /// Application name.
    #[serde(default)]
    pub application: Option<String>,
    /// `click`, `add_to_cart`, `purchase`, ...
    pub action_name: String,
    /// The query instance the event follows.
    #[serde(default)]
    pub query_id: Option<String>,
    /// Session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Client (user).
    pub client_id: String,
    /// When.
    pub timestamp: Timestamp,
    /// Message type (`INFO`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub event_attributes: UbiEventAttributes,
}

/// What a UBI conversion did with its input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UbiReport {
    /// Queries turned into impressions.
    pub impressions: u64,
    /// Events turned into clicks, add-to-carts and purchases.
    pub converted_events: u64,
    /// Events whose action has no hyrank counterpart, by action name.
    pub unmapped_actions: BTreeMap<String, u64>,
    /// Purchases that carried no price (written with unit price 0).
    pub purchases_without_price: u64,
}

fn read_all<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Vec<(crate::error::Location, T)>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        out.push((at.clone(), parse_json::<T>(&line, at)?));
    }
    Ok(out)
}

fn attr_str(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    attrs.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads UBI queries and events and converts them, in file order.
pub fn read_ubi(
    queries: impl AsRef<Path>,
    events: impl AsRef<Path>,
) -> Result<(Vec<InteractionEvent>, UbiReport)> {
    let mut report = UbiReport::default();
    let mut out = Vec::new();
    let mut sessions: BTreeMap<String, String> = BTreeMap::new();
    for (_, q) in read_all::<UbiQuery>(queries.as_ref())? {
        let session =
            attr_str(&q.query_attributes, "session_id").unwrap_or_else(|| q.client_id.clone());
        sessions.insert(q.query_id.clone(), session.clone());
        out.push(InteractionEvent::Impression(Impression {
            event_id: format!("ubi-q-{}", q.query_id).into(),
            timestamp: q.timestamp,
            request_id: RequestId(q.query_id.clone()),
            query_id: None,
            query: q.user_query,
            user_id: UserId(q.client_id),
            session_id: SessionId(session),
            results: q
                .query_response_hit_ids
                .into_iter()
                .enumerate()
                .map(|(i, d)| ImpressedDoc {
                    doc: DocId(d),
                    position: i as u32 + 1,
                    propensity: None,
                })
                .collect(),
            ranker: attr_str(&q.query_attributes, "ranker").unwrap_or_else(|| "unknown".into()),
            arm: attr_str(&q.query_attributes, "arm"),
        }));
        report.impressions += 1;
    }
    for (n, (at, e)) in read_all::<UbiEvent>(events.as_ref())?
        .into_iter()
        .enumerate()
    {
        let action = e.action_name.to_ascii_lowercase();
        let kind = match action.as_str() {
            "click" | "product_click" | "item_click" | "result_click" => "click",
            "add_to_cart" | "add-to-cart" | "addtocart" => "add_to_cart",
            "purchase" | "product_purchase" | "checkout" | "order" => "purchase",
            _ => {
                *report
                    .unmapped_actions
                    .entry(e.action_name.clone())
                    .or_default() += 1;
                continue;
            }
        };
        let obj = e.event_attributes.object.clone().ok_or_else(|| {
            Error::parse(
                at.clone().field("event_attributes.object"),
                format!("a `{}` event needs the object it is about", e.action_name),
            )
        })?;
        let session = e
            .session_id
            .clone()
            .or_else(|| e.query_id.as_ref().and_then(|q| sessions.get(q).cloned()))
            .unwrap_or_else(|| e.client_id.clone());
        let event_id = format!("ubi-e-{n}").into();
        let detail = obj.object_detail.as_ref();
        let num = |k: &str| detail.and_then(|d| d.get(k)).and_then(Value::as_f64);
        let quantity = num("quantity").map_or(1, |q| q.max(1.0) as u32);
        let ev = match kind {
            "click" => {
                let request_id = e.query_id.clone().ok_or_else(|| {
                    Error::parse(
                        at.clone().field("query_id"),
                        "a click needs the query_id of the page it was on",
                    )
                })?;
                let position = e
                    .event_attributes
                    .position
                    .as_ref()
                    .and_then(|p| p.ordinal)
                    .ok_or_else(|| {
                        Error::parse(
                            at.clone().field("event_attributes.position.ordinal"),
                            "a click needs its position",
                        )
                    })?;
                InteractionEvent::Click(Click {
                    event_id,
                    timestamp: e.timestamp,
                    request_id: RequestId(request_id),
                    user_id: UserId(e.client_id.clone()),
                    session_id: SessionId(session),
                    doc: DocId(obj.object_id),
                    position: position.max(1),
                })
            }
            "add_to_cart" => InteractionEvent::AddToCart(AddToCart {
                event_id,
                timestamp: e.timestamp,
                request_id: e.query_id.clone().map(RequestId),
                user_id: UserId(e.client_id.clone()),
                session_id: SessionId(session),
                doc: DocId(obj.object_id),
                quantity,
            }),
            _ => {
                let price = num("price");
                if price.is_none() {
                    report.purchases_without_price += 1;
                }
                InteractionEvent::Purchase(Purchase {
                    event_id,
                    timestamp: e.timestamp,
                    request_id: e.query_id.clone().map(RequestId),
                    user_id: UserId(e.client_id.clone()),
                    session_id: SessionId(session),
                    doc: DocId(obj.object_id),
                    quantity,
                    unit_price: price.unwrap_or(0.0),
                })
            }
        };
        ev.validate()
            .map_err(|(f, why)| Error::parse(at.clone().field(f), why))?;
        out.push(ev);
        report.converted_events += 1;
    }
    out.sort_by_key(InteractionEvent::timestamp);
    Ok((out, report))
}

/// Converts hyrank events to UBI documents: impressions to queries, the rest to events.
pub fn to_ubi(events: &[InteractionEvent], application: &str) -> (Vec<UbiQuery>, Vec<UbiEvent>) {
    let mut queries = Vec::new();
    let mut out = Vec::new();
    for e in events {
        let object = |doc: &DocId, detail: Option<Value>| UbiObject {
            object_id: doc.0.clone(),
            object_id_field: Some("id".into()),
            object_detail: detail,
        };
        let base =
            |action: &str, query_id: Option<&RequestId>, attrs: UbiEventAttributes| UbiEvent {
                application: Some(application.into()),
                action_name: action.into(),
                query_id: query_id.map(|r| r.0.clone()),
                session_id: Some(e.session_id().0.clone()),
                client_id: e.user_id().0.clone(),
                timestamp: e.timestamp(),
                message_type: None,
                message: None,
                event_attributes: attrs,
            };
        match e {
            InteractionEvent::Impression(i) => {
                let mut attrs = BTreeMap::new();
                attrs.insert("session_id".into(), Value::from(i.session_id.0.clone()));
                attrs.insert("ranker".into(), Value::from(i.ranker.clone()));
                if let Some(a) = &i.arm {
                    attrs.insert("arm".into(), Value::from(a.clone()));
                }
                queries.push(UbiQuery {
                    application: Some(application.into()),
                    query_id: i.request_id.0.clone(),
                    client_id: i.user_id.0.clone(),
                    user_query: i.query.clone(),
                    query_attributes: attrs,
                    object_id_field: Some("id".into()),
                    query_response_id: Some(i.request_id.0.clone()),
                    query_response_hit_ids: i.results.iter().map(|r| r.doc.0.clone()).collect(),
                    timestamp: i.timestamp,
                });
            }
            InteractionEvent::Click(c) => out.push(base(
                "click",
                Some(&c.request_id),
                UbiEventAttributes {
                    object: Some(object(&c.doc, None)),
                    position: Some(UbiPosition {
                        ordinal: Some(c.position),
                    }),
                    other: BTreeMap::new(),
                },
            )),
            InteractionEvent::AddToCart(a) => out.push(base(
                "add_to_cart",
                a.request_id.as_ref(),
                UbiEventAttributes {
                    object: Some(object(
                        &a.doc,
                        Some(serde_json::json!({"quantity": a.quantity})),
                    )),
                    ..Default::default()
                },
            )),
            InteractionEvent::Purchase(p) => out.push(base(
                "purchase",
                p.request_id.as_ref(),
                UbiEventAttributes {
                    object: Some(object(
                        &p.doc,
                        Some(serde_json::json!({"quantity": p.quantity, "price": p.unit_price})),
                    )),
                    ..Default::default()
                },
            )),
        }
    }
    (queries, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERIES: &str = r#"{"application":"shop","query_id":"q-1","client_id":"c-9","user_query":"grey sofa","query_attributes":{},"object_id_field":"id","query_response_id":"r-1","query_response_hit_ids":["p1","p2","p3"],"timestamp":"2026-01-01T10:00:00.000Z"}
"#;
    const EVENTS: &str = r#"{"application":"shop","action_name":"click","query_id":"q-1","session_id":"s-1","client_id":"c-9","timestamp":"2026-01-01T10:00:05Z","message_type":"INFO","message":"clicked","event_attributes":{"object":{"object_id":"p2","object_id_field":"id"},"position":{"ordinal":2}}}
{"application":"shop","action_name":"hover","query_id":"q-1","client_id":"c-9","timestamp":"2026-01-01T10:00:06Z","event_attributes":{}}
{"application":"shop","action_name":"purchase","query_id":"q-1","session_id":"s-1","client_id":"c-9","timestamp":"2026-01-01T10:01:00Z","event_attributes":{"object":{"object_id":"p2","object_detail":{"price":19.99,"quantity":2}}}}
"#;

    #[test]
    fn converts_and_reports_unmapped() {
        let dir = tempfile::tempdir().unwrap();
        let (q, e) = (
            dir.path().join("ubi_queries.ndjson"),
            dir.path().join("ubi_events.ndjson"),
        );
        std::fs::write(&q, QUERIES).unwrap();
        std::fs::write(&e, EVENTS).unwrap();
        let (events, report) = read_ubi(&q, &e).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(report.unmapped_actions.get("hover"), Some(&1));
        match &events[2] {
            InteractionEvent::Purchase(p) => {
                assert_eq!((p.quantity, p.unit_price), (2, 19.99));
            }
            other => panic!("expected purchase, got {other:?}"),
        }
        let (uq, ue) = to_ubi(&events, "shop");
        assert_eq!(uq[0].query_response_hit_ids, vec!["p1", "p2", "p3"]);
        assert_eq!(ue.len(), 2);

        std::fs::write(&e, r#"{"action_name":"click","client_id":"c","timestamp":"2026-01-01T10:00:05Z","event_attributes":{"object":{"object_id":"p"},"position":{"ordinal":1}}}"#).unwrap();
        let err = read_ubi(&q, &e).unwrap_err().to_string();
        assert!(
            err.contains("ubi_events.ndjson:1: field `query_id`"),
            "{err}"
        );
        std::fs::write(
            &e,
            r#"{"action_name":"click","client_id":"c","timestamp":"tomorrow"}"#,
        )
        .unwrap();
        let err = read_ubi(&q, &e).unwrap_err().to_string();
        assert!(
            err.contains("ubi_events.ndjson:1: field `timestamp`"),
            "{err}"
        );
    }
}
