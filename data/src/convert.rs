//! Converting whole data sets between formats: read one of ESCI, WANDS,
//! BEIR, UBI or our own folder into a [`Dataset`], write it as ours, BEIR or UBI.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, IoContext, Result};
use crate::formats::ndjson::{
    read_catalog_vec, read_queries, write_queries_jsonl, write_queries_tsv, NdjsonWriter,
};
use crate::formats::{beir, esci, trec, ubi, wands};
use crate::log::{EventLog, LogConfig, LogReader, SyncPolicy};
use crate::types::{GradeMap, InteractionEvent, Judgment, Product, Query};

/// A data-set format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Our folder: `catalog.ndjson`, `queries.tsv`, `qrels.trec`, `events/`.
    Hyrank,
    /// Amazon ESCI parquet files.
    Esci,
    /// Wayfair WANDS `product.csv`, `query.csv`, `label.csv`.
    Wands,
    /// BEIR `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.
    Beir,
    /// OpenSearch UBI `ubi_queries.ndjson`, `ubi_events.ndjson`.
    Ubi,
    /// Cranfield 1400: `cran.all.1400`, `cran.qry`, `cranqrel`.
    Cranfield,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "hyrank" => Ok(Self::Hyrank),
            "esci" => Ok(Self::Esci),
            "wands" => Ok(Self::Wands),
            "beir" => Ok(Self::Beir),
            "ubi" => Ok(Self::Ubi),
            "cranfield" => Ok(Self::Cranfield),
            other => Err(format!(
                "unknown format `{other}` (hyrank, esci, wands, beir, ubi, cranfield)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hyrank => "hyrank",
            Self::Esci => "esci",
            Self::Wands => "wands",
            Self::Beir => "beir",
            Self::Ubi => "ubi",
            Self::Cranfield => "cranfield",
        })
    }
}

/// Options for reading.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// ESCI locale (`us`, `es`, `jp`).
    pub locale: String,
    /// ESCI / BEIR split (`train`, `test`, `dev`); ESCI `None` keeps both.
    pub split: Option<String>,
    /// Label → grade.
    pub grades: GradeMap,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            locale: "us".into(),
            split: None,
            grades: GradeMap::default(),
        }
    }
}

/// Whatever parts a data set has.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Catalogue.
    pub products: Option<Vec<Product>>,
    /// Queries.
    pub queries: Option<Vec<Query>>,
    /// Judgments.
    pub qrels: Option<Vec<Judgment>>,
    /// Interaction events.
    pub events: Option<Vec<InteractionEvent>>,
    /// Notes on what the conversion did (unmapped UBI actions, ...).
    pub notes: Vec<String>,
}

fn need(dir: &Path, name: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    if p.exists() {
        Ok(p)
    } else {
        Err(Error::InvalidArgument(format!(
            "{}: expected file `{name}` is missing",
            dir.display()
        )))
    }
}

fn optional(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    p.exists().then_some(p)
}

/// Reads a data set in `format` from folder `dir`.
pub fn read_dataset(format: Format, dir: &Path, opts: &ReadOptions) -> Result<Dataset> {
    let mut d = Dataset::default();
    match format {
        Format::Hyrank => {
            d.products = optional(dir, "catalog.ndjson")
                .map(read_catalog_vec)
                .transpose()?;
            d.queries = optional(dir, "queries.tsv")
                .or_else(|| optional(dir, "queries.jsonl"))
                .map(read_queries)
                .transpose()?;
            d.qrels = optional(dir, "qrels.trec")
                .map(trec::read_qrels)
                .transpose()?;
            d.events = optional(dir, "events")
                .map(LogReader::read_all)
                .transpose()?;
        }
        Format::Esci => {
            let examples =
                esci::read_examples(need(dir, "shopping_queries_dataset_examples.parquet")?)?;
            let (queries, qrels) = esci::to_queries_and_qrels(
                &examples,
                &opts.locale,
                opts.split.as_deref(),
                &opts.grades,
            );
            d.queries = Some(queries);
            d.qrels = Some(qrels);
            if let Some(p) = optional(dir, "shopping_queries_dataset_products.parquet") {
                let rows = esci::read_products(p)?;
                let total = rows
                    .iter()
                    .filter(|r| r.product_locale == opts.locale)
                    .count();
                let products: Vec<Product> = rows
                    .iter()
                    .filter(|r| r.product_locale == opts.locale)
                    .filter_map(esci::EsciProduct::to_product)
                    .collect();
                if products.len() < total {
                    d.notes.push(format!(
                        "{} ESCI products without a title were left out",
                        total - products.len()
                    ));
                }
                d.products = Some(products);
            }
        }
        Format::Wands => {
            d.products = Some(wands::read_products(need(dir, "product.csv")?)?);
            d.queries = Some(wands::read_queries(need(dir, "query.csv")?)?);
            d.qrels = Some(wands::read_labels(need(dir, "label.csv")?, &opts.grades)?);
        }
        Format::Beir => {
            d.products = Some(beir::read_corpus(need(dir, "corpus.jsonl")?)?);
            d.queries = Some(read_queries(need(dir, "queries.jsonl")?)?);
            let split = opts.split.clone().unwrap_or_else(|| "test".into());
            d.qrels = optional(&dir.join("qrels"), &format!("{split}.tsv"))
                .map(beir::read_qrels)
                .transpose()?;
        }
        Format::Cranfield => {
            use crate::formats::cranfield;
            d.products = Some(cranfield::read_documents(need(dir, "cran.all.1400")?)?);
            d.queries = Some(cranfield::read_queries(need(dir, "cran.qry")?)?);
            d.qrels = Some(cranfield::read_qrels(need(dir, "cranqrel")?)?);
        }
        Format::Ubi => {
            let (events, report) = ubi::read_ubi(
                need(dir, "ubi_queries.ndjson")?,
                need(dir, "ubi_events.ndjson")?,
            )?;
            for (action, n) in &report.unmapped_actions {
                d.notes.push(format!(
                    "{n} UBI `{action}` events have no hyrank counterpart and were not converted"
                ));
            }
            if report.purchases_without_price > 0 {
                d.notes.push(format!(
                    "{} purchases carried no price (unit price 0)",
                    report.purchases_without_price
                ));
            }
            d.events = Some(events);
        }
    }
    Ok(d)
}

/// Writes `d` in `format` into folder `dir`; returns the files written.
pub fn write_dataset(format: Format, d: &Dataset, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let mut written = Vec::new();
    let mut products_to = |path: PathBuf, beir_layout: bool| -> Result<()> {
        if let Some(ps) = &d.products {
            if beir_layout {
                beir::write_corpus(&path, ps)?;
            } else {
                let mut w = NdjsonWriter::create(&path)?;
                for p in ps {
                    w.write(p)?;
                }
                w.finish()?;
            }
            written.push(path);
        }
        Ok(())
    };
    match format {
        Format::Hyrank => {
            products_to(dir.join("catalog.ndjson"), false)?;
            if let Some(q) = &d.queries {
                write_queries_tsv(dir.join("queries.tsv"), q)?;
                written.push(dir.join("queries.tsv"));
            }
            if let Some(q) = &d.qrels {
                trec::write_qrels(dir.join("qrels.trec"), q)?;
                written.push(dir.join("qrels.trec"));
            }
            if let Some(events) = &d.events {
                let target = dir.join("events");
                if target.exists() && std::fs::read_dir(&target).at(&target)?.next().is_some() {
                    return Err(Error::InvalidArgument(format!(
                        "{}: an interaction log is already there; refusing to mix logs",
                        target.display()
                    )));
                }
                let mut log =
                    EventLog::open(&target, LogConfig::default().sync(SyncPolicy::Manual))?;
                for e in events {
                    log.append(e)?;
                }
                log.close()?;
                written.push(target);
            }
        }
        Format::Beir => {
            products_to(dir.join("corpus.jsonl"), true)?;
            if let Some(q) = &d.queries {
                write_queries_jsonl(dir.join("queries.jsonl"), q)?;
                written.push(dir.join("queries.jsonl"));
            }
            if let Some(q) = &d.qrels {
                let qd = dir.join("qrels");
                std::fs::create_dir_all(&qd).at(&qd)?;
                beir::write_qrels(qd.join("test.tsv"), q)?;
                written.push(qd.join("test.tsv"));
            }
        }
        Format::Ubi => {
            let events = d.events.as_deref().ok_or_else(|| {
                Error::InvalidArgument("UBI output needs interaction events".into())
            })?;
            let (qs, es) = ubi::to_ubi(events, "hyrank");
            for (name, rows) in [
                ("ubi_queries.ndjson", serde_json::to_value(&qs)),
                ("ubi_events.ndjson", serde_json::to_value(&es)),
            ] {
                let rows = rows.map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
                let mut w = NdjsonWriter::create(dir.join(name))?;
                for r in rows.as_array().into_iter().flatten() {
                    w.write(r)?;
                }
                w.finish()?;
                written.push(dir.join(name));
            }
        }
        Format::Esci | Format::Wands | Format::Cranfield => {
            return Err(Error::InvalidArgument(format!(
                "writing {format} is not supported: write hyrank or beir"
            )));
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{generate, SimConfig, WorldConfig};

    #[test]
    fn hyrank_to_beir_and_ubi_and_back() {
        let src = tempfile::tempdir().unwrap();
        generate(
            &WorldConfig {
                products: 300,
                queries: 20,
                ..WorldConfig::default()
            },
            &SimConfig {
                events: 500,
                days: 2,
                ..SimConfig::default()
            },
            src.path(),
            &|_, _, _| {},
        )
        .unwrap();
        let d = read_dataset(Format::Hyrank, src.path(), &ReadOptions::default()).unwrap();
        let beir_dir = tempfile::tempdir().unwrap();
        write_dataset(Format::Beir, &d, beir_dir.path()).unwrap();
        let back = read_dataset(Format::Beir, beir_dir.path(), &ReadOptions::default()).unwrap();
        assert_eq!(back.qrels, d.qrels);
        assert_eq!(back.queries, d.queries);
        assert_eq!(back.products.as_ref().unwrap().len(), 300);

        let ubi_dir = tempfile::tempdir().unwrap();
        write_dataset(Format::Ubi, &d, ubi_dir.path()).unwrap();
        let back = read_dataset(Format::Ubi, ubi_dir.path(), &ReadOptions::default()).unwrap();
        let (a, b) = (d.events.as_ref().unwrap(), back.events.as_ref().unwrap());
        assert_eq!(a.len(), b.len());
        assert_eq!(
            a.iter().map(|e| e.kind()).collect::<Vec<_>>(),
            b.iter().map(|e| e.kind()).collect::<Vec<_>>()
        );

        let out = tempfile::tempdir().unwrap();
        write_dataset(Format::Hyrank, &back, out.path()).unwrap();
        assert!(write_dataset(Format::Hyrank, &back, out.path())
            .unwrap_err()
            .to_string()
            .contains("already there"));
        assert!(
            read_dataset(Format::Wands, out.path(), &ReadOptions::default())
                .unwrap_err()
                .to_string()
                .contains("product.csv")
        );
    }
}
