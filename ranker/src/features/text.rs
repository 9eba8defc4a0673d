//! Text-match features: how the query's words meet a product's title, brand,
//! category and attributes. Tokens are lower-cased runs of letters and
//! digits (no stemming: a match here means the same written word).
//!
//! Two features read the query through the catalogue's [`Vocabulary`]:
//! a token the catalogue never uses is corrected to the most frequent
//! catalogue word one edit away (Damerau: a letter dropped, doubled,
//! swapped or changed; tokens of four characters or more, digits never), as
//! Elasticsearch's `fuzziness: AUTO` would match it; and the corrected
//! tokens name attribute values (every value of a key, `brand` included,
//! whose tokens all occur in the query), so that a product can be told to
//! agree with what the query asks for or to conflict with it.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Lower-cased alphanumeric runs of `s`, in order.
pub fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The query's key in the feature store: its tokens joined by one space
/// (so `Grey  Couch!` and `grey couch` share their history).
pub fn query_key(query: &str) -> String {
    tokens(query).join(" ")
}

/// The text of a product as the matchers read it (tokenised once).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductText {
    /// Title tokens, in order.
    pub title: Vec<String>,
    /// The same, as a set.
    pub title_set: HashSet<String>,
    /// Brand tokens.
    pub brand: HashSet<String>,
    /// Tokens of every category level.
    pub category: HashSet<String>,
    /// Tokens of every attribute value.
    pub attributes: HashSet<String>,
    /// Each attribute's key and value tokens, the brand under `brand`.
    pub values: Vec<(String, Vec<String>)>,
    /// The category path, lower-cased, levels joined by ` > `.
    pub leaf: String,
}

/// The text-match features of one (query, product) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TextMatch {
    /// Share of distinct query tokens found in the title (0..=1).
    pub title_overlap: f32,
    /// 1 when the query's tokens appear in the title contiguously and in
    /// order (and the query has at least one token).
    pub phrase: f32,
    /// 1 when a query token is one of the brand's tokens.
    pub brand: f32,
    /// Share of distinct query tokens found in the category path.
    pub category: f32,
    /// Share of distinct query tokens found in the attribute values.
    pub attribute: f32,
    /// Share of the distinct spelling-corrected query tokens found in the title.
    pub fuzzy_title_overlap: f32,
    /// Attribute keys (brand included) whose value the query names.
    pub attribute_agree: f32,
    /// Attribute keys for which the query names values, none of them the
    /// product's (or the product has no value for the key).
    pub attribute_conflict: f32,
    /// Mean over the query's catalogue words of the share of the products
    /// using the word that are in this product's category.
    pub category_affinity: f32,
}

impl ProductText {
    /// The text of a product from its fields (`attributes` as key, value).
    pub fn new<'a>(
        title: &str,
        brand: Option<&str>,
        category: impl IntoIterator<Item = &'a str>,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let title = tokens(title);
        let category: Vec<&str> = category.into_iter().collect();
        let mut values: Vec<(String, Vec<String>)> = attributes
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), tokens(v)))
            .filter(|(k, v)| !v.is_empty() && k != BRAND_KEY)
            .collect();
        if let Some(b) = brand.map(tokens).filter(|b| !b.is_empty()) {
            values.push((BRAND_KEY.to_owned(), b));
        }
        Self {
            title_set: title.iter().cloned().collect(),
            title,
            brand: brand.map(tokens).unwrap_or_default().into_iter().collect(),
            category: category.iter().copied().flat_map(tokens).collect(),
            leaf: category.join(" > ").to_lowercase(),
            attributes: values
                .iter()
                .filter(|(k, _)| k != BRAND_KEY)
                .flat_map(|(_, v)| v.iter().cloned())
                .collect(),
            values,
        }
    }
}

/// The key under which a product's brand is an attribute value.
pub const BRAND_KEY: &str = "brand";

/// Shortest token that spelling correction touches.
const MIN_CORRECTED_LEN: usize = 4;

/// The catalogue's words: how often each occurs (titles, descriptions,
/// brands, categories, attribute values) and, per attribute key, the
/// values it takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    counts: HashMap<String, u32>,
    /// Per word, the categories of the products using it and how many.
    by_leaf: HashMap<String, HashMap<String, u32>>,
    /// Per word, the share of the products using it in each category.
    leaf_share: HashMap<String, Vec<(String, f32)>>,
    alphabet: Vec<char>,
    /// Distinct (key, value tokens), sorted once finished.
    values: Vec<(String, Vec<String>)>,
    /// Indices into `values` by the value's first token.
    by_first: HashMap<String, Vec<usize>>,
}

impl Vocabulary {
    /// Counts `text`'s tokens.
    pub fn add_text(&mut self, text: &str) {
        for t in tokens(text) {
            *self.counts.entry(t).or_default() += 1;
        }
    }

    /// Adds a product: the words of `texts` (its fields, as written), which
    /// category uses them, and its attribute values.
    pub fn add_product<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>, p: &ProductText) {
        let mut distinct: HashSet<String> = HashSet::new();
        for t in texts {
            for w in tokens(t) {
                *self.counts.entry(w.clone()).or_default() += 1;
                distinct.insert(w);
            }
        }
        for w in distinct {
            *self
                .by_leaf
                .entry(w)
                .or_default()
                .entry(p.leaf.clone())
                .or_default() += 1;
        }
        self.values.extend(p.values.iter().cloned());
    }

    /// Indexes the values and freezes the alphabet of corrections (every
    /// character of the words); call once everything is added.
    pub fn finish(&mut self) {
        let mut chars: Vec<char> = self.counts.keys().flat_map(|w| w.chars()).collect();
        chars.sort_unstable();
        chars.dedup();
        self.alphabet = chars;
        self.values.sort_unstable();
        self.values.dedup();
        self.by_first.clear();
        for (i, (_, v)) in self.values.iter().enumerate() {
            self.by_first.entry(v[0].clone()).or_default().push(i);
        }
        self.leaf_share = self
            .by_leaf
            .iter()
            .map(|(w, leaves)| {
                let n = leaves.values().sum::<u32>().max(1) as f32;
                let mut v: Vec<(String, f32)> = leaves
                    .iter()
                    .map(|(l, &c)| (l.clone(), c as f32 / n))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                (w.clone(), v)
            })
            .collect();
    }

    /// Distinct words.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no word was added.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// `token` itself when the catalogue uses it (or it is short or has a
    /// digit), else the most frequent catalogue word one edit away (ties to
    /// the smaller word), else itself.
    pub fn correct(&self, token: &str) -> String {
        if self.counts.contains_key(token)
            || token.chars().count() < MIN_CORRECTED_LEN
            || token.chars().any(|c| c.is_ascii_digit())
        {
            return token.to_owned();
        }
        let mut best: Option<(u32, String)> = None;
        for cand in edits1(token, &self.alphabet) {
            if let Some(&n) = self.counts.get(&cand) {
                let better = match &best {
                    None => true,
                    Some((bn, bw)) => n > *bn || (n == *bn && cand < *bw),
                };
                if better {
                    best = Some((n, cand));
                }
            }
        }
        best.map_or_else(|| token.to_owned(), |(_, w)| w)
    }
}

/// Every string one Damerau edit from `w` (deletion, transposition of
/// neighbours, substitution or insertion from `alphabet`).
fn edits1(w: &str, alphabet: &[char]) -> Vec<String> {
    let c: Vec<char> = w.chars().collect();
    let n = c.len();
    let mut out = Vec::with_capacity(n * (2 * alphabet.len() + 2) + alphabet.len());
    let join = |v: &[char]| v.iter().collect::<String>();
    for i in 0..n {
        let mut v = c.clone();
        v.remove(i);
        out.push(join(&v));
        if i + 1 < n {
            let mut v = c.clone();
            v.swap(i, i + 1);
            out.push(join(&v));
        }
        for &a in alphabet {
            if a != c[i] {
                let mut v = c.clone();
                v[i] = a;
                out.push(join(&v));
            }
        }
    }
    for i in 0..=n {
        for &a in alphabet {
            let mut v = c.clone();
            v.insert(i, a);
            out.push(join(&v));
        }
    }
    out
}

/// A query as the matchers read it: its tokens and its distinct tokens
/// (computed once per query, not per candidate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryText {
    /// Tokens, in order.
    pub tokens: Vec<String>,
    /// Distinct tokens, first occurrence order.
    pub distinct: Vec<String>,
    /// Distinct spelling-corrected tokens (the distinct tokens without a
    /// vocabulary).
    pub corrected: Vec<String>,
    /// Per attribute key, the values the corrected query names.
    pub named: BTreeMap<String, Vec<Vec<String>>>,
    /// Per category, the mean over the corrected words that products use
    /// of the share of those products in it.
    pub leaf_affinity: HashMap<String, f32>,
}

impl QueryText {
    /// Tokenises `query` (no spelling correction, no attribute values).
    pub fn new(query: &str) -> Self {
        let tokens = tokens(query);
        let distinct = dedup(tokens.iter().cloned());
        Self {
            corrected: distinct.clone(),
            tokens,
            distinct,
            named: BTreeMap::new(),
            leaf_affinity: HashMap::new(),
        }
    }

    /// Tokenises `query` and reads it through the catalogue's vocabulary.
    pub fn analyse(query: &str, vocabulary: &Vocabulary) -> Self {
        let mut q = Self::new(query);
        q.corrected = dedup(q.distinct.iter().map(|t| vocabulary.correct(t)));
        let have: HashSet<&str> = q.corrected.iter().map(String::as_str).collect();
        for t in &q.corrected {
            for &i in vocabulary.by_first.get(t).into_iter().flatten() {
                let (key, v) = &vocabulary.values[i];
                if v.iter().all(|t| have.contains(t.as_str())) {
                    let named = q.named.entry(key.clone()).or_default();
                    if !named.contains(v) {
                        named.push(v.clone());
                    }
                }
            }
        }
        let used: Vec<&Vec<(String, f32)>> = q
            .corrected
            .iter()
            .filter_map(|t| vocabulary.leaf_share.get(t))
            .collect();
        for shares in &used {
            for (leaf, share) in shares.iter() {
                *q.leaf_affinity.entry(leaf.clone()).or_default() += share / used.len() as f32;
            }
        }
        q
    }

    /// Attribute keys the query names a value of.
    pub fn named_keys(&self) -> usize {
        self.named.len()
    }
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in it {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Scores `query` against `p`.
pub fn text_match(query: &QueryText, p: &ProductText) -> TextMatch {
    if query.distinct.is_empty() {
        return TextMatch::default();
    }
    let n = query.distinct.len() as f32;
    let share = |set: &HashSet<String>| {
        query.distinct.iter().filter(|t| set.contains(*t)).count() as f32 / n
    };
    let corrected_n = query.corrected.len().max(1) as f32;
    let (mut agree, mut conflict) = (0u8, 0u8);
    for (key, named) in &query.named {
        let has = p
            .values
            .iter()
            .any(|(k, v)| k == key && named.iter().any(|n| n == v));
        if has {
            agree += 1;
        } else {
            conflict += 1;
        }
    }
    TextMatch {
        title_overlap: share(&p.title_set),
        phrase: f32::from(u8::from(contains_run(&p.title, &query.tokens))),
        brand: f32::from(u8::from(query.distinct.iter().any(|t| p.brand.contains(t)))),
        category: share(&p.category),
        attribute: share(&p.attributes),
        fuzzy_title_overlap: query
            .corrected
            .iter()
            .filter(|t| p.title_set.contains(*t))
            .count() as f32
            / corrected_n,
        attribute_agree: f32::from(agree),
        attribute_conflict: f32::from(conflict),
        category_affinity: query.leaf_affinity.get(&p.leaf).copied().unwrap_or(0.0),
    }
}

/// Whether `needle` occurs in `hay` as a contiguous run.
fn contains_run(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(title: &str, brand: &str, category: &str, attrs: &str) -> ProductText {
        ProductText::new(title, Some(brand), [category], [("attrs", attrs)])
    }

    #[test]
    fn tokens_lowercase_and_split_on_punctuation() {
        assert_eq!(
            tokens("Grey-Velvet  COUCH, 3 seat"),
            ["grey", "velvet", "couch", "3", "seat"]
        );
        assert_eq!(query_key("  Grey   couch! "), "grey couch");
        assert!(tokens(" .,; ").is_empty());
    }

    #[test]
    fn matches_are_shares_of_the_distinct_query_tokens() {
        let p = text(
            "Grey velvet couch",
            "Acme Home",
            "Furniture > Sofas",
            "velvet grey",
        );
        let m = text_match(&QueryText::new("grey couch acme"), &p);
        assert!((m.title_overlap - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(m.phrase, 0.0, "grey couch acme is not a run of the title");
        assert_eq!(m.brand, 1.0);
        assert_eq!(m.category, 0.0);
        assert!((m.attribute - 1.0 / 3.0).abs() < 1e-6);
        let m = text_match(&QueryText::new("velvet couch"), &p);
        assert_eq!(m.phrase, 1.0);
        assert_eq!(m.title_overlap, 1.0);
        let m = text_match(&QueryText::new("sofas"), &p);
        assert_eq!(m.category, 1.0);
        assert_eq!(text_match(&QueryText::new(" "), &p), TextMatch::default());
    }

    fn catalogue() -> (Vocabulary, Vec<ProductText>) {
        let rows = [
            ("Kalo Grey Velvet Sofa", "Kalo", "grey", "velvet"),
            ("Kalo Black Velvet Sofa", "Kalo", "black", "velvet"),
            ("Nordby Grey Linen Sofa", "Nordby", "grey", "linen"),
        ];
        let mut v = Vocabulary::default();
        let texts: Vec<ProductText> = rows
            .iter()
            .map(|&(t, b, c, m)| {
                ProductText::new(
                    t,
                    Some(b),
                    ["Furniture", "Sofas"],
                    [("colour", c), ("material", m)],
                )
            })
            .collect();
        for (t, (title, ..)) in texts.iter().zip(rows) {
            v.add_product([title], t);
        }
        let chair = ProductText::new("Kalo Grey Armchair", Some("Kalo"), ["Chairs"], []);
        v.add_product(["Kalo Grey Armchair", "a chair or a lounge seat"], &chair);
        v.add_text("a sofa the shop calls a settee");
        v.finish();
        (v, texts)
    }

    #[test]
    fn spelling_correction_takes_the_most_frequent_word_one_edit_away() {
        let (v, _) = catalogue();
        assert_eq!(v.correct("sofa"), "sofa", "a catalogue word stays");
        assert_eq!(v.correct("sfoa"), "sofa", "swapped letters");
        assert_eq!(v.correct("velvett"), "velvet", "a doubled letter");
        assert_eq!(v.correct("vlvet"), "velvet", "a dropped letter");
        assert_eq!(v.correct("settee"), "settee", "description words count");
        assert_eq!(v.correct("gery"), "grey");
        assert_eq!(v.correct("ka12"), "ka12", "tokens with digits stay");
        assert_eq!(v.correct("sfa"), "sfa", "short tokens stay");
        assert_eq!(v.correct("xylophone"), "xylophone", "nothing near");
    }

    #[test]
    fn named_attributes_agree_or_conflict() {
        let (v, p) = catalogue();
        let q = QueryText::analyse("gery velvet sofa", &v);
        assert_eq!(q.corrected, ["grey", "velvet", "sofa"]);
        assert_eq!(q.named_keys(), 2, "colour and material: {:?}", q.named);
        let m: Vec<TextMatch> = p.iter().map(|p| text_match(&q, p)).collect();
        assert_eq!((m[0].attribute_agree, m[0].attribute_conflict), (2.0, 0.0));
        assert_eq!((m[1].attribute_agree, m[1].attribute_conflict), (1.0, 1.0));
        assert_eq!((m[2].attribute_agree, m[2].attribute_conflict), (1.0, 1.0));
        assert_eq!(m[0].fuzzy_title_overlap, 1.0);
        assert!(
            (m[0].title_overlap - 2.0 / 3.0).abs() < 1e-6,
            "the typo misses"
        );
        let q = QueryText::analyse("nordby sofa", &v);
        assert_eq!(q.named.keys().collect::<Vec<_>>(), [BRAND_KEY]);
        assert_eq!(text_match(&q, &p[2]).attribute_agree, 1.0);
        assert_eq!(text_match(&q, &p[0]).attribute_conflict, 1.0);
        let q = QueryText::analyse("sofa", &v);
        assert_eq!(q.named_keys(), 0);
        assert_eq!(text_match(&q, &p[1]).attribute_conflict, 0.0);
    }

    #[test]
    fn category_affinity_is_where_the_catalogue_uses_the_query_words() {
        let (v, p) = catalogue();
        let chair = ProductText::new("Kalo Grey Armchair", Some("Kalo"), ["Chairs"], []);
        // `sofa`: all three sofas, no chair; `grey`: two sofas, one chair.
        let q = QueryText::analyse("grey sofa", &v);
        let sofa = text_match(&q, &p[0]).category_affinity;
        let arm = text_match(&q, &chair).category_affinity;
        assert!((sofa - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-6, "{sofa}");
        assert!((arm - (1.0 / 3.0) / 2.0).abs() < 1e-6, "{arm}");
        // A word only the chair's description uses points at chairs.
        let q = QueryText::analyse("lounge", &v);
        assert_eq!(text_match(&q, &chair).category_affinity, 1.0);
        assert_eq!(text_match(&q, &p[0]).category_affinity, 0.0);
        let q = QueryText::analyse("xylophone", &v);
        assert_eq!(text_match(&q, &p[0]).category_affinity, 0.0);
    }
}
