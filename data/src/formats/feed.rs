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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{bulk_action, json_error, key_column, Lines};
use crate::error::{Error, IoContext, Location, Result};
use crate::types::{DocId, Product};

/// hyrank's product fields a mapping can fill.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `id`.
    Id,
    /// `title`.
    Title,
    /// `description`.
    Description,
    /// `brand`.
    Brand,
    /// `category` (a path).
    Category,
    /// `price`.
    Price,
    /// `attributes` (the whole map).
    Attributes,
    /// One attribute, `attributes.NAME`.
    Attribute(String),
    /// `rating`.
    Rating,
    /// `review_count`.
    ReviewCount,
}

impl Target {
    fn parse(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.trim() {
            "id" => Target::Id,
            "title" => Target::Title,
            "description" => Target::Description,
            "brand" => Target::Brand,
            "category" => Target::Category,
            "price" => Target::Price,
            "attributes" => Target::Attributes,
            "rating" => Target::Rating,
            "review_count" => Target::ReviewCount,
            other => match other.strip_prefix("attributes.") {
                Some(name) if !name.is_empty() => Target::Attribute(name.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown product field `{other}` (id, title, description, brand, category, price, attributes, attributes.NAME, rating, review_count)"
                    ))
                }
            },
        })
    }

    fn name(&self) -> String {
        match self {
            Target::Id => "id".into(),
            Target::Title => "title".into(),
            Target::Description => "description".into(),
            Target::Brand => "brand".into(),
            Target::Category => "category".into(),
            Target::Price => "price".into(),
            Target::Attributes => "attributes".into(),
            Target::Attribute(n) => format!("attributes.{n}"),
            Target::Rating => "rating".into(),
            Target::ReviewCount => "review_count".into(),
        }
    }
}

/// Where a field comes from: alternatives (`a|b`, first present), each a
/// concatenation (`a+b`) of dotted paths.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    alternatives: Vec<Vec<String>>,
}

impl Source {
    fn parse(s: &str) -> std::result::Result<Self, String> {
        let alternatives: Vec<Vec<String>> = s
            .split('|')
            .map(|alt| {
                alt.split('+')
                    .map(|p| p.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        if alternatives.iter().flatten().any(|p| p.is_empty()) {
            return Err(format!("`{s}`: an empty source path"));
        }
        Ok(Self { alternatives })
    }

    fn roots(&self) -> impl Iterator<Item = &str> {
        self.alternatives
            .iter()
            .flatten()
            .map(|p| p.split('.').next().unwrap_or(p.as_str()))
    }
}

/// hyrank's fields from the documents' own: `title=name`, ... (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    entries: Vec<(Target, Source)>,
}

impl FieldMap {
    /// Adds `TARGET=SOURCE` (as `--map` gives it).
    pub fn add(&mut self, spec: &str) -> std::result::Result<(), String> {
        let (t, s) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}` is not FIELD=SOURCE (e.g. title=name)"))?;
        let target = Target::parse(t)?;
        let source = Source::parse(s.trim())?;
        self.entries.retain(|(x, _)| *x != target);
        self.entries.push((target, source));
        Ok(())
    }

    /// Reads a mapping file: a JSON object (`{"title": "name", ...}`) or
    /// lines of `FIELD=SOURCE` (`#` starts a comment).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).at(path)?;
        let text = text.trim_start_matches('\u{feff}');
        let mut map = FieldMap::default();
        if text.trim_start().starts_with('{') {
            let obj: Map<String, Value> = super::parse_json(text, Location::new(path, 1))?;
            for (k, v) in obj {
                let at = Location::new(path, 1).field(k.clone());
                let src = v
                    .as_str()
                    .ok_or_else(|| Error::parse(at.clone(), "the source must be a string path"))?;
                map.add(&format!("{k}={src}"))
                    .map_err(|why| Error::parse(at, why))?;
            }
        } else {
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    map.add(line).map_err(|why| {
                        Error::parse(Location::new(path, n as u64 + 1).column(1), why)
                    })?;
                }
            }
        }
        Ok(map)
    }

    fn source(&self, t: &Target) -> Option<&Source> {
        self.entries.iter().find(|(x, _)| x == t).map(|(_, s)| s)
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

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

/// The values at a dotted path, through arrays; nulls left out.
fn values_at<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur: Vec<&Value> = vec![v];
    for part in path.split('.') {
        let mut next = Vec::new();
        for c in cur {
            match c {
                Value::Object(m) => {
                    if let Some(x) = m.get(part) {
                        next.push(x);
                    }
                }
                Value::Array(a) => {
                    for e in a {
                        if let Some(x) = e.as_object().and_then(|m| m.get(part)) {
                            next.push(x);
                        }
                    }
                }
                _ => {}
            }
        }
        cur = next;
    }
    cur.into_iter().filter(|x| !x.is_null()).collect()
}

/// The value(s) of a source: the first alternative that has any; its
/// concatenated paths' values in order.
fn source_values<'a>(doc: &'a Value, src: &Source) -> Vec<&'a Value> {
    for alt in &src.alternatives {
        let vals: Vec<&Value> = alt.iter().flat_map(|p| values_at(doc, p)).collect();
        if !vals.is_empty() {
            return vals;
        }
    }
    Vec::new()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text from values: strings and numbers, arrays of them, joined by spaces.
fn text_of(vals: &[&Value]) -> std::result::Result<Option<String>, String> {
    let mut parts = Vec::new();
    for v in vals {
        match v {
            Value::Array(a) => parts.extend(a.iter().filter_map(scalar_text)),
            Value::Object(_) => return Err("is an object, not text".into()),
            other => parts.extend(scalar_text(other)),
        }
    }
    Ok(Some(parts.join(" ")).filter(|s| !s.is_empty()))
}

/// A number from a JSON number or from text such as `"$1,299.99"`, `"12,5 €"`.
fn number_of(v: &Value) -> std::result::Result<(f64, bool), String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|x| (x, false))
            .ok_or_else(|| "is not a number".into()),
        Value::String(s) => {
            let kept: String = s
                .chars()
                .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
                .collect();
            let dropped_other = s.chars().any(|c| c.is_alphabetic());
            let normalised = match (kept.rfind('.'), kept.rfind(',')) {
                // 1,299.99 → thousands commas.
                (Some(d), Some(c)) if c < d => kept.replace(',', ""),
                // 1.299,99 → decimal comma.
                (Some(_), Some(_)) => kept.replace('.', "").replace(',', "."),
                // 12,99 → a decimal comma; 1,299 → thousands.
                (None, Some(c)) if kept.len() - c - 1 == 2 => kept.replace(',', "."),
                (None, Some(_)) => kept.replace(',', ""),
                _ => kept,
            };
            match normalised.parse::<f64>() {
                Ok(x) if !dropped_other || s.trim().len() <= 4 + normalised.len() => Ok((x, true)),
                _ => Err(format!("`{s}` is not a number")),
            }
        }
        _ => Err("is not a number".into()),
    }
}

/// A category path from `"A > B"`, `["A", "B"]` or `[["A", "B"], ...]`.
fn category_of(vals: &[&Value]) -> std::result::Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split('>')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    };
    let mut path = Vec::new();
    for v in vals {
        match v {
            Value::String(s) => path.extend(split(s)),
            Value::Array(a) => {
                if let Some(Value::Array(first)) = a.first() {
                    // Several paths: the first.
                    path.extend(first.iter().filter_map(scalar_text));
                } else {
                    for e in a {
                        match e {
                            Value::String(s) => path.extend(split(s)),
                            other => path.extend(scalar_text(other)),
                        }
                    }
                }
            }
            Value::Object(_) => return Err("is an object, not a category path".into()),
            other => path.extend(scalar_text(other)),
        }
    }
    Ok(path)
}

/// Attributes from an object: nested keys dotted, arrays of scalars joined.
fn attributes_of(v: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                attributes_of(x, &key, out);
            }
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar_text).collect();
            if !parts.is_empty() && !prefix.is_empty() {
                out.insert(prefix.to_owned(), parts.join(", "));
            }
        }
        Value::Null => {}
        other => {
            if let (false, Some(t)) = (prefix.is_empty(), scalar_text(other)) {
                out.insert(prefix.to_owned(), t);
            }
        }
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
mod tests {
    use super::*;

    fn feed(text: &str, maps: &[&str], strict: bool) -> Result<(Vec<Product>, FeedReport)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("catalog.ndjson");
        std::fs::write(&p, text).unwrap();
        let mut map = FieldMap::default();
        for m in maps {
            map.add(m).unwrap();
        }
        read_feed(&p, &FeedOptions { map, strict })
    }

    #[test]
    fn valid_rows_are_kept_and_invalid_ones_reported_with_their_place() {
        let text = "\u{feff}{\"id\":\"1\",\"title\":\"Grey sofa\",\"price\":10}\n\
                    {\"id\":\"2\",\"title\":\"\"}\n\
                    {\"id\":\"3\",\"title\":\"Lamp\",\"price\":-4}\n\
                    {\"id\":\"1\",\"title\":\"Again\"}\n\
                    {\"id\":\"4\",\"title\":\"Kettle\"\n\
                    {\"id\":\"5\",\"title\":\"Pan\",\"colour\":\"red\"}\n";
        let (products, report) = feed(text, &[], false).unwrap();
        assert_eq!(
            products.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["1", "5"]
        );
        assert!(report.notes[0].contains("byte-order mark"));
        let r: Vec<String> = report
            .rejects
            .iter()
            .map(|r| format!("{}: {}", r.at, r.reason))
            .collect();
        assert_eq!(r.len(), 4, "{r:#?}");
        assert!(
            r[0].contains("catalog.ndjson:2:") && r[0].contains("field `title`"),
            "{}",
            r[0]
        );
        assert!(
            r[1].contains("catalog.ndjson:3:26: field `price`: must be a finite number >= 0"),
            "{}",
            r[1]
        );
        assert!(
            r[2].contains("duplicate id `1`: first at line 1, again at line 4"),
            "{}",
            r[2]
        );
        assert!(r[3].contains("catalog.ndjson:5:"), "{}", r[3]);
        assert_eq!(report.unmapped_fields.get("colour"), Some(&1));
        assert!(report.rejects_ndjson().lines().count() == 4);
        let err = feed(text, &[], true).unwrap_err().to_string();
        assert!(
            err.contains("catalog.ndjson:2:") && err.contains("title"),
            "{err}"
        );
    }

    #[test]
    fn catalogues_in_other_shapes_through_a_field_map() {
        // A bulk file in the shape of Chorus's ESCI products, and Best Buy's
        // (Algolia's sample): categories arrays, attrs objects, prices as text.
        let text = r#"{"index": {"_index": "ecommerce", "_id": "B07CVR21VN"}}
{"asin": "B07CVR21VN", "title": "Futon frame", "category": ["Home & Kitchen", "Furniture", "Futons"], "attrs": {"Brand": "DHP", "Color": "Black", "Size": {"Width": "54 in"}}, "bullets": ["Full size", "Metal"], "price": "$1,299.99"}
{"index": {"_index": "ecommerce", "_id": "X-2"}}
{"title": "No asin here", "category": "Home > Lamps", "price": "12,50 €"}
{"objectID": 1502983, "name": "TomTom GO 500", "categories": ["Car Electronics & GPS", "Portable GPS"], "salePrice": 249.99, "manufacturer": "TomTom", "customerReviewCount": 4, "shortDescription": "5-inch screen"}
{"index": {"_id": "gone"}}
"#;
        let maps = [
            "id=asin|objectID",
            "title=title|name",
            "description=description+bullets+shortDescription",
            "brand=attrs.Brand|manufacturer",
            "category=category|categories",
            "attributes=attrs",
            "price=price|salePrice",
            "review_count=customerReviewCount",
        ];
        let (products, report) = feed(text, &maps, false).unwrap();
        assert_eq!(products.len(), 3, "{:?}", report.rejects);
        let a = &products[0];
        assert_eq!(
            (a.id.as_str(), a.brand.as_deref(), a.price),
            ("B07CVR21VN", Some("DHP"), Some(1299.99))
        );
        assert_eq!(a.category, ["Home & Kitchen", "Furniture", "Futons"]);
        assert_eq!(
            a.attributes.get("Size.Width").map(String::as_str),
            Some("54 in")
        );
        assert_eq!(a.description, "Full size Metal");
        let b = &products[1];
        assert_eq!(
            (b.id.as_str(), b.price),
            ("X-2", Some(12.5)),
            "the bulk _id, a decimal comma"
        );
        assert_eq!(b.category, ["Home", "Lamps"]);
        let c = &products[2];
        assert_eq!(
            (c.id.as_str(), c.brand.as_deref(), c.review_count),
            ("1502983", Some("TomTom"), Some(4))
        );
        assert_eq!(c.category, ["Car Electronics & GPS", "Portable GPS"]);
        assert_eq!(report.bulk_action_lines, 3);
        assert_eq!(report.prices_from_text, 2);
        assert!(
            report.unmapped_fields.is_empty(),
            "{:?}",
            report.unmapped_fields
        );

        // Without the map: the other shapes' fields are listed with hints.
        let (products, report) = feed(text, &[], false).unwrap();
        assert_eq!(products.len(), 2, "ids from the bulk _id");
        assert!(products[0].attributes.is_empty());
        assert_eq!(report.unmapped_fields.get("attrs"), Some(&1));
        let hints = report.suggestions();
        assert!(
            hints.contains(&"--map attributes=attrs".to_owned()),
            "{hints:?}"
        );
        assert!(
            hints.contains(&"--map category=categories".to_owned()),
            "{hints:?}"
        );
        assert!(
            report
                .lines(5)
                .iter()
                .any(|l| l.contains("not indexed: asin (1 rows), attrs (1 rows)")),
            "{:?}",
            report.lines(5)
        );
        let err = FieldMap::default().add("colour=attrs.Color").unwrap_err();
        assert!(err.contains("unknown product field"), "{err}");
    }
}
