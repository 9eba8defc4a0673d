//! Interleaving: one result list made from two or more rankers' lists, and
//! credit for each ranker from the clicks (or purchases) on it.
//!
//! - **Team-draft** (Radlinski, Kurup & Joachims 2008) and **team-draft
//!   multileaving** (Schuth et al. 2014): in each round the rankers, in a
//!   random order, each add their best document not yet shown; every
//!   document belongs to the team that added it, and a ranker is credited
//!   with the events on its team's documents.
//! - **Balanced** (Joachims 2002): two rankers take turns, the first chosen
//!   by a coin, each adding its next document not yet shown; credit follows
//!   Chapelle et al. (2012): with `d` the lowest clicked document and `j`
//!   the smallest depth at which `d` is in the top `j` of either list, a
//!   ranker's credit is the number of clicked documents in its own top `j`.
//!
//! Both are deterministic for a seed, and the seed of a session makes its
//! list prefix-stable: the list for `k = 20` starts with the list for
//! `k = 10`, so a session's next page continues the same interleaving.
//! Winners over sessions: [`Tally`] with a two-sided binomial sign test.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::significance::{regularized_beta, SplitMix64};

/// Which interleaving method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Team-draft (two rankers) or team-draft multileaving (more).
    TeamDraft,
    /// Balanced interleaving (two rankers).
    Balanced,
}

impl Method {
    /// Parses `team-draft` or `balanced`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "team-draft" | "td" | "multileave" | "multileaving" => Ok(Method::TeamDraft),
            "balanced" => Ok(Method::Balanced),
            other => Err(Error::InvalidArgument(format!(
                "unknown interleaving method `{other}` (team-draft, balanced)"
            ))),
        }
    }
}

/// An interleaved list and what it takes to credit it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interleaving<T> {
    /// The method.
    pub method: Method,
    /// The list shown, top first.
    pub docs: Vec<T>,
    /// Team-draft: the ranker that contributed each shown document.
    pub teams: Vec<usize>,
    /// The rankers' own lists (balanced credit reads them).
    lists: Vec<Vec<T>>,
}

fn check_lists<T>(lists: &[Vec<T>], method: Method) -> Result<()> {
    let ok = match method {
        Method::TeamDraft => lists.len() >= 2,
        Method::Balanced => lists.len() == 2,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{method:?} interleaving needs {} rankers, got {}",
            if method == Method::Balanced {
                "exactly 2"
            } else {
                "at least 2"
            },
            lists.len()
        )))
    }
}

/// Team-draft (multi)leaving of `lists` into at most `k` documents.
pub fn team_draft<T: PartialEq + Clone>(
    lists: &[Vec<T>],
    k: usize,
    seed: u64,
) -> Result<Interleaving<T>> {
    check_lists(lists, Method::TeamDraft)?;
    let mut rng = SplitMix64::new(seed);
    let mut docs: Vec<T> = Vec::with_capacity(k);
    let mut teams = Vec::with_capacity(k);
    let mut next = vec![0usize; lists.len()];
    let mut order: Vec<usize> = (0..lists.len()).collect();
    'rounds: while docs.len() < k {
        // A fresh random order of the teams every round (Fisher-Yates).
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut added = false;
        for &t in &order {
            if docs.len() >= k {
                break 'rounds;
            }
            let list = &lists[t];
            while next[t] < list.len() && docs.contains(&list[next[t]]) {
                next[t] += 1;
            }
            if let Some(d) = list.get(next[t]) {
                docs.push(d.clone());
                teams.push(t);
                next[t] += 1;
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    Ok(Interleaving {
        method: Method::TeamDraft,
        docs,
        teams,
        lists: lists.to_vec(),
    })
}

/// Balanced interleaving of two lists into at most `k` documents.
pub fn balanced<T: PartialEq + Clone>(
    lists: &[Vec<T>],
    k: usize,
    seed: u64,
) -> Result<Interleaving<T>> {
    check_lists(lists, Method::Balanced)?;
    let (a, b) = (&lists[0], &lists[1]);
    let a_first = SplitMix64::new(seed).next_u64() & 1 == 0;
    let (mut ka, mut kb) = (0usize, 0usize);
    let mut docs: Vec<T> = Vec::with_capacity(k);
    while docs.len() < k && (ka < a.len() || kb < b.len()) {
        let take_a = kb >= b.len() || (ka < a.len() && (ka < kb || (ka == kb && a_first)));
        if take_a {
            if !docs.contains(&a[ka]) {
                docs.push(a[ka].clone());
            }
            ka += 1;
        } else {
            if !docs.contains(&b[kb]) {
                docs.push(b[kb].clone());
            }
            kb += 1;
        }
    }
    Ok(Interleaving {
        method: Method::Balanced,
        docs,
        teams: Vec::new(),
        lists: lists.to_vec(),
    })
}

/// The seed of the interleaving a user sees for a query (FNV-1a over the
/// query, started from `seed` and the user): the same user gets the same
/// page for a query, and its next page continues it.
pub fn visit_seed(seed: u64, user: u64, query: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed ^ user.rotate_left(17);
    for b in query.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A user id (any text) as the number [`visit_seed`] takes (FNV-1a).
pub fn user_number(user: &str) -> u64 {
    visit_seed(0, 0, user)
}

/// Each ranker's credit on a team-draft page from the teams logged with
/// it (`teams[r]`: the ranker that contributed rank r + 1) and the events
/// (`events[r]`: rank r + 1 was clicked, or bought): one per event.
pub fn team_credit(teams: &[usize], events: &[bool], rankers: usize) -> Vec<f64> {
    let mut credit = vec![0.0; rankers];
    for (&t, &e) in teams.iter().zip(events) {
        if e && t < rankers {
            credit[t] += 1.0;
        }
    }
    credit
}

/// Interleaves with `method`.
pub fn interleave<T: PartialEq + Clone>(
    method: Method,
    lists: &[Vec<T>],
    k: usize,
    seed: u64,
) -> Result<Interleaving<T>> {
    match method {
        Method::TeamDraft => team_draft(lists, k, seed),
        Method::Balanced => balanced(lists, k, seed),
    }
}

impl<T: PartialEq> Interleaving<T> {
    /// How many rankers.
    pub fn rankers(&self) -> usize {
        self.lists.len()
    }

    /// Each ranker's credit for the events (`events[r]`: the document at
    /// rank r + 1 was clicked, or bought) on this list.
    pub fn credit(&self, events: &[bool]) -> Vec<f64> {
        let rankers = self.lists.len();
        match self.method {
            // `teams` has an entry per shown document; events past them
            // are not this list's.
            Method::TeamDraft => team_credit(&self.teams, events, rankers),
            Method::Balanced => {
                let mut credit = vec![0.0; rankers];
                let Some(last) = events.iter().take(self.docs.len()).rposition(|&e| e) else {
                    return credit;
                };
                let d = &self.docs[last];
                let depth = self
                    .lists
                    .iter()
                    .filter_map(|l| l.iter().position(|x| x == d))
                    .min()
                    .map_or(0, |p| p + 1);
                for (t, l) in self.lists.iter().enumerate() {
                    let top = &l[..depth.min(l.len())];
                    credit[t] = events
                        .iter()
                        .zip(&self.docs)
                        .filter(|(&e, doc)| e && top.contains(doc))
                        .count() as f64;
                }
                credit
            }
        }
    }
}

/// Wins between rankers over sessions: `wins[i][j]` counts the sessions in
/// which ranker i earned more credit than ranker j.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    /// Sessions added.
    pub sessions: u64,
    /// Sessions where some ranker earned credit.
    pub with_credit: u64,
    /// `wins[i][j]`.
    pub wins: Vec<Vec<u64>>,
    /// Credit summed per ranker.
    pub credit: Vec<f64>,
}

impl Tally {
    /// An empty tally of `n` rankers.
    pub fn new(n: usize) -> Self {
        Self {
            sessions: 0,
            with_credit: 0,
            wins: vec![vec![0; n]; n],
            credit: vec![0.0; n],
        }
    }

    /// Adds one session's credit.
    pub fn add(&mut self, credit: &[f64]) {
        self.sessions += 1;
        if credit.iter().any(|&c| c > 0.0) {
            self.with_credit += 1;
        }
        for (i, ci) in credit.iter().enumerate() {
            self.credit[i] += ci;
            for (j, cj) in credit.iter().enumerate() {
                if ci > cj {
                    self.wins[i][j] += 1;
                }
            }
        }
    }

    /// Two-sided sign test of ranker i against ranker j (ties left out).
    pub fn sign_test(&self, i: usize, j: usize) -> f64 {
        sign_test(self.wins[i][j], self.wins[j][i])
    }

    /// `(wins_i − wins_j) / (wins_i + wins_j)`, in [−1, 1] (0 without wins).
    pub fn preference(&self, i: usize, j: usize) -> f64 {
        let (w, l) = (self.wins[i][j] as f64, self.wins[j][i] as f64);
        if w + l == 0.0 {
            0.0
        } else {
            (w - l) / (w + l)
        }
    }
}

/// Two-sided binomial sign test: `wins` and `losses` out of `wins + losses`
/// trials at p = 0.5, `p = min(1, 2 · P(X ≤ min(wins, losses)))`.
pub fn sign_test(wins: u64, losses: u64) -> f64 {
    let n = wins + losses;
    if n == 0 {
        return 1.0;
    }
    let k = wins.min(losses);
    if k == n {
        return 1.0;
    }
    // P(X ≤ k) = I_{1/2}(n − k, k + 1).
    let cdf = regularized_beta(0.5, (n - k) as f64, (k + 1) as f64);
    (2.0 * cdf).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lists() -> impl Strategy<Value = (Vec<Vec<u32>>, u64)> {
        (
            prop::collection::vec(
                prop::collection::vec(0u32..30, 0..15).prop_map(|mut v| {
                    let mut seen = std::collections::HashSet::new();
                    v.retain(|x| seen.insert(*x));
                    v
                }),
                2..5,
            ),
            any::<u64>(),
        )
    }

    proptest! {
        #[test]
        fn team_draft_lists_are_distinct_prefix_stable_and_fair((ls, seed) in lists(), k in 1usize..20) {
            let il = team_draft(&ls, k, seed).unwrap();
            let mut seen = il.docs.clone();
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), il.docs.len());
            // Each document came from the list of its team.
            for (d, t) in il.docs.iter().zip(&il.teams) {
                prop_assert!(ls[*t].contains(d));
            }
            // Team sizes differ by at most one while every list has documents left.
            let longer = team_draft(&ls, k + 7, seed).unwrap();
            prop_assert_eq!(&longer.docs[..il.docs.len()], &il.docs[..]);
            prop_assert_eq!(&longer.teams[..il.teams.len()], &il.teams[..]);
        }

        #[test]
        fn credit_goes_only_to_contributors((ls, seed) in lists(), clicks in prop::collection::vec(any::<bool>(), 20)) {
            let il = team_draft(&ls, 10, seed).unwrap();
            let c = il.credit(&clicks);
            let total: f64 = c.iter().sum();
            let clicked = clicks.iter().take(il.docs.len()).filter(|&&x| x).count();
            // Credit balance: every click is credited to exactly one team.
            prop_assert_eq!(total as usize, clicked);
            for (t, ct) in c.iter().enumerate() {
                let own = il.docs.iter().zip(&clicks).zip(&il.teams)
                    .filter(|((_, &x), &tm)| x && tm == t).count();
                prop_assert_eq!(*ct as usize, own);
            }
            let two = vec![ls[0].clone(), ls[1].clone()];
            let b = balanced(&two, 10, seed).unwrap();
            let cb = b.credit(&clicks);
            for (t, ct) in cb.iter().enumerate() {
                let possible = b.docs.iter().zip(&clicks).filter(|(d, &x)| x && two[t].contains(d)).count();
                prop_assert!(*ct as usize <= possible);
            }
        }
    }

    #[test]
    fn identical_rankers_win_equally_often() {
        let l: Vec<u32> = (0..20).collect();
        let mut tally = Tally::new(2);
        for s in 0..4000u64 {
            let il = team_draft(&[l.clone(), l.clone()], 10, s).unwrap();
            // A click on rank 1 and rank 4.
            let clicks: Vec<bool> = (0..10).map(|r| r == 0 || r == 3).collect();
            tally.add(&il.credit(&clicks));
        }
        let (w, lost) = (tally.wins[0][1], tally.wins[1][0]);
        assert!(tally.sign_test(0, 1) > 0.01, "{w} vs {lost}");
        assert!((w as f64 / (w + lost) as f64 - 0.5).abs() < 0.05);
        // Balanced with identical lists: both earn the same credit always.
        let b = balanced(&[l.clone(), l.clone()], 10, 3).unwrap();
        let c = b.credit(&[true, false, true]);
        assert_eq!(c[0], c[1]);
    }

    #[test]
    fn a_better_ranker_wins_and_the_sign_test_says_so() {
        // Users click documents below 5 only; ranker 0 puts them on top.
        let good: Vec<u32> = (0..10).collect();
        let bad: Vec<u32> = (0..10).rev().collect();
        let mut tally = Tally::new(2);
        let mut rng = SplitMix64::new(1);
        for s in 0..300u64 {
            let il = team_draft(&[good.clone(), bad.clone()], 10, s).unwrap();
            let clicks: Vec<bool> = il.docs.iter().map(|d| *d < 5 && rng.chance(0.3)).collect();
            tally.add(&il.credit(&clicks));
        }
        assert!(tally.preference(0, 1) > 0.3);
        assert!(tally.sign_test(0, 1) < 1e-3);
    }

    #[test]
    fn balanced_credits_by_the_shallower_list() {
        let a = vec!["a", "b", "c", "d"];
        let b = vec!["b", "e", "a", "f"];
        let il = balanced(&[a, b], 4, 0).unwrap();
        assert_eq!(il.docs.len(), 4);
        // A click on `e` (B's second): depth 2, A's top 2 = a, b, B's = b, e.
        let mut clicks = vec![false; 4];
        clicks[il.docs.iter().position(|d| *d == "e").unwrap()] = true;
        let c = il.credit(&clicks);
        assert_eq!(c, vec![0.0, 1.0]);
    }

    #[test]
    fn sign_test_matches_the_binomial() {
        // 9 wins of 10: P(X ≤ 1) = 11 / 1024, two-sided 22 / 1024.
        assert!((sign_test(9, 1) - 22.0 / 1024.0).abs() < 1e-9);
        assert_eq!(sign_test(0, 0), 1.0);
        assert_eq!(sign_test(5, 5), 1.0);
        assert!(team_draft(&[vec![1]], 3, 0).is_err());
        assert!(balanced(&[vec![1], vec![2], vec![3]], 3, 0).is_err());
        assert_eq!(Method::parse("team_draft").unwrap(), Method::TeamDraft);
    }
}
