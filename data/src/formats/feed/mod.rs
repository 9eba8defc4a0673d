//! Catalogues fed the way a search engine's bulk API takes documents: the
//! valid products are kept and the invalid ones reported (line, field,
//! reason), as Elasticsearch's `_bulk` and Vespa's feed do; `strict` fails on
//! the first instead.
//!
//! A catalogue is NDJSON, one product a line, or an OpenSearch /
//! Elasticsearch bulk file (`{"index": {"_id": ...}}` action lines are
//! skipped; their `_id` is the product id when the document has none). A
//! UTF-8 byte-order mark is skipped with a note.
//!
//! Products in another shape are read through a [`FieldMap`]: each of
//! hyrank's fields (`id`, `title`, `description`, `brand`, `category`,
//! `price`, `attributes`, `attributes.NAME`, `rating`, `review_count`) from a
//! source path of the document. A path is dotted (`attrs.Brand`) and goes
//! through arrays (`categories.name` over `[{"name": ...}]`); `a|b` takes the
//! first present, `a+b` joins all present (text fields). Values are coerced:
//! ids and numbers written as text (`"$1,299.99"`), category paths from
//! `"A > B"`, an array of names, or an array of such arrays (the first),
//! attributes from an object (nested keys dotted, arrays joined by `, `).
//!
//! Fields of the documents that are neither hyrank's nor mapped are listed
//! once in the [`FeedReport`] with how many rows had them (and, where the
//! name is a common one, the `--map` that would use them): never dropped
//! silently.

mod map;
mod values;

pub use map::{FieldMap, Target};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{bulk_action, json_error, key_column, Lines};
use crate::error::{Error, Location, Result};
use crate::types::{DocId, Product};
use map::Source;
use values::{
    attributes_of, category_of, number_of, scalar_text, source_values, text_of, values_at,
};

/// Options of [`read_feed`].
#[derive(Debug, Clone, Default)]
pub struct FeedOptions {
    /// hyrank's fields from the documents' own.
    pub map: FieldMap,
    /// Fail on the first invalid product instead of reporting it.
    pub strict: bool,
}

/// A product that was not indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Where (file:line:column), and the field when the problem is one.
    pub at: Location,
    /// Why.
    pub reason: String,
    /// The product's id, when it had one.
    pub id: Option<String>,
    /// The line as it was.
    pub line: String,
}

/// What [`read_feed`] read, kept and rejected.
#[derive(Debug, Clone, Default)]
pub struct FeedReport {
    /// The catalogue.
    pub path: PathBuf,
    /// Documents read (not counting bulk action lines).
    pub documents: u64,
    /// Bulk action lines skipped.
    pub bulk_action_lines: u64,
    /// Products that were not indexed, in file order.
    pub rejects: Vec<Reject>,
    /// Fields of the documents neither known nor mapped: rows that had them.
    pub unmapped_fields: BTreeMap<String, u64>,
    /// Prices read from text (`"$12.99"`).
    pub prices_from_text: u64,
    /// Notes (a byte-order mark skipped, ...).
    pub notes: Vec<String>,
}

/// Common names of hyrank's fields in other catalogues, for hints.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "id",
        &[
            "_id",
            "objectID",
            "asin",
            "sku",
            "product_id",
            "item_id",
            "uuid",
            "docid",
            "doc_id",
        ],
    ),
    (
        "title",
        &["name", "product_title", "product_name", "title_text"],
    ),
    (
        "description",
        &[
            "product_description",
            "desc",
            "text",
            "body",
            "bullets",
            "bullet_points",
            "product_bullet_point",
            "shortDescription",
            "longDescription",
            "features",
        ],
    ),
    (
        "brand",
        &[
            "manufacturer",
            "product_brand",
            "vendor",
            "supplier",
            "make",
        ],
    ),
    (
        "category",
        &[
            "categories",
            "category_path",
            "product_type",
            "google_product_type",
            "category_hierarchy",
            "breadcrumbs",
        ],
    ),
    (
        "price",
        &[
            "salePrice",
            "sale_price",
            "regular_price",
            "list_price",
            "price_amount",
            "amount",
        ],
    ),
    (
        "attributes",
        &[
            "attrs",
            "specs",
            "specifications",
            "properties",
            "attributes_map",
        ],
    ),
    (
        "rating",
        &[
            "average_rating",
            "customerReviewAverage",
            "stars",
            "avg_rating",
        ],
    ),
    (
        "review_count",
        &[
            "reviews",
            "customerReviewCount",
            "num_reviews",
            "rating_count",
            "review_count_total",
        ],
    ),
];

impl FeedReport {
    /// The `--map` suggestions for the unmapped fields that have a common name.
    pub fn suggestions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for field in self.unmapped_fields.keys() {
            for (target, names) in ALIASES {
                if names.iter().any(|n| n.eq_ignore_ascii_case(field)) {
                    out.push(format!("--map {target}={field}"));
                }
            }
        }
        out
    }

    /// The report as lines of text, with the first `shown` rejects.
    pub fn lines(&self, shown: usize) -> Vec<String> {
        let mut out = self.notes.clone();
        if self.bulk_action_lines > 0 {
            out.push(format!(
                "{}: {} bulk action lines skipped",
                self.path.display(),
                self.bulk_action_lines
            ));
        }
        if !self.unmapped_fields.is_empty() {
            let fields: Vec<String> = self
                .unmapped_fields
                .iter()
                .map(|(k, n)| format!("{k} ({n} rows)"))
                .collect();
            let hint = self.suggestions();
            out.push(format!(
                "fields neither known nor mapped, not indexed: {}{}",
                fields.join(", "),
                if hint.is_empty() {
                    " (map them with --map FIELD=SOURCE)".to_owned()
                } else {
                    format!(" (e.g. {})", hint.join(" "))
                }
            ));
        }
        if self.prices_from_text > 0 {
            out.push(format!("{} prices read from text", self.prices_from_text));
        }
        for r in self.rejects.iter().take(shown) {
            out.push(format!("rejected {}: {}", r.at, r.reason));
        }
        if self.rejects.len() > shown {
            out.push(format!(
                "... and {} more rejected",
                self.rejects.len() - shown
            ));
        }
        out
    }

    /// The rejects as NDJSON (one object a reject: line, column, field, reason, id, source line).
    pub fn rejects_ndjson(&self) -> String {
        let mut o = String::new();
        for r in &self.rejects {
            let v = serde_json::json!({
                "file": r.at.path.display().to_string(),
                "line": r.at.line,
                "column": r.at.column,
                "field": r.at.field,
                "reason": r.reason,
                "id": r.id,
                "source": r.line,
            });
            o.push_str(&v.to_string());
            o.push('\n');
        }
        o
    }
}

/// A field problem: (field, reason).
type Problem = (String, String);

/// One document → a product, through the map (identity for unmapped fields).
fn product_of(
    doc: &Value,
    bulk_id: Option<&str>,
    map: &FieldMap,
    report: &mut FeedReport,
) -> std::result::Result<Product, Problem> {
    let identity = |t: &Target| {
        Source::parse(&t.name()).unwrap_or(Source {
            alternatives: vec![],
        })
    };
    let vals = |t: &Target| -> (String, Vec<&Value>) {
        let src = map.source(t).cloned().unwrap_or_else(|| identity(t));
        let name = map.source(t).map_or_else(
            || t.name(),
            |s| {
                s.alternatives
                    .iter()
                    .map(|a| a.join("+"))
                    .collect::<Vec<_>>()
                    .join("|")
            },
        );
        (name, source_values(doc, &src))
    };
    let text = |t: &Target| -> std::result::Result<Option<String>, Problem> {
        let (name, v) = vals(t);
        text_of(&v).map_err(|why| (name, why))
    };
    let (id_field, _) = vals(&Target::Id);
    let id = text(&Target::Id)?.or_else(|| bulk_id.map(str::to_owned));
    let Some(id) = id else {
        return Err((
            id_field,
            "missing: every product needs an id (map one with --map id=FIELD)".into(),
        ));
    };
    let (title_field, _) = vals(&Target::Title);
    let title = text(&Target::Title)?.ok_or_else(|| {
        (
            title_field,
            "missing or empty: every product needs a title (map one with --map title=FIELD)"
                .to_owned(),
        )
    })?;
    let mut p = Product::new(id.as_str(), title);
    p.description = text(&Target::Description)?.unwrap_or_default();
    p.brand = text(&Target::Brand)?;
    let (cat_field, cat) = vals(&Target::Category);
    p.category = category_of(&cat).map_err(|why| (cat_field, why))?;
    let number =
        |t: &Target, report: &mut FeedReport| -> std::result::Result<Option<f64>, Problem> {
            let (name, v) = vals(t);
            match v.first() {
                None => Ok(None),
                Some(x) => {
                    let (n, from_text) = number_of(x).map_err(|why| (name, why))?;
                    if from_text && *t == Target::Price {
                        report.prices_from_text += 1;
                    }
                    Ok(Some(n))
                }
            }
        };
    p.price = number(&Target::Price, report)?;
    p.rating = number(&Target::Rating, report)?.map(|r| r as f32);
    if let Some(n) = number(&Target::ReviewCount, report)? {
        if !(n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX)) {
            return Err((
                vals(&Target::ReviewCount).0,
                format!("{n} is not a whole number of reviews"),
            ));
        }
        p.review_count = Some(n as u32);
    }
    let (attr_field, attrs) = vals(&Target::Attributes);
    for a in attrs {
        if !a.is_object() {
            return Err((
                attr_field,
                "is not an object of attribute names and values".into(),
            ));
        }
        attributes_of(a, "", &mut p.attributes);
    }
    for (t, _) in &map.entries {
        if let Target::Attribute(name) = t {
            if let Some(v) = text(t)? {
                p.attributes.insert(name.clone(), v);
            }
        }
    }
    p.validate().map_err(|(f, why)| {
        let field = match f {
            "id" => vals(&Target::Id).0,
            "title" => vals(&Target::Title).0,
            "price" => vals(&Target::Price).0,
            "rating" => vals(&Target::Rating).0,
            other => other.to_owned(),
        };
        (field, why)
    })?;
    Ok(p)
}

/// The document's top-level fields no mapping or known name reads.
fn unmapped<'a>(
    doc: &'a Map<String, Value>,
    map: &'a FieldMap,
) -> impl Iterator<Item = &'a String> {
    const KNOWN: [&str; 9] = [
        "id",
        "title",
        "description",
        "brand",
        "category",
        "price",
        "attributes",
        "rating",
        "review_count",
    ];
    let used: Vec<&str> = map.entries.iter().flat_map(|(_, s)| s.roots()).collect();
    let remapped: Vec<String> = map.entries.iter().map(|(t, _)| t.name()).collect();
    doc.keys().filter(move |k| {
        // Read as a mapping's source, or as hyrank's own field unless a
        // mapping fills that field from elsewhere.
        let read =
            used.contains(&k.as_str()) || (KNOWN.contains(&k.as_str()) && !remapped.contains(*k));
        !read
    })
}

/// Reads a catalogue as a feed (see the module docs): the products to index
/// and the report of what was rejected, skipped or left unmapped.
pub fn read_feed(path: &Path, opts: &FeedOptions) -> Result<(Vec<Product>, FeedReport)> {
    let mut lines = Lines::open(path)?;
    let mut report = FeedReport {
        path: path.to_path_buf(),
        ..FeedReport::default()
    };
    let mut products = Vec::new();
    let mut first_line: HashMap<DocId, u64> = HashMap::new();
    let mut bulk_id: Option<String> = None;
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if lines.location().line == 1 && lines.had_bom() {
            report.notes.push(format!(
                "{}: skipped a UTF-8 byte-order mark at the start",
                path.display()
            ));
        }
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        let reject = |report: &mut FeedReport,
                      at: Location,
                      reason: String,
                      id: Option<String>|
         -> Result<()> {
            if opts.strict {
                return Err(Error::parse(at, reason));
            }
            report.rejects.push(Reject {
                at,
                reason,
                id,
                line: line.clone(),
            });
            Ok(())
        };
        let doc: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let err = json_error(&line, at.clone(), "", &e);
                let (where_, why) = match err {
                    Error::Parse { location, message } => (location, message),
                    other => (at.clone(), other.to_string()),
                };
                reject(&mut report, where_, why, None)?;
                bulk_id = None;
                continue;
            }
        };
        if let Some((action, meta)) = bulk_action(&doc) {
            report.bulk_action_lines += 1;
            bulk_id = meta.get("_id").and_then(scalar_text);
            if action == "delete" || action == "update" {
                let id = bulk_id.take();
                reject(
                    &mut report,
                    at.column(1),
                    format!("a bulk `{action}` action: a catalogue feed takes whole documents (`index` or `create`)"),
                    id,
                )?;
                if action == "update" {
                    // Its partial document follows: skip it too.
                    let _ = lines.next_line();
                }
            }
            continue;
        }
        let Some(obj) = doc.as_object() else {
            reject(&mut report, at.column(1), "not a JSON object".into(), None)?;
            bulk_id = None;
            continue;
        };
        report.documents += 1;
        for k in unmapped(obj, &opts.map) {
            *report.unmapped_fields.entry(k.clone()).or_default() += 1;
        }
        match product_of(&doc, bulk_id.take().as_deref(), &opts.map, &mut report) {
            Ok(p) => match first_line.get(&p.id) {
                Some(first) => {
                    let col = key_column(&line, "id").unwrap_or(1);
                    let why = format!(
                        "duplicate id `{}`: first at line {first}, again at line {}; this row was not indexed",
                        p.id, at.line
                    );
                    let id = p.id.0.clone();
                    reject(&mut report, at.column(col).field("id"), why, Some(id))?;
                }
                None => {
                    first_line.insert(p.id.clone(), at.line);
                    products.push(p);
                }
            },
            Err((field, why)) => {
                let col = key_column(&line, &field).unwrap_or(1);
                let id = opts
                    .map
                    .source(&Target::Id)
                    .map_or_else(|| values_at(&doc, "id"), |s| source_values(&doc, s))
                    .first()
                    .and_then(|v| scalar_text(v));
                reject(&mut report, at.column(col).field(field), why, id)?;
            }
        }
    }
    Ok((products, report))
}

#[cfg(test)]
mod tests;
