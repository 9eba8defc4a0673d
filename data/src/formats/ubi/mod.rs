//! OpenSearch User Behavior Insights (UBI): `ubi_queries` and `ubi_events`
//! documents, read as they come and written back.
//!
//! # Reading ([`read_ubi`])
//!
//! The input is a file or a folder. A folder is read whole: its
//! `ubi_queries*` and `ubi_events*` files if it has any, else every
//! `*.ndjson`, `*.jsonl` and `*.json` file. A file may be plain NDJSON or an
//! OpenSearch bulk file: action lines (`{"index": {"_index": "ubi_events",
//! "_id": ...}}`) are skipped, their `_index` says whether the next document
//! is a query or an event, and their `_id` becomes the event id. Queries and
//! events may share one file; without an action line a document with
//! `action_name` is an event and one with `query_id` / `user_query` a query.
//!
//! What the UBI schema leaves optional is tolerated: a missing or null
//! `event_attributes`, `object`, `object_id` or `position`; `session_id` at
//! the top level or inside `event_attributes`; an empty `user_id`. Timestamps
//! are RFC 3339 (`Z`, `+00:00` or `+0000`) or epoch milliseconds (number or
//! string). A document that cannot be used is counted by action and reason,
//! with the first places it happened, in [`UbiReport`]; it never fails the
//! file.
//!
//! How documents become hyrank events:
//! - **Impressions**: a UBI query (`query_id`) is one results page, or
//!   several when one `query_id` covers several renders (Chorus reuses it
//!   when a search is re-run). The ranked lists come from the query's
//!   `impression` events (one per shown object, at its ordinal; a new render
//!   starts, in time order, where a position or a document repeats); else one
//!   page per query document with `query_response_hit_ids` (documents of the
//!   same `query_id` are merged: Chorus logs a results and a facets request);
//!   else one page of the documents its clicks, add-to-carts and purchases
//!   reveal at their ordinals, marked [`partial`](crate::Impression::partial).
//!   The first page's request id is the `query_id`, later ones add `~2`,
//!   `~3`, ... A query id with neither a query document nor any of those
//!   events (a type-ahead `search` event alone) is no page and is reported,
//!   not converted.
//! - **Events on pages**: a click, add-to-cart or purchase belongs to the
//!   latest page of its query shown by then that shows its document (at its
//!   position); else to any page that shows it; else to the latest page.
//! - **Query text**: the query document's `user_query`; else an event's
//!   `user_query`; else the `message` of the query's `search` / `on_search`
//!   event; else empty (counted: the page still tells click models something).
//! - **Session, user and request**: the request is the UBI `query_id`; the
//!   session is `query_attributes.session_id`, else the first session id among
//!   the query's events, else the client id; the user is `client_id` (else a
//!   non-empty `user_id`). Clicks, add-to-carts and purchases take the
//!   session, user and request of their query, so a query and its events are
//!   one session.
//! - **Time**: the impression's time is the earliest of its query document's
//!   timestamp and its page events' (a page is shown before anything happens
//!   on it; UBI clients and servers have separate clocks). Impressions moved
//!   earlier are counted.
//! - **Positions**: `position.ordinal` is 0-based in some UBI clients
//!   (OpenSearch's ESCI sample generator) and 1-based in others (Chorus).
//!   The base is detected per `application`: 0 if any impression, click,
//!   add-to-cart or purchase of that application has ordinal 0, else 1. The
//!   report says which base each application got; [`UbiOptions::ordinal_base`]
//!   (`--ubi-ordinal-base`) overrides it for all. Position = ordinal − base + 1.
//!   One exception, counted: a query whose impression events sit where its
//!   own `query_response_hit_ids` put them only under the other base (at
//!   least 80 % of them, against under half with the application's) is read
//!   with the other base; Chorus's log has queries of both conventions.
//! - **Actions**: `impression`; `click` (also `product_click`, `item_click`,
//!   `result_click`); `add_to_cart` (`add-to-cart`, `addtocart`,
//!   `add_to_basket`); `purchase` (`product_purchase`, `checkout`, `order`,
//!   `buy`). Every other action (hover, filter, sort, page exit, ...) has no
//!   hyrank counterpart and is counted by name.
//!
//! # Writing ([`to_ubi`])
//!
//! One query document per impression (`query_response_hit_ids` in rank
//! order) and one `impression` event per shown document (1-based ordinals),
//! then one event per click, add-to-cart and purchase. What UBI has no field
//! for travels in `query_attributes` (`session_id`, `ranker`, `arm`,
//! `event_id`, `query_id`, `partial`, `generation`) and `event_attributes` (`event_id`,
//! `propensity`, and `quantity` / `price` in `object.object_detail`), so that
//! hyrank → UBI → hyrank keeps every event.

mod assemble;
mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, IoContext, Location, Result};
use crate::types::{DocId, InteractionEvent, RequestId};

/// Options of [`read_ubi`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UbiOptions {
    /// The base of `position.ordinal` (0 or 1) for every application; `None`
    /// detects it per application (see the module docs).
    pub ordinal_base: Option<u32>,
}

/// Documents of one kind that could not be used for one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// How many.
    pub count: u64,
    /// The first few places (file:line).
    pub examples: Vec<Location>,
}

/// The ordinal base an application's positions were read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrdinalBase {
    /// 0 or 1.
    pub base: u32,
    /// True when detected from the data, false when given.
    pub detected: bool,
    /// The smallest ordinal of the application's page events, if any had one.
    pub min_ordinal: Option<i64>,
}

/// What a UBI conversion read, built and left out. Rendered by [`UbiReport::lines`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UbiReport {
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Bulk action lines skipped.
    pub bulk_action_lines: u64,
    /// Query documents read.
    pub query_documents: u64,
    /// Event documents read, by `action_name`.
    pub events_by_action: BTreeMap<String, u64>,
    /// Impressions written, by where their ranked list came from
    /// (`impression events`, `query_response_hit_ids`, `revealed by events`).
    pub impressions: BTreeMap<&'static str, u64>,
    /// Impressions whose list only holds what events revealed.
    pub partial_impressions: u64,
    /// UBI `impression` events folded into impressions.
    pub folded_impression_events: u64,
    /// Clicks, add-to-carts and purchases written, by kind.
    pub converted: BTreeMap<&'static str, u64>,
    /// Documents not used, by (action or `query` / `document`, reason).
    pub skipped: BTreeMap<(String, String), Skipped>,
    /// How many of those were event documents.
    pub skipped_events: u64,
    /// Query documents that shared a `query_id` with an earlier one and were merged into it.
    pub merged_query_documents: u64,
    /// Events whose action has no hyrank counterpart, by action.
    pub unmapped_actions: BTreeMap<String, u64>,
    /// The ordinal base of each application.
    pub ordinal_bases: BTreeMap<String, OrdinalBase>,
    /// Impressions whose time was moved to their first event.
    pub impressions_moved_earlier: u64,
    /// Queries whose impression events and `query_response_hit_ids` disagree
    /// (the impression events were used).
    pub hit_ids_disagree: u64,
    /// Queries whose events carry more than one session id (the first was used).
    pub conflicting_sessions: u64,
    /// Purchases that carried no price (written with unit price 0).
    pub purchases_without_price: u64,
    /// Queries whose impression events match their own hit lists only with
    /// the other ordinal base, and were read with it.
    pub queries_read_with_the_other_base: u64,
    /// Documents added to pages of impression events from the response
    /// (`query_response_hit_ids`) they agree with, at positions the client
    /// sent no impression event for.
    pub filled_from_hit_ids: u64,
    /// Documents added to pages at a position left empty, from a click,
    /// add-to-cart or purchase there.
    pub revealed_on_vacant_positions: u64,
    /// Impressions whose query text is unknown (no query document, no
    /// `user_query`, no search event): written with an empty query.
    pub impressions_without_text: u64,
}

/// How many examples of each skip reason the report keeps.
const EXAMPLES: usize = 3;

impl UbiReport {
    /// An event that could not be used.
    pub(crate) fn skip_event(&mut self, action: &str, reason: impl Into<String>, at: &Location) {
        self.skipped_events += 1;
        self.skip(action, reason, at);
    }

    /// A document (or an event) that could not be used.
    pub(crate) fn skip(&mut self, what: &str, reason: impl Into<String>, at: &Location) {
        let s = self
            .skipped
            .entry((what.to_owned(), reason.into()))
            .or_default();
        s.count += 1;
        if s.examples.len() < EXAMPLES {
            s.examples.push(at.clone());
        }
    }

    /// Impressions written.
    pub fn impressions_written(&self) -> u64 {
        self.impressions.values().sum()
    }

    /// Events not converted (skipped or without counterpart).
    pub fn events_left_out(&self) -> u64 {
        self.skipped_events + self.unmapped_actions.values().sum::<u64>()
    }

    /// The report as lines of text, one fact a line.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let events: u64 = self.events_by_action.values().sum();
        out.push(format!(
            "UBI: read {} query documents and {events} events from {} file(s){}",
            self.query_documents,
            self.files.len(),
            if self.bulk_action_lines > 0 {
                format!(" ({} bulk action lines skipped)", self.bulk_action_lines)
            } else {
                String::new()
            }
        ));
        for (app, b) in &self.ordinal_bases {
            out.push(format!(
                "UBI: application `{app}`: position.ordinal read as {}-based ({})",
                b.base,
                match (b.detected, b.min_ordinal) {
                    (false, _) => "given by --ubi-ordinal-base".to_owned(),
                    (true, Some(m)) => format!("detected: smallest ordinal {m}"),
                    (true, None) => "no ordinals seen; 1-based assumed".to_owned(),
                }
            ));
        }
        let from: Vec<String> = self
            .impressions
            .iter()
            .map(|(k, v)| format!("{v} from {k}"))
            .collect();
        out.push(format!(
            "UBI: wrote {} impressions ({}; {} partial), folding {} impression events",
            self.impressions_written(),
            from.join(", "),
            self.partial_impressions,
            self.folded_impression_events
        ));
        let conv: Vec<String> = self
            .converted
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        out.push(format!(
            "UBI: wrote {}",
            if conv.is_empty() {
                "no clicks, add-to-carts or purchases".to_owned()
            } else {
                conv.join(", ")
            }
        ));
        if self.merged_query_documents > 0 {
            out.push(format!(
                "UBI: {} query documents repeated an earlier query_id (a second request of the same search) and were merged into it",
                self.merged_query_documents
            ));
        }
        if self.impressions_moved_earlier > 0 {
            out.push(format!(
                "UBI: {} impressions took the time of their first event, which came before the query document's timestamp",
                self.impressions_moved_earlier
            ));
        }
        if self.queries_read_with_the_other_base > 0 {
            out.push(format!(
                "UBI: {} queries' impression events match their own query_response_hit_ids only with the other ordinal base; they were read with it",
                self.queries_read_with_the_other_base
            ));
        }
        if self.filled_from_hit_ids > 0 {
            out.push(format!(
                "UBI: {} documents filled into pages at positions without an impression event, from the query_response_hit_ids the page agrees with",
                self.filled_from_hit_ids
            ));
        }
        if self.revealed_on_vacant_positions > 0 {
            out.push(format!(
                "UBI: {} documents added to pages at an empty position, from a click, add-to-cart or purchase there",
                self.revealed_on_vacant_positions
            ));
        }
        if self.impressions_without_text > 0 {
            out.push(format!(
                "UBI: {} impressions have no query text (no ubi_queries document, user_query or search event): written with an empty query",
                self.impressions_without_text
            ));
        }
        if self.hit_ids_disagree > 0 {
            out.push(format!(
                "UBI: {} pages of impression events disagree with every query_response_hit_ids of their query; the impression events were used",
                self.hit_ids_disagree
            ));
        }
        if self.conflicting_sessions > 0 {
            out.push(format!(
                "UBI: {} queries' events carry more than one session id; the first was used",
                self.conflicting_sessions
            ));
        }
        if self.purchases_without_price > 0 {
            out.push(format!(
                "UBI: {} purchases carried no price (unit price 0)",
                self.purchases_without_price
            ));
        }
        for (action, n) in &self.unmapped_actions {
            out.push(format!(
                "UBI: {n} `{action}` events have no hyrank counterpart and were not converted"
            ));
        }
        for ((what, reason), s) in &self.skipped {
            let at: Vec<String> = s.examples.iter().map(ToString::to_string).collect();
            out.push(format!(
                "UBI: {} `{what}` left out: {reason} (e.g. {})",
                s.count,
                at.join(", ")
            ));
        }
        out
    }
}

/// The files of a UBI input: the file itself, or a folder's UBI files (see
/// the module docs).
pub fn ubi_files(input: &Path) -> Result<Vec<PathBuf>> {
    if input.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    if !input.is_dir() {
        return Err(Error::io(
            input,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        ));
    }
    let mut all = Vec::new();
    for entry in std::fs::read_dir(input).at(input)? {
        let path = entry.at(input)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let json = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("ndjson" | "jsonl" | "json")
        );
        if path.is_file() && json && !name.starts_with('.') {
            all.push((name, path));
        }
    }
    all.sort();
    let named: Vec<PathBuf> = all
        .iter()
        .filter(|(n, _)| n.starts_with("ubi_queries") || n.starts_with("ubi_events"))
        .map(|(_, p)| p.clone())
        .collect();
    let files = if named.is_empty() {
        all.into_iter().map(|(_, p)| p).collect()
    } else {
        named
    };
    if files.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no UBI files (ubi_queries*.ndjson, ubi_events*.ndjson, or any .ndjson / .jsonl / .json)",
            input.display()
        )));
    }
    Ok(files)
}

/// Reads UBI queries and events from a file or folder and converts them to
/// hyrank events in time order (see the module docs for the rules).
pub fn read_ubi(input: &Path, opts: &UbiOptions) -> Result<(Vec<InteractionEvent>, UbiReport)> {
    if let Some(b) = opts.ordinal_base {
        if b > 1 {
            return Err(Error::InvalidArgument(format!(
                "the UBI ordinal base is 0 or 1, got {b}"
            )));
        }
    }
    let files = ubi_files(input)?;
    let mut report = UbiReport {
        files: files.clone(),
        ..UbiReport::default()
    };
    let docs = read::read_documents(&files, &mut report)?;
    if docs.is_empty() {
        let first = report
            .skipped
            .iter()
            .next()
            .map(|((w, r), s)| format!(": {w} {r} at {}", s.examples[0]))
            .unwrap_or_default();
        return Err(Error::InvalidArgument(format!(
            "{}: no UBI query or event documents found{first}",
            input.display()
        )));
    }
    let events = assemble::assemble(docs, opts, &mut report);
    Ok((events, report))
}

/// Converts hyrank events to UBI documents: `(ubi_queries, ubi_events)`.
pub fn to_ubi(events: &[InteractionEvent], application: &str) -> (Vec<Value>, Vec<Value>) {
    let mut queries = Vec::new();
    let mut out = Vec::new();
    for e in events {
        let object = |doc: &DocId, detail: Option<Value>| {
            let mut o = json!({"object_id": doc.0, "object_id_field": "id"});
            if let Some(d) = detail {
                o["object_detail"] = d;
            }
            o
        };
        let event = |action: &str, query_id: Option<&RequestId>, attrs: Value| {
            json!({
                "application": application,
                "action_name": action,
                "query_id": query_id.map(|r| r.0.clone()),
                "session_id": e.session_id().0,
                "client_id": e.user_id().0,
                "timestamp": e.timestamp().to_string(),
                "event_attributes": attrs,
            })
        };
        match e {
            InteractionEvent::Impression(i) => {
                let mut attrs = json!({
                    "session_id": i.session_id.0,
                    "ranker": i.ranker,
                    "event_id": i.event_id.0,
                });
                if let Some(a) = &i.arm {
                    attrs["arm"] = json!(a);
                }
                if let Some(q) = &i.query_id {
                    attrs["query_id"] = json!(q.0);
                }
                if i.partial {
                    attrs["partial"] = json!(true);
                }
                if let Some(g) = i.generation {
                    attrs["generation"] = json!(g);
                }
                queries.push(json!({
                    "application": application,
                    "query_id": i.request_id.0,
                    "client_id": i.user_id.0,
                    "user_query": i.query,
                    "query_attributes": attrs,
                    "object_id_field": "id",
                    "query_response_id": i.request_id.0,
                    "query_response_hit_ids": i.results.iter().map(|r| r.doc.0.clone()).collect::<Vec<_>>(),
                    "timestamp": i.timestamp.to_string(),
                }));
                for r in &i.results {
                    let mut attrs = json!({
                        "object": object(&r.doc, None),
                        "position": {"ordinal": r.position},
                    });
                    if let Some(p) = r.propensity {
                        attrs["propensity"] = json!(p);
                    }
                    let mut ev = event("impression", Some(&i.request_id), attrs);
                    ev["user_query"] = json!(i.query);
                    out.push(ev);
                }
            }
            InteractionEvent::Click(c) => out.push(event(
                "click",
                Some(&c.request_id),
                json!({
                    "event_id": c.event_id.0,
                    "object": object(&c.doc, None),
                    "position": {"ordinal": c.position},
                }),
            )),
            InteractionEvent::AddToCart(a) => out.push(event(
                "add_to_cart",
                a.request_id.as_ref(),
                json!({
                    "event_id": a.event_id.0,
                    "object": object(&a.doc, Some(json!({"quantity": a.quantity}))),
                }),
            )),
            InteractionEvent::Purchase(p) => out.push(event(
                "purchase",
                p.request_id.as_ref(),
                json!({
                    "event_id": p.event_id.0,
                    "object": object(&p.doc, Some(json!({"quantity": p.quantity, "price": p.unit_price}))),
                }),
            )),
        }
    }
    (queries, out)
}

#[cfg(test)]
mod tests;
