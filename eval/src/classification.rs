//! Measures of predicted probabilities against 0/1 outcomes: ROC AUC,
//! log-loss and calibration (expected calibration error and a reliability
//! table by decile of the prediction), as pure functions.

use serde::Serialize;

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half (the Mann-Whitney U
/// statistic over `positives × negatives`). `None` when either class is empty.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0f64, 0u64);
    let mut i = 0;
    while i < order.len() {
        // Rows with equal scores share their average rank.
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &r in &order[i..=j] {
            if labels[r] {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() as u64 - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Mean negative log-likelihood of probabilities, each clamped to
/// `[1e-15, 1 − 1e-15]` (scikit-learn's convention).
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(
        probabilities.len(),
        labels.len(),
        "one label per probability"
    );
    let n = probabilities.len().max(1) as f64;
    probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / n
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Rows in the bin.
    pub count: usize,
    /// Their mean prediction.
    pub mean_predicted: f64,
    /// Their observed positive rate.
    pub observed: f64,
}

/// Calibration of probabilities: rows sorted by prediction and cut into
/// `bins` bins of (nearly) equal size, each with its mean prediction and
/// observed rate; the expected calibration error is the row-weighted mean
/// of `|observed − predicted|` over the bins (equal-mass ECE).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Expected calibration error.
    pub ece: f64,
    /// The bins, lowest prediction first.
    pub bins: Vec<ReliabilityBin>,
}

/// [`Calibration`] with `bins` equal-mass bins (10: deciles).
pub fn calibration(probabilities: &[f64], labels: &[bool], bins: usize) -> Calibration {
    assert_eq!(
        probabilities.len(),
        labels.len(),
        "one label per probability"
    );
    let n = probabilities.len();
    let bins = bins.max(1).min(n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let mut out = Vec::with_capacity(bins);
    let mut ece = 0.0;
    for b in 0..bins {
        let rows = &order[b * n / bins..(b + 1) * n / bins];
        if rows.is_empty() {
            continue;
        }
        let c = rows.len() as f64;
        let mean_predicted = rows.iter().map(|&r| probabilities[r]).sum::<f64>() / c;
        let observed = rows.iter().filter(|&&r| labels[r]).count() as f64 / c;
        ece += c / n as f64 * (observed - mean_predicted).abs();
        out.push(ReliabilityBin {
            count: rows.len(),
            mean_predicted,
            observed,
        });
    }
    Calibration { ece, bins: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auc_of_known_orders() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // One inversion out of four pairs.
        assert_eq!(
            roc_auc(&[0.1, 0.6, 0.5, 0.9], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn log_loss_and_calibration() {
        let ll = log_loss(&[0.5, 0.5], &[true, false]);
        assert!((ll - std::f64::consts::LN_2).abs() < 1e-12);
        assert!(log_loss(&[1.0], &[false]).is_finite());
        let c = calibration(&[0.1, 0.1, 0.9, 0.9], &[false, false, true, true], 2);
        assert_eq!(c.bins.len(), 2);
        assert!((c.ece - 0.1).abs() < 1e-12);
        assert!((c.bins[1].observed - 1.0).abs() < 1e-12);
    }

    proptest! {
        /// AUC counts pairs: compare with the quadratic definition.
        #[test]
        fn auc_is_the_share_of_ordered_pairs(v in prop::collection::vec((0u8..5, any::<bool>()), 2..40)) {
            let s: Vec<f64> = v.iter().map(|(a, _)| f64::from(*a)).collect();
            let y: Vec<bool> = v.iter().map(|(_, b)| *b).collect();
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..s.len() {
                for j in 0..s.len() {
                    if y[i] && !y[j] {
                        den += 1.0;
                        num += if s[i] > s[j] { 1.0 } else if s[i] == s[j] { 0.5 } else { 0.0 };
                    }
                }
            }
            let got = roc_auc(&s, &y);
            if den == 0.0 { prop_assert!(got.is_none()); } else { prop_assert!((got.unwrap() - num / den).abs() < 1e-12); }
        }
    }
}
