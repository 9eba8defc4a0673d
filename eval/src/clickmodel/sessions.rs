//! Result pages and their clicks, from an interaction log.

use std::collections::HashMap;

use hyrank_data::{InteractionEvent, RequestId};
use serde::Serialize;

use super::ClickSession;

/// What [`sessions_from_events`] found, so that nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionReport {
    /// Impressions read.
    pub impressions: u64,
    /// Pages used (full pages with at least one result).
    pub sessions: u64,
    /// Impressions left out because they list only acted-on documents
    /// (`partial`: imported logs that did not record the page).
    pub partial: u64,
    /// Clicks read.
    pub clicks: u64,
    /// Clicks whose page is not in the log (left out, counted here).
    pub orphan_clicks: u64,
    /// Clicks at a position the page does not have or on another document
    /// than the page shows there (left out, counted here).
    pub mismatched_clicks: u64,
}

/// One [`ClickSession`] per full impression (in log order), its clicks
/// joined by request id and position, cut to the top `max_rank` ranks
/// (0: no cut). A repeated click on the same result counts once.
pub fn sessions_from_events(
    events: &[InteractionEvent],
    max_rank: usize,
) -> (Vec<ClickSession>, SessionReport) {
    let mut report = SessionReport::default();
    let mut sessions = Vec::new();
    let mut by_request: HashMap<&RequestId, usize> = HashMap::new();
    for e in events {
        if let InteractionEvent::Impression(i) = e {
            report.impressions += 1;
            if i.partial {
                report.partial += 1;
                continue;
            }
            if i.results.is_empty() {
                continue;
            }
            let mut results: Vec<_> = i.results.iter().collect();
            results.sort_by_key(|r| r.position);
            let n = if max_rank == 0 {
                results.len()
            } else {
                results.len().min(max_rank)
            };
            by_request.insert(&i.request_id, sessions.len());
            sessions.push(ClickSession {
                query: i
                    .query_id
                    .as_ref()
                    .map_or_else(|| i.query.clone(), |q| q.0.clone()),
                docs: results[..n].iter().map(|r| r.doc.0.clone()).collect(),
                clicks: vec![false; n],
            });
        }
    }
    for e in events {
        if let InteractionEvent::Click(c) = e {
            report.clicks += 1;
            let Some(&s) = by_request.get(&c.request_id) else {
                report.orphan_clicks += 1;
                continue;
            };
            let s = &mut sessions[s];
            let r = c.position as usize;
            if r >= 1 && r <= s.docs.len() && s.docs[r - 1] == c.doc.0 {
                s.clicks[r - 1] = true;
            } else if max_rank == 0 || r <= max_rank {
                report.mismatched_clicks += 1;
            }
        }
    }
    report.sessions = sessions.len() as u64;
    (sessions, report)
}
