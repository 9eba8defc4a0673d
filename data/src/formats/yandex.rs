//! Yandex click logs, the public format click-model research uses.
//!
//! Two layouts, told apart by their records (tab-separated):
//!
//! - **Relevance Prediction Challenge** (WSCD 2011; what PyClick's
//!   `YandexRelPredChallengeParser` reads):
//!   `SessionID TimePassed Q QueryID RegionID URL1 URL2 ...` for a query and
//!   its ranked list, `SessionID TimePassed C URLID` for a click.
//! - **Personalized Web Search Challenge** (WSCD 2013, Kaggle):
//!   `SessionID M Day USERID` opens a session, `SessionID TimePassed Q|T
//!   SERPID QueryID TermIDs URL,Domain ...` is a page, `SessionID TimePassed
//!   C SERPID URLID` a click on it.
//!
//! Each query record becomes an [`Impression`] (request id
//! `<session>-<n>`, the query id as [`QueryId`], positions 1..n in list
//! order, ranker `yandex`) and each click a [`Click`] on the latest page of
//! its session that shows the URL (the 2011 layout names no page; PyClick
//! looks only at the latest, which misses clicks after a return to an
//! earlier page), or on its SERP (2013). The logs carry no query text: the
//! text is the query id (2011) or the term ids joined by spaces (2013). They
//! carry no user in 2011: the user is the session. Time is relative:
//! `TimePassed` counts as milliseconds (the unit is undisclosed); sessions
//! follow one another from 2011-01-01T00:00:00Z, each starting a minute
//! after the previous one ended (2013: at the start of its `Day`).
//!
//! A record that cannot be used (wrong field count, a click on a URL its
//! session never showed, a click before any query) is counted with its
//! first places and left out; it never fails the file. A file with no usable
//! record is an error.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::Lines;
use crate::error::{Error, Location, Result};
use crate::time::{Timestamp, DAY_MS};
use crate::types::{
    Click, DocId, EventId, ImpressedDoc, Impression, InteractionEvent, QueryId, RequestId,
    SessionId, UserId,
};

/// Which Yandex layout a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YandexLayout {
    /// Relevance Prediction Challenge (2011): `Q` and `C` records.
    RelevancePrediction,
    /// Personalized Web Search Challenge (2013): `M`, `Q`/`T` and `C` records with SERP ids.
    Personalized,
}

/// What [`read_yandex`] read and left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YandexReport {
    /// The layout found.
    pub layout: Option<YandexLayout>,
    /// Sessions.
    pub sessions: u64,
    /// Query records turned into impressions.
    pub impressions: u64,
    /// Click records turned into clicks.
    pub clicks: u64,
    /// Records left out, by reason: count and first places.
    pub skipped: BTreeMap<String, (u64, Vec<Location>)>,
}

impl YandexReport {
    fn skip(&mut self, reason: impl Into<String>, at: Location) {
        let e = self.skipped.entry(reason.into()).or_default();
        e.0 += 1;
        if e.1.len() < 3 {
            e.1.push(at);
        }
    }

    /// The report as lines of text.
    pub fn lines(&self) -> Vec<String> {
        let layout = match self.layout {
            Some(YandexLayout::RelevancePrediction) => "relevance-prediction (2011) layout",
            Some(YandexLayout::Personalized) => "personalized-search (2013) layout",
            None => "no layout recognised",
        };
        let mut out = vec![format!(
            "Yandex: {layout}: {} sessions, {} impressions, {} clicks",
            self.sessions, self.impressions, self.clicks
        )];
        for (reason, (n, at)) in &self.skipped {
            let at: Vec<String> = at.iter().map(ToString::to_string).collect();
            out.push(format!(
                "Yandex: {n} records left out: {reason} (e.g. {})",
                at.join(", ")
            ));
        }
        out
    }
}

/// The clock of the log: 2011-01-01 plus relative times.
const EPOCH_2011: i64 = 1_293_840_000_000;
/// Gap between one session's last event and the next session's start.
const SESSION_GAP_MS: i64 = 60_000;

struct Session {
    id: String,
    user: String,
    start: i64,
    /// Impressions of the session: (request id, serp id, urls) in order.
    pages: Vec<(RequestId, Option<String>, Vec<String>)>,
    last: i64,
}

/// Reads a Yandex click log (either layout; see the module docs).
pub fn read_yandex(path: &Path) -> Result<(Vec<InteractionEvent>, YandexReport)> {
    let mut lines = Lines::open(path)?;
    let mut report = YandexReport::default();
    let mut out = Vec::new();
    let mut session: Option<Session> = None;
    let mut next_start = EPOCH_2011;
    let mut users: HashMap<String, (String, i64)> = HashMap::new(); // 2013: session -> (user, day)
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let at = lines.location();
        let f: Vec<&str> = line.trim_end().split('\t').map(str::trim).collect();
        if f.iter().all(|c| c.is_empty()) {
            continue;
        }
        if f.len() >= 4 && f[1] == "M" {
            report.layout = Some(YandexLayout::Personalized);
            let day: i64 = match f[2].parse() {
                Ok(d) => d,
                Err(_) => {
                    report.skip("session record with a non-numeric Day", at);
                    continue;
                }
            };
            users.insert(f[0].to_owned(), (f[3].to_owned(), day));
            continue;
        }
        if f.len() < 3 {
            report.skip("fewer than 3 fields", at);
            continue;
        }
        let Ok(passed) = f[1].parse::<i64>() else {
            report.skip(
                "TimePassed is not a whole number",
                at.column(f[0].chars().count() as u64 + 2),
            );
            continue;
        };
        let personalized = report.layout == Some(YandexLayout::Personalized);
        // A new session: close the previous one.
        if session.as_ref().is_none_or(|s| s.id != f[0]) {
            if let Some(s) = session.take() {
                next_start = s.last + SESSION_GAP_MS;
            }
            let (user, start) = match users.get(f[0]) {
                Some((u, day)) => (u.clone(), EPOCH_2011 + day * DAY_MS),
                None => (f[0].to_owned(), next_start),
            };
            report.sessions += 1;
            session = Some(Session {
                id: f[0].to_owned(),
                user,
                start,
                pages: Vec::new(),
                last: start,
            });
        }
        let Some(s) = session.as_mut() else { continue };
        let t = s.start + passed.max(0);
        s.last = s.last.max(t);
        match f[2] {
            "Q" | "T" => {
                let (serp, query_id, text, urls): (Option<String>, &str, String, Vec<String>) =
                    if personalized {
                        if f.len() < 7 {
                            report
                                .skip("a query record with fewer than 7 fields (2013 layout)", at);
                            continue;
                        }
                        let urls = f[6..]
                            .iter()
                            .filter(|u| !u.is_empty())
                            .map(|u| u.split(',').next().unwrap_or(u).to_owned())
                            .collect();
                        (Some(f[3].to_owned()), f[4], f[5].replace(',', " "), urls)
                    } else {
                        if f.len() < 6 {
                            report.skip("a query record with fewer than 6 fields (SessionID TimePassed Q QueryID RegionID URLs)", at);
                            continue;
                        }
                        report
                            .layout
                            .get_or_insert(YandexLayout::RelevancePrediction);
                        let urls = f[5..]
                            .iter()
                            .filter(|u| !u.is_empty())
                            .map(|u| (*u).to_owned())
                            .collect();
                        (None, f[3], f[3].to_owned(), urls)
                    };
                let request_id = RequestId(format!("{}-{}", s.id, s.pages.len() + 1));
                out.push(InteractionEvent::Impression(Impression {
                    event_id: EventId(format!("yandex-{}", at.line)),
                    timestamp: Timestamp(t),
                    request_id: request_id.clone(),
                    query_id: Some(QueryId(query_id.to_owned())),
                    query: text,
                    user_id: UserId(s.user.clone()),
                    session_id: SessionId(s.id.clone()),
                    results: urls
                        .iter()
                        .enumerate()
                        .map(|(i, u)| ImpressedDoc {
                            doc: DocId(u.clone()),
                            position: i as u32 + 1,
                            propensity: None,
                            team: None,
                        })
                        .collect(),
                    ranker: "yandex".into(),
                    arm: None,
                    partial: false,
                    generation: None,
                }));
                report.impressions += 1;
                s.pages.push((request_id, serp, urls));
            }
            "C" => {
                let (serp, url) = match (personalized, f.len()) {
                    (true, 5..) => (Some(f[3]), f[4]),
                    (false, 4..) => (None, f[3]),
                    _ => {
                        report.skip("a click record with too few fields", at);
                        continue;
                    }
                };
                let page = s.pages.iter().rev().find(|(_, sid, urls)| match serp {
                    Some(id) => sid.as_deref() == Some(id),
                    None => urls.iter().any(|u| u == url),
                });
                let Some((request_id, _, urls)) = page else {
                    let why = if s.pages.is_empty() {
                        "a click before any query of its session"
                    } else if serp.is_some() {
                        "a click on a SERP id its session never showed"
                    } else {
                        "a click on a URL no page of its session showed"
                    };
                    report.skip(why, at);
                    continue;
                };
                let Some(i) = urls.iter().position(|u| u == url) else {
                    report.skip("a click on a URL its SERP did not show", at);
                    continue;
                };
                out.push(InteractionEvent::Click(Click {
                    event_id: EventId(format!("yandex-{}", at.line)),
                    timestamp: Timestamp(t),
                    request_id: request_id.clone(),
                    user_id: UserId(s.user.clone()),
                    session_id: SessionId(s.id.clone()),
                    doc: DocId(url.to_owned()),
                    position: i as u32 + 1,
                }));
                report.clicks += 1;
            }
            other => report.skip(
                format!("unknown record type `{other}` (Q, T, C or M)"),
                at.column(f[0].chars().count() as u64 + f[1].chars().count() as u64 + 3),
            ),
        }
    }
    if report.impressions == 0 {
        let first = report
            .skipped
            .iter()
            .next()
            .map(|(r, (_, at))| format!(": {r} at {}", at[0]))
            .unwrap_or_default();
        return Err(Error::InvalidArgument(format!(
            "{}: no Yandex query records (`SessionID TimePassed Q QueryID RegionID URLs...`){first}",
            path.display()
        )));
    }
    out.sort_by_key(InteractionEvent::timestamp);
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_prediction_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.txt");
        // Two sessions; the second clicks back on its first page's URL; a
        // click on a URL never shown; a broken record; CRLF line ends.
        std::fs::write(
            &p,
            "0\t0\tQ\t10509\t0\t2405\t1077\t3106\r\n0\t78\tC\t1077\r\n0\t99\tC\t1077\r\n\
             1\t0\tQ\t7\t225\t55\t66\n1\t40\tQ\t8\t225\t77\t88\n1\t90\tC\t55\n1\t95\tC\t999\n1\tx\tC\t55\n",
        )
        .unwrap();
        let (events, report) = read_yandex(&p).unwrap();
        assert_eq!(report.layout, Some(YandexLayout::RelevancePrediction));
        assert_eq!(
            (report.sessions, report.impressions, report.clicks),
            (2, 3, 3)
        );
        let clicks: Vec<(&str, &str, u32)> = events
            .iter()
            .filter_map(|e| match e {
                InteractionEvent::Click(c) => {
                    Some((c.request_id.as_str(), c.doc.as_str(), c.position))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            clicks,
            [("0-1", "1077", 2), ("0-1", "1077", 2), ("1-1", "55", 1)]
        );
        assert_eq!(report.skipped.len(), 2, "{:?}", report.skipped);
        let (_, at) = &report.skipped["TimePassed is not a whole number"];
        assert_eq!((at[0].line, at[0].column), (8, Some(3)));
        // Sessions follow each other in file order.
        let t: Vec<i64> = events.iter().map(|e| e.timestamp().0).collect();
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(events[0].timestamp().0, EPOCH_2011);
        assert!(read_yandex(&dir.path().join("nope")).is_err());
        std::fs::write(&p, "hello\tworld\n").unwrap();
        let err = read_yandex(&p).unwrap_err().to_string();
        assert!(err.contains("no Yandex query records"), "{err}");
    }

    #[test]
    fn personalized_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train");
        std::fs::write(
            &p,
            "744899\tM\t23\t123123123\n\
             744899\t0\tQ\t0\t192902\t4857,3847,2939\t632428,2384\t309585,28374\t319567,38724\n\
             744899\t1403\tC\t0\t309585\n\
             744899\t1500\tC\t4\t1\n",
        )
        .unwrap();
        let (events, report) = read_yandex(&p).unwrap();
        assert_eq!(report.layout, Some(YandexLayout::Personalized));
        let InteractionEvent::Impression(i) = &events[0] else {
            panic!()
        };
        assert_eq!(i.user_id.as_str(), "123123123");
        assert_eq!(i.query, "4857 3847 2939");
        assert_eq!(
            i.results.iter().map(|r| r.doc.as_str()).collect::<Vec<_>>(),
            ["632428", "309585", "319567"]
        );
        assert_eq!(i.timestamp.0, EPOCH_2011 + 23 * DAY_MS);
        let InteractionEvent::Click(c) = &events[1] else {
            panic!()
        };
        assert_eq!(
            (c.doc.as_str(), c.position, c.timestamp.0 - i.timestamp.0),
            ("309585", 2, 1403)
        );
        assert_eq!(report.skipped.values().map(|s| s.0).sum::<u64>(), 1);
    }
}
