//! Raw UBI documents → hyrank events: one impression per UBI query, clicks,
//! add-to-carts and purchases on it (rules in the module docs of `ubi`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::read::{Doc, RawEvent, RawQuery};
use super::{OrdinalBase, UbiOptions, UbiReport};
use crate::time::Timestamp;
use crate::types::{
    AddToCart, Click, DocId, EventId, ImpressedDoc, Impression, InteractionEvent, Purchase,
    QueryId, RequestId, SessionId, UserId,
};

/// What an action becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Impression,
    Click,
    AddToCart,
    Purchase,
    Search,
    Other,
}

fn kind(action: &str) -> Kind {
    match action.to_ascii_lowercase().as_str() {
        "impression" => Kind::Impression,
        "click" | "product_click" | "item_click" | "result_click" => Kind::Click,
        "add_to_cart" | "add-to-cart" | "addtocart" | "add_to_basket" => Kind::AddToCart,
        "purchase" | "product_purchase" | "checkout" | "order" | "buy" => Kind::Purchase,
        "search" | "on_search" => Kind::Search,
        _ => Kind::Other,
    }
}

/// An event about a result: shown, clicked, carted or bought.
fn on_page(k: Kind) -> bool {
    matches!(
        k,
        Kind::Impression | Kind::Click | Kind::AddToCart | Kind::Purchase
    )
}

/// The ordinal base of each application: given, or 0 when any of its page
/// events has ordinal 0, else 1.
fn ordinal_bases(
    events: &[RawEvent],
    opts: &UbiOptions,
    report: &mut UbiReport,
) -> HashMap<String, u32> {
    let mut min: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for e in events {
        let app = e.application.clone().unwrap_or_default();
        let slot = min.entry(app).or_default();
        if on_page(kind(&e.action)) {
            if let Some(o) = e.ordinal {
                *slot = Some(slot.map_or(o, |m| m.min(o)));
            }
        }
    }
    let mut out = HashMap::new();
    for (app, m) in min {
        let base = match opts.ordinal_base {
            Some(b) => b,
            None if m == Some(0) => 0,
            None => 1,
        };
        let name = if app.is_empty() {
            "(none)".to_owned()
        } else {
            app.clone()
        };
        report.ordinal_bases.insert(
            name,
            OrdinalBase {
                base,
                detected: opts.ordinal_base.is_none(),
                min_ordinal: m,
            },
        );
        out.insert(app, base);
    }
    out
}

/// The hyrank event id of a UBI event: ours (written by `to_ubi`), the bulk
/// `_id`, or file and line.
fn event_id(e: &RawEvent) -> EventId {
    e.event_id
        .clone()
        .or_else(|| e.bulk_id.clone())
        .unwrap_or_else(|| {
            let file =
                e.at.path
                    .file_stem()
                    .map(|s| {
                        s.to_string_lossy()
                            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                    })
                    .unwrap_or_default();
            format!("ubi-{file}-{}", e.at.line)
        })
        .into()
}

/// Folds a second document of the same query into the first: Chorus logs
/// each results request and its facets request (`size: 0`) under one
/// `query_id`, and a re-run search reuses it. Every response's hit list is
/// kept; of the rest, what the first lacks is taken from the second.
fn merge_query(first: &mut RawQuery, other: RawQuery) {
    first.responses.extend(other.responses);
    first.responses.sort_by_key(|(t, _)| *t);
    first.timestamp = first.timestamp.min(other.timestamp);
    let fill = |a: &mut Option<String>, b: Option<String>| {
        if a.is_none() {
            *a = b;
        }
    };
    fill(&mut first.application, other.application);
    fill(&mut first.client_id, other.client_id);
    fill(&mut first.user_query, other.user_query);
    fill(&mut first.session_id, other.session_id);
    fill(&mut first.ranker, other.ranker);
    fill(&mut first.arm, other.arm);
    fill(&mut first.event_id, other.event_id);
    fill(&mut first.hyrank_query_id, other.hyrank_query_id);
    fill(&mut first.bulk_id, other.bulk_id);
    first.partial |= other.partial;
    first.generation = first.generation.or(other.generation);
}

/// A UBI query with its events.
#[derive(Debug, Default)]
struct Group {
    query: Option<RawQuery>,
    events: Vec<RawEvent>,
}

/// One results page of a UBI query, before it becomes an impression.
struct Page {
    timestamp: Timestamp,
    results: Vec<ImpressedDoc>,
}

/// Turns the documents into hyrank events, sorted by time (an impression
/// before the events at its own instant).
pub(super) fn assemble(
    docs: Vec<Doc>,
    opts: &UbiOptions,
    report: &mut UbiReport,
) -> Vec<InteractionEvent> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut loose = Vec::new();
    let mut all_events = Vec::new();
    for d in docs {
        match d {
            Doc::Query(q) => {
                let g = groups.entry(q.query_id.clone()).or_default();
                match &mut g.query {
                    Some(first) => {
                        merge_query(first, q);
                        report.merged_query_documents += 1;
                    }
                    None => g.query = Some(q),
                }
            }
            Doc::Event(e) => {
                all_events.push(e.clone());
                match &e.query_id {
                    Some(q) => groups.entry(q.clone()).or_default().events.push(e),
                    None => loose.push(e),
                }
            }
        }
    }
    let bases = ordinal_bases(&all_events, opts, report);
    drop(all_events);
    let mut out = Vec::new();
    for (qid, g) in groups {
        assemble_group(&qid, g, &bases, report, &mut out);
    }
    for e in loose {
        match kind(&e.action) {
            Kind::AddToCart | Kind::Purchase => {
                let Some(doc) = e.object_id.clone() else {
                    report.skip_event(&e.action, "no object_id", &e.at);
                    continue;
                };
                let user = UserId(e.client_id.clone().unwrap_or_else(|| "unknown".into()));
                let session = SessionId(e.session_id.clone().unwrap_or_else(|| user.0.clone()));
                if let Some(ev) = product_event(&e, doc, None, user, session, report) {
                    out.push(ev);
                }
            }
            Kind::Click | Kind::Impression => report.skip_event(
                &e.action,
                "no query_id: it cannot be placed on a page",
                &e.at,
            ),
            Kind::Search | Kind::Other => {
                *report.unmapped_actions.entry(e.action.clone()).or_default() += 1
            }
        }
    }
    let rank = |e: &InteractionEvent| u8::from(!matches!(e, InteractionEvent::Impression(_)));
    out.sort_by_key(|e| (e.timestamp(), rank(e)));
    out
}

/// The pages of a query: its renders of `impression` events (a render ends
/// where a position or a document repeats), else one page per response with
/// hits, else one partial page of what its events reveal.
fn pages(
    query: Option<&RawQuery>,
    events: &[RawEvent],
    base: i64,
    report: &mut UbiReport,
) -> (Vec<Page>, &'static str, bool) {
    let responses: Vec<&(Timestamp, Vec<String>)> = query
        .map(|q| q.responses.iter().filter(|(_, h)| !h.is_empty()).collect())
        .unwrap_or_default();
    let shown: Vec<&RawEvent> = events
        .iter()
        .filter(|e| kind(&e.action) == Kind::Impression)
        .collect();
    if !shown.is_empty() {
        let mut renders: Vec<Vec<&RawEvent>> = vec![Vec::new()];
        let (mut docs, mut taken) = (HashSet::new(), HashSet::new());
        for e in shown {
            let pos = e.ordinal.and_then(|o| position(o, base));
            let repeats = e.object_id.as_ref().is_some_and(|d| docs.contains(d))
                || pos.is_some_and(|p| taken.contains(&p));
            if repeats {
                renders.push(Vec::new());
                docs.clear();
                taken.clear();
            }
            if let Some(d) = &e.object_id {
                docs.insert(d.clone());
            }
            if let Some(p) = pos {
                taken.insert(p);
            }
            if let Some(last) = renders.last_mut() {
                last.push(e);
            }
        }
        let mut out = Vec::new();
        for render in renders.into_iter().filter(|r| !r.is_empty()) {
            let first = render.iter().map(|e| e.timestamp).min().unwrap_or_default();
            let mut results = from_impression_events(&render, base, report);
            if results.is_empty() {
                continue;
            }
            let agreeing = responses.iter().find(|(_, hits)| {
                results
                    .iter()
                    .all(|r| hits.get(r.position as usize - 1) == Some(&r.doc.0))
            });
            match agreeing {
                // Impression events the client did not send (positions left
                // out) are filled from the response they agree with.
                Some((_, hits)) => {
                    let before = results.len();
                    let have: HashSet<u32> = results.iter().map(|r| r.position).collect();
                    for (i, d) in hits.iter().enumerate() {
                        let p = i as u32 + 1;
                        if !have.contains(&p) && !results.iter().any(|r| r.doc.0 == *d) {
                            results.push(ImpressedDoc {
                                doc: DocId(d.clone()),
                                position: p,
                                propensity: None,
                                team: None,
                            });
                        }
                    }
                    results.sort_by_key(|r| r.position);
                    report.filled_from_hit_ids += (results.len() - before) as u64;
                }
                None if !responses.is_empty() => report.hit_ids_disagree += 1,
                None => {}
            }
            // The page was requested at the latest response before it rendered.
            let requested = responses
                .iter()
                .map(|(t, _)| *t)
                .chain(query.map(|q| q.timestamp))
                .filter(|t| *t <= first)
                .max()
                .unwrap_or(first);
            out.push(Page {
                timestamp: requested,
                results,
            });
        }
        if !out.is_empty() {
            return (out, "impression events", false);
        }
    }
    if !responses.is_empty() {
        let out = responses
            .iter()
            .map(|(t, hits)| Page {
                timestamp: *t,
                results: hits
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ImpressedDoc {
                        doc: DocId(d.clone()),
                        position: i as u32 + 1,
                        propensity: None,
                        team: None,
                    })
                    .collect(),
            })
            .collect();
        return (out, "query_response_hit_ids", false);
    }
    // What the clicks, add-to-carts and purchases show, at their ordinals.
    let mut results: Vec<ImpressedDoc> = Vec::new();
    let (mut seen, mut taken) = (HashSet::new(), HashSet::new());
    for e in events.iter().filter(|e| on_page(kind(&e.action))) {
        let (Some(doc), Some(pos)) = (&e.object_id, e.ordinal.and_then(|o| position(o, base)))
        else {
            continue;
        };
        if !seen.contains(doc) && taken.insert(pos) {
            seen.insert(doc.clone());
            results.push(ImpressedDoc {
                doc: DocId(doc.clone()),
                position: pos,
                propensity: None,
                team: None,
            });
        }
    }
    results.sort_by_key(|r| r.position);
    let timestamp = query
        .map(|q| q.timestamp)
        .or_else(|| events.iter().map(|e| e.timestamp).min())
        .unwrap_or_default();
    (
        vec![Page { timestamp, results }],
        "revealed by events",
        true,
    )
}

/// The page an event happened on: the latest page shown by then that shows
/// its document (at its position, when it has one); else any page showing
/// it; else the latest page shown by then; else the first.
fn page_of(e: &RawEvent, pages: &[Page], base: i64) -> usize {
    let pos = e.ordinal.and_then(|o| position(o, base));
    let shows = |p: &Page| {
        e.object_id.as_ref().is_some_and(|d| {
            p.results
                .iter()
                .any(|r| r.doc.0 == *d && pos.is_none_or(|q| q == r.position))
        })
    };
    let by_then = |p: &Page| p.timestamp <= e.timestamp;
    let last = |f: &dyn Fn(&Page) -> bool| pages.iter().rposition(f);
    last(&|p| shows(p) && by_then(p))
        .or_else(|| last(&shows))
        .or_else(|| last(&by_then))
        .unwrap_or(0)
}

/// A click, add-to-cart or purchase at a position its page leaves empty
/// (an impression event the client did not send) shows that its document
/// was there: it is added at that position.
fn reveal_on_vacant_positions(
    pages: &mut [Page],
    events: &[RawEvent],
    base: i64,
    report: &mut UbiReport,
) {
    for e in events.iter().filter(|e| {
        matches!(
            kind(&e.action),
            Kind::Click | Kind::AddToCart | Kind::Purchase
        )
    }) {
        let (Some(doc), Some(pos)) = (&e.object_id, e.ordinal.and_then(|o| position(o, base)))
        else {
            continue;
        };
        let i = page_of(e, pages, base);
        let page = &mut pages[i];
        if page
            .results
            .iter()
            .any(|r| r.doc.0 == *doc || r.position == pos)
        {
            continue;
        }
        page.results.push(ImpressedDoc {
            doc: DocId(doc.clone()),
            position: pos,
            propensity: None,
            team: None,
        });
        page.results.sort_by_key(|r| r.position);
        report.revealed_on_vacant_positions += 1;
    }
}

fn assemble_group(
    qid: &str,
    g: Group,
    bases: &HashMap<String, u32>,
    report: &mut UbiReport,
    out: &mut Vec<InteractionEvent>,
) {
    let Group { query, mut events } = g;
    events.sort_by_key(|e| e.timestamp);
    let has_page = query.is_some() || events.iter().any(|e| on_page(kind(&e.action)));
    if !has_page {
        for e in &events {
            match kind(&e.action) {
                Kind::Search => report.skip_event(
                    &e.action,
                    "a typed query whose results page is unknown (no ubi_queries document, impression or click)",
                    &e.at,
                ),
                _ => *report.unmapped_actions.entry(e.action.clone()).or_default() += 1,
            }
        }
        return;
    }
    let text = query
        .as_ref()
        .and_then(|q| q.user_query.clone())
        .or_else(|| events.iter().find_map(|e| e.user_query.clone()))
        .or_else(|| {
            events
                .iter()
                .filter(|e| kind(&e.action) == Kind::Search)
                .find_map(|e| e.message.clone())
        });
    let app = query
        .as_ref()
        .and_then(|q| q.application.clone())
        .or_else(|| events.iter().find_map(|e| e.application.clone()))
        .unwrap_or_default();
    let mut base = i64::from(bases.get(&app).copied().unwrap_or(1));
    if let Some(other) = query
        .as_ref()
        .and_then(|q| other_base_fits(q, &events, base))
    {
        base = other;
        report.queries_read_with_the_other_base += 1;
    }
    let (mut pages, source, partial) = pages(query.as_ref(), &events, base, report);
    if !partial {
        reveal_on_vacant_positions(&mut pages, &events, base, report);
    }
    if text.is_none() && partial && pages.iter().all(|p| p.results.is_empty()) {
        // Neither what was searched nor anything shown is known: no page.
        for e in &events {
            report.skip_event(
                &e.action,
                "neither its query's text nor any document its page showed is known",
                &e.at,
            );
        }
        return;
    }

    // Who, in which session.
    let user = query
        .as_ref()
        .and_then(|q| q.client_id.clone())
        .or_else(|| events.iter().find_map(|e| e.client_id.clone()))
        .unwrap_or_else(|| "unknown".into());
    let mut sessions: Vec<&String> = Vec::new();
    for e in &events {
        if let Some(id) = e.session_id.as_ref().filter(|id| !sessions.contains(id)) {
            sessions.push(id);
        }
    }
    let session = match query.as_ref().and_then(|q| q.session_id.clone()) {
        Some(s) => s,
        None => {
            if sessions.len() > 1 {
                report.conflicting_sessions += 1;
            }
            sessions
                .first()
                .map_or_else(|| user.clone(), |s| (*s).clone())
        }
    };
    let (user, session) = (UserId(user), SessionId(session));
    let request = |i: usize| {
        RequestId(if i == 0 {
            qid.to_owned()
        } else {
            format!("{qid}~{}", i + 1)
        })
    };

    // Clicks, add-to-carts and purchases, each on its page.
    let mut converted: Vec<(usize, InteractionEvent)> = Vec::new();
    for e in &events {
        match kind(&e.action) {
            Kind::Impression => report.folded_impression_events += 1,
            Kind::Search | Kind::Other => {
                *report.unmapped_actions.entry(e.action.clone()).or_default() += 1
            }
            k => {
                let Some(doc) = e.object_id.clone() else {
                    report.skip_event(&e.action, "no object_id", &e.at);
                    continue;
                };
                let i = page_of(e, &pages, base);
                let ev = if k == Kind::Click {
                    click(e, doc, request(i), &pages[i], &user, &session, base, report)
                } else {
                    product_event(
                        e,
                        doc,
                        Some(request(i)),
                        user.clone(),
                        session.clone(),
                        report,
                    )
                };
                if let Some(ev) = ev {
                    converted.push((i, ev));
                }
            }
        }
    }
    if text.is_none() {
        report.impressions_without_text += pages.len() as u64;
    }
    for (i, page) in pages.iter_mut().enumerate() {
        // A page is shown before anything happens on it.
        let first = converted
            .iter()
            .filter(|(p, _)| *p == i)
            .map(|(_, e)| e.timestamp())
            .min();
        if let Some(f) = first.filter(|f| *f < page.timestamp) {
            page.timestamp = f;
            report.impressions_moved_earlier += 1;
        }
    }
    let base_id = query
        .as_ref()
        .and_then(|q| q.event_id.clone().or_else(|| q.bulk_id.clone()))
        .unwrap_or_else(|| format!("ubi-q-{qid}"));
    for (i, page) in pages.into_iter().enumerate() {
        *report.impressions.entry(source).or_default() += 1;
        if partial {
            report.partial_impressions += 1;
        }
        out.push(InteractionEvent::Impression(Impression {
            event_id: EventId(if i == 0 {
                base_id.clone()
            } else {
                format!("{base_id}~{}", i + 1)
            }),
            timestamp: page.timestamp,
            request_id: request(i),
            query_id: query
                .as_ref()
                .and_then(|q| q.hyrank_query_id.clone())
                .map(QueryId),
            query: text.clone().unwrap_or_default(),
            user_id: user.clone(),
            session_id: session.clone(),
            results: page.results,
            ranker: query
                .as_ref()
                .and_then(|q| q.ranker.clone())
                .unwrap_or_else(|| "unknown".into()),
            arm: query.as_ref().and_then(|q| q.arm.clone()),
            partial: partial || query.as_ref().is_some_and(|q| q.partial),
            generation: query.as_ref().and_then(|q| q.generation),
        }));
    }
    out.extend(converted.into_iter().map(|(_, e)| e));
}

/// The share of a query's impression events whose document is where a hit
/// list of the query puts it, reading ordinals with `base` (the best list).
fn hit_agreement(q: &RawQuery, events: &[RawEvent], base: i64) -> f64 {
    let shown: Vec<(i64, &str)> = events
        .iter()
        .filter(|e| kind(&e.action) == Kind::Impression)
        .filter_map(|e| Some((e.ordinal?, e.object_id.as_deref()?)))
        .collect();
    if shown.is_empty() {
        return 0.0;
    }
    q.responses
        .iter()
        .map(|(_, hits)| {
            let hit = |&&(o, d): &&(i64, &str)| {
                usize::try_from(o - base)
                    .ok()
                    .and_then(|i| hits.get(i))
                    .is_some_and(|h| h == d)
            };
            shown.iter().filter(hit).count() as f64 / shown.len() as f64
        })
        .fold(0.0, f64::max)
}

/// The other ordinal base when a query's impression events match its own
/// `query_response_hit_ids` under it (at least 80 %) and not under the
/// application's (under half): some clients changed their convention between
/// releases (Chorus's log has both). `None` keeps the application's base.
fn other_base_fits(q: &RawQuery, events: &[RawEvent], base: i64) -> Option<i64> {
    let other = 1 - base;
    (hit_agreement(q, events, base) < 0.5 && hit_agreement(q, events, other) >= 0.8)
        .then_some(other)
}

/// A 1-based position from an ordinal of the given base, if it is one.
fn position(ordinal: i64, base: i64) -> Option<u32> {
    u32::try_from(ordinal - base + 1).ok().filter(|p| *p >= 1)
}

/// The ranked list of a query's `impression` events: at their ordinals (in
/// event order after the last one where an event has none); a document
/// shown twice keeps its first position, a position taken twice its first
/// document.
fn from_impression_events(
    shown: &[&RawEvent],
    base: i64,
    report: &mut UbiReport,
) -> Vec<ImpressedDoc> {
    let mut out: Vec<ImpressedDoc> = Vec::new();
    let mut docs: HashSet<&str> = HashSet::new();
    let mut taken: HashSet<u32> = HashSet::new();
    let mut unplaced = Vec::new();
    for e in shown {
        let Some(doc) = e.object_id.as_deref() else {
            report.skip_event(&e.action, "no object_id", &e.at);
            continue;
        };
        match e.ordinal.map(|o| (o, position(o, base))) {
            Some((_, Some(p))) => {
                if docs.contains(doc) {
                    report.skip_event(&e.action, "a document already shown on the page", &e.at);
                } else if !taken.insert(p) {
                    report.skip_event(
                        &e.action,
                        "a position already taken by another document",
                        &e.at,
                    );
                } else {
                    docs.insert(doc);
                    out.push(ImpressedDoc {
                        doc: DocId(doc.to_owned()),
                        position: p,
                        propensity: e.propensity.filter(|p| *p > 0.0 && *p <= 1.0),
                        team: None,
                    });
                }
            }
            Some((o, None)) => report.skip_event(
                &e.action,
                format!("ordinal {o} is below the application's base ({base})"),
                &e.at,
            ),
            None => unplaced.push((doc, e)),
        }
    }
    out.sort_by_key(|r| r.position);
    for (doc, e) in unplaced {
        if docs.insert(doc) {
            let p = out.last().map_or(1, |r| r.position + 1);
            out.push(ImpressedDoc {
                doc: DocId(doc.to_owned()),
                position: p,
                propensity: e.propensity.filter(|p| *p > 0.0 && *p <= 1.0),
                team: None,
            });
        } else {
            report.skip_event(&e.action, "a document already shown on the page", &e.at);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn click(
    e: &RawEvent,
    doc: String,
    request_id: RequestId,
    page: &Page,
    user: &UserId,
    session: &SessionId,
    base: i64,
    report: &mut UbiReport,
) -> Option<InteractionEvent> {
    let position = match e.ordinal {
        Some(o) => match position(o, base) {
            Some(p) => p,
            None => {
                report.skip_event(
                    &e.action,
                    format!("ordinal {o} is below the application's base ({base}); see --ubi-ordinal-base"),
                    &e.at,
                );
                return None;
            }
        },
        None => match page.results.iter().find(|r| r.doc.0 == doc) {
            Some(r) => r.position,
            None => {
                report.skip_event(
                    &e.action,
                    "no position, and its query's results do not show the document",
                    &e.at,
                );
                return None;
            }
        },
    };
    *report.converted.entry("clicks").or_default() += 1;
    Some(InteractionEvent::Click(Click {
        event_id: event_id(e),
        timestamp: e.timestamp,
        request_id,
        user_id: user.clone(),
        session_id: session.clone(),
        doc: DocId(doc),
        position,
    }))
}

fn product_event(
    e: &RawEvent,
    doc: String,
    request_id: Option<RequestId>,
    user: UserId,
    session: SessionId,
    report: &mut UbiReport,
) -> Option<InteractionEvent> {
    let quantity = match e.quantity {
        None => 1,
        Some(q) => match u32::try_from(q) {
            Ok(q) if q >= 1 => q,
            _ => {
                report.skip_event(
                    &e.action,
                    format!("quantity {q} is not a whole number >= 1"),
                    &e.at,
                );
                return None;
            }
        },
    };
    if kind(&e.action) == Kind::AddToCart {
        *report.converted.entry("add-to-carts").or_default() += 1;
        return Some(InteractionEvent::AddToCart(AddToCart {
            event_id: event_id(e),
            timestamp: e.timestamp,
            request_id,
            user_id: user,
            session_id: session,
            doc: DocId(doc),
            quantity,
        }));
    }
    let unit_price = match e.price {
        Some(p) if p >= 0.0 => p,
        Some(p) => {
            report.skip_event(&e.action, format!("price {p} is negative"), &e.at);
            return None;
        }
        None => {
            report.purchases_without_price += 1;
            0.0
        }
    };
    *report.converted.entry("purchases").or_default() += 1;
    Some(InteractionEvent::Purchase(Purchase {
        event_id: event_id(e),
        timestamp: e.timestamp,
        request_id,
        user_id: user,
        session_id: session,
        doc: DocId(doc),
        quantity,
        unit_price,
    }))
}
