//! Parameter recovery: pages drawn from a click model of known parameters,
//! the same kind of model fitted on them, and the distance between the
//! fitted parameters and the truth.
//!
//! The known models ([`known_model`]) use the examination curve of the
//! synthetic world (PBM fitted on the Yandex WSCD 2012 sample) and a
//! spread of attractiveness over 40 documents a query,
//! `α_qd = 0.05 + 0.9 · (((7q + 13d) mod 40) / 39)²`. Pages ([`simulate`])
//! are 10 of a query's 40 documents in a uniformly random order, so every
//! pair is seen at every rank.
//!
//! Scale: PBM and UBM are identified only up to a factor between
//! examination and attractiveness (γ·c and α/c give the same clicks), so
//! their examination is compared relative to the top rank's (γ_r / γ_1; for
//! UBM γ_(r,r') / γ_(1,0)) and their attractiveness times that rank's
//! examination (α · γ_1), on both sides. Cascade, DBN and SDBN are
//! identified as they are.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{fit, ClickModel, ClickSession, FitOptions, ModelKind, PairParams};
use crate::error::{Error, Result};
use crate::significance::SplitMix64;

/// Documents a query has in the known models.
pub const DOCS_PER_QUERY: usize = 40;

/// The synthetic world's examination curve (ranks 1 to 10).
pub const WEB_EXAMINATION: [f64; 10] = [0.81, 0.57, 0.47, 0.39, 0.30, 0.27, 0.25, 0.21, 0.22, 0.21];

/// The known attractiveness of `queries` queries' 40 documents each (query
/// ids `q0…`, document ids `d0…d39`).
pub fn known_attractiveness(queries: usize) -> PairParams {
    let mut values = BTreeMap::new();
    for q in 0..queries {
        let m: BTreeMap<String, f64> = (0..DOCS_PER_QUERY)
            .map(|d| {
                let x = ((q * 7 + d * 13) % DOCS_PER_QUERY) as f64 / (DOCS_PER_QUERY - 1) as f64;
                (format!("d{d}"), 0.05 + 0.9 * x * x)
            })
            .collect();
        values.insert(format!("q{q}"), m);
    }
    PairParams { prior: 0.3, values }
}

fn known_satisfaction(queries: usize) -> PairParams {
    let mut s = known_attractiveness(queries);
    for m in s.values.values_mut() {
        for v in m.values_mut() {
            *v = 0.3 + 0.4 * *v;
        }
    }
    s
}

/// The known model of a kind: PBM with the world's examination curve;
/// cascade; DBN with continuation 0.8 and satisfaction `0.3 + 0.4 α`; SDBN
/// with the same satisfaction; UBM with `γ_(r, 0)` the world's curve and,
/// after a click at rank j, `γ_(r, j+1) = 0.9 · 0.85^(r − j − 1)`; DCM with
/// continuation `λ_r = 0.7 − 0.04 r` after a click at 0-based rank r;
/// rank-CTR with a third of the world's curve.
pub fn known_model(kind: ModelKind, queries: usize) -> ClickModel {
    let alpha = known_attractiveness(queries);
    match kind {
        ModelKind::RankCtr => ClickModel::RankCtr {
            ctr: WEB_EXAMINATION.iter().map(|g| g / 3.0).collect(),
        },
        ModelKind::Pbm => ClickModel::Pbm {
            gamma: WEB_EXAMINATION.to_vec(),
            alpha,
        },
        ModelKind::Cascade => ClickModel::Cascade { alpha },
        ModelKind::Dbn => ClickModel::Dbn {
            gamma: 0.8,
            alpha,
            sigma: known_satisfaction(queries),
        },
        ModelKind::Sdbn => ClickModel::Sdbn {
            alpha,
            sigma: known_satisfaction(queries),
        },
        ModelKind::Ubm => ClickModel::Ubm {
            gamma: (0..WEB_EXAMINATION.len())
                .map(|r| {
                    (0..=r)
                        .map(|prev| {
                            if prev == 0 {
                                WEB_EXAMINATION[r]
                            } else {
                                0.9 * 0.85f64.powi((r - prev) as i32)
                            }
                        })
                        .collect()
                })
                .collect(),
            alpha,
        },
        ModelKind::Dcm => ClickModel::Dcm {
            lambda: (0..WEB_EXAMINATION.len())
                .map(|r| 0.7 - 0.04 * r as f64)
                .collect(),
            alpha,
        },
    }
}

/// `sessions` pages of 10 drawn from `truth`: a query uniformly among
/// `queries`, 10 of its 40 documents in a random order, the clicks drawn
/// top down from the model.
pub fn simulate(
    truth: &ClickModel,
    queries: usize,
    sessions: usize,
    seed: u64,
) -> Vec<ClickSession> {
    let mut rng = SplitMix64::new(seed);
    (0..sessions)
        .map(|_| {
            let q = format!("q{}", rng.below(queries.max(1)));
            let mut pool: Vec<usize> = (0..DOCS_PER_QUERY).collect();
            for i in (1..pool.len()).rev() {
                pool.swap(i, rng.below(i + 1));
            }
            let docs: Vec<String> = pool[..10].iter().map(|d| format!("d{d}")).collect();
            let clicks = truth.sample_clicks(&q, &docs, &mut || rng.next_f64());
            ClickSession {
                query: q,
                docs,
                clicks,
            }
        })
        .collect()
}

/// Absolute errors over a set of parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Errors {
    /// Parameters compared.
    pub count: usize,
    /// Mean absolute error.
    pub mean: f64,
    /// Largest absolute error.
    pub max: f64,
}

impl Errors {
    /// The errors of `(fitted, true)` pairs.
    pub fn of(pairs: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let (mut n, mut sum, mut max) = (0usize, 0.0, 0.0f64);
        for (got, want) in pairs {
            let e = (got - want).abs();
            n += 1;
            sum += e;
            max = max.max(e);
        }
        Self {
            count: n,
            mean: if n == 0 { f64::NAN } else { sum / n as f64 },
            max: if n == 0 { f64::NAN } else { max },
        }
    }
}

/// How well one kind of model recovers its known parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// The model's name.
    pub model: String,
    /// Pages fitted on.
    pub sessions: usize,
    /// Queries (40 documents each).
    pub queries: usize,
    /// Examination (PBM, UBM: relative to the top rank's) or continuation
    /// (DBN's γ); rank-CTR's CTR per rank. `None` where the model has none.
    pub examination: Option<Errors>,
    /// Attractiveness over every pair (PBM, UBM: times the top rank's
    /// examination). `None` for rank-CTR.
    pub attractiveness: Option<Errors>,
    /// Satisfaction over every pair (DBN, SDBN).
    pub satisfaction: Option<Errors>,
}

fn pairs(queries: usize) -> impl Iterator<Item = (String, String)> {
    (0..queries).flat_map(|q| (0..DOCS_PER_QUERY).map(move |d| (format!("q{q}"), format!("d{d}"))))
}

fn pair_errors(fitted: &PairParams, truth: &PairParams, queries: usize, scale: [f64; 2]) -> Errors {
    Errors::of(
        pairs(queries).map(|(q, d)| (fitted.get(&q, &d) * scale[0], truth.get(&q, &d) * scale[1])),
    )
}

/// Draws `sessions` pages from the known model of `kind` over `queries`
/// queries (seeded), fits the same kind on them and compares.
pub fn recover(
    kind: ModelKind,
    queries: usize,
    sessions: usize,
    seed: u64,
    opts: &FitOptions,
) -> Result<Recovery> {
    if queries == 0 || sessions == 0 {
        return Err(Error::InvalidArgument(
            "parameter recovery needs at least one query and one page".into(),
        ));
    }
    let truth = known_model(kind, queries);
    let pages = simulate(&truth, queries, sessions, seed);
    let fitted = fit(kind, &pages, opts)?;
    let mut r = Recovery {
        model: kind.name().into(),
        sessions,
        queries,
        examination: None,
        attractiveness: None,
        satisfaction: None,
    };
    match (&fitted, &truth) {
        (ClickModel::RankCtr { ctr: got }, ClickModel::RankCtr { ctr: want }) => {
            r.examination = Some(Errors::of(got.iter().copied().zip(want.iter().copied())));
        }
        (
            ClickModel::Pbm { gamma: g, alpha: a },
            ClickModel::Pbm {
                gamma: tg,
                alpha: ta,
            },
        ) => {
            let (g0, t0) = (g[0], tg[0]);
            r.examination = Some(Errors::of(
                g.iter().zip(tg).skip(1).map(|(x, y)| (x / g0, y / t0)),
            ));
            r.attractiveness = Some(pair_errors(a, ta, queries, [g0, t0]));
        }
        (ClickModel::Cascade { alpha: a }, ClickModel::Cascade { alpha: ta }) => {
            r.attractiveness = Some(pair_errors(a, ta, queries, [1.0, 1.0]));
        }
        (
            ClickModel::Dbn {
                gamma: g,
                alpha: a,
                sigma: s,
            },
            ClickModel::Dbn {
                gamma: tg,
                alpha: ta,
                sigma: ts,
            },
        ) => {
            r.examination = Some(Errors::of([(*g, *tg)]));
            r.attractiveness = Some(pair_errors(a, ta, queries, [1.0, 1.0]));
            r.satisfaction = Some(pair_errors(s, ts, queries, [1.0, 1.0]));
        }
        (
            ClickModel::Sdbn { alpha: a, sigma: s },
            ClickModel::Sdbn {
                alpha: ta,
                sigma: ts,
            },
        ) => {
            r.attractiveness = Some(pair_errors(a, ta, queries, [1.0, 1.0]));
            r.satisfaction = Some(pair_errors(s, ts, queries, [1.0, 1.0]));
        }
        (
            ClickModel::Ubm { gamma: g, alpha: a },
            ClickModel::Ubm {
                gamma: tg,
                alpha: ta,
            },
        ) => {
            let at =
                |m: &[Vec<f64>], r: usize, p: usize| m.get(r).and_then(|row| row.get(p)).copied();
            let (g0, t0) = (at(g, 0, 0).unwrap_or(1.0), tg[0][0]);
            r.examination = Some(Errors::of(tg.iter().enumerate().flat_map(|(ri, row)| {
                let g = &g;
                row.iter()
                    .enumerate()
                    .filter(move |(p, _)| ri + p > 0)
                    .map(move |(p, &t)| (at(g, ri, p).unwrap_or(f64::NAN) / g0, t / t0))
            })));
            r.attractiveness = Some(pair_errors(a, ta, queries, [g0, t0]));
        }
        (
            ClickModel::Dcm {
                lambda: l,
                alpha: a,
            },
            ClickModel::Dcm {
                lambda: tl,
                alpha: ta,
            },
        ) => {
            // What follows a click on a page's last result is never seen:
            // its λ is not identified and not compared.
            let seen = tl.len().min(l.len()).saturating_sub(1);
            r.examination = Some(Errors::of(
                l[..seen].iter().copied().zip(tl[..seen].iter().copied()),
            ));
            r.attractiveness = Some(pair_errors(a, ta, queries, [1.0, 1.0]));
        }
        _ => {
            return Err(Error::InvalidArgument(format!(
                "fitting {kind} gave a {} model",
                fitted.kind()
            )))
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FitOptions {
        FitOptions::default()
    }

    #[test]
    fn every_model_recovers_its_known_parameters() {
        for kind in ModelKind::ALL {
            let r = recover(kind, 3, 30_000, 7, &opts()).unwrap();
            // Satisfaction is seen only through which click was the last,
            // so it is the loosest.
            for (what, e, mean, max) in [
                ("examination", r.examination, 0.03, 0.1),
                ("attractiveness", r.attractiveness, 0.03, 0.12),
                ("satisfaction", r.satisfaction, 0.1, 0.4),
            ] {
                if let Some(e) = e {
                    assert!(e.count > 0, "{kind}: no {what} compared");
                    assert!(e.mean < mean, "{kind}: mean {what} error {}", e.mean);
                    assert!(e.max < max, "{kind}: largest {what} error {}", e.max);
                }
            }
            let has = [r.examination, r.attractiveness, r.satisfaction].map(|e| e.is_some());
            let want = match kind {
                ModelKind::RankCtr => [true, false, false],
                ModelKind::Pbm | ModelKind::Ubm | ModelKind::Dcm => [true, true, false],
                ModelKind::Cascade => [false, true, false],
                ModelKind::Dbn => [true, true, true],
                ModelKind::Sdbn => [false, true, true],
            };
            assert_eq!(has, want, "{kind}");
        }
    }

    #[test]
    fn the_errors_shrink_with_more_pages() {
        let few = recover(ModelKind::Pbm, 3, 2_000, 3, &opts()).unwrap();
        let many = recover(ModelKind::Pbm, 3, 40_000, 3, &opts()).unwrap();
        let m = |r: &Recovery| r.attractiveness.unwrap().mean;
        assert!(m(&many) < m(&few) * 0.6, "{} vs {}", m(&many), m(&few));
    }

    #[test]
    fn a_model_compared_with_itself_has_no_error() {
        let e = pair_errors(
            &known_attractiveness(2),
            &known_attractiveness(2),
            2,
            [1.0, 1.0],
        );
        assert_eq!((e.count, e.mean, e.max), (80, 0.0, 0.0));
        assert!(recover(ModelKind::Pbm, 0, 10, 1, &opts()).is_err());
    }
}
