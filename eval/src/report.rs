//! Comparing runs: a baseline and any number of systems, with paired tests
//! per measure, rendered as a terminal table, Markdown, JSON or a
//! self-contained HTML page with SVG plots.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::evaluate::Evaluation;
use crate::significance::{
    bootstrap_ci, holm_bonferroni, paired_t_test, randomization_test, win_tie_loss, WinTieLoss,
};

/// How the comparison's tests are run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Randomisation-test trials.
    pub trials: usize,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Seed of both.
    pub seed: u64,
    /// Significance level for the † mark (on Holm-adjusted randomisation p).
    pub alpha: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            trials: 10_000,
            bootstrap: 10_000,
            seed: 42,
            alpha: 0.05,
        }
    }
}

/// One system against the baseline on one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Test {
    /// mean(system) − mean(baseline) over the shared queries.
    pub delta: f64,
    /// Paired t-test p.
    pub p_t: f64,
    /// Randomisation-test p.
    pub p_randomization: f64,
    /// Randomisation p adjusted by Holm-Bonferroni over the systems.
    pub p_holm: f64,
    /// 95 % bootstrap interval of the delta.
    pub ci95: (f64, f64),
    /// Per-query wins, ties, losses.
    pub win_tie_loss: WinTieLoss,
    /// Queries both systems were evaluated on.
    pub queries: usize,
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemRow {
    /// Run name.
    pub name: String,
    /// Aggregate value per measure.
    pub values: Vec<f64>,
    /// Against the baseline, per measure (`None` for the baseline).
    pub tests: Option<Vec<Test>>,
}

/// The whole comparison; the first system is the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Conventions used (relevance level, gain, ...).
    pub conventions: String,
    /// Measure names.
    pub measures: Vec<String>,
    /// Baseline first.
    pub systems: Vec<SystemRow>,
    /// Significance level of the † mark.
    pub alpha: f64,
    #[serde(skip)]
    evaluations: Vec<Evaluation>,
}

/// Builds the comparison of `evals` (baseline first; all with the same measures).
pub fn compare(evals: &[Evaluation], conventions: &str, o: &CompareOptions) -> Result<Comparison> {
    let Some(base) = evals.first() else {
        return Err(Error::InvalidArgument("nothing to compare".into()));
    };
    if evals.iter().any(|e| e.measures != base.measures) {
        return Err(Error::InvalidArgument(
            "every run must be evaluated on the same measures".into(),
        ));
    }
    let mut systems: Vec<SystemRow> = Vec::new();
    for (s, e) in evals.iter().enumerate() {
        if s == 0 {
            systems.push(SystemRow {
                name: e.run.clone(),
                values: e.all.clone(),
                tests: None,
            });
            continue;
        }
        let shared: Vec<&String> = e
            .per_query
            .keys()
            .filter(|q| base.per_query.contains_key(*q))
            .collect();
        let mut tests = Vec::new();
        for (i, m) in base.measures.iter().enumerate() {
            let a: Vec<f64> = shared.iter().map(|q| base.per_query[*q][i]).collect();
            let b: Vec<f64> = shared.iter().map(|q| e.per_query[*q][i]).collect();
            if a.is_empty() || m.is_count() {
                tests.push(Test {
                    delta: e.all[i] - base.all[i],
                    p_t: 1.0,
                    p_randomization: 1.0,
                    p_holm: 1.0,
                    ci95: (0.0, 0.0),
                    win_tie_loss: WinTieLoss::default(),
                    queries: a.len(),
                });
                continue;
            }
            let p_randomization = randomization_test(&a, &b, o.trials, o.seed)?;
            tests.push(Test {
                delta: e.all[i] - base.all[i],
                p_t: paired_t_test(&a, &b)?,
                p_randomization,
                p_holm: p_randomization,
                ci95: bootstrap_ci(&a, &b, o.bootstrap, 0.95, o.seed)?,
                win_tie_loss: win_tie_loss(&a, &b)?,
                queries: a.len(),
            });
        }
        systems.push(SystemRow {
            name: e.run.clone(),
            values: e.all.clone(),
            tests: Some(tests),
        });
    }
    // Holm over the systems compared with the baseline, measure by measure.
    for i in 0..base.measures.len() {
        let ps: Vec<f64> = systems
            .iter()
            .filter_map(|s| s.tests.as_ref().map(|t| t[i].p_randomization))
            .collect();
        let adj = holm_bonferroni(&ps);
        for (s, p) in systems.iter_mut().skip(1).zip(adj) {
            if let Some(t) = s.tests.as_mut() {
                t[i].p_holm = p;
            }
        }
    }
    Ok(Comparison {
        conventions: conventions.to_owned(),
        measures: base.measures.iter().map(ToString::to_string).collect(),
        systems,
        alpha: o.alpha,
        evaluations: evals.to_vec(),
    })
}

fn best_index(c: &Comparison, i: usize) -> usize {
    (0..c.systems.len())
        .max_by(|&a, &b| {
            c.systems[a].values[i]
                .total_cmp(&c.systems[b].values[i])
                .then(b.cmp(&a))
        })
        .unwrap_or(0)
}

fn cell(c: &Comparison, s: usize, i: usize) -> (String, String) {
    let v = format!("{:.4}", c.systems[s].values[i]);
    let extra = match &c.systems[s].tests {
        Some(t) => {
            let t = &t[i];
            let mark = if t.p_holm < c.alpha { "†" } else { "" };
            let p = if t.p_randomization < 0.001 {
                "p<0.001".to_owned()
            } else {
                format!("p={:.3}", t.p_randomization)
            };
            format!("{:+.4} {p}{mark}", t.delta)
        }
        None => "baseline".into(),
    };
    (v, extra)
}

impl Comparison {
    /// A terminal table; `bold` uses ANSI bold for the best value of each measure.
    pub fn render_text(&self, bold: bool) -> String {
        let mut o = String::new();
        let name_w = self
            .systems
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let col_w = self
            .measures
            .iter()
            .map(|m| m.len())
            .max()
            .unwrap_or(8)
            .max(24);
        let _ = write!(o, "{:<name_w$}", "run");
        for m in &self.measures {
            let _ = write!(o, "  {m:>col_w$}");
        }
        o.push('\n');
        for s in 0..self.systems.len() {
            let _ = write!(o, "{:<name_w$}", self.systems[s].name);
            for i in 0..self.measures.len() {
                let (v, extra) = cell(self, s, i);
                let text = format!("{v} ({extra})");
                let padded = format!("{text:>col_w$}");
                if bold && best_index(self, i) == s {
                    let _ = write!(o, "  \x1b[1m{padded}\x1b[0m");
                } else if best_index(self, i) == s {
                    let _ = write!(o, " *{padded}");
                } else {
                    let _ = write!(o, "  {padded}");
                }
            }
            o.push('\n');
        }
        let _ = writeln!(
            o,
            "\n(delta vs baseline, randomisation-test p; † Holm-adjusted p < {}; best marked{})",
            self.alpha,
            if bold { " in bold" } else { " *" }
        );
        let _ = writeln!(o, "{}", self.conventions);
        o
    }

    /// Markdown: the table (best in bold), then tests per system.
    pub fn render_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "| run | {} |", self.measures.join(" | "));
        let _ = writeln!(o, "|---|{}", "---:|".repeat(self.measures.len()));
        for s in 0..self.systems.len() {
            let _ = write!(o, "| {} |", self.systems[s].name);
            for i in 0..self.measures.len() {
                let (v, extra) = cell(self, s, i);
                let v = if best_index(self, i) == s {
                    format!("**{v}**")
                } else {
                    v
                };
                let _ = write!(o, " {v} ({extra}) |");
            }
            o.push('\n');
        }
        let _ = writeln!(o, "\nDelta vs the baseline with the two-sided randomisation-test p-value; † marks Holm-adjusted p < {}.\n", self.alpha);
        for s in self.systems.iter().skip(1) {
            let Some(tests) = &s.tests else { continue };
            let _ = writeln!(o, "**{}** vs **{}**\n", s.name, self.systems[0].name);
            let _ = writeln!(o, "| measure | delta | 95% CI (bootstrap) | p (t-test) | p (randomisation) | p (Holm) | win/tie/loss |");
            let _ = writeln!(o, "|---|---:|---|---:|---:|---:|---|");
            for (m, t) in self.measures.iter().zip(tests) {
                let _ = writeln!(
                    o,
                    "| {m} | {:+.4} | [{:+.4}, {:+.4}] | {:.4} | {:.4} | {:.4} | {}/{}/{} |",
                    t.delta,
                    t.ci95.0,
                    t.ci95.1,
                    t.p_t,
                    t.p_randomization,
                    t.p_holm,
                    t.win_tie_loss.wins,
                    t.win_tie_loss.ties,
                    t.win_tie_loss.losses
                );
            }
            o.push('\n');
        }
        let _ = writeln!(o, "_{}_", self.conventions);
        o
    }

    /// JSON of the whole comparison.
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// A self-contained HTML page: tables, metric@k curves, per-query delta bars.
    pub fn render_html(&self) -> String {
        let mut body = String::new();
        let md_table = self.html_table();
        let _ = write!(
            body,
            "<h1>hyrank evaluation</h1><p class=conv>{}</p>{md_table}",
            escape(&self.conventions)
        );
        // metric@k curves for every family with several cut-offs.
        let families: BTreeSet<String> = self
            .measures
            .iter()
            .filter_map(|m| family_of(m).map(|(f, _)| f))
            .collect();
        for fam in families {
            let cols: Vec<(usize, usize)> = self
                .measures
                .iter()
                .enumerate()
                .filter_map(|(i, m)| family_of(m).filter(|(f, _)| *f == fam).map(|(_, k)| (k, i)))
                .collect();
            if cols.len() < 2 {
                continue;
            }
            let labels: Vec<String> = cols.iter().map(|(k, _)| k.to_string()).collect();
            let series: Vec<(String, Vec<f64>)> = self
                .systems
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        cols.iter().map(|(_, i)| s.values[*i]).collect(),
                    )
                })
                .collect();
            body.push_str(&svg_lines(&format!("{fam}@k"), &labels, &series));
        }
        // Per-query deltas on the first non-count measure.
        if let Some(i) = self
            .evaluations
            .first()
            .and_then(|e| e.measures.iter().position(|m| !m.is_count()))
        {
            let base = &self.evaluations[0];
            for e in self.evaluations.iter().skip(1) {
                let mut d: Vec<f64> = e
                    .per_query
                    .iter()
                    .filter_map(|(q, v)| base.per_query.get(q).map(|b| v[i] - b[i]))
                    .collect();
                d.sort_by(|a, b| b.total_cmp(a));
                body.push_str(&svg_bars(
                    &format!(
                        "per-query {} delta: {} − {}",
                        self.measures[i], e.run, base.run
                    ),
                    &d,
                ));
            }
        }
        format!(
            "<!doctype html><html><head><meta charset=utf-8><title>hyrank evaluation</title><style>\
             body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
             td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
             .conv{{color:#555}}svg{{display:block;margin:1.5em 0}}</style></head><body>{body}</body></html>\n"
        )
    }

    fn html_table(&self) -> String {
        let mut o = String::from("<table><tr><th>run</th>");
        for m in &self.measures {
            let _ = write!(o, "<th>{}</th>", escape(m));
        }
        o.push_str("</tr>");
        for s in 0..self.systems.len() {
            let _ = write!(o, "<tr><td>{}</td>", escape(&self.systems[s].name));
            for i in 0..self.measures.len() {
                let (v, extra) = cell(self, s, i);
                let v = if best_index(self, i) == s {
                    format!("<b>{v}</b>")
                } else {
                    v
                };
                let _ = write!(o, "<td>{v}<br><small>{}</small></td>", escape(&extra));
            }
            o.push_str("</tr>");
        }
        o.push_str("</table>");
        o
    }
}

fn family_of(m: &str) -> Option<(String, usize)> {
    let (fam, k) = m.rsplit_once('_')?;
    let k: usize = k.parse().ok()?;
    Some((fam.to_owned(), k))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// A line chart: one line per series over categorical x labels.
fn svg_lines(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let (w, h, l, r, t, b) = (640.0, 320.0, 50.0, 150.0, 30.0, 40.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |i: usize| l + (w - l - r) * i as f64 / (labels.len().max(2) - 1) as f64;
    let y = |v: f64| t + (h - t - b) * (1.0 - v / max);
    let mut o = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='11'><text x='{l}' y='18' font-weight='bold'>{}</text>", escape(title));
    for tick in 0..=4 {
        let v = max * f64::from(tick) / 4.0;
        let _ = write!(o, "<line x1='{l}' x2='{}' y1='{y:.1}' y2='{y:.1}' stroke='#eee'/><text x='{}' y='{:.1}' text-anchor='end'>{v:.3}</text>", w - r, l - 4.0, y(v) + 4.0, y = y(v));
    }
    for (i, lab) in labels.iter().enumerate() {
        let _ = write!(
            o,
            "<text x='{:.1}' y='{}' text-anchor='middle'>{}</text>",
            x(i),
            h - b + 16.0,
            escape(lab)
        );
    }
    for (s, (name, vals)) in series.iter().enumerate() {
        let c = PALETTE[s % PALETTE.len()];
        let pts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            o,
            "<polyline fill='none' stroke='{c}' stroke-width='2' points='{}'/>",
            pts.join(" ")
        );
        let _ = write!(
            o,
            "<rect x='{}' y='{}' width='10' height='10' fill='{c}'/><text x='{}' y='{}'>{}</text>",
            w - r + 10.0,
            t + 16.0 * s as f64,
            w - r + 24.0,
            t + 9.0 + 16.0 * s as f64,
            escape(name)
        );
    }
    o.push_str("</svg>");
    o
}

/// A bar chart of values already sorted (positive up, negative down).
fn svg_bars(title: &str, values: &[f64]) -> String {
    let (w, h, l, t, b) = (640.0, 240.0, 50.0, 30.0, 20.0);
    let m = values.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-9);
    let mid = t + (h - t - b) / 2.0;
    let bw = (w - l - 10.0) / values.len().max(1) as f64;
    let mut o = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='11'><text x='{l}' y='18' font-weight='bold'>{}</text>", escape(title));
    let _ = write!(o, "<line x1='{l}' x2='{}' y1='{mid}' y2='{mid}' stroke='#999'/><text x='{}' y='{}' text-anchor='end'>+{m:.3}</text><text x='{}' y='{}' text-anchor='end'>-{m:.3}</text>", w - 10.0, l - 4.0, t + 8.0, l - 4.0, h - b);
    for (i, v) in values.iter().enumerate() {
        let hgt = (h - t - b) / 2.0 * v.abs() / m;
        let (yy, c) = if *v >= 0.0 {
            (mid - hgt, "#2ca02c")
        } else {
            (mid, "#d62728")
        };
        let _ = write!(
            o,
            "<rect x='{:.2}' y='{yy:.2}' width='{:.2}' height='{hgt:.2}' fill='{c}'/>",
            l + bw * i as f64,
            bw.max(0.5)
        );
    }
    let wins = values.iter().filter(|v| **v > 0.0).count();
    let losses = values.iter().filter(|v| **v < 0.0).count();
    let _ = write!(o, "<text x='{}' y='{}' text-anchor='end'>{wins} better, {losses} worse, {} equal</text></svg>", w - 10.0, 18.0, values.len() - wins - losses);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{evaluate, EvalOptions, Measure};
    use crate::prepare::{Qrels, Run};
    use hyrank_data::Judgment;
    use std::collections::BTreeMap;

    fn world() -> (Qrels, Vec<Run>) {
        let mut qrels = Vec::new();
        let (mut good, mut bad) = (BTreeMap::new(), BTreeMap::new());
        for q in 0..30 {
            let qid = format!("q{q}");
            for d in 0..10 {
                qrels.push(Judgment {
                    query: qid.as_str().into(),
                    doc: format!("d{d}").into(),
                    grade: i32::from(d < 3),
                });
            }
            good.insert(
                qid.clone(),
                (0..10).map(|d| format!("d{d}")).collect::<Vec<_>>(),
            );
            bad.insert(
                qid,
                (0..10).rev().map(|d| format!("d{d}")).collect::<Vec<_>>(),
            );
        }
        (
            Qrels::new(&qrels),
            vec![
                Run::from_rankings("reversed", &bad),
                Run::from_rankings("ideal", &good),
            ],
        )
    }

    #[test]
    fn comparison_renders_every_format() {
        let (qrels, runs) = world();
        let ms = Measure::parse_list("ndcg_cut_5,ndcg_cut_10,P_5,recip_rank").unwrap();
        let evals: Vec<Evaluation> = runs
            .iter()
            .map(|r| evaluate(&qrels, r, &ms, &EvalOptions::default()).unwrap())
            .collect();
        let c = compare(
            &evals,
            &EvalOptions::default().describe(),
            &CompareOptions {
                trials: 2000,
                bootstrap: 500,
                ..CompareOptions::default()
            },
        )
        .unwrap();
        let t = &c.systems[1].tests.as_ref().unwrap()[0];
        assert!(t.delta > 0.5 && t.p_randomization < 0.01 && t.p_holm < 0.05);
        assert_eq!(t.win_tie_loss.wins, 30);
        let text = c.render_text(false);
        assert!(text.contains("ideal") && text.contains("†"), "{text}");
        let md = c.render_markdown();
        assert!(md.contains("**1.0000**"), "best value in bold:\n{md}");
        let json: serde_json::Value = serde_json::from_str(&c.render_json()).unwrap();
        assert_eq!(json["systems"][0]["name"], "reversed");
        let html = c.render_html();
        assert!(
            html.contains("<svg") && html.contains("ndcg_cut@k") && html.contains("30 better"),
            "html"
        );
        assert!(compare(&[], "", &CompareOptions::default()).is_err());
    }
}
