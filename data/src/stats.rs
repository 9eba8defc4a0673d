//! Summary statistics of a data folder (catalogue, queries, qrels, log),
//! computed in one streaming pass over each file.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::formats::ndjson::{read_catalog, read_queries};
use crate::formats::trec::read_qrels;
use crate::log::LogReader;
use crate::types::InteractionEvent;

/// Catalogue statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogStats {
    /// Products.
    pub products: u64,
    /// Distinct brands.
    pub brands: u64,
    /// Products per top-level category.
    pub departments: BTreeMap<String, u64>,
    /// Distinct leaf categories.
    pub leaf_categories: u64,
    /// Price quantiles p10, p50, p90.
    pub price_p10_p50_p90: Option<[f64; 3]>,
    /// Products with a rating.
    pub rated: u64,
}

/// Log statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogStats {
    /// Events by kind.
    pub events: BTreeMap<String, u64>,
    /// Distinct sessions.
    pub sessions: u64,
    /// Distinct users.
    pub users: u64,
    /// First and last timestamp.
    pub span: Option<(String, String)>,
    /// Clicks per impression.
    pub clicks_per_impression: f64,
    /// Purchases per click.
    pub purchases_per_click: f64,
    /// Click-through rate at positions 1..=10 (partial impressions left out).
    pub ctr_at_position: Vec<f64>,
    /// Impressions whose results only hold what events revealed.
    pub partial_impressions: u64,
    /// Revenue (sum of quantity × unit price).
    pub revenue: f64,
}

/// Everything [`compute`] found; absent files are `None`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataStats {
    /// `catalog.ndjson`.
    pub catalog: Option<CatalogStats>,
    /// `queries.tsv`.
    pub queries: Option<u64>,
    /// `qrels.trec`: judgments, judged queries and count by grade.
    pub qrels: Option<(u64, u64, BTreeMap<i32, u64>)>,
    /// `events/`.
    pub log: Option<LogStats>,
}

fn quantiles(mut v: Vec<f64>) -> Option<[f64; 3]> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Some([q(0.1), q(0.5), q(0.9)])
}

/// Computes the statistics of a data folder; a folder without any hyrank
/// data file is an error.
pub fn compute(dir: &Path) -> Result<DataStats> {
    crate::fsio::settle(dir)?;
    if !crate::check::has_hyrank_files(dir) {
        return Err(crate::check::no_hyrank_files(dir));
    }
    let mut out = DataStats::default();
    let cat = dir.join("catalog.ndjson");
    if cat.exists() {
        let mut s = CatalogStats::default();
        let (mut brands, mut leaves, mut prices) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
        for p in read_catalog(&cat)? {
            let p = p?;
            s.products += 1;
            if let Some(b) = &p.brand {
                brands.insert(b.clone());
            }
            if let Some(d) = p.category.first() {
                *s.departments.entry(d.clone()).or_default() += 1;
            }
            leaves.insert(p.category.join(" > "));
            if let Some(pr) = p.price {
                prices.push(pr);
            }
            s.rated += u64::from(p.rating.is_some());
        }
        s.brands = brands.len() as u64;
        s.leaf_categories = leaves.len() as u64;
        s.price_p10_p50_p90 = quantiles(prices);
        out.catalog = Some(s);
    }
    let q = dir.join("queries.tsv");
    if q.exists() {
        out.queries = Some(read_queries(&q)?.len() as u64);
    }
    let r = dir.join("qrels.trec");
    if r.exists() {
        let qrels = read_qrels(&r)?;
        let mut by_grade = BTreeMap::new();
        for j in &qrels {
            *by_grade.entry(j.grade).or_default() += 1;
        }
        let judged: BTreeSet<&str> = qrels.iter().map(|j| j.query.as_str()).collect();
        out.qrels = Some((qrels.len() as u64, judged.len() as u64, by_grade));
    }
    let events = dir.join("events");
    if events.is_dir() {
        let mut s = LogStats::default();
        let (mut sessions, mut users) = (BTreeSet::new(), BTreeSet::new());
        let (mut shown, mut clicked) = ([0u64; 10], [0u64; 10]);
        // Partial impressions (imported logs that only know what was clicked)
        // would make every click a CTR of 1: they stay out of the CTR.
        let mut partial: HashSet<String> = HashSet::new();
        let (mut first, mut last) = (None, None);
        for e in LogReader::open(&events)? {
            let e = e?;
            *s.events.entry(e.kind().to_owned()).or_default() += 1;
            sessions.insert(e.session_id().0.clone());
            users.insert(e.user_id().0.clone());
            first = first.or(Some(e.timestamp()));
            last = Some(e.timestamp());
            match &e {
                InteractionEvent::Impression(i) if i.partial => {
                    s.partial_impressions += 1;
                    partial.insert(i.request_id.0.clone());
                }
                InteractionEvent::Impression(i) => {
                    for r in i.results.iter().filter(|r| r.position <= 10) {
                        shown[r.position as usize - 1] += 1;
                    }
                }
                InteractionEvent::Click(c)
                    if c.position <= 10 && !partial.contains(&c.request_id.0) =>
                {
                    clicked[c.position as usize - 1] += 1
                }
                InteractionEvent::Purchase(p) => s.revenue += f64::from(p.quantity) * p.unit_price,
                _ => {}
            }
        }
        s.sessions = sessions.len() as u64;
        s.users = users.len() as u64;
        s.span = first.zip(last).map(|(a, b)| (a.to_string(), b.to_string()));
        let get = |k: &str| s.events.get(k).copied().unwrap_or(0) as f64;
        s.clicks_per_impression = get("click") / get("impression").max(1.0);
        s.purchases_per_click = get("purchase") / get("click").max(1.0);
        s.ctr_at_position = shown
            .iter()
            .zip(&clicked)
            .map(|(&a, &c)| if a == 0 { 0.0 } else { c as f64 / a as f64 })
            .collect();
        out.log = Some(s);
    }
    Ok(out)
}

impl DataStats {
    /// A human-readable summary.
    pub fn render(&self) -> String {
        let mut o = String::new();
        if let Some(c) = &self.catalog {
            let _ = writeln!(
                o,
                "catalogue      {} products, {} brands, {} leaf categories, {} rated",
                c.products, c.brands, c.leaf_categories, c.rated
            );
            if let Some([a, b, d]) = c.price_p10_p50_p90 {
                let _ = writeln!(o, "price          p10 {a:.2}  p50 {b:.2}  p90 {d:.2}");
            }
            let depts: Vec<String> = c
                .departments
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(o, "departments    {}", depts.join(", "));
        }
        if let Some(q) = self.queries {
            let _ = writeln!(o, "queries        {q}");
        }
        if let Some((n, nq, g)) = &self.qrels {
            let grades: Vec<String> = g
                .iter()
                .rev()
                .map(|(k, v)| {
                    format!(
                        "grade {k}: {v} ({:.1}%)",
                        100.0 * *v as f64 / (*n).max(1) as f64
                    )
                })
                .collect();
            let _ = writeln!(
                o,
                "judgments      {n} over {nq} queries ({:.1}/query); {}",
                *n as f64 / (*nq).max(1) as f64,
                grades.join(", ")
            );
        }
        if let Some(l) = &self.log {
            let kinds: Vec<String> = l.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(o, "events         {}", kinds.join(", "));
            if l.partial_impressions > 0 {
                let _ = writeln!(
                    o,
                    "partial        {} impressions only know what was clicked or bought (left out of the CTR)",
                    l.partial_impressions
                );
            }
            let _ = writeln!(o, "sessions       {} by {} users", l.sessions, l.users);
            if let Some((a, b)) = &l.span {
                let _ = writeln!(o, "span           {a} .. {b}");
            }
            let _ = writeln!(
                o,
                "rates          {:.3} clicks/impression, {:.3} purchases/click, revenue {:.2}",
                l.clicks_per_impression, l.purchases_per_click, l.revenue
            );
            let ctr: Vec<String> = l
                .ctr_at_position
                .iter()
                .map(|c| format!("{c:.3}"))
                .collect();
            let _ = writeln!(o, "CTR@1..10      {}", ctr.join(" "));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{generate, SimConfig, WorldConfig};

    #[test]
    fn stats_of_a_small_world() {
        let dir = tempfile::tempdir().unwrap();
        let r = generate(
            &WorldConfig {
                products: 500,
                queries: 30,
                ..WorldConfig::default()
            },
            &SimConfig {
                events: 3000,
                days: 3,
                ..SimConfig::default()
            },
            dir.path(),
            &|_, _, _| {},
        )
        .unwrap();
        let s = compute(dir.path()).unwrap();
        assert_eq!(s.catalog.as_ref().unwrap().products, 500);
        let log = s.log.as_ref().unwrap();
        assert_eq!(log.events.values().sum::<u64>(), r.simulation.events);
        assert_eq!(log.events["click"], r.simulation.clicks);
        assert!(log.ctr_at_position[0] > log.ctr_at_position[9]);
        assert!(s.render().contains("500 products"));
        let empty = tempfile::tempdir().unwrap();
        let err = compute(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no hyrank data files"), "{err}");
    }
}
