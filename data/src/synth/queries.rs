//! Queries with known intents, their ground-truth grades, and judged pools.

use std::collections::BTreeSet;

use rand::Rng;
use serde::Serialize;

use super::catalog::{model_string, Brand, Leaf, ProductTruth};
use super::sample::{chance, lognormal, misspell, pick, WorldRng};
use super::vocab::COLOURS;
use crate::types::{EsciLabel, QueryId};

/// Head (category only), torso (category + attributes) or tail (one product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// e.g. `sofa`.
    Head,
    /// e.g. `grey velvet couch`.
    Torso,
    /// e.g. `kalo KA-1240` or a fully specified product.
    Tail,
}

/// What the shopper wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Intent {
    /// Leaf index.
    pub leaf: u16,
    /// Colour constraint.
    pub colour: Option<u8>,
    /// Material constraint.
    pub material: Option<u8>,
    /// Brand constraint.
    pub brand: Option<u16>,
    /// One exact model `(brand, model number)`.
    pub model: Option<(u16, u32)>,
}

/// A generated query.
#[derive(Debug, Clone, Serialize)]
pub struct SimQuery {
    /// Id (`Q00042`).
    pub id: QueryId,
    /// What is typed.
    pub text: String,
    /// What is meant.
    pub intent: Intent,
    /// Head, torso or tail.
    pub kind: QueryKind,
    /// Relative traffic share.
    pub weight: f64,
    /// Uses a word titles never use.
    pub lexical_gap: bool,
    /// Contains a typo.
    pub misspelt: bool,
}

/// The ESCI label of `product` for `intent`, from the generator's truth.
pub fn label(intent: &Intent, p: &ProductTruth, leaves: &[Leaf]) -> EsciLabel {
    if p.leaf == intent.leaf {
        if let Some((brand, model)) = intent.model {
            return if p.brand == brand && p.model == Some(model) {
                EsciLabel::Exact
            } else {
                EsciLabel::Substitute
            };
        }
        let ok = intent.colour.is_none_or(|c| c == p.colour)
            && intent.material.is_none_or(|m| m == p.material)
            && intent.brand.is_none_or(|b| b == p.brand);
        return if ok {
            EsciLabel::Exact
        } else {
            EsciLabel::Substitute
        };
    }
    let leaf = &leaves[intent.leaf as usize];
    if leaf.substitutes.contains(&p.leaf) {
        EsciLabel::Substitute
    } else if leaf.complements.contains(&p.leaf) {
        EsciLabel::Complement
    } else {
        EsciLabel::Irrelevant
    }
}

/// Query mix knobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct QueryMix {
    /// Share of head queries.
    pub head: f64,
    /// Share of torso queries (tail takes the rest).
    pub torso: f64,
    /// Probability that the product noun is a shopper's word (lexical gap).
    pub synonym_rate: f64,
    /// Probability of a typo.
    pub misspelling_rate: f64,
    /// Log-normal noise of the order in which queries take Zipf ranks
    /// (head queries tend to rank first, not always).
    pub frequency_sigma: f64,
    /// Zipf exponent of query frequencies: the r-th query gets weight 1/r^s.
    pub frequency_zipf: f64,
}

impl Default for QueryMix {
    fn default() -> Self {
        Self {
            head: 0.2,
            torso: 0.5,
            synonym_rate: 0.35,
            misspelling_rate: 0.1,
            frequency_sigma: 1.2,
            frequency_zipf: 1.0,
        }
    }
}

/// Draws `n` distinct queries. `by_leaf` lists the products of each leaf.
pub fn draw_queries(
    rng: &mut WorldRng,
    n: usize,
    mix: &QueryMix,
    leaves: &[Leaf],
    brands: &[Brand],
    products: &[ProductTruth],
    by_leaf: &[Vec<u32>],
) -> Vec<SimQuery> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    let populated: Vec<u16> = (0..leaves.len() as u16)
        .filter(|&l| !by_leaf[l as usize].is_empty())
        .collect();
    if populated.is_empty() {
        return out;
    }
    // Head queries can only be as many as there are (noun, leaf) pairs.
    let mut attempts = 0;
    while out.len() < n && attempts < n * 50 {
        attempts += 1;
        let u = rng.random::<f64>();
        let kind = if u < mix.head {
            QueryKind::Head
        } else if u < mix.head + mix.torso {
            QueryKind::Torso
        } else {
            QueryKind::Tail
        };
        let leaf_i = *pick(rng, &populated);
        let leaf = &leaves[leaf_i as usize];
        let mut intent = Intent {
            leaf: leaf_i,
            colour: None,
            material: None,
            brand: None,
            model: None,
        };
        let gap = !leaf.query_words.is_empty() && chance(rng, mix.synonym_rate);
        let noun = if gap {
            pick(rng, &leaf.query_words).to_string()
        } else {
            pick(rng, &leaf.title_nouns).to_lowercase()
        };
        let colour_word = |rng: &mut WorldRng, c: u8| -> String {
            let spellings: Vec<&str> = COLOURS[c as usize].1.split('|').collect();
            pick(rng, &spellings).to_string()
        };
        let mut words: Vec<String> = match kind {
            QueryKind::Head => vec![noun.clone()],
            QueryKind::Torso => {
                let mut w = Vec::new();
                // Ground the attributes in a real product so the query has answers.
                let anchor = products[*pick(rng, &by_leaf[leaf_i as usize]) as usize];
                if chance(rng, 0.6) {
                    intent.colour = Some(anchor.colour);
                    w.push(colour_word(rng, anchor.colour));
                }
                if chance(rng, 0.5) || w.is_empty() {
                    intent.material = Some(anchor.material);
                    w.push(leaf.materials[anchor.material as usize].to_owned());
                }
                if chance(rng, 0.2) {
                    intent.brand = Some(anchor.brand);
                    w.insert(0, brands[anchor.brand as usize].name.to_lowercase());
                }
                w.push(noun.clone());
                w
            }
            QueryKind::Tail => {
                let anchor = products[*pick(rng, &by_leaf[leaf_i as usize]) as usize];
                let brand = brands[anchor.brand as usize].name.to_lowercase();
                match model_string(brands, &anchor) {
                    Some(m) if chance(rng, 0.6) => {
                        intent.model = Some((anchor.brand, anchor.model.unwrap_or(0)));
                        intent.brand = Some(anchor.brand);
                        if chance(rng, 0.5) {
                            vec![brand, m.to_lowercase()]
                        } else {
                            vec![m, noun.clone()]
                        }
                    }
                    _ => {
                        intent.brand = Some(anchor.brand);
                        intent.colour = Some(anchor.colour);
                        intent.material = Some(anchor.material);
                        vec![
                            brand,
                            colour_word(rng, anchor.colour),
                            leaf.materials[anchor.material as usize].to_owned(),
                            noun.clone(),
                        ]
                    }
                }
            }
        };
        let mut misspelt = false;
        if chance(rng, mix.misspelling_rate) {
            let i = rng.random_range(0..words.len());
            let mut parts: Vec<String> = words[i].split(' ').map(str::to_owned).collect();
            let j = rng.random_range(0..parts.len());
            parts[j] = misspell(rng, &parts[j]);
            let typo = parts.join(" ");
            misspelt = typo != words[i];
            words[i] = typo;
        }
        let text = words.join(" ");
        if !seen.insert(text.clone()) {
            continue;
        }
        let base = match kind {
            QueryKind::Head => 20.0,
            QueryKind::Torso => 3.0,
            QueryKind::Tail => 0.6,
        };
        out.push(SimQuery {
            id: QueryId(format!("Q{:05}", out.len() + 1)),
            text,
            intent,
            kind,
            // Provisional: only orders the queries; Zipf weights are assigned below.
            weight: base * lognormal(rng, 1.0, mix.frequency_sigma),
            lexical_gap: gap,
            misspelt,
        });
    }
    // Zipf frequencies: order by the provisional weights (head first, with
    // noise), then the r-th query gets 1/r^s.
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[b].weight.total_cmp(&out[a].weight).then(a.cmp(&b)));
    for (rank, &i) in order.iter().enumerate() {
        out[i].weight = 1.0 / ((rank + 1) as f64).powf(mix.frequency_zipf);
    }
    out
}

/// Judged pool sizes: what a production engine would have retrieved for
/// annotators (ESCI judges about 45 candidates per query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PoolSizes {
    /// Exact matches judged at most.
    pub exact: usize,
    /// Substitutes judged at most.
    pub substitute: usize,
    /// Complements judged at most.
    pub complement: usize,
    /// Irrelevant (hard negatives) judged at most.
    pub irrelevant: usize,
}

impl Default for PoolSizes {
    fn default() -> Self {
        Self {
            exact: 24,
            substitute: 13,
            complement: 2,
            irrelevant: 7,
        }
    }
}

/// Draws the judged pool of one query: `(product index, label)`, products
/// sampled by popularity within each label, hard negatives preferring
/// products that share a word-bearing attribute (colour, material, brand).
pub fn judged_pool(
    rng: &mut WorldRng,
    q: &SimQuery,
    sizes: &PoolSizes,
    leaves: &[Leaf],
    products: &[ProductTruth],
    by_leaf: &[Vec<u32>],
) -> Vec<(u32, EsciLabel)> {
    let leaf = &leaves[q.intent.leaf as usize];
    let mut exact = Vec::new();
    let mut subs = Vec::new();
    for &i in &by_leaf[q.intent.leaf as usize] {
        match label(&q.intent, &products[i as usize], leaves) {
            EsciLabel::Exact => exact.push(i),
            _ => subs.push(i),
        }
    }
    for &s in &leaf.substitutes {
        subs.extend(by_leaf[s as usize].iter().copied().take(200));
    }
    let comps: Vec<u32> = leaf
        .complements
        .iter()
        .flat_map(|&c| by_leaf[c as usize].iter().copied().take(200))
        .collect();
    let mut negatives = Vec::new();
    let related: BTreeSet<u16> = leaf
        .substitutes
        .iter()
        .chain(&leaf.complements)
        .copied()
        .chain([q.intent.leaf])
        .collect();
    for _ in 0..sizes.irrelevant * 40 {
        if negatives.len() >= sizes.irrelevant * 4 {
            break;
        }
        let i = rng.random_range(0..products.len() as u32);
        let p = &products[i as usize];
        if related.contains(&p.leaf) {
            continue;
        }
        let shares = q.intent.colour == Some(p.colour) || q.intent.brand == Some(p.brand);
        if shares || chance(rng, 0.3) {
            negatives.push(i);
        }
    }
    let mut pool = Vec::new();
    let mut take = |cands: &mut Vec<u32>, n: usize, label: EsciLabel, rng: &mut WorldRng| {
        // Popularity-weighted sampling without replacement (Efraimidis-Spirakis keys).
        let mut keyed: Vec<(f64, u32)> = cands
            .iter()
            .map(|&i| {
                let u: f64 = rng.random::<f64>().max(1e-12);
                (
                    u.powf(1.0 / f64::from(products[i as usize].popularity).max(1e-6)),
                    i,
                )
            })
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in keyed.into_iter().take(n) {
            pool.push((i, label));
        }
    };
    // The other labels scale with the exact matches found, so that narrow
    // queries keep ESCI's proportions (about 51/28/5/16 %) in smaller pools.
    let e = exact.len().min(sizes.exact);
    let scaled = |cap: usize, share: f64, floor: usize| {
        cap.min(((e as f64 * share).ceil() as usize).max(floor))
    };
    take(&mut exact, sizes.exact, EsciLabel::Exact, rng);
    take(
        &mut subs,
        scaled(sizes.substitute, 0.56, 3),
        EsciLabel::Substitute,
        rng,
    );
    take(
        &mut comps.clone(),
        scaled(sizes.complement, 0.1, 1),
        EsciLabel::Complement,
        rng,
    );
    take(
        &mut negatives,
        scaled(sizes.irrelevant, 0.32, 2),
        EsciLabel::Irrelevant,
        rng,
    );
    pool.sort_by_key(|(i, _)| *i);
    pool.dedup_by_key(|(i, _)| *i);
    pool
}
