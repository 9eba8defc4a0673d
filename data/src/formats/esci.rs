//! Amazon ESCI (Shopping Queries Data Set) parquet files.
//!
//! `shopping_queries_dataset_examples.parquet`: `example_id`, `query`,
//! `query_id`, `product_id`, `product_locale`, `esci_label` (E/S/C/I),
//! `small_version`, `large_version`, `split`.
//! `shopping_queries_dataset_products.parquet`: `product_id`, `product_title`,
//! `product_description`, `product_bullet_point`, `product_brand`,
//! `product_color`, `product_locale`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::parquet_io::{read_batches, Columns};
use crate::types::{EsciLabel, GradeMap, Judgment, Product, Query};

/// One row of the examples file.
#[derive(Debug, Clone, PartialEq)]
pub struct EsciExample {
    /// Row id.
    pub example_id: i64,
    /// Query text.
    pub query: String,
    /// Query id.
    pub query_id: i64,
    /// ASIN.
    pub product_id: String,
    /// `us`, `es` or `jp`.
    pub product_locale: String,
    /// The label.
    pub esci_label: EsciLabel,
    /// 1 when in the reduced (task 1) version.
    pub small_version: i64,
    /// 1 when in the large version.
    pub large_version: i64,
    /// `train` or `test`.
    pub split: String,
}

/// One row of the products file.
#[derive(Debug, Clone, PartialEq)]
pub struct EsciProduct {
    /// ASIN.
    pub product_id: String,
    /// Title.
    pub product_title: Option<String>,
    /// Description (HTML in places).
    pub product_description: Option<String>,
    /// Bullet points, newline-separated.
    pub product_bullet_point: Option<String>,
    /// Brand.
    pub product_brand: Option<String>,
    /// Colour.
    pub product_color: Option<String>,
    /// Locale.
    pub product_locale: String,
}

/// Reads the examples file.
pub fn read_examples(path: impl AsRef<Path>) -> Result<Vec<EsciExample>> {
    let path = path.as_ref();
    let mut out = Vec::new();
    let mut offset = 0u64;
    for batch in read_batches(path)? {
        let batch = batch?;
        let c = Columns::new(&batch, path, offset);
        let example_id = c.ints("example_id")?;
        let query = c.required_strings("query")?;
        let query_id = c.ints("query_id")?;
        let product_id = c.required_strings("product_id")?;
        let locale = c.required_strings("product_locale")?;
        let label = c.required_strings("esci_label")?;
        let small = c.ints("small_version")?;
        let large = c.ints("large_version")?;
        let split = c.required_strings("split")?;
        for i in 0..batch.num_rows() {
            let at = |col: &str| Location::new(path, offset + i as u64 + 1).field(col);
            let esci_label = EsciLabel::parse(&label[i]).ok_or_else(|| {
                Error::parse(
                    at("esci_label"),
                    format!("`{}` is not one of E, S, C, I", label[i]),
                )
            })?;
            out.push(EsciExample {
                example_id: example_id[i].ok_or_else(|| Error::parse(at("example_id"), "null"))?,
                query: query[i].clone(),
                query_id: query_id[i].ok_or_else(|| Error::parse(at("query_id"), "null"))?,
                product_id: product_id[i].clone(),
                product_locale: locale[i].clone(),
                esci_label,
                small_version: small[i].unwrap_or(0),
                large_version: large[i].unwrap_or(0),
                split: split[i].clone(),
            });
        }
        offset += batch.num_rows() as u64;
    }
    Ok(out)
}

/// Reads the products file.
pub fn read_products(path: impl AsRef<Path>) -> Result<Vec<EsciProduct>> {
    let path = path.as_ref();
    let mut out = Vec::new();
    let mut offset = 0u64;
    for batch in read_batches(path)? {
        let batch = batch?;
        let c = Columns::new(&batch, path, offset);
        let id = c.required_strings("product_id")?;
        let title = c.strings("product_title")?;
        let desc = c.strings("product_description")?;
        let bullets = c.strings("product_bullet_point")?;
        let brand = c.strings("product_brand")?;
        let color = c.strings("product_color")?;
        let locale = c.required_strings("product_locale")?;
        for i in 0..batch.num_rows() {
            out.push(EsciProduct {
                product_id: id[i].clone(),
                product_title: title[i].clone(),
                product_description: desc[i].clone(),
                product_bullet_point: bullets[i].clone(),
                product_brand: brand[i].clone(),
                product_color: color[i].clone(),
                product_locale: locale[i].clone(),
            });
        }
        offset += batch.num_rows() as u64;
    }
    Ok(out)
}

impl EsciProduct {
    /// As a catalogue product; `None` when it has no title (a few ESCI rows don't).
    pub fn to_product(&self) -> Option<Product> {
        let title = self.product_title.as_deref()?.trim();
        if title.is_empty() {
            return None;
        }
        let mut p = Product::new(self.product_id.as_str(), title);
        let mut desc = self.product_description.clone().unwrap_or_default();
        if let Some(b) = &self.product_bullet_point {
            if !desc.is_empty() {
                desc.push('\n');
            }
            desc.push_str(b);
        }
        p.description = desc;
        p.brand = self.product_brand.clone().filter(|b| !b.trim().is_empty());
        let mut attrs = BTreeMap::new();
        if let Some(c) = self.product_color.as_ref().filter(|c| !c.trim().is_empty()) {
            attrs.insert("colour".to_owned(), c.clone());
        }
        attrs.insert("locale".to_owned(), self.product_locale.clone());
        p.attributes = attrs;
        Some(p)
    }
}

/// Queries and judgments of the examples in `locale` (and `split`, when given),
/// with labels turned into grades by `grades`.
pub fn to_queries_and_qrels(
    examples: &[EsciExample],
    locale: &str,
    split: Option<&str>,
    grades: &GradeMap,
) -> (Vec<Query>, Vec<Judgment>) {
    let mut queries = BTreeMap::new();
    let mut qrels = Vec::new();
    for e in examples {
        if e.product_locale != locale || split.is_some_and(|s| s != e.split) {
            continue;
        }
        queries.entry(e.query_id).or_insert_with(|| e.query.clone());
        qrels.push(Judgment {
            query: e.query_id.to_string().into(),
            doc: e.product_id.as_str().into(),
            grade: grades.esci(e.esci_label),
        });
    }
    let queries = queries
        .into_iter()
        .map(|(id, text)| Query {
            id: id.to_string().into(),
            text,
        })
        .collect();
    (queries, qrels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    fn write(path: &Path, cols: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let f = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn s(v: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }
    fn i(v: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    #[test]
    fn reads_upstream_columns() {
        let dir = tempfile::tempdir().unwrap();
        let ex = dir.path().join("shopping_queries_dataset_examples.parquet");
        write(
            &ex,
            vec![
                ("example_id", i(&[0, 1, 2])),
                ("query", s(&[" revent 80 cfm", " revent 80 cfm", "sofa"])),
                ("query_id", i(&[0, 0, 7])),
                ("product_id", s(&["B000MOO21W", "B07X3Y6B1V", "B01"])),
                ("product_locale", s(&["us", "us", "es"])),
                ("esci_label", s(&["I", "E", "S"])),
                ("small_version", i(&[0, 0, 1])),
                ("large_version", i(&[1, 1, 1])),
                ("split", s(&["train", "train", "test"])),
            ],
        );
        let rows = read_examples(&ex).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].esci_label, EsciLabel::Exact);
        let (qs, qrels) = to_queries_and_qrels(&rows, "us", None, &GradeMap::default());
        assert_eq!(qs.len(), 1);
        assert_eq!(
            qrels.iter().map(|j| j.grade).collect::<Vec<_>>(),
            vec![0, 3]
        );

        let pr = dir.path().join("shopping_queries_dataset_products.parquet");
        let null: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
        write(
            &pr,
            vec![
                ("product_id", s(&["B000MOO21W"])),
                (
                    "product_title",
                    s(&["Panasonic FV-20VQ3 WhisperCeiling 190 CFM"]),
                ),
                ("product_description", null.clone()),
                ("product_bullet_point", s(&["Quiet\nEnergy Star"])),
                ("product_brand", s(&["Panasonic"])),
                ("product_color", s(&["White"])),
                ("product_locale", s(&["us"])),
            ],
        );
        let ps = read_products(&pr).unwrap();
        let p = ps[0].to_product().unwrap();
        assert_eq!(p.brand.as_deref(), Some("Panasonic"));
        assert_eq!(p.attributes["colour"], "White");
        assert!(p.description.contains("Energy Star"));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let ex = dir.path().join("ex.parquet");
        write(&ex, vec![("example_id", i(&[0])), ("query", s(&["x"]))]);
        let e = read_examples(&ex).unwrap_err().to_string();
        assert!(e.contains("missing column `query_id`"), "{e}");

        write(
            &ex,
            vec![
                ("example_id", i(&[0])),
                ("query", s(&["x"])),
                ("query_id", s(&["notanint"])),
                ("product_id", s(&["p"])),
                ("product_locale", s(&["us"])),
                ("esci_label", s(&["E"])),
                ("small_version", i(&[0])),
                ("large_version", i(&[1])),
                ("split", s(&["train"])),
            ],
        );
        let e = read_examples(&ex).unwrap_err().to_string();
        assert!(e.contains(":1: field `query_id`"), "{e}");

        std::fs::write(&ex, b"PAR1 this is not parquet").unwrap();
        assert!(read_examples(&ex).is_err());
    }
}
