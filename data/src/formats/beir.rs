//! BEIR data sets: `corpus.jsonl` (`_id`, `title`, `text`, `metadata`),
//! `queries.jsonl` (`_id`, `text`), `qrels/{split}.tsv` (header
//! `query-id  corpus-id  score`).

use std::io::Write;
use std::path::Path;

use serde::Deserialize;

use super::ndjson::{NdjsonWriter, Record};
use super::{field_error, header_indices, parse_json, split_tabs, Lines};
use crate::error::{Error, IoContext, Result};
use crate::fsio::AtomicFile;
use crate::types::{Judgment, Product};

#[derive(Debug, Deserialize)]
struct CorpusDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// Reads `corpus.jsonl` as products (title, description = text). Documents
/// with an empty title take the start of their text as title.
pub fn read_corpus(path: impl AsRef<Path>) -> Result<Vec<Product>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        let d: CorpusDoc = parse_json(&line, at.clone())?;
        let title = if d.title.trim().is_empty() {
            d.text.chars().take(80).collect::<String>()
        } else {
            d.title
        };
        let mut p = Product::new(d.id.as_str(), title);
        p.description = d.text;
        p.check()
            .map_err(|(f, why)| field_error(&line, at, f, why))?;
        out.push(p);
    }
    Ok(out)
}

/// Writes products as a BEIR corpus.
pub fn write_corpus(path: impl AsRef<Path>, products: &[Product]) -> Result<()> {
    let mut w = NdjsonWriter::create(path)?;
    for p in products {
        w.write(&serde_json::json!({"_id": p.id, "title": p.title, "text": p.description}))?;
    }
    w.finish().map(|_| ())
}

/// Reads a BEIR qrels TSV (with its header row).
pub fn read_qrels(path: impl AsRef<Path>) -> Result<Vec<Judgment>> {
    let mut lines = Lines::open(path.as_ref())?;
    let Some(first) = lines.next_line() else {
        return Ok(Vec::new());
    };
    let (_, header) = first?;
    let header: Vec<&str> = header.split('\t').collect();
    let idx = header_indices(
        &header,
        &["query-id", "corpus-id", "score"],
        &lines.location(),
    )?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        let c = split_tabs(&line, &at, 3, "query-id, corpus-id, score")?;
        let grade = c[idx[2]].trim().parse::<i32>().map_err(|_| {
            Error::parse(
                at.clone().field("score"),
                format!("`{}` is not an integer", c[idx[2]]),
            )
        })?;
        out.push(Judgment {
            query: c[idx[0]].trim().into(),
            doc: c[idx[1]].trim().into(),
            grade,
        });
    }
    Ok(out)
}

/// Writes a BEIR qrels TSV.
pub fn write_qrels(path: impl AsRef<Path>, qrels: &[Judgment]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    writeln!(f, "query-id\tcorpus-id\tscore").at(path)?;
    for j in qrels {
        writeln!(f, "{}\t{}\t{}", j.query, j.doc, j.grade).at(path)?;
    }
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ndjson::read_queries;

    #[test]
    fn reads_beir_layout() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("corpus.jsonl");
        std::fs::write(&c, "{\"_id\": \"MED-10\", \"title\": \"Statin Use\", \"text\": \"Recent studies\", \"metadata\": {\"url\": \"x\"}}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \"untitled body\"}\n").unwrap();
        let ps = read_corpus(&c).unwrap();
        assert_eq!(ps[0].title, "Statin Use");
        assert_eq!(ps[1].title, "untitled body");
        let q = dir.path().join("queries.jsonl");
        std::fs::write(&q, "{\"_id\": \"PLAIN-2\", \"text\": \"Do Cholesterol Statin Drugs Cause Breast Cancer?\", \"metadata\": {}}\n").unwrap();
        assert_eq!(read_queries(&q).unwrap()[0].id.as_str(), "PLAIN-2");
        let r = dir.path().join("test.tsv");
        std::fs::write(&r, "query-id\tcorpus-id\tscore\nPLAIN-2\tMED-10\t2\n").unwrap();
        assert_eq!(read_qrels(&r).unwrap()[0].grade, 2);

        std::fs::write(&c, "{\"title\": \"no id\"}\n").unwrap();
        let e = read_corpus(&c).unwrap_err().to_string();
        assert!(e.contains("corpus.jsonl:1") && e.contains("_id"), "{e}");
        std::fs::write(&r, "query-id\tcorpus-id\tscore\nq\td\tx\n").unwrap();
        assert!(read_qrels(&r)
            .unwrap_err()
            .to_string()
            .contains("test.tsv:2: field `score`"));
    }
}
