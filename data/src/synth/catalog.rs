//! The catalogue: leaves, brands, products and their ground truth.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::sample::{chance, lognormal, pick, Cdf, WorldRng};
use super::vocab::{list, LeafSpec, COLOURS, LEAVES, STYLE_WORDS, SYLLABLES};
use crate::types::{DocId, Product};

/// A leaf category with its vocabulary resolved.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The hand-written spec.
    pub spec: &'static LeafSpec,
    /// Title nouns.
    pub title_nouns: Vec<&'static str>,
    /// Query-only words (the lexical gap).
    pub query_words: Vec<&'static str>,
    /// Materials.
    pub materials: Vec<&'static str>,
    /// Sizes; each has one or more spellings.
    pub sizes: Vec<Vec<&'static str>>,
    /// Complement leaves.
    pub complements: Vec<u16>,
    /// Substitute leaves.
    pub substitutes: Vec<u16>,
}

/// A brand.
#[derive(Debug, Clone)]
pub struct Brand {
    /// Display name.
    pub name: String,
    /// Model-number prefix.
    pub code: String,
    /// Department it sells in.
    pub dept: &'static str,
    /// Price multiplier (budget < 1 < premium).
    pub premium: f64,
}

/// What the generator knows about a product and never writes into the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProductTruth {
    /// Leaf index.
    pub leaf: u16,
    /// Brand index.
    pub brand: u16,
    /// Colour index into [`COLOURS`].
    pub colour: u8,
    /// Material index into the leaf's materials.
    pub material: u8,
    /// Size index into the leaf's sizes.
    pub size: u8,
    /// Model number, for leaves that have them.
    pub model: Option<u32>,
    /// Price.
    pub price: f32,
    /// Latent popularity (log-normal, median 1).
    pub popularity: f32,
    /// Latent quality in [0, 1].
    pub quality: f32,
    /// The product this one is a near-duplicate listing of.
    pub duplicate_of: Option<u32>,
}

/// Resolves the vocabulary into indexed leaves.
pub fn build_leaves() -> Vec<Leaf> {
    let index: BTreeMap<&str, u16> = LEAVES
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name, i as u16))
        .collect();
    let resolve = |s: &'static str| -> Vec<u16> {
        list(s)
            .into_iter()
            .filter_map(|n| index.get(n).copied())
            .collect()
    };
    LEAVES
        .iter()
        .map(|spec| Leaf {
            spec,
            title_nouns: list(spec.title_nouns),
            query_words: list(spec.query_words),
            materials: list(spec.materials),
            sizes: list(spec.sizes)
                .into_iter()
                .map(|s| s.split('/').collect())
                .collect(),
            complements: resolve(spec.complements),
            substitutes: resolve(spec.substitutes),
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `n_per_dept` brands for each department, names unique.
pub fn build_brands(rng: &mut WorldRng, n_per_dept: usize) -> Vec<Brand> {
    let depts: BTreeSet<&'static str> = LEAVES.iter().map(|l| l.dept).collect();
    let mut seen = BTreeSet::new();
    let mut codes = BTreeSet::new();
    let mut out = Vec::new();
    for dept in depts {
        let mut made = 0;
        while made < n_per_dept {
            let parts = rng.random_range(2..=3);
            let name: String = (0..parts).map(|_| *pick(rng, SYLLABLES)).collect();
            let name = capitalise(&name);
            if !seen.insert(name.clone()) {
                continue;
            }
            let mut code: String = name
                .chars()
                .filter(|c| c.is_alphabetic())
                .take(2)
                .collect::<String>()
                .to_uppercase();
            while !codes.insert(code.clone()) {
                code.push(char::from(b'A' + rng.random_range(0..26u8)));
            }
            out.push(Brand {
                name,
                code,
                dept,
                premium: lognormal(rng, 1.0, 0.3),
            });
            made += 1;
        }
    }
    out
}

/// The stable id of product `i`.
pub fn doc_id(i: u32) -> DocId {
    DocId(format!("P{i:07}"))
}

/// The index of a product id made by [`doc_id`].
pub fn doc_index(id: &DocId) -> Option<u32> {
    id.0.strip_prefix('P').and_then(|n| n.parse().ok())
}

/// Draws product truths, one after another.
#[derive(Debug)]
pub struct TruthDrawer<'a> {
    /// Leaves.
    pub leaves: &'a [Leaf],
    /// Leaf weights.
    pub leaf_cdf: &'a Cdf,
    /// Brands of each department with their weights.
    pub brands_by_dept: &'a BTreeMap<&'static str, (Vec<u16>, Cdf)>,
    /// Brands.
    pub brands: &'a [Brand],
    /// Share of near-duplicate listings.
    pub duplicate_rate: f64,
    /// Next model number per brand.
    pub next_model: BTreeMap<u16, u32>,
    /// Catalogue size (the Zipf ranks run over it).
    pub n_products: usize,
    /// Zipf exponent of popularity.
    pub popularity_zipf: f64,
}

impl TruthDrawer<'_> {
    /// Draws the next product; `earlier` lets near-duplicates copy one.
    pub fn draw(&mut self, rng: &mut WorldRng, earlier: &[ProductTruth]) -> ProductTruth {
        let (leaves, leaf_cdf, brands_by_dept, brands, duplicate_rate) = (
            self.leaves,
            self.leaf_cdf,
            self.brands_by_dept,
            self.brands,
            self.duplicate_rate,
        );
        let next_model = &mut self.next_model;
        if !earlier.is_empty() && chance(rng, duplicate_rate) {
            let j = rng.random_range(earlier.len().saturating_sub(5000)..earlier.len());
            let orig = earlier[j];
            let root = orig.duplicate_of.unwrap_or(j as u32);
            return ProductTruth {
                price: (f64::from(orig.price) * (1.0 + rng.random_range(-0.04..0.04))) as f32,
                popularity: orig.popularity * rng.random_range(0.2..0.8),
                duplicate_of: Some(root),
                ..orig
            };
        }
        let leaf = leaf_cdf.sample(rng) as u16;
        let l = &leaves[leaf as usize];
        let (dept_brands, brand_cdf) = &brands_by_dept[l.spec.dept];
        let brand = dept_brands[brand_cdf.sample(rng)];
        let b = &brands[brand as usize];
        let model = l.spec.model_numbers.then(|| {
            let n = next_model
                .entry(brand)
                .or_insert(100 + rng.random_range(0..50) * 10);
            *n += rng.random_range(1..=40);
            *n
        });
        let price = l.spec.median_price * b.premium * lognormal(rng, 1.0, 0.35);
        let price = (price.max(2.0).round() - 0.01).max(0.99);
        ProductTruth {
            leaf,
            brand,
            colour: rng.random_range(0..COLOURS.len()) as u8,
            material: rng.random_range(0..l.materials.len()) as u8,
            size: rng.random_range(0..l.sizes.len()) as u8,
            model,
            price: price as f32,
            popularity: zipf_popularity(rng, self.n_products, self.popularity_zipf),
            quality: rng.random::<f32>().powf(0.7),
            duplicate_of: None,
        }
    }
}

/// Zipf popularity: a rank r uniform in 1..=n, popularity (n / 2r)^s, so the
/// median product has popularity 1 and the r-th most popular is 1/r^s of the top.
pub fn zipf_popularity(rng: &mut WorldRng, n: usize, s: f64) -> f32 {
    let n = n.max(1) as f64;
    let rank = (rng.random::<f64>() * n).floor() + 1.0;
    (n / (2.0 * rank)).powf(s) as f32
}

/// The model number as printed, e.g. `KA-1240`.
pub fn model_string(brands: &[Brand], t: &ProductTruth) -> Option<String> {
    t.model
        .map(|m| format!("{}-{m}", brands[t.brand as usize].code))
}

/// Writes the catalogue entry of a product: title and description vary in
/// wording (templates, size spellings, style words), never in facts.
pub fn render_product(
    rng: &mut WorldRng,
    i: u32,
    t: &ProductTruth,
    leaves: &[Leaf],
    brands: &[Brand],
) -> Product {
    let l = &leaves[t.leaf as usize];
    let b = &brands[t.brand as usize];
    let noun = *pick(rng, &l.title_nouns);
    let colour = COLOURS[t.colour as usize].0;
    let colour_t = capitalise(colour);
    let material = l.materials[t.material as usize];
    let material_t = material
        .split(' ')
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ");
    let size = *pick(rng, &l.sizes[t.size as usize]);
    let style = *pick(rng, STYLE_WORDS);
    let model = model_string(brands, t);
    let mut title = match rng.random_range(0..5) {
        0 => format!("{} {colour_t} {material_t} {noun}, {size}", b.name),
        1 => format!(
            "{} {style} {noun} in {colour_t} {material_t} ({size})",
            b.name
        ),
        2 => format!(
            "{style} {material_t} {noun} - {colour_t}, {size} | {}",
            b.name
        ),
        3 => format!("{} {size} {noun}, {material_t}, {colour_t}", b.name),
        _ => format!("{colour_t} {noun} by {} - {material_t} - {size}", b.name),
    };
    if let Some(m) = &model {
        title = match rng.random_range(0..3) {
            0 => format!("{} {m} {noun}, {colour_t}, {size}", b.name),
            1 => format!("{title} [{m}]"),
            _ => format!("{title}, Model {m}"),
        };
    }
    let noun_lc = noun.to_lowercase();
    let mut desc = vec![
        format!("This {noun_lc} is made of {material} and comes in {colour}."),
        match rng.random_range(0..4) {
            0 => format!(
                "Designed by {} for everyday use, it measures {size}.",
                b.name
            ),
            1 => "Easy to assemble and built to last.".to_owned(),
            2 => format!("A {} look that fits most homes.", style.to_lowercase()),
            _ => format!("Backed by a {}-year warranty.", rng.random_range(1..=5)),
        },
    ];
    // A minority of descriptions mention a shopper's word: BM25 over
    // descriptions recovers part of the lexical gap, not all of it.
    if !l.query_words.is_empty() && chance(rng, 0.25) {
        desc.push(format!(
            "Also a great {} for any room.",
            pick(rng, &l.query_words)
        ));
    }
    if let Some(m) = &model {
        desc.push(format!("Model number {m}."));
    }
    let mut p = Product::new(doc_id(i), title);
    p.description = desc.join(" ");
    p.brand = Some(b.name.clone());
    p.category = vec![
        l.spec.dept.to_owned(),
        l.spec.sub.to_owned(),
        l.spec.name.to_owned(),
    ];
    p.price = Some((f64::from(t.price) * 100.0).round() / 100.0);
    p.attributes.insert("colour".into(), colour.to_owned());
    p.attributes.insert("material".into(), material.to_owned());
    p.attributes
        .insert("size".into(), l.sizes[t.size as usize][0].to_owned());
    if let Some(m) = model {
        p.attributes.insert("model".into(), m);
    }
    if chance(rng, 0.85) {
        let r = 2.6 + 2.2 * f64::from(t.quality) + rng.random_range(-0.3..0.3);
        p.rating = Some(((r.clamp(1.0, 5.0) * 10.0).round() / 10.0) as f32);
        p.review_count =
            Some((f64::from(t.popularity) * 25.0 * rng.random::<f64>()).round() as u32);
    }
    p
}

/// Weights of leaves (some categories are bigger than others) and brands (Zipf).
pub fn leaf_and_brand_tables(
    rng: &mut WorldRng,
    leaves: &[Leaf],
    brands: &[Brand],
) -> (Cdf, BTreeMap<&'static str, (Vec<u16>, Cdf)>) {
    let leaf_cdf = Cdf::new(leaves.iter().map(|_| lognormal(rng, 1.0, 0.5)));
    let mut by_dept: BTreeMap<&'static str, Vec<u16>> = BTreeMap::new();
    for (i, b) in brands.iter().enumerate() {
        by_dept.entry(b.dept).or_default().push(i as u16);
    }
    let tables = by_dept
        .into_iter()
        .map(|(d, ids)| {
            let cdf = Cdf::zipf(ids.len(), 0.9);
            (d, (ids, cdf))
        })
        .collect();
    (leaf_cdf, tables)
}
