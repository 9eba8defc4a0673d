//! Seeded sampling helpers: a cumulative table for weighted draws and the
//! distributions the world uses, so the output depends only on the seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};

/// The generator's RNG: ChaCha8, whose stream is fixed for a given seed.
pub type WorldRng = ChaCha8Rng;

/// Draws indices with probability proportional to their weight.
#[derive(Debug, Clone)]
pub struct Cdf {
    cumulative: Vec<f64>,
}

impl Cdf {
    /// Builds the table; weights must be finite, non-negative, not all zero.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                acc += if w.is_finite() && w > 0.0 { w } else { 0.0 };
                acc
            })
            .collect();
        Self { cumulative }
    }

    /// Zipf weights `1 / (rank + 1)^s` for `n` items.
    pub fn zipf(n: usize, s: f64) -> Self {
        Self::new((0..n).map(|r| 1.0 / ((r + 1) as f64).powf(s)))
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// One draw.
    pub fn sample(&self, rng: &mut WorldRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&0.0);
        if total <= 0.0 {
            return 0;
        }
        let u = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

/// A standard normal draw.
pub fn normal(rng: &mut WorldRng, mean: f64, sd: f64) -> f64 {
    Normal::new(mean, sd).map_or(mean, |d| d.sample(rng))
}

/// A log-normal draw with the given median and log-space sigma.
pub fn lognormal(rng: &mut WorldRng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.ln(), sigma).map_or(median, |d| d.sample(rng))
}

/// Picks one element uniformly.
pub fn pick<'a, T>(rng: &mut WorldRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A Bernoulli draw.
pub fn chance(rng: &mut WorldRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// A plausible typing error in a word of 4+ letters: a swap, a drop or a double.
pub fn misspell(rng: &mut WorldRng, word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 || !chars.iter().all(|c| c.is_alphabetic()) {
        return word.to_owned();
    }
    let i = rng.random_range(1..chars.len() - 1);
    let mut out = chars.clone();
    match rng.random_range(0..3) {
        0 => out.swap(i, i + 1),
        1 => {
            out.remove(i);
        }
        _ => out.insert(i, chars[i]),
    }
    let s: String = out.into_iter().collect();
    if s == word {
        format!("{word}{}", chars[chars.len() - 1])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn cdf_follows_weights() {
        let mut rng = WorldRng::seed_from_u64(1);
        let cdf = Cdf::new([1.0, 0.0, 3.0]);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[cdf.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((2.7..3.3).contains(&ratio), "{ratio}");
    }

    #[test]
    fn misspelling_changes_long_words_only() {
        let mut rng = WorldRng::seed_from_u64(2);
        for _ in 0..50 {
            assert_ne!(misspell(&mut rng, "kettle"), "kettle");
        }
        assert_eq!(misspell(&mut rng, "bed"), "bed");
    }
}
