//! Text-match features: how the query's words meet a product's title, brand,
//! category and attributes. Tokens are lower-cased runs of letters and
//! digits (no stemming: a match here means the same written word).

use std::collections::HashSet;

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
}

impl ProductText {
    /// The text of a product from its fields.
    pub fn new<'a>(
        title: &str,
        brand: Option<&str>,
        category: impl IntoIterator<Item = &'a str>,
        attributes: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let title = tokens(title);
        Self {
            title_set: title.iter().cloned().collect(),
            title,
            brand: brand.map(tokens).unwrap_or_default().into_iter().collect(),
            category: category.into_iter().flat_map(tokens).collect(),
            attributes: attributes.into_iter().flat_map(tokens).collect(),
        }
    }
}

/// A query as the matchers read it: its tokens and its distinct tokens
/// (computed once per query, not per candidate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryText {
    /// Tokens, in order.
    pub tokens: Vec<String>,
    /// Distinct tokens, first occurrence order.
    pub distinct: Vec<String>,
}

impl QueryText {
    /// Tokenises `query`.
    pub fn new(query: &str) -> Self {
        let tokens = tokens(query);
        let mut distinct: Vec<String> = Vec::with_capacity(tokens.len());
        for t in &tokens {
            if !distinct.contains(t) {
                distinct.push(t.clone());
            }
        }
        Self { tokens, distinct }
    }
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
    TextMatch {
        title_overlap: share(&p.title_set),
        phrase: f32::from(u8::from(contains_run(&p.title, &query.tokens))),
        brand: f32::from(u8::from(query.distinct.iter().any(|t| p.brand.contains(t)))),
        category: share(&p.category),
        attribute: share(&p.attributes),
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
        ProductText::new(title, Some(brand), [category], [attrs])
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
}
