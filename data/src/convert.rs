//! Converting whole data sets between formats: read one of ESCI, WANDS,
//! BEIR, UBI or our own folder into a [`Dataset`], write it as ours, BEIR or UBI.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, IoContext, Result};
use crate::formats::ndjson::{
    read_catalog_vec, read_queries, write_queries_jsonl, write_queries_tsv, NdjsonWriter,
};
use crate::formats::srw::{self, RatingMap};
use crate::formats::{beir, esci, trec, ubi, wands, yandex};
use crate::fsio::StagedDir;
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
    /// OpenSearch UBI queries and events: a file (NDJSON or bulk) or a folder.
    Ubi,
    /// Cranfield 1400: `cran.all.1400`, `cran.qry`, `cranqrel`.
    Cranfield,
    /// Yandex click logs (Relevance Prediction 2011 or Personalized Search 2013): one file.
    Yandex,
    /// OpenSearch Search Relevance Workbench judgments and query sets (JSON): a file or a folder.
    Srw,
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
            "yandex" => Ok(Self::Yandex),
            "srw" => Ok(Self::Srw),
            other => Err(format!(
                "unknown format `{other}` (hyrank, esci, wands, beir, ubi, cranfield, yandex, srw)"
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
            Self::Yandex => "yandex",
            Self::Srw => "srw",
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
    /// UBI `position.ordinal` base (0 or 1); `None` detects it per application.
    pub ubi_ordinal_base: Option<u32>,
    /// SRW rating → grade.
    pub ratings: RatingMap,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            locale: "us".into(),
            split: None,
            grades: GradeMap::default(),
            ubi_ordinal_base: None,
            ratings: RatingMap::Whole,
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

/// Reads a data set in `format` from folder `dir` (UBI: a file or a folder).
pub fn read_dataset(format: Format, dir: &Path, opts: &ReadOptions) -> Result<Dataset> {
    let mut d = Dataset::default();
    match format {
        Format::Hyrank => {
            crate::fsio::settle(dir)?;
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
            let (docs, empty) = cranfield::read_documents(need(dir, "cran.all.1400")?)?;
            if !empty.is_empty() {
                d.notes.push(format!(
                    "{} Cranfield documents have no title and no text and were left out of the catalogue: {}",
                    empty.len(),
                    empty.join(", ")
                ));
            }
            d.products = Some(docs);
            d.queries = Some(cranfield::read_queries(need(dir, "cran.qry")?)?);
            d.qrels = Some(cranfield::read_qrels(need(dir, "cranqrel")?)?);
        }
        Format::Ubi => {
            let (events, report) = ubi::read_ubi(
                dir,
                &ubi::UbiOptions {
                    ordinal_base: opts.ubi_ordinal_base,
                },
            )?;
            d.notes.extend(report.lines());
            d.events = Some(events);
        }
        Format::Yandex => {
            let (events, report) = yandex::read_yandex(dir)?;
            d.notes.extend(report.lines());
            d.events = Some(events);
        }
        Format::Srw => {
            let data = srw::read_srw(dir, &opts.ratings)?;
            for (f, kind) in &data.files {
                d.notes.push(format!("SRW: read {} as {kind}", f.display()));
            }
            d.notes.push(format!(
                "SRW: {} queries (ids derived from their text), {} judgments",
                data.queries.len(),
                data.qrels.len()
            ));
            d.queries = Some(data.queries);
            if !data.qrels.is_empty() {
                d.qrels = Some(data.qrels);
            }
        }
    }
    Ok(d)
}

/// Writes `d` in `format` into folder `dir`; returns the files written.
///
/// The files are written as one set (see [`StagedDir`]): into a staging
/// folder first, then moved into place together, replacing the files of the
/// same names (an earlier conversion's) and leaving any other entry of `dir`
/// alone. A run killed half-way leaves `dir` as it was; a re-run needs no
/// cleanup.
pub fn write_dataset(format: Format, d: &Dataset, dir: &Path) -> Result<Vec<PathBuf>> {
    write_dataset_with(format, d, dir, &WriteOptions::default())
}

/// Options of [`write_dataset_with`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// SRW: grade → rating (the map inverted).
    pub ratings: RatingMap,
}

/// [`write_dataset`] with options.
pub fn write_dataset_with(
    format: Format,
    d: &Dataset,
    dir: &Path,
    opts: &WriteOptions,
) -> Result<Vec<PathBuf>> {
    let stage = StagedDir::begin(dir)?;
    let write_products = |path: PathBuf, beir_layout: bool| -> Result<()> {
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
        }
        Ok(())
    };
    match format {
        Format::Hyrank => {
            write_products(stage.path("catalog.ndjson"), false)?;
            if let Some(q) = &d.queries {
                write_queries_tsv(stage.path("queries.tsv"), q)?;
            }
            if let Some(q) = &d.qrels {
                trec::write_qrels(stage.path("qrels.trec"), q)?;
            }
            if let Some(events) = &d.events {
                let mut log = EventLog::open(
                    stage.path("events"),
                    LogConfig::default().sync(SyncPolicy::Manual),
                )?;
                for e in events {
                    log.append(e)?;
                }
                log.close()?;
            }
        }
        Format::Beir => {
            write_products(stage.path("corpus.jsonl"), true)?;
            if let Some(q) = &d.queries {
                write_queries_jsonl(stage.path("queries.jsonl"), q)?;
            }
            if let Some(q) = &d.qrels {
                let qd = stage.path("qrels");
                std::fs::create_dir_all(&qd).at(&qd)?;
                beir::write_qrels(qd.join("test.tsv"), q)?;
            }
        }
        Format::Ubi => {
            let events = d.events.as_deref().ok_or_else(|| {
                Error::InvalidArgument("UBI output needs interaction events".into())
            })?;
            let (qs, es) = ubi::to_ubi(events, "hyrank");
            for (name, rows) in [("ubi_queries.ndjson", qs), ("ubi_events.ndjson", es)] {
                let mut w = NdjsonWriter::create(stage.path(name))?;
                for r in &rows {
                    w.write(r)?;
                }
                w.finish()?;
            }
        }
        Format::Srw => {
            let queries = d.queries.as_deref().unwrap_or_default();
            if queries.is_empty() && d.qrels.is_none() {
                return Err(Error::InvalidArgument(
                    "SRW output needs queries or judgments".into(),
                ));
            }
            if let Some(q) = &d.qrels {
                let text = srw::judgments_json(queries, q, &opts.ratings, "hyrank judgments")?;
                crate::fsio::write_atomic(stage.path("judgments.json"), text.as_bytes())?;
            }
            if !queries.is_empty() {
                let text = srw::query_set_json(queries, "hyrank queries");
                crate::fsio::write_atomic(stage.path("queryset.json"), text.as_bytes())?;
            }
        }
        Format::Esci | Format::Wands | Format::Cranfield | Format::Yandex => {
            return Err(Error::InvalidArgument(format!(
                "writing {format} is not supported: write hyrank, beir, ubi or srw"
            )));
        }
    }
    stage.commit()
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
        // A re-run replaces the earlier conversion's files (no mixed logs).
        write_dataset(Format::Hyrank, &back, out.path()).unwrap();
        let again = read_dataset(Format::Hyrank, out.path(), &ReadOptions::default()).unwrap();
        assert_eq!(again.events.unwrap().len(), b.len());
        assert!(
            read_dataset(Format::Wands, out.path(), &ReadOptions::default())
                .unwrap_err()
                .to_string()
                .contains("product.csv")
        );
    }
}
