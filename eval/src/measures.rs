//! The measures, as pure functions over one query's [`Judged`] list.
//!
//! Conventions are trec_eval 9.x's (`usnistgov/trec_eval`, files `m_*.c`):
//! a document is relevant when its grade is at least the relevance level
//! (default 1); unjudged documents are non-relevant, except for `bpref`,
//! which skips them; cut-offs count positions even past the end of the list.

use crate::prepare::Judged;

/// How grades become gains for the DCG family.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Gain {
    /// gain = grade (trec_eval's `ndcg`); grades ≤ 0 give 0.
    #[default]
    Linear,
    /// gain = 2^grade − 1 (Burges et al. 2005; LightGBM, ranx's default).
    Exponential,
    /// gain looked up by grade (e.g. ESCI's 3→1.0, 2→0.1, 1→0.01, 0→0); missing grades give 0.
    Map(Vec<(i32, f64)>),
}

impl std::str::FromStr for Gain {
    type Err = String;

    /// `linear`, `exponential` (or `exp`), `esci` (3→1.0, 2→0.1, 1→0.01,
    /// 0→0), or a map `GRADE=GAIN,...`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "linear" => Gain::Linear,
            "exponential" | "exp" => Gain::Exponential,
            "esci" => Gain::Map(vec![(3, 1.0), (2, 0.1), (1, 0.01), (0, 0.0)]),
            spec => {
                let mut m = Vec::new();
                for part in spec.split(',') {
                    let (g, v) = part.split_once('=').ok_or_else(|| {
                        format!("`{part}` is not GRADE=GAIN (or linear, exponential, esci)")
                    })?;
                    let g: i32 = g
                        .trim()
                        .parse()
                        .map_err(|_| format!("grade `{}` is not an integer", g.trim()))?;
                    let v: f64 = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("gain `{}` is not a number", v.trim()))?;
                    m.push((g, v));
                }
                Gain::Map(m)
            }
        })
    }
}

impl Gain {
    /// The gain of a grade.
    pub fn of(&self, grade: i32) -> f64 {
        match self {
            Gain::Linear => f64::from(grade.max(0)),
            Gain::Exponential => 2f64.powi(grade.max(0)) - 1.0,
            Gain::Map(m) => m.iter().find(|(g, _)| *g == grade).map_or(0.0, |(_, v)| *v),
        }
    }

    /// The name printed in reports.
    pub fn name(&self) -> String {
        match self {
            Gain::Linear => "linear (gain = grade, trec_eval)".into(),
            Gain::Exponential => "exponential (gain = 2^grade - 1)".into(),
            Gain::Map(m) => format!(
                "map {}",
                m.iter()
                    .map(|(g, v)| format!("{g}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

fn is_rel(r: Option<i32>, level: i32) -> bool {
    r.is_some_and(|g| g >= level)
}

/// Relevant documents retrieved.
pub fn num_rel_ret(j: &Judged, level: i32) -> usize {
    j.rels.iter().filter(|r| is_rel(**r, level)).count()
}

/// Average precision: Σ over relevant retrieved documents of precision at
/// their rank, divided by the number of relevant documents (`map`).
/// With `cutoff`, only the top `cutoff` ranks count (`map_cut_k`).
pub fn average_precision(j: &Judged, level: i32, cutoff: Option<usize>) -> f64 {
    if j.num_rel == 0 {
        return 0.0;
    }
    let n = cutoff.map_or(j.rels.len(), |k| k.min(j.rels.len()));
    let mut rel = 0usize;
    let mut sum = 0.0;
    for (i, r) in j.rels[..n].iter().enumerate() {
        if is_rel(*r, level) {
            rel += 1;
            sum += rel as f64 / (i + 1) as f64;
        }
    }
    sum / j.num_rel as f64
}

/// trec_eval's floor for the geometric mean of AP.
pub const MIN_GEO_MEAN: f64 = 0.00001;

/// `gm_map`'s per-query value: ln(max(AP, 0.00001)); the mean is exp(mean of these).
pub fn log_ap(j: &Judged, level: i32) -> f64 {
    average_precision(j, level, None).max(MIN_GEO_MEAN).ln()
}

/// Precision at rank `k` (`P_k`): relevant in the top k, over k.
pub fn precision_at(j: &Judged, level: i32, k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    j.rels.iter().take(k).filter(|r| is_rel(**r, level)).count() as f64 / k as f64
}

/// Recall at rank `k` (`recall_k`): relevant in the top k over all relevant.
pub fn recall_at(j: &Judged, level: i32, k: usize) -> f64 {
    if j.num_rel == 0 {
        return 0.0;
    }
    j.rels.iter().take(k).filter(|r| is_rel(**r, level)).count() as f64 / j.num_rel as f64
}

/// R-precision (`Rprec`): precision at rank R = number of relevant documents.
pub fn r_precision(j: &Judged, level: i32) -> f64 {
    precision_at(j, level, j.num_rel)
}

/// Precision at m·R documents (`Rprec_mult_m`), R converted with
/// [`fraction_of_r`] as trec_eval does.
pub fn r_precision_mult(j: &Judged, level: i32, m: f64) -> f64 {
    if j.num_rel == 0 {
        return 0.0;
    }
    precision_at(j, level, fraction_of_r(m, j.num_rel, 0.9))
}

/// Reciprocal rank of the first relevant document (`recip_rank`); 0 if none.
pub fn reciprocal_rank(j: &Judged, level: i32) -> f64 {
    j.rels
        .iter()
        .position(|r| is_rel(*r, level))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// 1 when a relevant document is in the top `k` (`success_k`).
pub fn success_at(j: &Judged, level: i32, k: usize) -> f64 {
    f64::from(u8::from(j.rels.iter().take(k).any(|r| is_rel(*r, level))))
}

/// trec_eval's conversion of a fraction `x` of R relevant documents into a
/// whole number of documents: `(long)(x · R + bias)`. The two measures that
/// use it round differently, and we follow each (checked against trec_eval's
/// own `out.test.a`): `iprec_at_recall` rounds half up (bias 0.5),
/// `Rprec_mult` adds 0.9.
pub fn fraction_of_r(x: f64, num_rel: usize, bias: f64) -> usize {
    (x * num_rel as f64 + bias).floor().max(0.0) as usize
}

/// Interpolated precision at recall `x` (`iprec_at_recall_x`), as trec_eval:
/// with c = round(x · R) relevant documents, the highest precision at any rank
/// at or after the c-th relevant document retrieved (over the whole list when
/// c = 0); 0 when fewer than c relevant documents are retrieved.
pub fn interpolated_precision(j: &Judged, level: i32, x: f64) -> f64 {
    let c = fraction_of_r(x, j.num_rel, 0.5);
    let mut rel_at_or_above = num_rel_ret(j, level);
    if c > rel_at_or_above {
        return 0.0;
    }
    // Scan from the end so that `best` is the max precision over ranks ≥ the current one.
    let mut best: f64 = 0.0;
    for i in (0..j.rels.len()).rev() {
        if rel_at_or_above == 0 {
            break;
        }
        best = best.max(rel_at_or_above as f64 / (i + 1) as f64);
        if is_rel(j.rels[i], level) {
            if rel_at_or_above == c {
                return best;
            }
            rel_at_or_above -= 1;
        }
    }
    best
}

/// The 11 recall levels of `iprec_at_recall_*` and `11pt_avg`.
pub const RECALL_LEVELS: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// Mean interpolated precision over the 11 recall levels (`11pt_avg`).
pub fn eleven_point_average(j: &Judged, level: i32) -> f64 {
    RECALL_LEVELS
        .iter()
        .map(|&x| interpolated_precision(j, level, x))
        .sum::<f64>()
        / 11.0
}

/// bpref (Buckley & Voorhees 2004, trec_eval `m_bpref.c`): unjudged documents
/// are skipped; each relevant retrieved document scores
/// 1 − min(n, R) / min(R, N), n = judged non-relevant documents above it,
/// N = judged non-relevant documents; the sum is divided by R.
pub fn bpref(j: &Judged, level: i32) -> f64 {
    if j.num_rel == 0 {
        return 0.0;
    }
    let denom = j.num_rel.min(j.num_nonrel) as f64;
    let mut nonrel = 0usize;
    let mut sum = 0.0;
    for r in j.rels.iter().flatten() {
        if *r >= level {
            sum += if nonrel > 0 {
                1.0 - nonrel.min(j.num_rel) as f64 / denom
            } else {
                1.0
            };
        } else {
            nonrel += 1;
        }
    }
    sum / j.num_rel as f64
}

fn dcg(gains: impl Iterator<Item = f64>) -> f64 {
    gains
        .enumerate()
        .map(|(i, g)| {
            if g > 0.0 {
                g / ((i + 2) as f64).log2()
            } else {
                0.0
            }
        })
        .sum()
}

/// nDCG (Järvelin & Kekäläinen 2002, with trec_eval's discount log2(rank + 1)):
/// DCG of the list over DCG of the ideal ordering of all judged documents.
/// With `cutoff`, both are cut at k (`ndcg_cut_k`).
pub fn ndcg(j: &Judged, gain: &Gain, cutoff: Option<usize>) -> f64 {
    let k = cutoff.unwrap_or(usize::MAX);
    let ideal = dcg(j.ideal.iter().take(k).map(|&g| gain.of(g)));
    if ideal <= 0.0 {
        return 0.0;
    }
    dcg(j.rels.iter().take(k).map(|r| r.map_or(0.0, |g| gain.of(g)))) / ideal
}

/// Expected reciprocal rank at `k` (Chapelle et al. 2009): stop probability
/// R = (2^g − 1) / 2^g_max at each rank; ERR = Σ_r (1/r) · R_r · Π_{i<r} (1 − R_i).
pub fn err_at(j: &Judged, k: usize, max_grade: i32) -> f64 {
    let denom = 2f64.powi(max_grade.max(1));
    let mut not_stopped = 1.0;
    let mut err = 0.0;
    for (i, r) in j.rels.iter().take(k).enumerate() {
        let g = r.unwrap_or(0).clamp(0, max_grade.max(1));
        let stop = (2f64.powi(g) - 1.0) / denom;
        err += not_stopped * stop / (i + 1) as f64;
        not_stopped *= 1.0 - stop;
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(rels: &[Option<i32>], judged_grades: &[i32]) -> Judged {
        let mut ideal = judged_grades.to_vec();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        Judged {
            rels: rels.to_vec(),
            num_rel: judged_grades.iter().filter(|&&g| g >= 1).count(),
            num_nonrel: judged_grades.iter().filter(|&&g| g < 1).count(),
            ideal,
        }
    }

    #[test]
    fn hand_computed_values() {
        // Relevant at ranks 1 and 3, 3 relevant in total.
        let j = judged(&[Some(1), Some(0), Some(2), None], &[1, 2, 1, 0]);
        assert!((average_precision(&j, 1, None) - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(precision_at(&j, 1, 2), 0.5);
        assert_eq!(reciprocal_rank(&j, 1), 1.0);
        assert_eq!(r_precision(&j, 1), 2.0 / 3.0);
        // bpref: rank 1 → 1, rank 3 (1 judged non-rel above) → 1 - 1/min(3,1) = 0.
        assert!((bpref(&j, 1) - 1.0 / 3.0).abs() < 1e-12);
        // ndcg, linear gain: DCG = 1 + 2/log2(4); ideal = 2 + 1/log2(3) + 1/log2(4).
        let want = (1.0 + 2.0 / 2.0) / (2.0 + 1.0 / 3f64.log2() + 0.5);
        assert!((ndcg(&j, &Gain::Linear, None) - want).abs() < 1e-12);
        assert_eq!(
            interpolated_precision(&j, 1, 1.0),
            0.0,
            "recall 1 never reached"
        );
        assert_eq!(interpolated_precision(&j, 1, 0.5), 2.0 / 3.0);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let j = judged(&[Some(3), Some(2), Some(1), Some(0)], &[3, 2, 1, 0]);
        for g in [Gain::Linear, Gain::Exponential] {
            assert!((ndcg(&j, &g, None) - 1.0).abs() < 1e-12);
            assert!((ndcg(&j, &g, Some(2)) - 1.0).abs() < 1e-12);
        }
        assert_eq!(average_precision(&j, 1, None), 1.0);
        let top = judged(&[Some(3)], &[3]);
        assert!((err_at(&top, 10, 3) - 7.0 / 8.0).abs() < 1e-12);
    }
}
