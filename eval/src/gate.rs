//! The promotion gate's decision rule: each piece of evidence passes,
//! fails or is inconclusive; a failure rejects, all required evidence
//! passing promotes, anything else holds.
//!
//! The rules per kind of evidence (α and δ from the policy):
//!
//! | evidence | pass | fail | otherwise |
//! |---|---|---|---|
//! | offline metric | candidate ≥ champion − δ | candidate < champion − δ | — |
//! | A/B lift | lift > min_lift and p < α | lift < 0 and p < α | inconclusive |
//! | interleaving | candidate preferred, p < α | champion preferred, p < α | inconclusive |
//! | off-policy | candidate's estimate ≥ champion's lower CI bound | below it | — |
//!
//! Online evidence (A/B, interleaving) can be combined with `any` (one
//! passing suffices, as "an A/B lift or an interleaving win") or `all`.

use serde::Serialize;

/// What one piece of evidence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The candidate meets it.
    Pass,
    /// The candidate is shown worse.
    Fail,
    /// Not enough evidence either way.
    Inconclusive,
}

/// The gate's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Swap the champion.
    Promote,
    /// Keep the champion; more evidence may promote later.
    Hold,
    /// The candidate is worse.
    Reject,
}

/// One checked piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `offline`, `ab`, `interleaving`, `offpolicy`.
    pub kind: String,
    /// What it says.
    pub verdict: Verdict,
    /// One line a person can read.
    pub detail: String,
    /// Online evidence is combined with the policy's `online` rule.
    pub online: bool,
}

/// How online checks combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// One passing online check suffices (none may fail).
    #[default]
    Any,
    /// Every online check must pass.
    All,
}

/// The decision for `checks`: any failure rejects; otherwise promote when
/// every offline check passes and the online checks pass as `combine`
/// says; otherwise hold. No checks at all hold.
pub fn decide(checks: &[Check], combine: Combine) -> Decision {
    if checks.is_empty() {
        return Decision::Hold;
    }
    if checks.iter().any(|c| c.verdict == Verdict::Fail) {
        return Decision::Reject;
    }
    let offline_ok = checks
        .iter()
        .filter(|c| !c.online)
        .all(|c| c.verdict == Verdict::Pass);
    let mut online = checks.iter().filter(|c| c.online).peekable();
    let online_ok = online.peek().is_none()
        || match combine {
            Combine::Any => online.any(|c| c.verdict == Verdict::Pass),
            Combine::All => online.all(|c| c.verdict == Verdict::Pass),
        };
    if offline_ok && online_ok {
        Decision::Promote
    } else {
        Decision::Hold
    }
}

/// Offline metric: pass when `candidate ≥ champion − max_drop`.
pub fn offline(metric: &str, candidate: f64, champion: f64, max_drop: f64) -> Check {
    let pass = candidate >= champion - max_drop;
    Check {
        kind: "offline".into(),
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        detail: format!(
            "{metric}: candidate {candidate:.4} vs champion {champion:.4} (allowed drop {max_drop})"
        ),
        online: false,
    }
}

/// A significance-tested online effect (A/B relative lift, or an
/// interleaving preference in [−1, 1]).
pub fn online(kind: &str, effect: f64, p_value: f64, alpha: f64, min_effect: f64) -> Check {
    let verdict = if p_value < alpha && effect > min_effect && effect > 0.0 {
        Verdict::Pass
    } else if p_value < alpha && effect < 0.0 {
        Verdict::Fail
    } else {
        Verdict::Inconclusive
    };
    Check {
        kind: kind.into(),
        verdict,
        detail: format!(
            "effect {effect:+.4}, p = {p_value:.4} (alpha {alpha}, minimum effect {min_effect})"
        ),
        online: true,
    }
}

/// Off-policy: pass when the candidate's estimate is not below the
/// champion's lower interval bound.
pub fn offpolicy(candidate: f64, champion_low: f64, champion: f64) -> Check {
    let pass = candidate >= champion_low;
    Check {
        kind: "offpolicy".into(),
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        detail: format!(
            "candidate {candidate:.5} vs champion {champion:.5} (lower bound {champion_low:.5})"
        ),
        online: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_follow_the_rule() {
        let pass_ab = online("ab", 0.03, 0.01, 0.05, 0.0);
        let unsure_il = online("interleaving", 0.02, 0.3, 0.05, 0.0);
        let lose_il = online("interleaving", -0.1, 0.001, 0.05, 0.0);
        let off_ok = offline("ndcg@10", 0.50, 0.505, 0.01);
        let off_bad = offline("ndcg@10", 0.40, 0.505, 0.01);
        assert_eq!(pass_ab.verdict, Verdict::Pass);
        assert_eq!(unsure_il.verdict, Verdict::Inconclusive);
        assert_eq!(
            decide(
                &[off_ok.clone(), pass_ab.clone(), unsure_il.clone()],
                Combine::Any
            ),
            Decision::Promote
        );
        assert_eq!(
            decide(
                &[off_ok.clone(), pass_ab.clone(), unsure_il.clone()],
                Combine::All
            ),
            Decision::Hold
        );
        assert_eq!(
            decide(&[off_ok.clone(), pass_ab.clone(), lose_il], Combine::Any),
            Decision::Reject
        );
        assert_eq!(
            decide(&[off_bad, pass_ab.clone()], Combine::Any),
            Decision::Reject
        );
        assert_eq!(decide(&[off_ok, unsure_il], Combine::Any), Decision::Hold);
        assert_eq!(decide(&[], Combine::Any), Decision::Hold);
        // A significant but too small lift is not a pass.
        assert_eq!(
            online("ab", 0.01, 0.001, 0.05, 0.02).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(offpolicy(0.1, 0.09, 0.095).verdict, Verdict::Pass);
        assert_eq!(offpolicy(0.08, 0.09, 0.095).verdict, Verdict::Fail);
    }
}
