//! Credit for interleaving served online: the search API's interleaved
//! pages (impressions whose `ranker` is `interleave:<method>:<a>,<b>,...`
//! and whose every result carries its `team`) and the clicks and purchases
//! logged against them, joined by request id.
//!
//! A page's credit per ranker is its events on the results that ranker
//! contributed ([`team_credit`]); the page goes to the ranker with the most
//! credit, or is a tie (no event, or an even split); two rankers are
//! compared by the sign test over the pages won, as offline.

use std::collections::{BTreeMap, HashMap};

use hyrank_data::InteractionEvent;
use hyrank_eval::interleaving::{team_credit, Tally};
use serde::Serialize;

use crate::interleave::Credit;

/// The prefix of an interleaved page's `ranker`.
pub const INTERLEAVED_PREFIX: &str = "interleave:";

/// One online experiment: a method and its rankers, in team order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineResult {
    /// `team-draft`.
    pub method: String,
    /// The rankers; a result's `team` indexes this list.
    pub rankers: Vec<String>,
    /// `clicks` or `purchases`.
    pub credit: String,
    /// Interleaved pages logged.
    pub pages: u64,
    /// Pages each ranker won (more credit than every other ranker).
    pub wins: Vec<u64>,
    /// Pages no ranker won: no event, or the most credit shared.
    pub ties: u64,
    /// Events credited to each ranker over all pages.
    pub credited: Vec<f64>,
    /// Two rankers: the two-sided sign test's p-value over the pages won.
    pub p_value: Option<f64>,
    /// The ranker with the most wins (none on a tie).
    pub leader: Option<String>,
}

/// Every online experiment found in a log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineReport {
    /// One per distinct method and ranker list, in the order of their names.
    pub experiments: Vec<OnlineResult>,
    /// Interleaved impressions left out: some result without its team, a
    /// team past the ranker list, or a `ranker` that does not parse.
    pub malformed_pages: u64,
    /// Clicks or purchases on an interleaved page that name a position or
    /// document the page did not show; counted, not credited.
    pub unmatched_events: u64,
}

/// `interleave:<method>:<a>,<b>,...` as (method, rankers).
pub fn parse_ranker(ranker: &str) -> Option<(String, Vec<String>)> {
    let rest = ranker.strip_prefix(INTERLEAVED_PREFIX)?;
    let (method, list) = rest.split_once(':')?;
    let rankers: Vec<String> = list.split(',').map(str::to_owned).collect();
    (!method.is_empty() && rankers.len() >= 2 && rankers.iter().all(|r| !r.is_empty()))
        .then(|| (method.to_owned(), rankers))
}

struct Page {
    key: (String, Vec<String>),
    docs: Vec<String>,
    positions: Vec<u32>,
    teams: Vec<usize>,
    events: Vec<bool>,
}

/// Credits every interleaved page of `events` with `credit`.
pub fn credit_online(events: &[InteractionEvent], credit: Credit) -> OnlineReport {
    let mut pages: HashMap<&str, Page> = HashMap::new();
    let mut malformed = 0u64;
    for e in events {
        let InteractionEvent::Impression(imp) = e else {
            continue;
        };
        if !imp.ranker.starts_with(INTERLEAVED_PREFIX) {
            continue;
        }
        let Some(key) = parse_ranker(&imp.ranker) else {
            malformed += 1;
            continue;
        };
        let teams: Option<Vec<usize>> = imp
            .results
            .iter()
            .map(|r| r.team.map(|t| t as usize).filter(|&t| t < key.1.len()))
            .collect();
        let Some(teams) = teams else {
            malformed += 1;
            continue;
        };
        pages.insert(
            imp.request_id.0.as_str(),
            Page {
                key,
                docs: imp.results.iter().map(|r| r.doc.0.clone()).collect(),
                positions: imp.results.iter().map(|r| r.position).collect(),
                events: vec![false; teams.len()],
                teams,
            },
        );
    }
    let mut unmatched = 0u64;
    for e in events {
        let hit = match (e, credit) {
            (InteractionEvent::Click(c), Credit::Clicks) => pages
                .get_mut(c.request_id.0.as_str())
                .map(|p| (p.positions.iter().position(|&x| x == c.position), p)),
            (InteractionEvent::Purchase(b), Credit::Purchases) => b
                .request_id
                .as_ref()
                .and_then(|r| pages.get_mut(r.0.as_str()))
                .map(|p| (p.docs.iter().position(|d| *d == b.doc.0), p)),
            _ => None,
        };
        match hit {
            Some((Some(i), p)) => p.events[i] = true,
            Some((None, _)) => unmatched += 1,
            None => {}
        }
    }
    // Per experiment: the offline interleaving's tally (credit summed, wins
    // between rankers), and the pages each ranker won outright.
    let mut by_key: BTreeMap<(String, Vec<String>), (Tally, Vec<u64>)> = BTreeMap::new();
    for p in pages.into_values() {
        let n = p.key.1.len();
        let (tally, outright) = by_key
            .entry(p.key)
            .or_insert_with(|| (Tally::new(n), vec![0; n]));
        let c = team_credit(&p.teams, &p.events, n);
        tally.add(&c);
        if let Some(w) = (0..n).find(|&i| (0..n).all(|j| j == i || c[i] > c[j])) {
            outright[w] += 1;
        }
    }
    let experiments = by_key
        .into_iter()
        .map(|((method, rankers), (tally, wins))| {
            let most = wins.iter().copied().max().unwrap_or(0);
            let leaders: Vec<usize> = (0..wins.len()).filter(|&i| wins[i] == most).collect();
            OnlineResult {
                leader: match leaders.as_slice() {
                    [l] => Some(rankers[*l].clone()),
                    _ => None,
                },
                p_value: (rankers.len() == 2).then(|| tally.sign_test(0, 1)),
                method,
                rankers,
                credit: credit.name().into(),
                pages: tally.sessions,
                ties: tally.sessions - wins.iter().sum::<u64>(),
                wins,
                credited: tally.credit,
            }
        })
        .collect();
    OnlineReport {
        experiments,
        malformed_pages: malformed,
        unmatched_events: unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyrank_data::{
        Click, DocId, EventId, ImpressedDoc, Impression, RequestId, SessionId, Timestamp, UserId,
    };

    fn page(req: &str, ranker: &str, teams: &[Option<u32>]) -> InteractionEvent {
        InteractionEvent::Impression(Impression {
            event_id: EventId(format!("i-{req}")),
            timestamp: Timestamp(1),
            request_id: RequestId(req.into()),
            query_id: None,
            query: "lamp".into(),
            user_id: UserId("u".into()),
            session_id: SessionId("s".into()),
            results: teams
                .iter()
                .enumerate()
                .map(|(i, &team)| ImpressedDoc {
                    doc: DocId(format!("d{i}")),
                    position: i as u32 + 1,
                    propensity: None,
                    team,
                })
                .collect(),
            ranker: ranker.into(),
            arm: None,
            partial: false,
            generation: None,
        })
    }

    fn click(req: &str, pos: u32) -> InteractionEvent {
        InteractionEvent::Click(Click {
            event_id: EventId(format!("c-{req}-{pos}")),
            timestamp: Timestamp(2),
            request_id: RequestId(req.into()),
            user_id: UserId("u".into()),
            session_id: SessionId("s".into()),
            doc: DocId(format!("d{}", pos - 1)),
            position: pos,
        })
    }

    #[test]
    fn pages_are_credited_to_the_teams_that_contributed_the_clicked_results() {
        let r = "interleave:team-draft:lr,lambdamart";
        let t = [Some(0), Some(1), Some(1), Some(0)];
        let events = vec![
            page("a", r, &t),
            click("a", 2),
            click("a", 3),
            page("b", r, &t),
            click("b", 1),
            page("c", r, &t),
            click("c", 1),
            click("c", 2),
            page("d", r, &t),
            click("d", 9),
            page("e", r, &[Some(0), None]),
            page("f", "interleave:team-draft", &t),
            page("g", "lr", &[None, None]),
            click("g", 1),
        ];
        let rep = credit_online(&events, Credit::Clicks);
        assert_eq!((rep.malformed_pages, rep.unmatched_events), (2, 1));
        let [x] = rep.experiments.as_slice() else {
            panic!("{rep:?}")
        };
        assert_eq!(x.rankers, ["lr", "lambdamart"]);
        // a: lambdamart 2-0; b: lr 1-0; c: 1-1 tie; d: no credited click.
        assert_eq!((x.pages, x.wins.clone(), x.ties), (4, vec![1, 1], 2));
        assert_eq!(x.credited, vec![2.0, 3.0]);
        assert_eq!(x.p_value, Some(1.0));
        assert_eq!(x.leader, None);
        // No purchase: every page a tie.
        let rep = credit_online(&events, Credit::Purchases);
        assert_eq!(rep.experiments[0].ties, 4);
    }

    #[test]
    fn ranker_names_parse() {
        assert_eq!(
            parse_ranker("interleave:team-draft:a,b,c"),
            Some((
                "team-draft".into(),
                vec!["a".into(), "b".into(), "c".into()]
            ))
        );
        for bad in [
            "lr",
            "interleave:",
            "interleave:team-draft:a",
            "interleave:x:a,",
        ] {
            assert_eq!(parse_ranker(bad), None, "{bad}");
        }
    }
}
