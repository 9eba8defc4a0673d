//! The promotion gate: a TOML policy says which evidence a candidate needs
//! against the champion; [`run_gate`] gathers it (offline metrics from the
//! registry's manifests, a simulated A/B test, an interleaving run, an
//! off-policy estimate from a randomised log of the champion) and
//! [`hyrank_eval::gate::decide`] turns the checks into promote, hold or
//! reject.
//!
//! ```toml
//! [gate]
//! alpha = 0.05        # significance of the online tests, as a family
//! online = "any"      # any: one passing online test suffices; all: every one
//! seed = 7
//!
//! [offline]           # from the manifests' metrics
//! metric = "ndcg@10"
//! max_drop = 0.005
//!
//! [ab]
//! sessions = 20000
//! min_lift = 0.0      # relative lift of the conversion rate
//!
//! [interleaving]
//! sessions = 10000
//! method = "team-draft"
//! credit = "clicks"
//!
//! [offpolicy]
//! sessions = 20000
//! epsilon = 0.3
//! reward = "purchases"
//! estimator = "snips" # ips | snips | dr
//! ```
//!
//! Every section but `[gate]` is optional; a section present is evidence
//! required. With `online = "any"` each online test runs at α divided by
//! the number of online tests (Bonferroni), so the chance of promoting an
//! equal ranker stays below α. An unknown key, a wrong type or a value
//! out of range is an error naming the file, line, column and key.

use std::ops::Range;
use std::path::Path;

use hyrank_eval::gate::{self, Check, Combine, Decision};
use hyrank_eval::interleaving::Method;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::ab::{run_ab, AbConfig, AbReport};
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::interleave::{run_interleave, Credit, InterleaveConfig, InterleaveReport};
use crate::offpolicy::{estimate, simulate_log, OffPolicyReport, Reward};
use crate::policy::CachedPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    gate: RawGate,
    offline: Option<RawOffline>,
    ab: Option<RawAb>,
    interleaving: Option<RawInterleaving>,
    offpolicy: Option<RawOffPolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    alpha: Option<Spanned<f64>>,
    online: Option<Spanned<String>>,
    seed: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    metric: String,
    max_drop: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAb {
    sessions: Spanned<u64>,
    min_lift: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterleaving {
    sessions: Spanned<u64>,
    method: Option<Spanned<String>>,
    credit: Option<Spanned<String>>,
    min_preference: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffPolicy {
    sessions: Spanned<u64>,
    epsilon: Option<Spanned<f64>>,
    reward: Option<Spanned<String>>,
    estimator: Option<Spanned<String>>,
}

/// The offline requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfflineRule {
    /// A metric of the registry manifests (e.g. `ndcg@10`).
    pub metric: String,
    /// How far below the champion the candidate may be.
    pub max_drop: f64,
}

/// The A/B requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbRule {
    /// Sessions in all.
    pub sessions: u64,
    /// Minimum relative lift of the conversion rate.
    pub min_lift: f64,
}

/// The interleaving requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterleavingRule {
    /// Sessions.
    pub sessions: u64,
    /// Team-draft or balanced.
    pub method: Method,
    /// Clicks or purchases.
    pub credit: Credit,
    /// Minimum preference in [−1, 1].
    pub min_preference: f64,
}

/// The off-policy requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OffPolicyRule {
    /// Logged sessions of the champion, randomised.
    pub sessions: u64,
    /// Share of randomised pages.
    pub epsilon: f64,
    /// Clicks or purchases.
    pub reward: Reward,
    /// `ips`, `snips` or `dr`.
    pub estimator: String,
}

/// A parsed, checked promotion policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatePolicy {
    /// Family-wise significance of the online tests.
    pub alpha: f64,
    /// How online evidence combines.
    pub online: Combine,
    /// Seed of the simulated evidence.
    pub seed: u64,
    /// Offline evidence.
    pub offline: Option<OfflineRule>,
    /// A/B evidence.
    pub ab: Option<AbRule>,
    /// Interleaving evidence.
    pub interleaving: Option<InterleavingRule>,
    /// Off-policy evidence.
    pub offpolicy: Option<OffPolicyRule>,
}

/// `line:column` (1-based) of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key (`table.key`) of the `key = value` line holding byte
/// `at`, for errors that the TOML reader reports without naming the key.
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    })
}

struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, key: &str, message: &str) -> Error {
        let (l, c) = line_col(self.text, span.start);
        Error::Policy(format!("{}:{l}:{c}: `{key}`: {message}", self.origin))
    }

    fn probability(
        &self,
        v: &Option<Spanned<f64>>,
        key: &str,
        default: f64,
        open_low: bool,
    ) -> Result<f64> {
        let Some(v) = v else { return Ok(default) };
        let x = *v.get_ref();
        let ok = if open_low {
            x > 0.0 && x < 1.0
        } else {
            (0.0..1.0).contains(&x)
        };
        if ok {
            Ok(x)
        } else {
            Err(self.err(
                v.span(),
                key,
                &format!(
                    "must be in {}0, 1), got {x}",
                    if open_low { "(" } else { "[" }
                ),
            ))
        }
    }

    fn sessions(&self, v: &Spanned<u64>, key: &str) -> Result<u64> {
        let n = *v.get_ref();
        if (10..=100_000_000).contains(&n) {
            Ok(n)
        } else {
            Err(self.err(
                v.span(),
                key,
                &format!("must be between 10 and 100,000,000, got {n}"),
            ))
        }
    }

    fn choice<T>(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T> {
        let Some(v) = v else { return Ok(default) };
        parse(v.get_ref()).ok_or_else(|| {
            self.err(
                v.span(),
                key,
                &format!("unknown value `{}` (expected {expected})", v.get_ref()),
            )
        })
    }
}

impl GatePolicy {
    /// Parses a policy; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            let (l, c) = line_col(text, at);
            let key = key_at(text, at).map_or(String::new(), |k| format!("`{k}`: "));
            Error::Policy(format!("{origin}:{l}:{c}: {key}{}", e.message().trim()))
        })?;
        let cx = Ctx { origin, text };
        let g = &raw.gate;
        let policy = Self {
            alpha: cx.probability(&g.alpha, "gate.alpha", 0.05, true)?,
            online: cx.choice(
                &g.online,
                "gate.online",
                Combine::Any,
                |s| match s {
                    "any" => Some(Combine::Any),
                    "all" => Some(Combine::All),
                    _ => None,
                },
                "any or all",
            )?,
            seed: g.seed.unwrap_or(7),
            offline: match &raw.offline {
                Some(o) => Some(OfflineRule {
                    metric: o.metric.clone(),
                    max_drop: match &o.max_drop {
                        Some(d) if d.get_ref().is_nan() || *d.get_ref() < 0.0 => {
                            return Err(cx.err(d.span(), "offline.max_drop", "must be 0 or more"))
                        }
                        Some(d) => *d.get_ref(),
                        None => 0.0,
                    },
                }),
                None => None,
            },
            ab: match &raw.ab {
                Some(a) => Some(AbRule {
                    sessions: cx.sessions(&a.sessions, "ab.sessions")?,
                    min_lift: a.min_lift.unwrap_or(0.0),
                }),
                None => None,
            },
            interleaving: match &raw.interleaving {
                Some(i) => Some(InterleavingRule {
                    sessions: cx.sessions(&i.sessions, "interleaving.sessions")?,
                    method: cx.choice(
                        &i.method,
                        "interleaving.method",
                        Method::TeamDraft,
                        |s| Method::parse(s).ok(),
                        "team-draft or balanced",
                    )?,
                    credit: cx.choice(
                        &i.credit,
                        "interleaving.credit",
                        Credit::Clicks,
                        |s| Credit::parse(s).ok(),
                        "clicks or purchases",
                    )?,
                    min_preference: i.min_preference.unwrap_or(0.0),
                }),
                None => None,
            },
            offpolicy: match &raw.offpolicy {
                Some(o) => Some(OffPolicyRule {
                    sessions: cx.sessions(&o.sessions, "offpolicy.sessions")?,
                    epsilon: match &o.epsilon {
                        Some(e) if !(*e.get_ref() > 0.0 && *e.get_ref() <= 1.0) => {
                            return Err(cx.err(
                                e.span(),
                                "offpolicy.epsilon",
                                &format!("must be in (0, 1], got {}", e.get_ref()),
                            ))
                        }
                        Some(e) => *e.get_ref(),
                        None => 0.3,
                    },
                    reward: cx.choice(
                        &o.reward,
                        "offpolicy.reward",
                        Reward::Purchases,
                        |s| match s {
                            "clicks" => Some(Reward::Clicks),
                            "purchases" => Some(Reward::Purchases),
                            _ => None,
                        },
                        "clicks or purchases",
                    )?,
                    estimator: cx.choice(
                        &o.estimator,
                        "offpolicy.estimator",
                        "snips".to_owned(),
                        |s| ["ips", "snips", "dr"].contains(&s).then(|| s.to_owned()),
                        "ips, snips or dr",
                    )?,
                }),
                None => None,
            },
        };
        if policy.offline.is_none()
            && policy.ab.is_none()
            && policy.interleaving.is_none()
            && policy.offpolicy.is_none()
        {
            return Err(Error::Policy(format!(
                "{origin}:1:1: the policy asks for no evidence: add an [offline], [ab], [interleaving] or [offpolicy] section"
            )));
        }
        Ok(policy)
    }

    /// Reads and parses a policy file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Data(hyrank_data::Error::io(path, e)))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn online_tests(&self) -> usize {
        usize::from(self.ab.is_some()) + usize::from(self.interleaving.is_some())
    }

    /// The significance level each online test runs at.
    pub fn per_test_alpha(&self) -> f64 {
        match self.online {
            Combine::Any => self.alpha / self.online_tests().max(1) as f64,
            Combine::All => self.alpha,
        }
    }
}

/// Offline metric values (candidate, champion), from the manifests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OfflineValues {
    /// The candidate's.
    pub candidate: f64,
    /// The champion's.
    pub champion: f64,
}

/// The gate's run: the decision, its checks and the evidence behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The candidate.
    pub candidate: String,
    /// The champion it was compared with.
    pub champion: String,
    /// The policy.
    pub policy: GatePolicy,
    /// The environment the online evidence was simulated in.
    pub environment: String,
    /// Promote, hold or reject.
    pub decision: Decision,
    /// One per piece of evidence.
    pub checks: Vec<Check>,
    /// The A/B test, where asked.
    pub ab: Option<AbReport>,
    /// The interleaving run, where asked.
    pub interleaving: Option<InterleaveReport>,
    /// The off-policy estimates of the candidate and the champion.
    pub offpolicy: Option<[OffPolicyReport; 2]>,
}

/// Gathers the evidence `policy` asks for and decides. `offline` carries
/// the manifests' values of the policy's offline metric (`None` when the
/// policy has no `[offline]` section; an error when it has one and no
/// values are given).
pub fn run_gate(
    policy: &GatePolicy,
    env: &dyn Environment,
    candidate: &CachedPolicy,
    champion: &CachedPolicy,
    offline: Option<OfflineValues>,
    seed: u64,
) -> Result<GateReport> {
    let mut checks = Vec::new();
    let alpha = policy.per_test_alpha();
    if let Some(rule) = &policy.offline {
        let v = offline.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the policy's [offline] section needs `{}` of both rankers",
                rule.metric
            ))
        })?;
        checks.push(gate::offline(
            &rule.metric,
            v.candidate,
            v.champion,
            rule.max_drop,
        ));
    }
    let mut ab = None;
    if let Some(rule) = &policy.ab {
        let r = run_ab(
            env,
            champion,
            candidate,
            &AbConfig {
                sessions: rule.sessions,
                seed: seed ^ 0xAB,
                level: 1.0 - alpha,
                bootstrap: 0,
                true_values: false,
                ..AbConfig::default()
            },
        )?;
        let m = &r.metrics[0];
        let mut c = gate::online(
            "ab",
            m.comparison.relative,
            m.comparison.p_value,
            alpha,
            rule.min_lift,
        );
        c.detail = format!(
            "conversion {:.4} → {:.4}: {}",
            m.control, m.treatment, c.detail
        );
        checks.push(c);
        ab = Some(r);
    }
    let mut interleaving = None;
    if let Some(rule) = &policy.interleaving {
        let r = run_interleave(
            env,
            &[candidate, champion],
            &InterleaveConfig {
                sessions: rule.sessions,
                seed: seed ^ 0x11,
                method: rule.method,
                credit: rule.credit,
                alpha,
                true_values: false,
            },
        )?;
        let j = usize::from(rule.credit == Credit::Purchases);
        let p = &r.pairs[0];
        let mut c = gate::online(
            "interleaving",
            p.preference[j],
            p.p_value[j],
            alpha,
            rule.min_preference,
        );
        c.detail = format!(
            "{} wins {} / losses {} on {:?}: {}",
            candidate.name(),
            p.wins[j],
            p.losses[j],
            rule.credit,
            c.detail
        );
        checks.push(c);
        interleaving = Some(r);
    }
    let mut offpolicy = None;
    if let Some(rule) = &policy.offpolicy {
        let log = simulate_log(env, champion, rule.epsilon, rule.sessions, seed ^ 0x0FF)?;
        let level = 1.0 - policy.alpha;
        let cand = estimate(&log, candidate, level, None)?;
        let champ = estimate(&log, champion, level, None)?;
        let j = usize::from(rule.reward == Reward::Purchases);
        let pick = |r: &OffPolicyReport| {
            r.rewards[j]
                .estimates
                .iter()
                .find(|e| e.estimator == rule.estimator)
                .copied()
                .expect("every estimator is computed")
        };
        let (a, b) = (pick(&cand), pick(&champ));
        let mut c = gate::offpolicy(a.value, b.ci.0, b.value);
        c.detail = format!(
            "{} {:?} per page: {}",
            rule.estimator, rule.reward, c.detail
        );
        checks.push(c);
        offpolicy = Some([cand, champ]);
    }
    let decision = gate::decide(&checks, policy.online);
    Ok(GateReport {
        candidate: candidate.name().to_owned(),
        champion: champion.name().to_owned(),
        policy: policy.clone(),
        environment: env.name(),
        decision,
        checks,
        ab,
        interleaving,
        offpolicy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[gate]\nalpha = 0.05\nonline = \"any\"\n\n[ab]\nsessions = 1000\n\n[interleaving]\nsessions = 500\nmethod = \"balanced\"\n";

    #[test]
    fn a_policy_parses_with_defaults() {
        let p = GatePolicy::parse(GOOD, "p.toml").unwrap();
        assert_eq!(p.alpha, 0.05);
        assert_eq!(p.interleaving.as_ref().unwrap().method, Method::Balanced);
        assert_eq!(p.interleaving.as_ref().unwrap().credit, Credit::Clicks);
        assert!(p.offline.is_none() && p.offpolicy.is_none());
        assert!((p.per_test_alpha() - 0.025).abs() < 1e-12);
    }

    #[test]
    fn bad_policies_name_the_key_and_the_line() {
        let cases = [
            (
                GOOD.replace("sessions = 500", "sesions = 500"),
                "p.toml:9:1",
                "sesions",
            ),
            (
                GOOD.replace("alpha = 0.05", "alpha = 1.5"),
                "p.toml:2:9",
                "gate.alpha",
            ),
            (
                GOOD.replace("\"balanced\"", "\"zigzag\""),
                "p.toml:10:10",
                "zigzag",
            ),
            (
                GOOD.replace("sessions = 1000", "sessions = \"many\""),
                "p.toml:6:12",
                "`ab.sessions`: invalid type",
            ),
            (GOOD.replace("[ab]", "[ab"), "p.toml:5:", "unclosed table"),
            (
                "[gate]\nalpha = 0.05\n".to_owned(),
                "p.toml:1:1",
                "no evidence",
            ),
        ];
        for (text, at, word) in cases {
            let e = GatePolicy::parse(&text, "p.toml").unwrap_err().to_string();
            assert!(e.starts_with(at), "{e} (wanted {at})");
            assert!(e.to_lowercase().contains(word), "{e} (wanted {word})");
        }
    }
}
