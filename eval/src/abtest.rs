//! A/B test statistics on per-session metrics: streaming moments, Welch's
//! t-test, the two-proportion z-test, a bootstrap interval of the
//! difference of means, and power analysis (sessions needed per arm, the
//! minimum detectable effect).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::significance::{student_t_two_sided, SplitMix64};

/// Count, mean and sum of squared deviations, updated one value at a
/// time (Welford 1962).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Moments {
    /// Values added.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    m2: f64,
}

impl Moments {
    /// Adds a value.
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// The sample variance (n − 1 in the denominator; 0 below two values).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }
}

/// Standard normal CDF (via erfc, Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { y } else { 2.0 - y };
    0.5 * erfc
}

/// Standard normal quantile (Acklam's rational approximation, refined by
/// one Halley step; |relative error| < 1e-9).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step against the CDF.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// A two-sample comparison of treatment (b) against control (a).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// mean(b) − mean(a).
    pub difference: f64,
    /// (mean(b) − mean(a)) / mean(a) (NaN when mean(a) is 0).
    pub relative: f64,
    /// Standard error of the difference.
    pub std_error: f64,
    /// The test statistic.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Confidence interval of the difference at the level asked.
    pub ci: (f64, f64),
}

/// Welch's unequal-variance t-test (Welch 1947), with the
/// Welch-Satterthwaite degrees of freedom, and its `level` interval.
pub fn welch(a: &Moments, b: &Moments, level: f64) -> Result<Comparison> {
    if a.n < 2 || b.n < 2 || !(0.0..1.0).contains(&level) {
        return Err(Error::InvalidArgument(
            "Welch's test needs two values per arm and 0 < level < 1".into(),
        ));
    }
    let (va, vb) = (a.variance() / a.n as f64, b.variance() / b.n as f64);
    let se = (va + vb).sqrt();
    let diff = b.mean - a.mean;
    let relative = diff / a.mean;
    if se == 0.0 {
        let p = if diff == 0.0 { 1.0 } else { 0.0 };
        return Ok(Comparison {
            difference: diff,
            relative,
            std_error: 0.0,
            statistic: if diff == 0.0 { 0.0 } else { f64::INFINITY },
            p_value: p,
            ci: (diff, diff),
        });
    }
    let df = (va + vb).powi(2)
        / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64).max(f64::MIN_POSITIVE);
    let t = diff / se;
    // The large-sample normal quantile for the interval (df is in the
    // thousands in every A/B test this serves).
    let z = normal_quantile(0.5 + level / 2.0);
    Ok(Comparison {
        difference: diff,
        relative,
        std_error: se,
        statistic: t,
        p_value: student_t_two_sided(t, df),
        ci: (diff - z * se, diff + z * se),
    })
}

/// Two-proportion z-test with the pooled variance (successes `xa` of `na`
/// against `xb` of `nb`), and the unpooled `level` interval of pb − pa.
pub fn two_proportion(xa: u64, na: u64, xb: u64, nb: u64, level: f64) -> Result<Comparison> {
    if na == 0 || nb == 0 || xa > na || xb > nb || !(0.0..1.0).contains(&level) {
        return Err(Error::InvalidArgument(
            "two-proportion test needs 0 <= successes <= trials, trials > 0 and 0 < level < 1"
                .into(),
        ));
    }
    let (pa, pb) = (xa as f64 / na as f64, xb as f64 / nb as f64);
    let pooled = (xa + xb) as f64 / (na + nb) as f64;
    let se0 = (pooled * (1.0 - pooled) * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
    let diff = pb - pa;
    let z = if se0 > 0.0 { diff / se0 } else { 0.0 };
    let se = (pa * (1.0 - pa) / na as f64 + pb * (1.0 - pb) / nb as f64).sqrt();
    let q = normal_quantile(0.5 + level / 2.0);
    Ok(Comparison {
        difference: diff,
        relative: diff / pa,
        std_error: se,
        statistic: z,
        p_value: 2.0 * (1.0 - normal_cdf(z.abs())),
        ci: (diff - q * se, diff + q * se),
    })
}

/// Percentile bootstrap interval of mean(b) − mean(a) for two independent
/// samples (each resampled with replacement, `samples` times).
pub fn bootstrap_difference(
    a: &[f64],
    b: &[f64],
    samples: usize,
    level: f64,
    seed: u64,
) -> Result<(f64, f64)> {
    if a.is_empty() || b.is_empty() || samples == 0 || !(0.0..1.0).contains(&level) {
        return Err(Error::InvalidArgument(
            "bootstrap needs values in both arms, samples > 0 and 0 < level < 1".into(),
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mean = |v: &[f64], rng: &mut SplitMix64| {
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    let mut d: Vec<f64> = (0..samples)
        .map(|_| mean(b, &mut rng) - mean(a, &mut rng))
        .collect();
    d.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let at = |q: f64| d[((samples - 1) as f64 * q).round() as usize];
    Ok((at(alpha), at(1.0 - alpha)))
}

/// Sessions needed per arm to detect a change of a rate from `base` to
/// `base · (1 + relative_lift)` with a two-sided test at `alpha` and the
/// given power (Fleiss, Levin & Paik 2003, eq. 4.14 without continuity
/// correction).
pub fn sessions_per_arm(base: f64, relative_lift: f64, alpha: f64, power: f64) -> Result<u64> {
    let p2 = base * (1.0 + relative_lift);
    if !(0.0 < base && base < 1.0 && 0.0 < p2 && p2 < 1.0 && relative_lift != 0.0)
        || !(0.0 < alpha && alpha < 1.0 && 0.0 < power && power < 1.0)
    {
        return Err(Error::InvalidArgument(
            "power analysis needs 0 < base rate, treated rate < 1, a non-zero lift, 0 < alpha, power < 1"
                .into(),
        ));
    }
    let za = normal_quantile(1.0 - alpha / 2.0);
    let zb = normal_quantile(power);
    let pbar = (base + p2) / 2.0;
    let n = (za * (2.0 * pbar * (1.0 - pbar)).sqrt()
        + zb * (base * (1.0 - base) + p2 * (1.0 - p2)).sqrt())
    .powi(2)
        / (p2 - base).powi(2);
    Ok(n.ceil() as u64)
}

/// The smallest relative lift of a rate `base` detectable with `n`
/// sessions per arm at `alpha` and `power` (normal approximation, the
/// variance taken at the base rate).
pub fn minimum_detectable_lift(base: f64, n: u64, alpha: f64, power: f64) -> Result<f64> {
    if !(0.0 < base && base < 1.0)
        || n == 0
        || !(0.0 < alpha && alpha < 1.0 && 0.0 < power && power < 1.0)
    {
        return Err(Error::InvalidArgument(
            "minimum detectable effect needs 0 < base rate < 1, n > 0, 0 < alpha, power < 1".into(),
        ));
    }
    let za = normal_quantile(1.0 - alpha / 2.0);
    let zb = normal_quantile(power);
    Ok((za + zb) * (2.0 * base * (1.0 - base) / n as f64).sqrt() / base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_functions_match_tables() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((normal_quantile(0.8) - 0.841_621_234).abs() < 1e-6);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-6);
    }

    #[test]
    fn welch_matches_a_worked_example() {
        // a = 1..=10, b = 1.5 a + 1: means 5.5 and 9.25, variances 9.1667
        // and 20.625 → t = 3.75 / 1.72603 = 2.1726 on df = 15.68 (by hand).
        let mut a = Moments::default();
        let mut b = Moments::default();
        for i in 1..=10 {
            a.add(f64::from(i));
            b.add(f64::from(i) * 1.5 + 1.0);
        }
        let c = welch(&a, &b, 0.95).unwrap();
        assert!((c.statistic - 2.1726).abs() < 1e-3, "{c:?}");
        assert!((c.p_value - 0.0455).abs() < 2e-3, "{c:?}");
        assert!(c.ci.0 < c.difference && c.difference < c.ci.1);
        assert!(welch(&Moments::default(), &b, 0.95).is_err());
    }

    #[test]
    fn two_proportions_and_power_agree() {
        // 500 of 10,000 vs 600 of 10,000: pooled 0.055, z = 0.01 / 0.0032241 = 3.1016.
        let c = two_proportion(500, 10_000, 600, 10_000, 0.95).unwrap();
        assert!((c.statistic - 3.1016).abs() < 1e-3, "{c:?}");
        assert!(c.p_value < 0.002 && c.p_value > 0.0015);
        // Fleiss: 5 % → 6 %, alpha 0.05, power 0.8 → 8,155 per arm.
        let n = sessions_per_arm(0.05, 0.2, 0.05, 0.8).unwrap();
        assert!((8_100..8_200).contains(&n), "{n}");
        let mde = minimum_detectable_lift(0.05, n, 0.05, 0.8).unwrap();
        assert!((mde - 0.2).abs() < 0.02, "{mde}");
        assert!(sessions_per_arm(0.05, 0.0, 0.05, 0.8).is_err());
        assert!(two_proportion(5, 4, 1, 10, 0.95).is_err());
    }

    #[test]
    fn bootstrap_covers_the_difference() {
        let a: Vec<f64> = (0..200).map(|i| f64::from(i % 7)).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let (lo, hi) = bootstrap_difference(&a, &b, 2000, 0.95, 1).unwrap();
        assert!(lo < 1.0 && 1.0 < hi && hi - lo < 1.2, "{lo} {hi}");
    }
}
