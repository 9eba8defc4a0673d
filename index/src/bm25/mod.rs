//! BM25 over the catalogue's text fields, on tantivy.
//!
//! Fields: `id` (stored, exact), `title`, `description`, `brand`, `category`
//! (English stemming, `en_stem`), `brand_exact` and `category_path` (exact, for
//! filters; every prefix of the path and every element are indexed, so
//! `Sofas` and `Furniture > Living Room` both filter), `price` (fast, for
//! ranges). tantivy's BM25 has k1 = 1.2, b = 0.75 and lossy field-norm codes, so
//! scores differ slightly from the textbook formula. A build writes a fresh
//! index under a temporary name and renames it into place; updates go through
//! tantivy's own atomic commits.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyrank_data::{DocId, Product};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::index::SegmentId;
use tantivy::query::{
    BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TantivyDocument, TextFieldIndexing, TextOptions, Value, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, Term};

use crate::error::{Error, Result};

/// Per-field boosts of the query parser, in Elasticsearch's `field^boost`
/// syntax: `title^2,description^0.5,brand^1.5,category` (no `^` is a boost
/// of 1). A field left out, or boosted 0, is not searched. tantivy's BM25
/// has k1 = 1.2 and b = 0.75 as constants: they are not configurable.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldBoosts {
    /// Title.
    pub title: f32,
    /// Description.
    pub description: f32,
    /// Brand.
    pub brand: f32,
    /// Category path words.
    pub category: f32,
}

impl Default for FieldBoosts {
    fn default() -> Self {
        Self {
            title: 2.0,
            description: 0.5,
            brand: 1.5,
            category: 1.0,
        }
    }
}

impl FieldBoosts {
    /// The searchable fields' names, in order.
    pub const NAMES: [&'static str; 4] = ["title", "description", "brand", "category"];

    /// The boosts in [`FieldBoosts::NAMES`] order.
    pub fn as_array(&self) -> [f32; 4] {
        [self.title, self.description, self.brand, self.category]
    }

    /// Boosts from an array in [`FieldBoosts::NAMES`] order.
    pub fn from_array(a: [f32; 4]) -> Self {
        Self {
            title: a[0],
            description: a[1],
            brand: a[2],
            category: a[3],
        }
    }

    /// Parses `title^2,description^0.5,brand,category^1` (fields left out
    /// are not searched).
    pub fn parse(spec: &str) -> Result<Self> {
        let mut b = [0.0f32; 4];
        let mut seen = [false; 4];
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, boost) = match part.split_once('^') {
                Some((n, v)) => {
                    let v: f32 = v.trim().parse().map_err(|_| {
                        Error::InvalidArgument(format!("`{part}`: the boost `{v}` is not a number"))
                    })?;
                    (n.trim(), v)
                }
                None => (part, 1.0),
            };
            let i = Self::NAMES.iter().position(|n| *n == name).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown field `{name}` (the searchable fields are {})",
                    Self::NAMES.join(", ")
                ))
            })?;
            if seen[i] {
                return Err(Error::InvalidArgument(format!(
                    "field `{name}` given twice"
                )));
            }
            seen[i] = true;
            b[i] = boost;
        }
        let f = Self::from_array(b);
        f.validate()?;
        Ok(f)
    }

    /// Each boost finite and ≥ 0, at least one above 0.
    pub fn validate(&self) -> Result<()> {
        let a = self.as_array();
        if let Some(i) = a.iter().position(|b| !(b.is_finite() && *b >= 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "the boost of `{}` must be a finite number >= 0, got {}",
                Self::NAMES[i],
                a[i]
            )));
        }
        if a.iter().all(|b| *b == 0.0) {
            return Err(Error::InvalidArgument(
                "no field to search: give at least one field a boost above 0".into(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for FieldBoosts {
    /// `title^2,description^0.5,brand^1.5,category^1` (fields boosted 0 left out).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = Self::NAMES
            .iter()
            .zip(self.as_array())
            .filter(|(_, b)| *b > 0.0)
            .map(|(n, b)| format!("{n}^{b}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Restricts results (applied to every retriever).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// A category: a path prefix (`Furniture > Living Room`) or one element (`Sofas`).
    pub category: Option<String>,
    /// A brand, exact (case-insensitive).
    pub brand: Option<String>,
    /// Lowest price, inclusive.
    pub min_price: Option<f64>,
    /// Highest price, inclusive.
    pub max_price: Option<f64>,
}

impl Filter {
    /// Checks the price bounds: each finite, and the lowest not above the
    /// highest ([`Error::InvalidArgument`] naming the bound).
    pub fn validate(&self) -> Result<()> {
        for (name, p) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if p.is_some_and(|p| !p.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "{name} must be a finite number"
                )));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_price, self.max_price) {
            if lo > hi {
                return Err(Error::InvalidArgument(format!(
                    "min_price {lo} is above max_price {hi}"
                )));
            }
        }
        Ok(())
    }

    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.brand.is_none()
            && self.min_price.is_none()
            && self.max_price.is_none()
    }
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    description: Field,
    brand: Field,
    category: Field,
    brand_exact: Field,
    category_path: Field,
    price: Field,
}

fn schema() -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let f = Fields {
        id: sb.add_text_field("id", STRING | STORED),
        title: sb.add_text_field("title", text.clone().set_stored()),
        description: sb.add_text_field("description", text.clone()),
        brand: sb.add_text_field("brand", text.clone()),
        category: sb.add_text_field("category", text),
        brand_exact: sb.add_text_field("brand_exact", STRING),
        category_path: sb.add_text_field("category_path", STRING),
        price: sb.add_f64_field("price", INDEXED | FAST),
    };
    (sb.build(), f)
}

fn fields_of(schema: &Schema, dir: &Path) -> Result<Fields> {
    let get = |n: &str| {
        schema.get_field(n).map_err(|_| Error::Corrupt {
            path: dir.to_path_buf(),
            message: format!("field `{n}` missing: not a hyrank BM25 index"),
        })
    };
    Ok(Fields {
        id: get("id")?,
        title: get("title")?,
        description: get("description")?,
        brand: get("brand")?,
        category: get("category")?,
        brand_exact: get("brand_exact")?,
        category_path: get("category_path")?,
        price: get("price")?,
    })
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn to_doc(f: &Fields, p: &Product) -> TantivyDocument {
    let mut d = doc!(f.id => p.id.as_str(), f.title => p.title.as_str(), f.description => p.description.as_str());
    if let Some(b) = &p.brand {
        d.add_text(f.brand, b);
        d.add_text(f.brand_exact, norm(b));
    }
    d.add_text(f.category, p.category.join(" "));
    for i in 0..p.category.len() {
        d.add_text(f.category_path, norm(&p.category[..=i].join(" > ")));
        d.add_text(f.category_path, norm(&p.category[i]));
    }
    if let Some(price) = p.price {
        d.add_f64(f.price, price);
    }
    d
}

/// The product id of every document of one segment, in doc order (deleted
/// documents included), kept in memory so that a search reads its hits' ids
/// without decompressing a doc-store block per hit. About id length + 8 bytes
/// a document.
#[derive(Debug)]
struct SegmentIds {
    text: String,
    ends: Vec<usize>,
}

impl SegmentIds {
    fn read(segment: &tantivy::SegmentReader, field: Field, dir: &Path) -> Result<Self> {
        let store = segment.get_store_reader(1).map_err(|e| Error::io(dir, e))?;
        let mut text = String::new();
        let mut ends = Vec::with_capacity(segment.max_doc() as usize);
        // No alive bitset: every stored document, in doc order, so that the
        // position is the doc id.
        for d in store.iter::<TantivyDocument>(None) {
            let d = d?;
            let id = d
                .get_first(field)
                .and_then(|v| v.as_str())
                .ok_or_else(|| no_id(dir))?;
            text.push_str(id);
            ends.push(text.len());
        }
        if ends.len() != segment.max_doc() as usize {
            return Err(Error::Corrupt {
                path: dir.to_path_buf(),
                message: format!(
                    "segment {} stores {} documents but holds {}",
                    segment.segment_id().short_uuid_string(),
                    ends.len(),
                    segment.max_doc()
                ),
            });
        }
        Ok(Self { text, ends })
    }

    fn get(&self, doc: u32) -> Option<&str> {
        let i = doc as usize;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }
}

fn no_id(dir: &Path) -> Error {
    Error::Corrupt {
        path: dir.to_path_buf(),
        message: "a document has no id".into(),
    }
}

/// One searcher generation and the ids of its segments (by segment ordinal).
struct Snapshot {
    searcher: Searcher,
    ids: Vec<Arc<SegmentIds>>,
}

impl Snapshot {
    /// Reads the ids of the reader's current segments, reusing those of
    /// `previous` for segments it already had (a segment never changes; its
    /// deleted documents are never returned by a search).
    fn new(
        reader: &IndexReader,
        field: Field,
        dir: &Path,
        previous: Option<&Self>,
    ) -> Result<Self> {
        let searcher = reader.searcher();
        let mut known: HashMap<SegmentId, Arc<SegmentIds>> = HashMap::new();
        if let Some(p) = previous {
            for (s, ids) in p.searcher.segment_readers().iter().zip(&p.ids) {
                known.insert(s.segment_id(), Arc::clone(ids));
            }
        }
        let ids = searcher
            .segment_readers()
            .iter()
            .map(|s| match known.get(&s.segment_id()) {
                Some(ids) => Ok(Arc::clone(ids)),
                None => SegmentIds::read(s, field, dir).map(Arc::new),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { searcher, ids })
    }

    fn id(&self, addr: tantivy::DocAddress, dir: &Path) -> Result<&str> {
        self.ids
            .get(addr.segment_ord as usize)
            .and_then(|s| s.get(addr.doc_id))
            .ok_or_else(|| no_id(dir))
    }
}

/// The BM25 index.
pub struct Bm25Index {
    index: Index,
    reader: IndexReader,
    snapshot: Snapshot,
    fields: Fields,
    parser: QueryParser,
    dir: PathBuf,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index").field("dir", &self.dir).finish()
    }
}

const WRITER_HEAP: usize = 100_000_000;

/// The query parser over the fields with a boost above 0.
fn query_parser(index: &Index, fields: &Fields, boosts: &FieldBoosts) -> Result<QueryParser> {
    boosts.validate()?;
    let all = [
        fields.title,
        fields.description,
        fields.brand,
        fields.category,
    ];
    let searched: Vec<(Field, f32)> = all
        .into_iter()
        .zip(boosts.as_array())
        .filter(|(_, b)| *b > 0.0)
        .collect();
    let mut parser = QueryParser::for_index(index, searched.iter().map(|(f, _)| *f).collect());
    for (f, b) in searched {
        parser.set_field_boost(f, b);
    }
    Ok(parser)
}

impl Bm25Index {
    /// Builds a new index of `products` at `dir`, replacing any index there
    /// only once the new one is complete.
    pub fn build(
        dir: &Path,
        products: impl IntoIterator<Item = Product>,
        boosts: FieldBoosts,
    ) -> Result<Self> {
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let (schema, f) = schema();
        {
            let index = Index::create_in_dir(&tmp, schema)?;
            let mut w: IndexWriter = index.writer(WRITER_HEAP)?;
            for p in products {
                w.add_document(to_doc(&f, &p))?;
            }
            w.commit()?;
            w.wait_merging_threads()?;
        }
        let old = dir.with_extension(format!("old-{}", std::process::id()));
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Self::open(dir, boosts)
    }

    /// Opens an index.
    pub fn open(dir: &Path, boosts: FieldBoosts) -> Result<Self> {
        if !dir.join("meta.json").exists() {
            return Err(Error::Corrupt {
                path: dir.to_path_buf(),
                message: "no BM25 index here (meta.json missing)".into(),
            });
        }
        let index = Index::open_in_dir(dir)?;
        let fields = fields_of(&index.schema(), dir)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let parser = query_parser(&index, &fields, &boosts)?;
        let snapshot = Snapshot::new(&reader, fields.id, dir, None)?;
        Ok(Self {
            index,
            reader,
            snapshot,
            fields,
            parser,
            dir: dir.to_path_buf(),
        })
    }

    /// Adds or replaces products (by id) and deletes ids, in one atomic commit.
    pub fn update(&mut self, upserts: &[Product], deletes: &[DocId]) -> Result<()> {
        let mut w: IndexWriter = self.index.writer(WRITER_HEAP)?;
        for id in deletes.iter().chain(upserts.iter().map(|p| &p.id)) {
            w.delete_term(Term::from_field_text(self.fields.id, id.as_str()));
        }
        for p in upserts {
            w.add_document(to_doc(&self.fields, p))?;
        }
        w.commit()?;
        self.reader.reload()?;
        self.snapshot = Snapshot::new(
            &self.reader,
            self.fields.id,
            &self.dir,
            Some(&self.snapshot),
        )?;
        Ok(())
    }

    /// Number of live documents.
    pub fn len(&self) -> u64 {
        self.snapshot.searcher.num_docs()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The filter as query clauses (checked first: every search and
    /// filtered listing goes through here).
    fn filter_queries(&self, filter: &Filter) -> Result<Vec<(Occur, Box<dyn Query>)>> {
        filter.validate()?;
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(c) = &filter.category {
            out.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.category_path, &norm(c)),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(b) = &filter.brand {
            out.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.brand_exact, &norm(b)),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if filter.min_price.is_some() || filter.max_price.is_some() {
            let lo = filter.min_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_f64(self.fields.price, p))
            });
            let hi = filter.max_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_f64(self.fields.price, p))
            });
            out.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        Ok(out)
    }

    /// A query parser with other field boosts (for [`Bm25Index::search_with`]).
    pub fn parser(&self, boosts: &FieldBoosts) -> Result<QueryParser> {
        query_parser(&self.index, &self.fields, boosts)
    }

    /// The `k` best products for `text` under `filter`, best first, with BM25 scores.
    pub fn search(&self, text: &str, k: usize, filter: &Filter) -> Result<Vec<(DocId, f32)>> {
        self.search_with(text, k, filter, None)
    }

    /// [`Bm25Index::search`] through `parser` (other field boosts; see
    /// [`Bm25Index::parser`]) instead of the index's own.
    pub fn search_with(
        &self,
        text: &str,
        k: usize,
        filter: &Filter,
        parser: Option<&QueryParser>,
    ) -> Result<Vec<(DocId, f32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let (q, _ignored) = parser.unwrap_or(&self.parser).parse_query_lenient(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, q)];
        let filters = self.filter_queries(filter)?;
        let query: Box<dyn Query> = if filters.is_empty() {
            clauses
                .pop()
                .map(|(_, q)| q)
                .ok_or_else(|| Error::InvalidArgument("empty query".into()))?
        } else {
            // Filters must not add to the score: wrap them so they only restrict.
            for (o, f) in filters {
                clauses.push((o, Box::new(tantivy::query::ConstScoreQuery::new(f, 0.0))));
            }
            Box::new(BooleanQuery::new(clauses))
        };
        let snap = &self.snapshot;
        let top = snap
            .searcher
            .search(&query, &TopDocs::with_limit(k).order_by_score())?;
        top.into_iter()
            .map(|(score, addr)| Ok((DocId(snap.id(addr, &self.dir)?.to_owned()), score)))
            .collect()
    }

    /// The stored title of a product.
    pub fn title(&self, id: &DocId) -> Result<Option<String>> {
        let searcher = &self.snapshot.searcher;
        let q = TermQuery::new(
            Term::from_field_text(self.fields.id, id.as_str()),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, addr)) = top.first() else {
            return Ok(None);
        };
        let d: TantivyDocument = searcher.doc(*addr)?;
        Ok(d.get_first(self.fields.title)
            .and_then(|v| v.as_str())
            .map(str::to_owned))
    }

    /// The BM25 score of each of `ids` for `text` (under `parser`'s field
    /// boosts, else the index's), whether or not a search would return it:
    /// `Some(0.0)` for a product in the index that matches no query term,
    /// `None` for an id the index does not hold. The same scores as
    /// [`Bm25Index::search`] gives the products it returns.
    pub fn score_docs(
        &self,
        text: &str,
        ids: &[DocId],
        parser: Option<&QueryParser>,
    ) -> Result<Vec<Option<f32>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let snap = &self.snapshot;
        let terms: Vec<Term> = ids
            .iter()
            .map(|id| Term::from_field_text(self.fields.id, id.as_str()))
            .collect();
        let only = || -> Box<dyn Query> { Box::new(TermSetQuery::new(terms.clone())) };
        let present: std::collections::HashSet<String> = snap
            .searcher
            .search(&*only(), &DocSetCollector)?
            .into_iter()
            .map(|addr| Ok(snap.id(addr, &self.dir)?.to_owned()))
            .collect::<Result<_>>()?;
        let (q, _ignored) = parser.unwrap_or(&self.parser).parse_query_lenient(text);
        let query = BooleanQuery::new(vec![
            (Occur::Must, q),
            (
                Occur::Must,
                Box::new(tantivy::query::ConstScoreQuery::new(only(), 0.0)),
            ),
        ]);
        let mut scored: HashMap<String, f32> = HashMap::with_capacity(ids.len());
        for (score, addr) in snap
            .searcher
            .search(&query, &TopDocs::with_limit(ids.len()).order_by_score())?
        {
            scored.insert(snap.id(addr, &self.dir)?.to_owned(), score);
        }
        Ok(ids
            .iter()
            .map(|id| {
                present
                    .contains(id.as_str())
                    .then(|| scored.get(id.as_str()).copied().unwrap_or(0.0))
            })
            .collect())
    }

    /// Ids of every product that passes `filter` (for filtering other retrievers).
    pub fn filtered_ids(&self, filter: &Filter) -> Result<std::collections::HashSet<String>> {
        let snap = &self.snapshot;
        let clauses = self.filter_queries(filter)?;
        let query: Box<dyn Query> = if clauses.is_empty() {
            Box::new(tantivy::query::AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };
        let docs = snap.searcher.search(&query, &DocSetCollector)?;
        docs.into_iter()
            .map(|addr| Ok(snap.id(addr, &self.dir)?.to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
