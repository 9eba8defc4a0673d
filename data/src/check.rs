//! Consistency of a data folder's interaction log, stated and checked.
//!
//! The rules ([`Rule`]), each counted with its first places (`file:line`):
//! - every click, add-to-cart and purchase with a `request_id` refers to an
//!   impression (else it is an *orphan*), and to a document shown in it; a
//!   click at the position the impression shows it at;
//! - no event before its impression;
//! - an event is in its impression's session and of its impression's user;
//! - event ids are unique, and so are impressions' request ids;
//! - an impression shows a document once and a position once;
//! - per position, clicks ≤ impressions that showed that position (CTR ≤ 1);
//! - where the folder has a catalogue, every document an event names is in it.
//!
//! Add-to-carts and purchases without a `request_id` are counted as
//! unattributed, not as violations. Partial impressions (imported logs that
//! only know what was clicked) are checked like the others.
//!
//! [`check_dir`] is what `hyrank data check` runs; `data stats` runs it and
//! warns; `data convert` prints its summary of what it wrote.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Location, Result};
use crate::formats::ndjson::read_catalog;
use crate::log::LogReader;
use crate::time::Timestamp;
use crate::types::InteractionEvent;

/// One consistency rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A click, add-to-cart or purchase whose `request_id` names no impression.
    Orphan,
    /// The event's document is not in its impression's results.
    NotShown,
    /// A click's position is not the one its impression shows the document at.
    WrongPosition,
    /// The event is older than its impression.
    BeforeImpression,
    /// The event's session is not its impression's.
    OtherSession,
    /// The event's user is not its impression's.
    OtherUser,
    /// An event id seen before.
    DuplicateEventId,
    /// A second impression with the same request id.
    DuplicateRequestId,
    /// An impression that shows a document twice or two documents at one position.
    RepeatedResult,
    /// More clicks at a position than impressions showing it.
    CtrAboveOne,
    /// A document that the folder's catalogue does not have.
    UnknownDocument,
}

impl Rule {
    /// The rule in words.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Orphan => "refers to no impression (orphan)",
            Rule::NotShown => "document not shown in its impression",
            Rule::WrongPosition => {
                "click position differs from the document's position in its impression"
            }
            Rule::BeforeImpression => "event before its impression",
            Rule::OtherSession => "session differs from its impression's",
            Rule::OtherUser => "user differs from its impression's",
            Rule::DuplicateEventId => "duplicate event id",
            Rule::DuplicateRequestId => "duplicate request id (two impressions)",
            Rule::RepeatedResult => "impression shows a document or a position twice",
            Rule::CtrAboveOne => "more clicks than impressions at a position (CTR > 1)",
            Rule::UnknownDocument => "document not in catalog.ndjson",
        }
    }
}

/// Violations of one rule: how many, and the first few with details.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Violations {
    /// How many.
    pub count: u64,
    /// The first few: where, and what.
    pub examples: Vec<(String, String)>,
}

/// What [`check_dir`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Events read.
    pub events: u64,
    /// Impressions among them.
    pub impressions: u64,
    /// Partial impressions among those.
    pub partial_impressions: u64,
    /// Add-to-carts and purchases without a request id.
    pub unattributed: u64,
    /// Clicks / impressions per 1-based position, for every position shown.
    pub ctr_at_position: Vec<f64>,
    /// Violations by rule.
    pub violations: BTreeMap<Rule, Violations>,
}

const EXAMPLES: usize = 5;

impl CheckReport {
    fn violate(&mut self, rule: Rule, at: &Location, detail: impl Into<String>) {
        let v = self.violations.entry(rule).or_default();
        v.count += 1;
        if v.examples.len() < EXAMPLES {
            v.examples.push((at.to_string(), detail.into()));
        }
    }

    /// Total violations.
    pub fn violation_count(&self) -> u64 {
        self.violations.values().map(|v| v.count).sum()
    }

    /// True when no rule is violated.
    pub fn is_consistent(&self) -> bool {
        self.violations.is_empty()
    }

    /// One line: what was read, and whether it is consistent.
    pub fn headline(&self) -> String {
        format!(
            "log check: {} events, {} impressions ({} partial), {} unattributed add-to-carts/purchases: {}",
            self.events,
            self.impressions,
            self.partial_impressions,
            self.unattributed,
            if self.is_consistent() {
                "consistent".to_owned()
            } else {
                format!("{} violations", self.violation_count())
            }
        )
    }

    /// The headline, then one line a violated rule with its first example.
    pub fn summary(&self) -> String {
        let mut o = self.headline();
        o.push('\n');
        for (rule, v) in &self.violations {
            let (at, what) = v.examples.first().cloned().unwrap_or_default();
            let _ = writeln!(o, "  {} × {}: e.g. {at}: {what}", v.count, rule.describe());
        }
        o
    }

    /// Every violation's examples, for `data check`.
    pub fn details(&self) -> String {
        let mut o = String::new();
        for (rule, v) in &self.violations {
            let _ = writeln!(o, "{} ({}):", rule.describe(), v.count);
            for (at, what) in &v.examples {
                let _ = writeln!(o, "  {at}: {what}");
            }
            if v.count > v.examples.len() as u64 {
                let _ = writeln!(o, "  ... and {} more", v.count - v.examples.len() as u64);
            }
        }
        o
    }
}

struct Page {
    at: Location,
    timestamp: Timestamp,
    session: String,
    user: String,
    shown: HashMap<String, u32>,
}

struct Act {
    at: Location,
    kind: &'static str,
    request: Option<String>,
    timestamp: Timestamp,
    session: String,
    user: String,
    doc: String,
    position: Option<u32>,
}

/// Checks the log folder `events` (and, when given, the documents against
/// the catalogue's ids).
pub fn check_log(events: &Path, catalog: Option<&Path>) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    let mut pages: HashMap<String, Page> = HashMap::new();
    let mut acts: Vec<Act> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let (mut shown_at, mut clicked_at) = (Vec::<u64>::new(), Vec::<u64>::new());
    let mut reader = LogReader::open(events)?;
    while let Some(next) = reader.next_located() {
        let (at, e) = next?;
        r.events += 1;
        if !ids.insert(e.event_id().0.clone()) {
            r.violate(Rule::DuplicateEventId, &at, format!("`{}`", e.event_id()));
        }
        match e {
            InteractionEvent::Impression(i) => {
                r.impressions += 1;
                r.partial_impressions += u64::from(i.partial);
                let mut shown = HashMap::new();
                let mut positions = HashSet::new();
                for d in &i.results {
                    let p = d.position as usize;
                    if shown_at.len() < p {
                        shown_at.resize(p, 0);
                    }
                    shown_at[p - 1] += 1;
                    if shown.insert(d.doc.0.clone(), d.position).is_some()
                        || !positions.insert(d.position)
                    {
                        r.violate(
                            Rule::RepeatedResult,
                            &at,
                            format!(
                                "`{}` at position {} of request `{}`",
                                d.doc, d.position, i.request_id
                            ),
                        );
                    }
                }
                let page = Page {
                    at: at.clone(),
                    timestamp: i.timestamp,
                    session: i.session_id.0,
                    user: i.user_id.0,
                    shown,
                };
                if let Some(first) = pages.get(&i.request_id.0) {
                    let first_at = first.at.to_string();
                    r.violate(
                        Rule::DuplicateRequestId,
                        &at,
                        format!("`{}` (first at {first_at})", i.request_id),
                    );
                } else {
                    pages.insert(i.request_id.0, page);
                }
            }
            other => {
                let (position, request) = match &other {
                    InteractionEvent::Click(c) => {
                        let p = c.position as usize;
                        if clicked_at.len() < p {
                            clicked_at.resize(p, 0);
                        }
                        clicked_at[p - 1] += 1;
                        (Some(c.position), Some(c.request_id.0.clone()))
                    }
                    InteractionEvent::AddToCart(a) => {
                        (None, a.request_id.as_ref().map(|q| q.0.clone()))
                    }
                    InteractionEvent::Purchase(p) => {
                        (None, p.request_id.as_ref().map(|q| q.0.clone()))
                    }
                    InteractionEvent::Impression(_) => (None, None),
                };
                if request.is_none() {
                    r.unattributed += 1;
                }
                acts.push(Act {
                    at,
                    kind: other.kind(),
                    request,
                    timestamp: other.timestamp(),
                    session: other.session_id().0.clone(),
                    user: other.user_id().0.clone(),
                    doc: other.doc().map(|d| d.0.clone()).unwrap_or_default(),
                    position,
                });
            }
        }
    }
    drop(ids);
    let catalogue: Option<HashSet<String>> = match catalog {
        Some(c) => {
            let mut set = HashSet::new();
            for p in read_catalog(c)? {
                set.insert(p?.id.0);
            }
            Some(set)
        }
        None => None,
    };
    for a in &acts {
        if let Some(cat) = &catalogue {
            if !cat.contains(&a.doc) {
                r.violate(
                    Rule::UnknownDocument,
                    &a.at,
                    format!("{} of `{}`", a.kind, a.doc),
                );
            }
        }
        let Some(req) = &a.request else { continue };
        let Some(page) = pages.get(req) else {
            r.violate(
                Rule::Orphan,
                &a.at,
                format!("{} of `{}` names request `{req}`", a.kind, a.doc),
            );
            continue;
        };
        match (page.shown.get(&a.doc), a.position) {
            (None, _) => r.violate(
                Rule::NotShown,
                &a.at,
                format!(
                    "{} of `{}`; request `{req}` ({}) does not show it",
                    a.kind, a.doc, page.at
                ),
            ),
            (Some(&shown), Some(p)) if shown != p => r.violate(
                Rule::WrongPosition,
                &a.at,
                format!(
                    "click of `{}` at position {p}; request `{req}` ({}) shows it at {shown}",
                    a.doc, page.at
                ),
            ),
            _ => {}
        }
        if a.timestamp < page.timestamp {
            r.violate(
                Rule::BeforeImpression,
                &a.at,
                format!(
                    "{} at {} before request `{req}` at {} ({})",
                    a.kind, a.timestamp, page.timestamp, page.at
                ),
            );
        }
        if a.session != page.session {
            r.violate(
                Rule::OtherSession,
                &a.at,
                format!(
                    "{} in session `{}`; request `{req}` is in `{}`",
                    a.kind, a.session, page.session
                ),
            );
        }
        if a.user != page.user {
            r.violate(
                Rule::OtherUser,
                &a.at,
                format!(
                    "{} by `{}`; request `{req}` was served to `{}`",
                    a.kind, a.user, page.user
                ),
            );
        }
    }
    let log_at = Location::new(events, 0);
    r.ctr_at_position = shown_at
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let c = clicked_at.get(i).copied().unwrap_or(0);
            if n == 0 {
                0.0
            } else {
                c as f64 / n as f64
            }
        })
        .collect();
    for (i, &c) in clicked_at.iter().enumerate() {
        let n = shown_at.get(i).copied().unwrap_or(0);
        if c > n {
            r.violate(
                Rule::CtrAboveOne,
                &log_at,
                format!("position {}: {c} clicks, {n} impressions showing it", i + 1),
            );
        }
    }
    Ok(r)
}

/// True when `dir` holds any of hyrank's data files.
pub fn has_hyrank_files(dir: &Path) -> bool {
    [
        "catalog.ndjson",
        "queries.tsv",
        "queries.jsonl",
        "qrels.trec",
        "events",
    ]
    .iter()
    .any(|n| dir.join(n).exists())
}

/// Checks the data folder `dir`: its `events/` log, against its
/// `catalog.ndjson` when there is one. A folder without hyrank files is an
/// error; a folder without a log has nothing to check (`None`).
pub fn check_dir(dir: &Path) -> Result<Option<CheckReport>> {
    crate::fsio::settle(dir)?;
    if !has_hyrank_files(dir) {
        return Err(no_hyrank_files(dir));
    }
    let events = dir.join("events");
    if !events.is_dir() {
        return Ok(None);
    }
    let catalog = dir.join("catalog.ndjson");
    check_log(&events, catalog.exists().then_some(catalog.as_path())).map(Some)
}

/// The error for a folder that holds no hyrank data.
pub fn no_hyrank_files(dir: &Path) -> Error {
    Error::InvalidArgument(format!(
        "{}: no hyrank data files here (catalog.ndjson, queries.tsv, qrels.trec, events/); convert a data set with `hyrank data convert` or make one with `hyrank data generate`",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EventLog, LogConfig};
    use crate::types::{Click, ImpressedDoc, Impression, Purchase};

    fn imp(id: &str, ts: i64, docs: &[(&str, u32)]) -> InteractionEvent {
        InteractionEvent::Impression(Impression {
            event_id: format!("I{id}-{ts}").into(),
            timestamp: Timestamp(ts),
            request_id: id.into(),
            query_id: None,
            query: "q".into(),
            user_id: "u".into(),
            session_id: "s".into(),
            results: docs
                .iter()
                .map(|(d, p)| ImpressedDoc {
                    doc: (*d).into(),
                    position: *p,
                    propensity: None,
                    team: None,
                })
                .collect(),
            ranker: "r".into(),
            arm: None,
            partial: false,
            generation: None,
        })
    }

    fn click(id: &str, req: &str, ts: i64, doc: &str, pos: u32, session: &str) -> InteractionEvent {
        InteractionEvent::Click(Click {
            event_id: id.into(),
            timestamp: Timestamp(ts),
            request_id: req.into(),
            user_id: "u".into(),
            session_id: session.into(),
            doc: doc.into(),
            position: pos,
        })
    }

    #[test]
    fn each_rule_is_found_and_located() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path().join("events"), LogConfig::default()).unwrap();
        let events = vec![
            imp("R1", 1_000, &[("A", 1), ("B", 2)]),
            click("C1", "R1", 2_000, "B", 2, "s"),   // fine
            click("C2", "R1", 2_100, "B", 1, "s"),   // wrong position
            click("C3", "R1", 2_200, "Z", 3, "s"),   // not shown
            click("C4", "R9", 2_300, "A", 1, "s"),   // orphan
            click("C5", "R1", 500, "A", 1, "s"),     // before its impression
            click("C6", "R1", 2_400, "A", 1, "x"),   // other session
            click("C6", "R1", 2_500, "A", 1, "s"),   // duplicate id
            imp("R1", 3_000, &[("A", 1), ("A", 2)]), // duplicate request, repeated doc
            InteractionEvent::Purchase(Purchase {
                event_id: "P1".into(),
                timestamp: Timestamp(4_000),
                request_id: None,
                user_id: "u".into(),
                session_id: "s".into(),
                doc: "A".into(),
                quantity: 1,
                unit_price: 1.0,
            }),
        ];
        log.append_batch(&events).unwrap();
        log.close().unwrap();
        let r = check_dir(dir.path()).unwrap().unwrap();
        assert_eq!((r.events, r.impressions, r.unattributed), (10, 2, 1));
        for (rule, n) in [
            (Rule::WrongPosition, 1),
            (Rule::NotShown, 1),
            (Rule::Orphan, 1),
            (Rule::BeforeImpression, 1),
            (Rule::OtherSession, 1),
            (Rule::DuplicateEventId, 1),
            (Rule::DuplicateRequestId, 1),
            (Rule::RepeatedResult, 1),
        ] {
            assert_eq!(
                r.violations.get(&rule).map(|v| v.count),
                Some(n),
                "{rule:?}: {}",
                r.details()
            );
        }
        // Position 1: 5 clicks, shown by 2 impressions; position 3: 1 click, never shown.
        assert_eq!(r.violations[&Rule::CtrAboveOne].count, 2, "{}", r.details());
        let (at, what) = &r.violations[&Rule::WrongPosition].examples[0];
        assert!(at.ends_with("segment-0000000001.ndjson:3"), "{at}");
        assert!(what.contains("shows it at 2"), "{what}");
        assert!(r.summary().contains("violations"));

        std::fs::write(
            dir.path().join("catalog.ndjson"),
            "{\"id\":\"A\",\"title\":\"a\"}\n{\"id\":\"B\",\"title\":\"b\"}\n",
        )
        .unwrap();
        let r = check_dir(dir.path()).unwrap().unwrap();
        assert_eq!(
            r.violations[&Rule::UnknownDocument].count,
            1,
            "Z is not in the catalogue"
        );

        let empty = tempfile::tempdir().unwrap();
        let err = check_dir(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no hyrank data files"), "{err}");
    }
}
