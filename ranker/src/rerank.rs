//! The re-rank layer, applied last to a scored page: diversity by maximal
//! marginal relevance, removal of near-duplicate listings, and sponsored
//! slots at fixed positions. Each step is a pure function over indices into
//! the caller's candidate list, so it can be tested, explained and reordered
//! on its own.

use crate::error::{Error, Result};

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Maximal marginal relevance (Carbonell & Goldstein 1998): picks `k`
/// candidates one at a time, each maximising
/// `λ · rel(i) − (1 − λ) · max_{j picked} cos(e_i, e_j)`,
/// where `rel` is the score min-max normalised to [0, 1] over the
/// candidates (so λ weighs two quantities on the same scale). λ = 1 keeps
/// the score order; smaller λ trades relevance for variety. Ties go to the
/// earlier candidate. Returns indices into `scores`, best first.
pub fn mmr(scores: &[f64], embeddings: &[&[f32]], lambda: f64, k: usize) -> Result<Vec<usize>> {
    if !(0.0..=1.0).contains(&lambda) {
        return Err(Error::InvalidArgument(format!(
            "mmr lambda {lambda} is not in [0, 1]"
        )));
    }
    if embeddings.len() != scores.len() {
        return Err(Error::InvalidArgument(format!(
            "{} embeddings for {} candidates",
            embeddings.len(),
            scores.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "candidate {i}: score is not finite"
        )));
    }
    let n = scores.len();
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        });
    let rel: Vec<f64> = scores
        .iter()
        .map(|&s| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 })
        .collect();
    // The largest similarity of each candidate to anything picked so far.
    let mut max_sim = vec![f64::NEG_INFINITY; n];
    let mut taken = vec![false; n];
    let mut out = Vec::with_capacity(k.min(n));
    while out.len() < k.min(n) {
        let mut best: Option<(usize, f64)> = None;
        for i in (0..n).filter(|&i| !taken[i]) {
            let penalty = if out.is_empty() { 0.0 } else { max_sim[i] };
            let v = lambda * rel[i] - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((i, v));
            }
        }
        let Some((pick, _)) = best else { break };
        taken[pick] = true;
        out.push(pick);
        for i in (0..n).filter(|&i| !taken[i]) {
            max_sim[i] = max_sim[i].max(cosine(embeddings[i], embeddings[pick]));
        }
    }
    Ok(out)
}

/// A candidate removed as a near-duplicate, and the earlier one it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    /// The removed candidate.
    pub index: usize,
    /// The kept candidate it duplicates (ranked above it).
    pub of: usize,
}

/// Removes near-duplicate listings from a ranked list: a candidate is a
/// duplicate of an earlier kept one when their keys are equal (e.g. brand +
/// normalised title; `None` never matches) or their embeddings' cosine is at
/// least `threshold` (use a value above 1 to compare by key only). The first
/// (highest-ranked) of each group stays. Returns the kept indices in order
/// and the removed ones with what they repeat.
pub fn remove_near_duplicates(
    order: &[usize],
    keys: &[Option<String>],
    embeddings: &[&[f32]],
    threshold: f64,
) -> (Vec<usize>, Vec<Duplicate>) {
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    let mut removed = Vec::new();
    for &i in order {
        let dup = kept.iter().copied().find(|&j| {
            let same_key = matches!((&keys[i], &keys[j]), (Some(a), Some(b)) if a == b);
            same_key || cosine(embeddings[i], embeddings[j]) >= threshold
        });
        match dup {
            Some(j) => removed.push(Duplicate { index: i, of: j }),
            None => kept.push(i),
        }
    }
    (kept, removed)
}

/// A duplicate key from a listing's brand and title: lower case, runs of
/// anything but letters and digits as one space.
pub fn listing_key(brand: &str, title: &str) -> String {
    let mut out = String::with_capacity(brand.len() + title.len() + 1);
    for word in format!("{brand} {title}")
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// One position of a page with sponsored slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// An organic result (index into the organic candidates).
    Organic(usize),
    /// A sponsored result (index into the sponsored candidates).
    Sponsored(usize),
}

/// Places sponsored results at fixed 1-based `positions` of a page of
/// `page_len` and organic results everywhere else, in their order. The
/// guarantee: the organic results appear in exactly their given relative
/// order (none dropped except those pushed past the page's end), each
/// sponsored result sits exactly at its position, in the order given, and
/// positions without a sponsored result left are organic; the page ends
/// where the organic results run out. `dedupe` gives, for a sponsored
/// result, the organic index of the same product, which is then not shown
/// twice (when the ad's position is within the page).
pub fn place_sponsored(
    organic: &[usize],
    sponsored: &[usize],
    positions: &[usize],
    page_len: usize,
    dedupe: impl Fn(usize) -> Option<usize>,
) -> Result<Vec<Slot>> {
    if positions.contains(&0) {
        return Err(Error::InvalidArgument(
            "sponsored positions are 1-based".into(),
        ));
    }
    if positions.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::InvalidArgument(
            "sponsored positions must increase".into(),
        ));
    }
    let shown: Vec<usize> = positions
        .iter()
        .filter(|&&p| p <= page_len)
        .zip(sponsored)
        .map(|(_, &s)| s)
        .collect();
    let hidden: std::collections::HashSet<usize> =
        shown.iter().filter_map(|&s| dedupe(s)).collect();
    let mut organic = organic.iter().copied().filter(|o| !hidden.contains(o));
    let mut ads = shown.iter().copied();
    let mut page = Vec::with_capacity(page_len);
    for pos in 1..=page_len {
        let ad = if positions.contains(&pos) {
            ads.next()
        } else {
            None
        };
        match ad
            .map(Slot::Sponsored)
            .or_else(|| organic.next().map(Slot::Organic))
        {
            Some(s) => page.push(s),
            // Organic results ran out: the page ends here (a later slot
            // would not be at its position).
            None => break,
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mmr_with_lambda_one_keeps_the_score_order() {
        let scores = [0.9, 0.5, 0.7, 0.1];
        let e: Vec<Vec<f32>> = vec![vec![1.0, 0.0]; 4];
        let refs: Vec<&[f32]> = e.iter().map(Vec::as_slice).collect();
        assert_eq!(mmr(&scores, &refs, 1.0, 4).unwrap(), vec![0, 2, 1, 3]);
    }

    #[test]
    fn mmr_pushes_a_near_copy_below_something_different() {
        // 0 and 1 are the same direction; 2 is orthogonal but scores lower.
        let scores = [1.0, 0.95, 0.6];
        let e = [vec![1.0f32, 0.0], vec![0.99, 0.1], vec![0.0, 1.0]];
        let refs: Vec<&[f32]> = e.iter().map(Vec::as_slice).collect();
        assert_eq!(mmr(&scores, &refs, 0.5, 3).unwrap(), vec![0, 2, 1]);
        assert!(mmr(&scores, &refs, 1.5, 3).is_err());
        assert!(mmr(&scores, &refs[..2], 0.5, 3).is_err());
    }

    #[test]
    fn duplicates_go_by_key_or_by_embedding() {
        let keys = vec![
            Some(listing_key("Acme", "Grey Velvet Sofa!")),
            Some(listing_key("ACME", "grey  velvet sofa")),
            None,
            None,
        ];
        let e = [
            vec![1.0f32, 0.0],
            vec![0.0, 1.0],
            vec![0.7, 0.7],
            vec![0.71, 0.7],
        ];
        let refs: Vec<&[f32]> = e.iter().map(Vec::as_slice).collect();
        let (kept, removed) = remove_near_duplicates(&[0, 1, 2, 3], &keys, &refs, 0.999);
        assert_eq!(kept, vec![0, 2]);
        assert_eq!(
            removed,
            vec![Duplicate { index: 1, of: 0 }, Duplicate { index: 3, of: 2 }]
        );
        let (kept, _) = remove_near_duplicates(&[0, 1, 2, 3], &keys, &refs, 2.0);
        assert_eq!(kept, vec![0, 2, 3], "key only");
    }

    #[test]
    fn sponsored_slots_sit_at_their_positions() {
        let page = place_sponsored(&[10, 11, 12, 13], &[0, 1, 2], &[1, 3, 9], 5, |_| None).unwrap();
        use Slot::*;
        assert_eq!(
            page,
            vec![
                Sponsored(0),
                Organic(10),
                Sponsored(1),
                Organic(11),
                Organic(12)
            ]
        );
        // The same product is not shown twice.
        let page =
            place_sponsored(&[10, 11, 12], &[0], &[2], 3, |s| (s == 0).then_some(11)).unwrap();
        assert_eq!(page, vec![Organic(10), Sponsored(0), Organic(12)]);
        assert!(place_sponsored(&[1], &[0], &[0], 3, |_| None).is_err());
        assert!(place_sponsored(&[1], &[0, 1], &[3, 2], 3, |_| None).is_err());
    }

    proptest! {
        #[test]
        fn organic_order_is_kept_everywhere_else(
            n_org in 0usize..30,
            n_ads in 0usize..5,
            raw_positions in proptest::collection::btree_set(1usize..15, 0..5),
            page_len in 1usize..20,
        ) {
            let organic: Vec<usize> = (0..n_org).map(|i| 100 + i).collect();
            let sponsored: Vec<usize> = (0..n_ads).collect();
            let positions: Vec<usize> = raw_positions.into_iter().collect();
            let page = place_sponsored(&organic, &sponsored, &positions, page_len, |_| None).unwrap();
            prop_assert!(page.len() <= page_len);
            let shown_org: Vec<usize> = page.iter().filter_map(|s| match s { Slot::Organic(o) => Some(*o), _ => None }).collect();
            prop_assert_eq!(&shown_org[..], &organic[..shown_org.len()]);
            let mut next_ad = 0;
            for (i, s) in page.iter().enumerate() {
                if let Slot::Sponsored(a) = s {
                    prop_assert!(positions.contains(&(i + 1)), "ad at {}", i + 1);
                    prop_assert_eq!(*a, next_ad);
                    next_ad += 1;
                }
            }
            // A position with an ad left and within the page holds an ad
            // whenever the page reaches it.
            let expected_ads = positions.iter().filter(|&&p| p <= page.len()).count().min(n_ads);
            prop_assert_eq!(next_ad, expected_ads);
        }

        #[test]
        fn mmr_returns_distinct_candidates(
            scores in proptest::collection::vec(-5.0f64..5.0, 0..20),
            lambda in 0.0f64..=1.0,
            k in 0usize..25,
        ) {
            let e: Vec<Vec<f32>> = scores.iter().enumerate().map(|(i, _)| vec![(i % 3) as f32, (i % 5) as f32 + 0.5]).collect();
            let refs: Vec<&[f32]> = e.iter().map(Vec::as_slice).collect();
            let picked = mmr(&scores, &refs, lambda, k).unwrap();
            prop_assert_eq!(picked.len(), k.min(scores.len()));
            let mut seen = std::collections::HashSet::new();
            prop_assert!(picked.iter().all(|i| seen.insert(*i)));
        }
    }
}
