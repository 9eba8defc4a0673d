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

/// Scores `query` (already tokenised) against `p`.
pub fn text_match(query: &[String], p: &ProductText) -> TextMatch {
    let distinct: HashSet<&str> = query.iter().map(String::as_str).collect();
    if distinct.is_empty() {
        return TextMatch::default();
    }
    let n = distinct.len() as f32;
    let title: HashSet<&str> = p.title.iter().map(String::as_str).collect();
    let share = |set: &dyn Fn(&str) -> bool| distinct.iter().filter(|t| set(t)).count() as f32 / n;
    TextMatch {
        title_overlap: share(&|t| title.contains(t)),
        phrase: f32::from(u8::from(contains_run(&p.title, query))),
        brand: f32::from(u8::from(distinct.iter().any(|t| p.brand.contains(*t)))),
        category: share(&|t| p.category.contains(t)),
        attribute: share(&|t| p.attributes.contains(t)),
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
        ProductText {
            title: tokens(title),
            brand: tokens(brand).into_iter().collect(),
            category: tokens(category).into_iter().collect(),
            attributes: tokens(attrs).into_iter().collect(),
        }
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
        let m = text_match(&tokens("grey couch acme"), &p);
        assert!((m.title_overlap - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(m.phrase, 0.0, "grey couch acme is not a run of the title");
        assert_eq!(m.brand, 1.0);
        assert_eq!(m.category, 0.0);
        assert!((m.attribute - 1.0 / 3.0).abs() < 1e-6);
        let m = text_match(&tokens("velvet couch"), &p);
        assert_eq!(m.phrase, 1.0);
        assert_eq!(m.title_overlap, 1.0);
        let m = text_match(&tokens("sofas"), &p);
        assert_eq!(m.category, 1.0);
        assert_eq!(text_match(&[], &p), TextMatch::default());
    }
}
