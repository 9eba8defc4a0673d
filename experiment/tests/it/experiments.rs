// The runs on a small synthetic world: the environment's truth is known,
// so each assertion compares a run against the exact answer.

use std::sync::Arc;

use hyrank_data::synth::{Behaviour, LoggingPolicy, World, WorldConfig};
use hyrank_eval::clickmodel::{evaluate, fit, ClickModel, ClickSession, FitOptions, ModelKind};
use hyrank_eval::gate::Decision;
use hyrank_eval::interleaving::Method;
use hyrank_experiment::ab::{run_ab, AbConfig};
use hyrank_experiment::env::{rng, Environment, FittedEnv, SyntheticEnv};
use hyrank_experiment::gate::{run_gate, GatePolicy};
use hyrank_experiment::interleave::{page_of, run_interleave, Credit, InterleaveConfig};
use hyrank_experiment::offpolicy::{estimate, simulate_log, LoggedVisit};
use hyrank_experiment::policy::{CachedPolicy, Improvement};
use hyrank_experiment::recovery::pbm_on_world;
use hyrank_experiment::study::{run_study, StudyConfig};

fn env() -> SyntheticEnv {
    let world = World::build(&WorldConfig {
        products: 2000,
        queries: 120,
        ..WorldConfig::default()
    })
    .unwrap();
    SyntheticEnv::new(world, Behaviour::default(), 2000, 10).unwrap()
}

/// Base ranker (the world's logging ranker) and one of `lift` more true
/// purchases.
fn pair(env: &SyntheticEnv, lift: f64) -> (CachedPolicy, CachedPolicy, f64) {
    let logging = LoggingPolicy::new(env.world(), 3);
    let imp = Improvement::new(env, &logging, 10).unwrap();
    let (share, achieved) = imp.calibrate(env, lift, 11).unwrap();
    assert!(
        achieved >= lift && achieved < lift + 0.05,
        "achieved {achieved}"
    );
    (
        CachedPolicy::new(Arc::new(imp.base("base")), 10),
        CachedPolicy::new(Arc::new(imp.improved("better", share, 11)), 10),
        achieved,
    )
}

#[test]
fn ab_test_finds_a_real_lift_and_not_an_aa_difference() {
    let env = env();
    let (base, better, lift) = pair(&env, 0.15);
    let cfg = AbConfig {
        sessions: 40_000,
        bootstrap: 200,
        ..AbConfig::default()
    };
    let r = run_ab(&env, &base, &better, &cfg).unwrap();
    let t = [r.arms[0].true_value.unwrap(), r.arms[1].true_value.unwrap()];
    assert!((t[1].purchases / t[0].purchases - 1.0 - lift).abs() < 1e-9);
    let purchases = &r.metrics[1];
    assert_eq!(purchases.name, "purchases");
    let true_diff = t[1].purchases - t[0].purchases;
    assert!(
        purchases.comparison.ci.0 <= true_diff && true_diff <= purchases.comparison.ci.1,
        "{purchases:?} vs true {true_diff}"
    );
    assert!(r.metrics[0].comparison.p_value < 0.05, "{:?}", r.metrics[0]);
    assert!(r.srm_p_value > 0.001);
    assert_eq!(r.trajectory.last().unwrap().sessions, 40_000);
    // A/A: the same ranker on both arms, over seeds: p < 0.05 about 5 % of the time.
    let false_alarms = (0..40)
        .filter(|s| {
            let r = run_ab(
                &env,
                &base,
                &base,
                &AbConfig {
                    sessions: 4000,
                    seed: 100 + s,
                    bootstrap: 0,
                    true_values: false,
                    ..AbConfig::default()
                },
            )
            .unwrap();
            assert!(r.aa);
            r.metrics[0].comparison.p_value < 0.05
        })
        .count();
    assert!(
        false_alarms <= 6,
        "{false_alarms} of 40 A/A tests significant"
    );
}

#[test]
fn interleaving_prefers_the_better_ranker_with_every_method() {
    let env = env();
    let (base, better, _) = pair(&env, 0.15);
    for method in [Method::TeamDraft, Method::Balanced] {
        let r = run_interleave(
            &env,
            &[&base, &better],
            &InterleaveConfig {
                sessions: 20_000,
                method,
                ..InterleaveConfig::default()
            },
        )
        .unwrap();
        assert_eq!(
            r.winner.as_deref(),
            Some("better"),
            "{method:?}: {:?}",
            r.pairs
        );
        assert!(r.pairs[0].preference[0] < 0.0);
    }
    // Multileaving three: the better one wins, the base and its twin tie.
    let twin = CachedPolicy::new(
        Arc::new(
            Improvement::new(&env, &LoggingPolicy::new(env.world(), 3), 10)
                .unwrap()
                .base("twin"),
        ),
        10,
    );
    let r = run_interleave(
        &env,
        &[&base, &twin, &better],
        &InterleaveConfig {
            sessions: 30_000,
            credit: Credit::Purchases,
            ..InterleaveConfig::default()
        },
    )
    .unwrap();
    assert_eq!(r.rankers.len(), 3);
    assert_eq!(r.pairs.len(), 3);
    assert!(
        r.pairs[0].p_value[1] > 0.001,
        "base vs twin {:?}",
        r.pairs[0]
    );
    assert!(r.purchases.credit[2] > r.purchases.credit[0]);
}

#[test]
fn the_next_page_continues_the_same_interleaved_list() {
    let lists: Vec<Vec<hyrank_data::DocId>> = (0..2)
        .map(|r| {
            (0..30)
                .map(|i| hyrank_data::DocId(format!("d{}", (i * (r + 2)) % 31)))
                .collect()
        })
        .collect();
    for seed in 0..20 {
        let p1 = page_of(Method::TeamDraft, &lists, 10, 0, seed).unwrap();
        let p2 = page_of(Method::TeamDraft, &lists, 10, 1, seed).unwrap();
        let both = page_of(Method::TeamDraft, &lists, 20, 0, seed).unwrap();
        assert_eq!([p1.docs.clone(), p2.docs.clone()].concat(), both.docs);
        assert_eq!([p1.teams, p2.teams].concat(), both.teams);
        assert!(p2.docs.iter().all(|d| !p1.docs.contains(d)));
    }
}

#[test]
fn off_policy_estimates_cover_the_true_value() {
    let env = env();
    let (base, better, _) = pair(&env, 0.15);
    let truth = hyrank_experiment::policy::true_value(&env, &better).unwrap();
    let mut covered = [0usize; 6];
    for seed in 0..20 {
        let log = simulate_log(&env, &base, 0.5, 5000, seed).unwrap();
        let r = estimate(&log, &better, 0.95, Some(&env)).unwrap();
        assert!(r.unsupported < 0.05, "{}", r.unsupported);
        assert_eq!(r.rewards[1].true_value, Some(truth.purchases));
        for (j, e) in r
            .rewards
            .iter()
            .flat_map(|w| w.estimates.iter().map(move |e| (w, e)))
            .enumerate()
        {
            let t = e.0.true_value.unwrap();
            covered[j] += usize::from(e.1.ci.0 <= t && t <= e.1.ci.1);
        }
    }
    for (j, c) in covered.iter().enumerate() {
        assert!(*c >= 16, "estimator {j} covered {c} of 20");
    }
}

#[test]
fn the_gate_promotes_better_holds_equal_and_rejects_worse() {
    let env = env();
    let (base, better, _) = pair(&env, 0.15);
    let policy = GatePolicy::parse(
        "[gate]\nalpha = 0.05\n\n[ab]\nsessions = 20000\n\n[interleaving]\nsessions = 10000\n\n[offpolicy]\nsessions = 5000\nepsilon = 0.5\n",
        "policy.toml",
    )
    .unwrap();
    let d = |c: &CachedPolicy, ch: &CachedPolicy| run_gate(&policy, &env, c, ch, None, 1).unwrap();
    let up = d(&better, &base);
    assert_eq!(up.decision, Decision::Promote, "{:?}", up.checks);
    assert_eq!(up.checks.len(), 3);
    assert_eq!(d(&base, &base).decision, Decision::Hold);
    assert_eq!(d(&base, &better).decision, Decision::Reject);
}

#[test]
fn a_fitted_environment_reproduces_the_logged_click_rates() {
    let env = env();
    let logging = CachedPolicy::new(Arc::new(LoggingPolicy::new(env.world(), 3)), 10);
    let log = simulate_log(&env, &logging, 0.3, 20_000, 5).unwrap();
    let sessions: Vec<ClickSession> = log.iter().map(LoggedVisit::click_session).collect();
    let (train, test) = sessions.split_at(15_000);
    let opts = FitOptions::default();
    let ll = |m: &ClickModel| evaluate(m, test, 10).log_likelihood;
    let ctr = ll(&fit(ModelKind::RankCtr, train, &opts).unwrap());
    for kind in [ModelKind::Pbm, ModelKind::Ubm, ModelKind::Dbn] {
        let m = fit(kind, train, &opts).unwrap();
        assert!(ll(&m) > ctr, "{kind:?}: {} vs rank-CTR {ctr}", ll(&m));
    }
    // PBM recovers the world's examination curve (relative to rank 1) and
    // its attractiveness.
    let w = pbm_on_world(&env, &sessions, &opts, 20).unwrap();
    let web = |r: usize| hyrank_data::synth::Examination::Web.probability(r + 1);
    assert_eq!(w.examination.len(), 9);
    for (r, &(got, want)) in w.examination.iter().enumerate() {
        assert!((want - web(r + 1) / web(0)).abs() < 1e-12);
        assert!((got - want).abs() < 0.08, "rank {}: {got} vs {want}", r + 2);
    }
    assert!(w.pairs.1 > 0 && w.pairs.1 <= w.pairs.0, "{:?}", w.pairs);
    assert!(
        w.attractiveness_weighted_mean < 0.03,
        "attractiveness error {}",
        w.attractiveness_weighted_mean
    );
    // An environment fitted on PBM predicts the base ranker's clicks.
    let events = Vec::new();
    let pbm = fit(ModelKind::Pbm, &sessions, &opts).unwrap();
    assert!(FittedEnv::new(pbm.clone(), &events, 10, "x").is_err());
    let mut r = rng(1);
    let v = env.visit(&mut r);
    let page = logging.list(&v.query_id, &v.query).unwrap();
    let p = pbm.full_probs(
        &v.query_id.0,
        &page.iter().map(|d| d.0.clone()).collect::<Vec<_>>(),
    );
    assert_eq!(p.len(), 10);
}

#[test]
fn a_small_study_runs_end_to_end() {
    let env = env();
    let logging = LoggingPolicy::new(env.world(), 3);
    let policy = GatePolicy::parse(
        "[gate]\n[ab]\nsessions = 4000\n[interleaving]\nsessions = 2000\n",
        "p",
    )
    .unwrap();
    let r = run_study(
        &env,
        &logging,
        &StudyConfig {
            sensitivity_seeds: 4,
            sensitivity_sessions: 4000,
            sensitivity_max_sessions: 40_000,
            gate_seeds: 4,
            offpolicy_seeds: 4,
            offpolicy_sessions: 2000,
            epsilon: 0.5,
            lift: 0.1,
            policy,
        },
        &|_| {},
    )
    .unwrap();
    assert!(r.improvement.1 >= 0.1);
    assert!(
        r.sensitivity.ratio_clicks.median > 1.0,
        "{:?}",
        r.sensitivity
    );
    // Run until significant: interleaving gets there first, and every
    // figure lies on the checking grid within the cap.
    let s = &r.sensitivity;
    assert!(s.ratio_to_significance_clicks.median > 1.0, "{s:?}");
    for x in [
        s.ab_sessions_to_significance.median,
        s.td_clicks_sessions_to_significance.median,
        s.ab_sessions_to_stay_significant.median,
        s.td_clicks_sessions_to_stay_significant.median,
    ] {
        assert!((1000.0..=40_000.0).contains(&x) && x % 1000.0 == 0.0, "{x}");
    }
    // Significance is kept no earlier than it first appears, and
    // interleaving keeps it sooner.
    assert!(s.ratio_to_stay_significant_clicks.median > 1.0, "{s:?}");
    assert!(s.td_clicks_sessions_to_stay_significant.q1 >= s.td_clicks_sessions_to_significance.q1);
    assert!(s.not_settled.iter().all(|&m| m <= s.seeds), "{s:?}");
    // Pooled over seeds: every session of every seed, and the interval
    // around the ratio.
    assert_eq!(s.pooled.sessions, 4 * 40_000);
    let (ratio, ci) = (s.pooled.ratio[0], s.pooled.ratio_ci[0]);
    assert!(
        ratio > 1.0 && ci[0].is_finite() && ci[0] <= ci[1],
        "{:?}",
        s.pooled
    );
    assert_eq!(r.offpolicy.coverage.len(), 6);
    assert!(r.gate.promoted[2] == 0.0);
}
