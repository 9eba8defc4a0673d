//! Paired significance tests over per-query scores.
//!
//! All tests take two equally long slices of per-query values (same query
//! order) and look at the differences d = b − a.

use serde::Serialize;

use crate::error::{Error, Result};

/// Differences below this are ties.
pub const TIE_EPSILON: f64 = 1e-9;

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; |error| < 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b), by Lentz's continued
/// fraction (Numerical Recipes, 3rd ed., §6.4).
pub fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(x, a, b) / a
    } else {
        1.0 - front * beta_cf(1.0 - x, b, a) / b
    }
}

fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Two-sided p-value of Student's t with `df` degrees of freedom:
/// p = I_{df/(df+t²)}(df/2, 1/2).
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    regularized_beta(df / (df + t * t), df / 2.0, 0.5).clamp(0.0, 1.0)
}

fn check(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    if a.len() != b.len() {
        return Err(Error::InvalidArgument(format!(
            "paired test needs equal lengths, got {} and {}",
            a.len(),
            b.len()
        )));
    }
    if a.is_empty() {
        return Err(Error::InvalidArgument(
            "paired test needs at least one query".into(),
        ));
    }
    Ok(a.iter().zip(b).map(|(x, y)| y - x).collect())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Paired two-sided t-test (Student 1908): t = mean(d) / (sd(d) / √n), df = n − 1.
/// Identical inputs give p = 1; constant non-zero differences give p = 0.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<f64> {
    let d = check(a, b)?;
    let n = d.len() as f64;
    let m = mean(&d);
    if d.len() < 2 {
        return Ok(if m.abs() <= TIE_EPSILON { 1.0 } else { 0.0 });
    }
    let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    if var <= 0.0 {
        return Ok(if m.abs() <= TIE_EPSILON { 1.0 } else { 0.0 });
    }
    Ok(student_t_two_sided(m / (var / n).sqrt(), n - 1.0))
}

/// A small deterministic generator (SplitMix64) so that tests are reproducible
/// for a seed without pulling an RNG crate into the evaluator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// Fisher's paired randomisation (permutation) test, two-sided: the sign of
/// each difference is flipped at random `trials` times; p = (1 + #{|mean*| ≥
/// |mean|}) / (1 + trials) (Smucker, Allan & Carterette 2007).
pub fn randomization_test(a: &[f64], b: &[f64], trials: usize, seed: u64) -> Result<f64> {
    let d = check(a, b)?;
    let observed = mean(&d).abs();
    if observed <= TIE_EPSILON {
        return Ok(1.0);
    }
    let mut rng = SplitMix64::new(seed);
    let mut extreme = 0usize;
    let n = d.len() as f64;
    for _ in 0..trials {
        let mut sum = 0.0;
        let mut bits = 0u64;
        for (i, x) in d.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.next_u64();
            }
            sum += if bits & 1 == 1 { *x } else { -*x };
            bits >>= 1;
        }
        if (sum / n).abs() >= observed - 1e-12 {
            extreme += 1;
        }
    }
    Ok((extreme + 1) as f64 / (trials + 1) as f64)
}

/// Percentile bootstrap confidence interval of mean(b − a) at `level` (e.g. 0.95)
/// from `samples` resamples of the queries (Efron & Tibshirani 1993).
pub fn bootstrap_ci(
    a: &[f64],
    b: &[f64],
    samples: usize,
    level: f64,
    seed: u64,
) -> Result<(f64, f64)> {
    let d = check(a, b)?;
    if !(0.0..1.0).contains(&level) || samples == 0 {
        return Err(Error::InvalidArgument(
            "bootstrap needs 0 < level < 1 and samples > 0".into(),
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..samples)
        .map(|_| (0..d.len()).map(|_| d[rng.below(d.len())]).sum::<f64>() / d.len() as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let at = |q: f64| means[((samples - 1) as f64 * q).round() as usize];
    Ok((at(alpha), at(1.0 - alpha)))
}

/// Holm-Bonferroni adjusted p-values (Holm 1979), in the input order:
/// sorted ascending, p'_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)).
pub fn holm_bonferroni(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&x, &y| p[x].total_cmp(&p[y]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Per-query wins, ties and losses of b over a.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct WinTieLoss {
    /// b better.
    pub wins: usize,
    /// Equal within [`TIE_EPSILON`].
    pub ties: usize,
    /// b worse.
    pub losses: usize,
}

/// Counts wins, ties and losses of b over a.
pub fn win_tie_loss(a: &[f64], b: &[f64]) -> Result<WinTieLoss> {
    let d = check(a, b)?;
    let mut w = WinTieLoss::default();
    for x in d {
        if x > TIE_EPSILON {
            w.wins += 1;
        } else if x < -TIE_EPSILON {
            w.losses += 1;
        } else {
            w.ties += 1;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_distribution_matches_tables() {
        // Two-sided critical values: t(0.975, 10) = 2.228139, t(0.975, 1) = 12.7062.
        assert!((student_t_two_sided(2.228_139, 10.0) - 0.05).abs() < 1e-6);
        assert!((student_t_two_sided(12.706_2, 1.0) - 0.05).abs() < 1e-5);
        assert!((student_t_two_sided(0.0, 5.0) - 1.0).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn identical_runs_give_p_one_and_perfect_runs_p_near_zero() {
        let a: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37).sin().abs() * 0.6)
            .collect();
        assert_eq!(paired_t_test(&a, &a).unwrap(), 1.0);
        assert_eq!(randomization_test(&a, &a, 1000, 1).unwrap(), 1.0);
        assert_eq!(
            win_tie_loss(&a, &a).unwrap(),
            WinTieLoss {
                wins: 0,
                ties: 50,
                losses: 0
            }
        );
        let perfect = vec![1.0; 50];
        assert!(paired_t_test(&a, &perfect).unwrap() < 1e-10);
        assert!(randomization_test(&a, &perfect, 2000, 1).unwrap() < 0.001);
        let (lo, hi) = bootstrap_ci(&a, &perfect, 2000, 0.95, 3).unwrap();
        let true_delta = 1.0 - a.iter().sum::<f64>() / 50.0;
        assert!(
            lo > 0.0 && lo < true_delta && true_delta < hi,
            "{lo} {true_delta} {hi}"
        );
    }

    #[test]
    fn holm_adjusts_in_input_order() {
        let adj = holm_bonferroni(&[0.04, 0.01, 0.03]);
        // sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04) = 0.06
        assert_eq!(adj, vec![0.06, 0.03, 0.06]);
        assert!(paired_t_test(&[1.0], &[1.0, 2.0]).is_err());
    }
}
