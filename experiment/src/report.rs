//! HTML renderings of the runs: one self-contained page each (inline CSS
//! and SVG, no scripts, nothing fetched), written beside the JSON.

use std::fmt::Write as _;

use crate::ab::AbReport;
use crate::gate::GateReport;
use crate::interleave::InterleaveReport;
use crate::offpolicy::OffPolicyReport;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}}th{{background:#f4f4f4}}td:first-child,th:first-child{{text-align:left}}.promote{{color:#176f2c}}.reject{{color:#a31515}}.hold{{color:#8a6d00}}svg{{background:#fafafa;border:1px solid #ddd}}</style></head>\n<body><h1>{t}</h1>\n{body}</body></html>\n",
        t = esc(title)
    )
}

/// A line chart of `series` (each: label, colour, points) with an optional
/// band (low, high per x) and a horizontal reference line.
fn chart(
    title: &str,
    xs: &[f64],
    series: &[(&str, &str, Vec<f64>)],
    band: Option<(&[f64], &[f64])>,
    reference: Option<f64>,
) -> String {
    let (w, h, m) = (640.0, 240.0, 40.0);
    if xs.len() < 2 {
        return String::new();
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in series
        .iter()
        .flat_map(|s| s.2.iter())
        .chain(band.into_iter().flat_map(|b| b.0.iter().chain(b.1)))
    {
        if v.is_finite() {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
    }
    if let Some(r) = reference {
        lo = lo.min(r);
        hi = hi.max(r);
    }
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        hi = lo + 1.0;
    }
    let (x0, x1) = (xs[0], xs[xs.len() - 1].max(xs[0] + 1.0));
    let px = |x: f64| m + (x - x0) / (x1 - x0) * (w - 2.0 * m);
    let py = |y: f64| h - m - (y - lo) / (hi - lo) * (h - 2.0 * m);
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">",
        esc(title)
    );
    if let Some((l, u)) = band {
        let mut pts: Vec<String> = xs
            .iter()
            .zip(u)
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        pts.extend(
            xs.iter()
                .zip(l)
                .rev()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))),
        );
        let _ = write!(
            s,
            "<polygon points=\"{}\" fill=\"#9ec5fe\" opacity=\"0.5\"/>",
            pts.join(" ")
        );
    }
    if let Some(r) = reference {
        let _ = write!(
            s,
            "<line x1=\"{m}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#a31515\" stroke-dasharray=\"4 3\"/>",
            w - m,
            y = py(r)
        );
    }
    for (label, colour, ys) in series {
        let pts: Vec<String> = xs
            .iter()
            .zip(ys)
            .filter(|(_, y)| y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{}</title></polyline>",
            pts.join(" "),
            esc(label)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{m}\" y=\"{:.1}\" font-size=\"11\">{x0:.0}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{x1:.0} sessions</text><text x=\"4\" y=\"{:.1}\" font-size=\"11\">{hi:.4}</text><text x=\"4\" y=\"{:.1}\" font-size=\"11\">{lo:.4}</text></svg></figure>",
        h - 10.0,
        w - m,
        h - 10.0,
        m - 4.0,
        h - m + 12.0
    );
    s
}

/// The A/B test's page: arms, metrics, power, the running p-value and the
/// effect's interval as the test ran.
pub fn ab_html(r: &AbReport) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} sessions in {}; seed {}; split {:.0} % treatment{}.</p>",
        r.config.sessions,
        esc(&r.environment),
        r.config.seed,
        100.0 * r.config.split,
        if r.aa {
            "; <b>A/A test</b> (both arms run the same ranker)"
        } else {
            ""
        }
    );
    b.push_str("<table><tr><th>arm</th><th>ranker</th><th>sessions</th><th>conversion</th><th>purchases / session</th><th>clicks / session</th><th>revenue / session</th><th>true purchases / session</th></tr>");
    for (name, a) in ["control", "treatment"].iter().zip(&r.arms) {
        let _ = write!(
            b,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td><td>{}</td></tr>",
            esc(&a.ranker),
            a.sessions,
            a.converted as f64 / a.sessions.max(1) as f64,
            a.purchases.mean,
            a.clicks.mean,
            a.revenue.mean,
            a.true_value.map_or("-".into(), |t| format!("{:.4}", t.purchases))
        );
    }
    b.push_str("</table><table><tr><th>metric</th><th>test</th><th>control</th><th>treatment</th><th>difference</th><th>relative</th><th>interval</th><th>bootstrap interval</th><th>p</th></tr>");
    for m in &r.metrics {
        let c = &m.comparison;
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:+.4}</td><td>{:+.2} %</td><td>[{:+.4}, {:+.4}]</td><td>{}</td><td>{:.4}</td></tr>",
            m.name,
            m.test,
            m.control,
            m.treatment,
            c.difference,
            100.0 * c.relative,
            c.ci.0,
            c.ci.1,
            m.bootstrap_ci.map_or("-".into(), |(l, h)| format!("[{l:+.4}, {h:+.4}]")),
            c.p_value
        );
    }
    let _ = write!(
        b,
        "</table><p>Power {:.0} %: minimum detectable lift of the conversion rate with these sessions {:.1} %; sessions per arm for a 5 % lift {}{}. Sample-ratio check p = {:.3}{}. {:.0} sessions/s.</p>",
        100.0 * r.config.power,
        100.0 * r.power.minimum_detectable_lift,
        r.power.sessions_for_5_percent,
        r.power
            .sessions_for_observed_lift
            .map_or(String::new(), |n| format!(", for the observed lift {n}")),
        r.srm_p_value,
        if r.srm_p_value < 0.001 { " (<b>mismatch: the assignment is broken</b>)" } else { "" },
        r.sessions_per_second
    );
    let xs: Vec<f64> = r.trajectory.iter().map(|c| c.sessions as f64).collect();
    b.push_str(&chart(
        "Running p-value of the conversion difference (dashed: 0.05). Stopping when it first dips below is not a valid test.",
        &xs,
        &[("p-value", "#0b5cad", r.trajectory.iter().map(|c| c.p_value).collect())],
        None,
        Some(0.05),
    ));
    let lo: Vec<f64> = r.trajectory.iter().map(|c| c.ci.0).collect();
    let hi: Vec<f64> = r.trajectory.iter().map(|c| c.ci.1).collect();
    b.push_str(&chart(
        "Conversion difference (treatment − control) with its interval (dashed: no effect)",
        &xs,
        &[(
            "difference",
            "#0b5cad",
            r.trajectory.iter().map(|c| c.difference).collect(),
        )],
        Some((&lo, &hi)),
        Some(0.0),
    ));
    page(
        &format!("A/B test: {} vs {}", r.arms[1].ranker, r.arms[0].ranker),
        &b,
    )
}

/// The interleaving run's page.
pub fn interleave_html(r: &InterleaveReport) -> String {
    let mut b = format!(
        "<p>{} sessions in {}; {:?}, verdict on {:?} at α = {}; {:.0} sessions/s.</p>",
        r.config.sessions,
        esc(&r.environment),
        r.config.method,
        r.config.credit,
        r.config.alpha,
        r.sessions_per_second
    );
    b.push_str("<table><tr><th>ranker</th><th>click credit</th><th>purchase credit</th><th>true clicks / page</th><th>true purchases / page</th></tr>");
    for (i, name) in r.rankers.iter().enumerate() {
        let t = r.true_values[i];
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            r.clicks.credit[i],
            r.purchases.credit[i],
            t.map_or("-".into(), |t| format!("{:.4}", t.clicks)),
            t.map_or("-".into(), |t| format!("{:.4}", t.purchases))
        );
    }
    b.push_str("</table><table><tr><th>pair</th><th>wins / losses (clicks)</th><th>preference</th><th>p</th><th>wins / losses (purchases)</th><th>preference</th><th>p</th></tr>");
    for p in &r.pairs {
        let _ = write!(
            b,
            "<tr><td>{} vs {}</td><td>{} / {}</td><td>{:+.4}</td><td>{:.4}</td><td>{} / {}</td><td>{:+.4}</td><td>{:.4}</td></tr>",
            esc(&r.rankers[p.a]),
            esc(&r.rankers[p.b]),
            p.wins[0],
            p.losses[0],
            p.preference[0],
            p.p_value[0],
            p.wins[1],
            p.losses[1],
            p.preference[1],
            p.p_value[1]
        );
    }
    let _ = write!(
        b,
        "</table><p>Winner: <b>{}</b>.</p>",
        r.winner.as_deref().map_or("none significant".into(), esc)
    );
    page(&format!("Interleaving: {}", r.rankers.join(" vs ")), &b)
}

fn offpolicy_table(r: &OffPolicyReport) -> String {
    let mut b = format!(
        "<h2>{}</h2><p>{} logged pages; {:.1} % of the ranker's positions without logging support.</p><table><tr><th>reward</th><th>estimator</th><th>value</th><th>interval</th><th>effective pages</th><th>logged ranker's value</th><th>true value</th></tr>",
        esc(&r.ranker),
        r.pages,
        100.0 * r.unsupported
    );
    for rw in &r.rewards {
        for e in &rw.estimates {
            let _ = write!(
                b,
                "<tr><td>{:?}</td><td>{}</td><td>{:.4}</td><td>[{:.4}, {:.4}]</td><td>{:.0}</td><td>{:.4}</td><td>{}</td></tr>",
                rw.reward,
                e.estimator,
                e.value,
                e.ci.0,
                e.ci.1,
                e.effective_pages,
                rw.logged_value,
                rw.true_value.map_or("-".into(), |t| format!("{t:.4}"))
            );
        }
    }
    b.push_str("</table>");
    b
}

/// The off-policy page of one or more rankers.
pub fn offpolicy_html(reports: &[OffPolicyReport]) -> String {
    let body: String = reports.iter().map(offpolicy_table).collect();
    page("Off-policy estimates", &body)
}

/// The gate decision's page.
pub fn gate_html(r: &GateReport) -> String {
    let d = format!("{:?}", r.decision).to_lowercase();
    let mut b = format!(
        "<p class=\"{d}\" style=\"font-size:1.4rem\"><b>{}</b>: {} against champion {}.</p><p>Evidence simulated in {}.</p><table><tr><th>evidence</th><th>verdict</th><th>detail</th></tr>",
        d.to_uppercase(),
        esc(&r.candidate),
        esc(&r.champion),
        esc(&r.environment)
    );
    for c in &r.checks {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{:?}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(&c.kind),
            c.verdict,
            esc(&c.detail)
        );
    }
    b.push_str("</table>");
    if let Some(o) = &r.offpolicy {
        b.push_str(&offpolicy_table(&o[0]));
        b.push_str(&offpolicy_table(&o[1]));
    }
    page(&format!("Promotion gate: {}", r.candidate), &b)
}
