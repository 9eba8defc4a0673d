use super::recovery::{known_attractiveness as attractiveness, simulate, WEB_EXAMINATION as WEB};
use super::*;
use crate::significance::SplitMix64;

#[test]
fn pbm_recovers_examination_and_attractiveness() {
    let truth = ClickModel::Pbm {
        gamma: WEB.to_vec(),
        alpha: attractiveness(5),
    };
    let sessions = simulate(&truth, 5, 40_000, 1);
    let fitted = fit(ModelKind::Pbm, &sessions, &FitOptions::default()).unwrap();
    let ClickModel::Pbm { gamma, alpha } = &fitted else {
        panic!("not a PBM")
    };
    // PBM is identified up to a scale between γ and α: compare γ_r / γ_1.
    for r in 1..10 {
        let (got, want) = (gamma[r] / gamma[0], WEB[r] / WEB[0]);
        assert!((got - want).abs() < 0.04, "rank {}: {got} vs {want}", r + 1);
    }
    // α · γ_1 against the truth's, over every pair.
    let mut worst = 0.0f64;
    for q in 0..5 {
        for d in 0..40 {
            let (q, d) = (format!("q{q}"), format!("d{d}"));
            let got = alpha.get(&q, &d) * gamma[0];
            let want = attractiveness(5).get(&q, &d) * WEB[0];
            worst = worst.max((got - want).abs());
        }
    }
    assert!(worst < 0.08, "largest attractiveness error {worst}");
}

#[test]
fn dbn_recovers_its_parameters() {
    let mut sigma = attractiveness(3);
    for m in sigma.values.values_mut() {
        for v in m.values_mut() {
            *v = 0.3 + 0.4 * *v;
        }
    }
    let truth = ClickModel::Dbn {
        gamma: 0.8,
        alpha: attractiveness(3),
        sigma,
    };
    let sessions = simulate(&truth, 3, 40_000, 2);
    let fitted = fit(ModelKind::Dbn, &sessions, &FitOptions::default()).unwrap();
    let ClickModel::Dbn { gamma, alpha, .. } = &fitted else {
        panic!("not a DBN")
    };
    assert!((gamma - 0.8).abs() < 0.05, "gamma {gamma}");
    let err: f64 = (0..40)
        .map(|d| {
            let d = format!("d{d}");
            (alpha.get("q0", &d) - attractiveness(3).get("q0", &d)).abs()
        })
        .sum::<f64>()
        / 40.0;
    assert!(err < 0.06, "mean attractiveness error {err}");
}

#[test]
fn full_probabilities_match_the_models_own_draws() {
    let alpha = attractiveness(1);
    let models = [
        ClickModel::Cascade {
            alpha: alpha.clone(),
        },
        ClickModel::Dbn {
            gamma: 0.7,
            alpha: alpha.clone(),
            sigma: PairParams {
                prior: 0.5,
                values: BTreeMap::new(),
            },
        },
        ClickModel::Sdbn {
            alpha: alpha.clone(),
            sigma: PairParams {
                prior: 0.4,
                values: BTreeMap::new(),
            },
        },
        ClickModel::Ubm {
            gamma: (0..10)
                .map(|r| {
                    (0..=r)
                        .map(|j| {
                            0.9 - 0.05 * (r - j.min(r)) as f64 - 0.1 * f64::from(u8::from(j == 0))
                        })
                        .collect()
                })
                .collect(),
            alpha: alpha.clone(),
        },
        ClickModel::Dcm {
            lambda: (0..10).map(|r| 0.75 - 0.05 * r as f64).collect(),
            alpha,
        },
    ];
    let docs: Vec<String> = (0..10).map(|d| format!("d{}", d * 3)).collect();
    for m in &models {
        let mut rng = SplitMix64::new(9);
        let n = 60_000;
        let mut freq = [0.0; 10];
        for _ in 0..n {
            for (r, c) in m
                .sample_clicks("q0", &docs, &mut || rng.next_f64())
                .iter()
                .enumerate()
            {
                freq[r] += f64::from(u8::from(*c)) / n as f64;
            }
        }
        let full = m.full_probs("q0", &docs);
        for r in 0..10 {
            assert!(
                (full[r] - freq[r]).abs() < 0.01,
                "{}: rank {} full {} vs drawn {}",
                m.kind(),
                r + 1,
                full[r],
                freq[r]
            );
        }
    }
}

#[test]
fn position_aware_models_beat_rank_ctr_on_held_out_pages() {
    let truth = ClickModel::Pbm {
        gamma: WEB.to_vec(),
        alpha: attractiveness(5),
    };
    let train = simulate(&truth, 5, 20_000, 3);
    let test = simulate(&truth, 5, 5_000, 4);
    let opts = FitOptions::default();
    let eval_of = |k: ModelKind| evaluate(&fit(k, &train, &opts).unwrap(), &test, 10);
    let base = eval_of(ModelKind::RankCtr);
    for k in [
        ModelKind::Pbm,
        ModelKind::Dbn,
        ModelKind::Ubm,
        ModelKind::Sdbn,
        ModelKind::Dcm,
    ] {
        let e = eval_of(k);
        assert!(
            e.log_likelihood > base.log_likelihood && e.perplexity < base.perplexity,
            "{k}: ll {} ppl {} vs rank-CTR ll {} ppl {}",
            e.log_likelihood,
            e.perplexity,
            base.log_likelihood,
            base.perplexity
        );
    }
    assert_eq!(base.perplexity_at_rank.len(), 10);
    assert!(base.perplexity > 1.0 && base.perplexity < 2.0);
}

#[test]
fn unseen_pairs_take_the_prior_and_files_round_trip() {
    let truth = ClickModel::Pbm {
        gamma: WEB.to_vec(),
        alpha: attractiveness(2),
    };
    let sessions = simulate(&truth, 2, 2_000, 5);
    for k in ModelKind::ALL {
        let m = fit(k, &sessions, &FitOptions::default()).unwrap();
        let p = m.full_probs("never-seen", &["x".to_string(), "y".to_string()]);
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)), "{k}: {p:?}");
        let file = ClickModelFile::new(m.clone(), 2_000, 10);
        let text = serde_json::to_string(&file).unwrap();
        let back = ClickModelFile::parse(&text, "m.json").unwrap();
        assert_eq!(back.model, m, "{k}");
        assert_eq!(ModelKind::parse(k.name()).unwrap(), k);
    }
    let e = ClickModelFile::parse(r#"{"format":"hyrank-click-model","version":1,"sessions":1,"max_rank":10,"model":{"model":"pbm","gamma":[1.5],"alpha":{"prior":0.1,"values":{}}}}"#, "m.json").unwrap_err();
    assert!(e.to_string().contains("gamma[0] = 1.5"), "{e}");
    let e = ClickModelFile::parse(r#"{"format":"hyrank-click-model","version":1,"sessions":1,"max_rank":10,"model":{"model":"pbn"}}"#, "m.json").unwrap_err();
    assert!(e.to_string().contains("m.json:1"), "{e}");
    assert!(ModelKind::parse("fcm").is_err());
    assert!(fit(ModelKind::Pbm, &[], &FitOptions::default()).is_err());
}

#[test]
fn sessions_join_clicks_and_count_what_they_leave_out() {
    use hyrank_data::{
        Click, DocId, EventId, ImpressedDoc, Impression, RequestId, SessionId, Timestamp, UserId,
    };
    let imp = |req: &str, docs: &[&str]| {
        InteractionEvent::Impression(Impression {
            event_id: EventId(format!("e-{req}")),
            timestamp: Timestamp(1),
            request_id: RequestId(req.into()),
            query_id: None,
            query: "lamp".into(),
            user_id: UserId("u".into()),
            session_id: SessionId("s".into()),
            results: docs
                .iter()
                .enumerate()
                .map(|(i, d)| ImpressedDoc {
                    doc: DocId((*d).into()),
                    position: i as u32 + 1,
                    propensity: None,
                    team: None,
                })
                .collect(),
            ranker: "r".into(),
            arm: None,
            partial: false,
            generation: None,
        })
    };
    let click = |req: &str, doc: &str, pos: u32| {
        InteractionEvent::Click(Click {
            event_id: EventId(format!("c-{req}-{pos}")),
            timestamp: Timestamp(2),
            request_id: RequestId(req.into()),
            user_id: UserId("u".into()),
            session_id: SessionId("s".into()),
            doc: DocId(doc.into()),
            position: pos,
        })
    };
    let events = vec![
        imp("r1", &["a", "b", "c"]),
        click("r1", "b", 2),
        click("r1", "b", 2),
        click("r1", "z", 3),
        click("r9", "a", 1),
    ];
    let (s, report) = sessions_from_events(&events, 10);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].clicks, vec![false, true, false]);
    assert_eq!(s[0].query, "lamp");
    assert_eq!(
        (
            report.clicks,
            report.orphan_clicks,
            report.mismatched_clicks
        ),
        (4, 1, 1)
    );
}

use hyrank_data::InteractionEvent;

#[test]
fn dcm_probabilities_follow_its_definition() {
    // Two results, α = 0.5 each (the prior), λ_1 = 0.4 after a click at
    // rank 1.
    let m = ClickModel::Dcm {
        lambda: vec![0.4, 0.4],
        alpha: PairParams {
            prior: 0.5,
            values: BTreeMap::new(),
        },
    };
    let docs = ["a".to_string(), "b".to_string()];
    // Not clicked at rank 1: the scan goes on, rank 2 is examined.
    let p = m.conditional_probs("q", &docs, &[false, false]);
    assert!(
        (p[0] - 0.5).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12,
        "{p:?}"
    );
    // Clicked at rank 1: rank 2 is examined with λ_1.
    let p = m.conditional_probs("q", &docs, &[true, false]);
    assert!((p[1] - 0.4 * 0.5).abs() < 1e-12, "{p:?}");
    // Unconditionally: P(E_2) = (1 − α) + α λ = 0.7.
    let f = m.full_probs("q", &docs);
    assert!((f[1] - 0.7 * 0.5).abs() < 1e-12, "{f:?}");
}
