//! Measures by name, evaluation of a run against qrels, and trec_eval's
//! output layout.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::error::{Error, Result};
use crate::measures::{self as m, Gain, RECALL_LEVELS};
use crate::prepare::{judge, Judged, Qrels, Run};

/// trec_eval's default cut-offs for `P`, `recall`, `ndcg_cut`, `map_cut`.
pub const CUTOFFS: [usize; 9] = [5, 10, 15, 20, 30, 100, 200, 500, 1000];
/// trec_eval's default `success` cut-offs.
pub const SUCCESS_CUTOFFS: [usize; 3] = [1, 5, 10];
/// trec_eval's default `Rprec_mult` multipliers.
pub const RPREC_MULTS: [f64; 10] = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0];

/// One measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// Queries evaluated (`num_q`).
    NumQ,
    /// Documents retrieved (`num_ret`).
    NumRet,
    /// Relevant documents (`num_rel`).
    NumRel,
    /// Relevant documents retrieved (`num_rel_ret`).
    NumRelRet,
    /// Mean average precision (`map`).
    Map,
    /// Geometric mean of AP (`gm_map`).
    GmMap,
    /// R-precision (`Rprec`).
    Rprec,
    /// bpref.
    Bpref,
    /// Reciprocal rank (`recip_rank`, MRR when averaged).
    RecipRank,
    /// Interpolated precision at a recall level (`iprec_at_recall_0.20`).
    Iprec(f64),
    /// Precision at k (`P_10`).
    P(usize),
    /// Recall at k (`recall_100`).
    Recall(usize),
    /// nDCG over the whole list (`ndcg`).
    Ndcg,
    /// nDCG at k (`ndcg_cut_10`).
    NdcgCut(usize),
    /// AP cut at k (`map_cut_100`).
    MapCut(usize),
    /// Precision at m·R (`Rprec_mult_0.20`).
    RprecMult(f64),
    /// 11-point interpolated average precision (`11pt_avg`).
    ElevenPtAvg,
    /// Success at k (`success_10`).
    Success(usize),
    /// Expected reciprocal rank at k (`err_cut_10`; not in trec_eval).
    Err(usize),
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::NumQ => f.write_str("num_q"),
            Measure::NumRet => f.write_str("num_ret"),
            Measure::NumRel => f.write_str("num_rel"),
            Measure::NumRelRet => f.write_str("num_rel_ret"),
            Measure::Map => f.write_str("map"),
            Measure::GmMap => f.write_str("gm_map"),
            Measure::Rprec => f.write_str("Rprec"),
            Measure::Bpref => f.write_str("bpref"),
            Measure::RecipRank => f.write_str("recip_rank"),
            Measure::Iprec(x) => write!(f, "iprec_at_recall_{x:.2}"),
            Measure::P(k) => write!(f, "P_{k}"),
            Measure::Recall(k) => write!(f, "recall_{k}"),
            Measure::Ndcg => f.write_str("ndcg"),
            Measure::NdcgCut(k) => write!(f, "ndcg_cut_{k}"),
            Measure::MapCut(k) => write!(f, "map_cut_{k}"),
            Measure::RprecMult(x) => write!(f, "Rprec_mult_{x:.2}"),
            Measure::ElevenPtAvg => f.write_str("11pt_avg"),
            Measure::Success(k) => write!(f, "success_{k}"),
            Measure::Err(k) => write!(f, "err_cut_{k}"),
        }
    }
}

impl Measure {
    /// Counts are summed over queries and printed as integers.
    pub fn is_count(&self) -> bool {
        matches!(
            self,
            Measure::NumQ | Measure::NumRet | Measure::NumRel | Measure::NumRelRet
        )
    }

    /// trec_eval's default measure set (`trec_eval` without `-m`), in its order.
    pub fn trec_default() -> Vec<Measure> {
        let mut v = vec![
            Measure::NumQ,
            Measure::NumRet,
            Measure::NumRel,
            Measure::NumRelRet,
            Measure::Map,
            Measure::GmMap,
            Measure::Rprec,
            Measure::Bpref,
            Measure::RecipRank,
        ];
        v.extend(RECALL_LEVELS.iter().map(|&x| Measure::Iprec(x)));
        v.extend(CUTOFFS.iter().map(|&k| Measure::P(k)));
        v
    }

    /// Every measure implemented, trec_eval `-m all_trec` order first, then ERR.
    pub fn all() -> Vec<Measure> {
        let mut v = Self::trec_default();
        v.extend(CUTOFFS.iter().map(|&k| Measure::Recall(k)));
        v.extend(RPREC_MULTS.iter().map(|&x| Measure::RprecMult(x)));
        v.push(Measure::ElevenPtAvg);
        v.push(Measure::Ndcg);
        v.extend(CUTOFFS.iter().map(|&k| Measure::NdcgCut(k)));
        v.extend(CUTOFFS.iter().map(|&k| Measure::MapCut(k)));
        v.extend(SUCCESS_CUTOFFS.iter().map(|&k| Measure::Success(k)));
        v.extend([5, 10, 20].map(Measure::Err));
        v
    }

    /// Parses a comma-separated list. Accepts trec_eval names (`ndcg_cut_10`,
    /// `P_5`, `recip_rank`), families with default cut-offs (`P`, `ndcg_cut`,
    /// `iprec_at_recall`), trec_eval's `family.k1,k2` syntax is not supported
    /// (ambiguous with the list separator): write `P_5,P_10`. Aliases:
    /// `mrr`, `ndcg@10`, `p@10`, `recall@100`, `map@100`, `err@10`,
    /// `success@1`. `all` is [`Measure::all`], `trec` the default set.
    pub fn parse_list(spec: &str) -> Result<Vec<Measure>> {
        let mut out = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            out.extend(Self::parse_one(name)?);
        }
        if out.is_empty() {
            return Err(Error::InvalidArgument("no measure named".into()));
        }
        let mut seen = Vec::new();
        out.retain(|m| {
            let n = m.to_string();
            let fresh = !seen.contains(&n);
            seen.push(n);
            fresh
        });
        Ok(out)
    }

    fn parse_one(name: &str) -> Result<Vec<Measure>> {
        let bad = || {
            Error::InvalidArgument(format!("unknown measure `{name}` (e.g. ndcg_cut_10, P_5, recip_rank, map, bpref, err@10; `all` lists every one)"))
        };
        let k = |s: &str| -> Result<usize> {
            s.parse::<usize>().ok().filter(|&k| k > 0).ok_or_else(bad)
        };
        let x = |s: &str| -> Result<f64> {
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(bad)
        };
        let lower = name.to_ascii_lowercase();
        if let Some((fam, cut)) = lower.split_once('@') {
            return Ok(vec![match fam {
                "ndcg" => Measure::NdcgCut(k(cut)?),
                "p" | "precision" => Measure::P(k(cut)?),
                "recall" | "r" => Measure::Recall(k(cut)?),
                "map" | "ap" => Measure::MapCut(k(cut)?),
                "err" => Measure::Err(k(cut)?),
                "success" | "hits" => Measure::Success(k(cut)?),
                _ => return Err(bad()),
            }]);
        }
        Ok(match name {
            "all" => Self::all(),
            "trec" => Self::trec_default(),
            "num_q" => vec![Measure::NumQ],
            "num_ret" => vec![Measure::NumRet],
            "num_rel" => vec![Measure::NumRel],
            "num_rel_ret" => vec![Measure::NumRelRet],
            "map" => vec![Measure::Map],
            "gm_map" => vec![Measure::GmMap],
            "Rprec" | "rprec" | "r-precision" => vec![Measure::Rprec],
            "bpref" => vec![Measure::Bpref],
            "recip_rank" | "mrr" => vec![Measure::RecipRank],
            "ndcg" => vec![Measure::Ndcg],
            "11pt_avg" => vec![Measure::ElevenPtAvg],
            "P" => CUTOFFS.iter().map(|&c| Measure::P(c)).collect(),
            "recall" => CUTOFFS.iter().map(|&c| Measure::Recall(c)).collect(),
            "ndcg_cut" => CUTOFFS.iter().map(|&c| Measure::NdcgCut(c)).collect(),
            "map_cut" => CUTOFFS.iter().map(|&c| Measure::MapCut(c)).collect(),
            "success" => SUCCESS_CUTOFFS
                .iter()
                .map(|&c| Measure::Success(c))
                .collect(),
            "iprec_at_recall" => RECALL_LEVELS.iter().map(|&c| Measure::Iprec(c)).collect(),
            "Rprec_mult" => RPREC_MULTS.iter().map(|&c| Measure::RprecMult(c)).collect(),
            _ => {
                if let Some(c) = name.strip_prefix("P_") {
                    vec![Measure::P(k(c)?)]
                } else if let Some(c) = name.strip_prefix("recall_") {
                    vec![Measure::Recall(k(c)?)]
                } else if let Some(c) = name.strip_prefix("ndcg_cut_") {
                    vec![Measure::NdcgCut(k(c)?)]
                } else if let Some(c) = name.strip_prefix("map_cut_") {
                    vec![Measure::MapCut(k(c)?)]
                } else if let Some(c) = name.strip_prefix("success_") {
                    vec![Measure::Success(k(c)?)]
                } else if let Some(c) = name.strip_prefix("err_cut_") {
                    vec![Measure::Err(k(c)?)]
                } else if let Some(c) = name.strip_prefix("iprec_at_recall_") {
                    vec![Measure::Iprec(x(c)?)]
                } else if let Some(c) = name.strip_prefix("Rprec_mult_") {
                    vec![Measure::RprecMult(x(c)?)]
                } else {
                    return Err(bad());
                }
            }
        })
    }

    /// The per-query value.
    pub fn value(&self, j: &Judged, o: &EvalOptions, max_grade: i32) -> f64 {
        let l = o.relevance_level;
        match *self {
            Measure::NumQ => 1.0,
            Measure::NumRet => j.rels.len() as f64,
            Measure::NumRel => j.num_rel as f64,
            Measure::NumRelRet => m::num_rel_ret(j, l) as f64,
            Measure::Map => m::average_precision(j, l, None),
            Measure::GmMap => m::log_ap(j, l),
            Measure::Rprec => m::r_precision(j, l),
            Measure::Bpref => m::bpref(j, l),
            Measure::RecipRank => m::reciprocal_rank(j, l),
            Measure::Iprec(x) => m::interpolated_precision(j, l, x),
            Measure::P(k) => m::precision_at(j, l, k),
            Measure::Recall(k) => m::recall_at(j, l, k),
            Measure::Ndcg => m::ndcg(j, &o.gain, None),
            Measure::NdcgCut(k) => m::ndcg(j, &o.gain, Some(k)),
            Measure::MapCut(k) => m::average_precision(j, l, Some(k)),
            Measure::RprecMult(x) => m::r_precision_mult(j, l, x),
            Measure::ElevenPtAvg => m::eleven_point_average(j, l),
            Measure::Success(k) => m::success_at(j, l, k),
            Measure::Err(k) => m::err_at(j, k, o.err_max_grade.unwrap_or(max_grade)),
        }
    }
}

/// Evaluation settings; defaults are trec_eval's.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// A grade at least this is relevant (trec_eval `-l`, default 1).
    pub relevance_level: i32,
    /// Gain for the nDCG family (default linear, as trec_eval).
    pub gain: Gain,
    /// Count judged queries that the run misses, with every measure 0 (trec_eval `-c`).
    pub complete: bool,
    /// ERR's maximum grade (default: the largest grade in the qrels).
    pub err_max_grade: Option<i32>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            relevance_level: 1,
            gain: Gain::Linear,
            complete: false,
            err_max_grade: None,
        }
    }
}

impl EvalOptions {
    /// One line that says which conventions a report used.
    pub fn describe(&self) -> String {
        format!(
            "trec_eval conventions: relevance level {}, gain {}, ties by docno descending, {}",
            self.relevance_level,
            self.gain.name(),
            if self.complete {
                "judged queries missing from the run count as 0 (-c)"
            } else {
                "only queries the run retrieved for (no -c)"
            }
        )
    }
}

/// The scores of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Run name.
    pub run: String,
    /// Measures, in column order.
    pub measures: Vec<Measure>,
    /// Per query, one value per measure (gm_map holds ln(max(AP, 1e-5)), as trec_eval -q).
    pub per_query: BTreeMap<String, Vec<f64>>,
    /// Over all queries: mean (sum for counts, geometric mean for gm_map).
    pub all: Vec<f64>,
}

impl Evaluation {
    /// The aggregate value of a measure, by its name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.measures
            .iter()
            .position(|m| m.to_string() == name)
            .map(|i| self.all[i])
    }

    /// Per-query values of measure column `i`, in query order.
    pub fn column(&self, i: usize) -> Vec<f64> {
        self.per_query.values().map(|v| v[i]).collect()
    }
}

/// One query's id and its value per measure.
type QueryScores = (String, Vec<f64>);

/// Evaluates `run` against `qrels`.
pub fn evaluate(
    qrels: &Qrels,
    run: &Run,
    measures: &[Measure],
    opts: &EvalOptions,
) -> Result<Evaluation> {
    let empty = Vec::new();
    let mut queries: Vec<&str> = run
        .queries()
        .filter(|q| qrels.by_query.contains_key(*q))
        .collect();
    if opts.complete {
        queries = qrels.queries().collect();
    }
    let max_grade = qrels.max_grade();
    let judge_one = |q: &str| -> Result<QueryScores> {
        let docs = run.by_query.get(q).unwrap_or(&empty);
        let j = judge(q, docs, &qrels.by_query[q], opts.relevance_level)?;
        Ok((
            q.to_owned(),
            measures
                .iter()
                .map(|m| m.value(&j, opts, max_grade))
                .collect(),
        ))
    };
    // Queries are independent: split them over the available cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(queries.len().max(1));
    let chunk = queries.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<Result<Vec<QueryScores>>> = std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|q| judge_one(q)).collect::<Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::InvalidArgument("evaluation thread panicked".into()))
                })
            })
            .collect()
    });
    let mut per_query = BTreeMap::new();
    for r in results {
        for (q, v) in r? {
            per_query.insert(q, v);
        }
    }
    let n = per_query.len();
    let all = measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let col = per_query.values().map(|v: &Vec<f64>| v[i]);
            if m.is_count() {
                col.sum()
            } else if n == 0 {
                0.0
            } else if *m == Measure::GmMap {
                (col.sum::<f64>() / n as f64).exp()
            } else {
                col.sum::<f64>() / n as f64
            }
        })
        .collect();
    Ok(Evaluation {
        run: run.name.clone(),
        measures: measures.to_vec(),
        per_query,
        all,
    })
}

fn trec_value(m: &Measure, v: f64) -> String {
    if m.is_count() {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.4}")
    }
}

/// trec_eval's layout: `measure<TAB>query<TAB>value`, measure padded to 22,
/// per-query rows first when asked (`-q`), then `all`.
pub fn format_trec(e: &Evaluation, per_query: bool) -> String {
    let mut out = String::new();
    let line = |out: &mut String, name: &str, q: &str, v: &str| {
        let _ = writeln!(out, "{name:<22}\t{q}\t{v}");
    };
    if per_query {
        for (q, vals) in &e.per_query {
            for (m, v) in e.measures.iter().zip(vals) {
                if *m == Measure::NumQ {
                    continue;
                }
                line(&mut out, &m.to_string(), q, &trec_value(m, *v));
            }
        }
    }
    line(&mut out, "runid", "all", &e.run);
    for (m, v) in e.measures.iter().zip(&e.all) {
        line(&mut out, &m.to_string(), "all", &trec_value(m, *v));
    }
    out
}
