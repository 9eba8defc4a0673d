//! Score fusion as pure functions. Each input list is `(doc, score)` in any
//! order (it is ranked by score, ties by id); documents missing from a list
//! contribute nothing from it.

use std::collections::HashMap;

use hyrank_data::DocId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How scores are put on one scale before a linear combination (named
/// `minmax`, `zscore` and `dbsf` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// (s − min) / (max − min); a list with one distinct score maps to 1.
    MinMax,
    /// (s − mean) / sd; sd = 0 maps to 0.
    ZScore,
    /// Distribution-based score fusion (Mazzeschi, 2023; as in Qdrant): min-max
    /// with the bounds mean ± 3 sd, so outliers do not squash the rest.
    Dbsf,
}

/// A fusion method.
#[derive(Debug, Clone, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
    /// score(d) = Σ_i w_i / (k + rank_i(d)), rank 1-based; k = 60 by default.
    Rrf {
        /// The constant k (> 0).
        k: f32,
    },
    /// score(d) = Σ_i w_i · norm_i(score_i(d)).
    Linear {
        /// The normalisation.
        normalization: Normalization,
    },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

fn ranked(list: &[(DocId, f32)]) -> Vec<(DocId, f32)> {
    let mut v = list.to_vec();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.dedup_by(|b, a| a.0 == b.0);
    v
}

fn check_weights(lists: usize, weights: &[f32]) -> Result<()> {
    if weights.len() != lists {
        return Err(Error::InvalidArgument(format!(
            "{} weights for {lists} result lists",
            weights.len()
        )));
    }
    if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        return Err(Error::InvalidArgument(format!(
            "fusion weights must be finite and >= 0, got {w}"
        )));
    }
    Ok(())
}

fn finish(acc: HashMap<DocId, f32>) -> Vec<(DocId, f32)> {
    let mut out: Vec<(DocId, f32)> = acc.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Reciprocal rank fusion of `lists` with per-list `weights`.
pub fn rrf(lists: &[&[(DocId, f32)]], weights: &[f32], k: f32) -> Result<Vec<(DocId, f32)>> {
    check_weights(lists.len(), weights)?;
    if !(k.is_finite() && k > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "RRF k must be a finite number > 0, got {k}"
        )));
    }
    let mut acc: HashMap<DocId, f32> = HashMap::new();
    for (list, w) in lists.iter().zip(weights) {
        for (rank, (d, _)) in ranked(list).into_iter().enumerate() {
            *acc.entry(d).or_default() += w / (k + (rank + 1) as f32);
        }
    }
    Ok(finish(acc))
}

/// Normalises one list's scores.
pub fn normalize(scores: &[f32], n: Normalization) -> Vec<f32> {
    if scores.is_empty() {
        return Vec::new();
    }
    let len = scores.len() as f32;
    let mean = scores.iter().sum::<f32>() / len;
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / len).sqrt();
    let (lo, hi) = match n {
        Normalization::MinMax => (
            scores.iter().copied().fold(f32::INFINITY, f32::min),
            scores.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        ),
        Normalization::Dbsf => (mean - 3.0 * sd, mean + 3.0 * sd),
        Normalization::ZScore => {
            return scores
                .iter()
                .map(|s| if sd > 0.0 { (s - mean) / sd } else { 0.0 })
                .collect()
        }
    };
    scores
        .iter()
        .map(|s| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 })
        .collect()
}

/// Linear combination of normalised scores.
pub fn linear(
    lists: &[&[(DocId, f32)]],
    weights: &[f32],
    normalization: Normalization,
) -> Result<Vec<(DocId, f32)>> {
    check_weights(lists.len(), weights)?;
    let mut acc: HashMap<DocId, f32> = HashMap::new();
    for (list, w) in lists.iter().zip(weights) {
        let list = ranked(list);
        let scores: Vec<f32> = list.iter().map(|(_, s)| *s).collect();
        if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
            return Err(Error::InvalidArgument(format!("score {bad} is not finite")));
        }
        for ((d, _), s) in list.into_iter().zip(normalize(&scores, normalization)) {
            *acc.entry(d).or_default() += w * s;
        }
    }
    Ok(finish(acc))
}

/// Applies `fusion` with `weights`.
pub fn fuse(
    fusion: &Fusion,
    lists: &[&[(DocId, f32)]],
    weights: &[f32],
) -> Result<Vec<(DocId, f32)>> {
    match fusion {
        Fusion::Rrf { k } => rrf(lists, weights, *k),
        Fusion::Linear { normalization } => linear(lists, weights, *normalization),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(v: &[(u8, f32)]) -> Vec<(DocId, f32)> {
        v.iter()
            .map(|(d, s)| (DocId(format!("d{d}")), *s))
            .collect()
    }

    #[test]
    fn rrf_by_hand_and_bad_parameters() {
        let a = list(&[(1, 9.0), (2, 5.0)]);
        let b = list(&[(2, 0.9), (3, 0.1)]);
        let f = rrf(&[&a, &b], &[1.0, 1.0], 60.0).unwrap();
        assert_eq!(f[0].0.as_str(), "d2");
        assert!((f[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert!(rrf(&[&a], &[1.0], 0.0).is_err());
        assert!(rrf(&[&a, &b], &[1.0], 60.0).is_err());
        assert!(linear(&[&a], &[-1.0], Normalization::MinMax).is_err());
        assert_eq!(
            normalize(&[2.0, 4.0, 3.0], Normalization::MinMax),
            vec![0.0, 1.0, 0.5]
        );
        assert_eq!(
            normalize(&[5.0, 5.0], Normalization::ZScore),
            vec![0.0, 0.0]
        );
    }

    fn arb_list() -> impl Strategy<Value = Vec<(DocId, f32)>> {
        prop::collection::btree_map(0u8..30, -50.0f32..50.0, 1..20).prop_map(|m| {
            m.into_iter()
                .map(|(d, s)| (DocId(format!("d{d}")), s))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn rrf_is_invariant_to_monotone_rescaling(a in arb_list(), b in arb_list(), scale in 0.01f32..100.0, shift in -10.0f32..10.0) {
            let base = rrf(&[&a, &b], &[1.0, 0.5], 60.0).unwrap();
            let rescaled: Vec<(DocId, f32)> = b.iter().map(|(d, s)| (d.clone(), s * scale + shift)).collect();
            let again = rrf(&[&a, &rescaled], &[1.0, 0.5], 60.0).unwrap();
            prop_assert_eq!(base.iter().map(|x| &x.0).collect::<Vec<_>>(), again.iter().map(|x| &x.0).collect::<Vec<_>>());
        }

        #[test]
        fn a_document_top_ranked_by_both_stays_top(a in arb_list(), b in arb_list(), norm in 0usize..3) {
            let top = DocId("top".into());
            let mut a = a; let mut b = b;
            a.push((top.clone(), 1000.0));
            b.push((top.clone(), 1000.0));
            prop_assert_eq!(&rrf(&[&a, &b], &[1.0, 1.0], 60.0).unwrap()[0].0, &top);
            let n = [Normalization::MinMax, Normalization::ZScore, Normalization::Dbsf][norm];
            prop_assert_eq!(&linear(&[&a, &b], &[1.0, 1.0], n).unwrap()[0].0, &top);
        }
    }
}
