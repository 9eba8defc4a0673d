//! Our own text formats: the catalogue as NDJSON (one [`Product`] per line),
//! queries as `id<TAB>text` TSV or JSONL (`{"id"|"_id": .., "text": ..}`),
//! and a generic NDJSON writer.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{field_error, parse_json, Lines};
use crate::error::{Error, IoContext, Location, Result};
use crate::fsio::AtomicFile;
use crate::types::{InteractionEvent, Product, Query, QueryId};

/// A record of an NDJSON file: parsed from one line, then checked.
pub trait Record: Sized {
    /// Parses one line (`at` is its location); the default is [`parse_json`].
    fn parse(line: &str, at: Location) -> Result<Self>
    where
        Self: DeserializeOwned,
    {
        parse_json(line, at)
    }

    /// Checks invariants serde cannot express; returns the offending field and the reason.
    fn check(&self) -> std::result::Result<(), (&'static str, String)>;

    /// Parses and checks one line: an error names the line, the column and the field.
    fn read(line: &str, at: Location) -> Result<Self>
    where
        Self: DeserializeOwned,
    {
        let v = Self::parse(line, at.clone())?;
        match v.check() {
            Ok(()) => Ok(v),
            Err((field, why)) => Err(field_error(line, at, field, why)),
        }
    }
}

impl Record for Product {
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        self.validate()
    }
}

impl Record for InteractionEvent {
    fn parse(line: &str, at: Location) -> Result<Self> {
        InteractionEvent::parse_line(line, at)
    }

    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        self.validate()
    }
}

/// Streams `T`s from NDJSON, skipping blank lines, validating each record.
#[derive(Debug)]
pub struct NdjsonReader<T, R = BufReader<File>> {
    lines: Lines<R>,
    _t: PhantomData<fn() -> T>,
}

impl<T> NdjsonReader<T> {
    /// Opens a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self {
            lines: Lines::open(path)?,
            _t: PhantomData,
        })
    }
}

impl<T, R: BufRead> NdjsonReader<T, R> {
    /// Wraps any reader; `name` appears in errors.
    pub fn from_reader(name: impl Into<std::path::PathBuf>, reader: R) -> Self {
        Self {
            lines: Lines::new(name, reader),
            _t: PhantomData,
        }
    }
}

impl<T: DeserializeOwned + Record, R: BufRead> Iterator for NdjsonReader<T, R> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            let (_, line) = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(T::read(&line, self.lines.location()));
        }
    }
}

/// Reads a catalogue NDJSON file.
pub fn read_catalog(path: impl AsRef<Path>) -> Result<NdjsonReader<Product>> {
    NdjsonReader::open(path)
}

/// Writes values as NDJSON, atomically (see [`AtomicFile`]).
#[derive(Debug)]
pub struct NdjsonWriter {
    out: AtomicFile,
    count: u64,
}

impl NdjsonWriter {
    /// Starts writing `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self {
            out: AtomicFile::create(path)?,
            count: 0,
        })
    }

    /// Appends one value as one line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| Error::io(self.out.path(), std::io::Error::other(e)))?;
        self.out.write_all(b"\n").at(self.out.path())?;
        self.count += 1;
        Ok(())
    }

    /// Lines written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Makes the file durable and visible under its name.
    pub fn finish(self) -> Result<u64> {
        let n = self.count;
        self.out.commit()?;
        Ok(n)
    }
}

#[derive(Deserialize)]
struct JsonQuery {
    #[serde(alias = "_id")]
    id: String,
    text: String,
}

/// Reads queries from `id<TAB>text` TSV, or from JSONL when the file name
/// ends in `.jsonl` / `.json` (BEIR style, `_id` or `id`).
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>> {
    let path = path.as_ref();
    let jsonl = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "json")
    );
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        let (id, text) = if jsonl {
            let q: JsonQuery = parse_json(&line, at.clone())?;
            (q.id, q.text)
        } else {
            let (id, text) = line
                .split_once('\t')
                .ok_or_else(|| Error::parse(at.clone(), "expected `id<TAB>text`, found no tab"))?;
            (id.trim().to_owned(), text.trim().to_owned())
        };
        if id.is_empty() {
            return Err(Error::parse(at.field("id"), "must not be empty"));
        }
        if text.trim().is_empty() {
            return Err(Error::parse(
                at.field("text"),
                format!("query `{id}` is empty (a search needs text)"),
            ));
        }
        out.push(Query {
            id: QueryId(id),
            text,
        });
    }
    Ok(out)
}

/// Writes queries as `id<TAB>text` (tabs and newlines in the text become spaces).
pub fn write_queries_tsv(path: impl AsRef<Path>, queries: &[Query]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    for q in queries {
        let text = q.text.replace(['\t', '\n', '\r'], " ");
        writeln!(f, "{}\t{}", q.id, text).at(path)?;
    }
    f.commit()
}

/// Writes queries as BEIR-style JSONL (`{"_id": .., "text": ..}`).
pub fn write_queries_jsonl(path: impl AsRef<Path>, queries: &[Query]) -> Result<()> {
    let mut w = NdjsonWriter::create(path)?;
    for q in queries {
        w.write(&serde_json::json!({"_id": q.id, "text": q.text}))?;
    }
    w.finish().map(|_| ())
}

/// Reads every product of a catalogue into memory (stops at the first bad row).
pub fn read_catalog_vec(path: impl AsRef<Path>) -> Result<Vec<Product>> {
    read_catalog(path)?.collect()
}

/// Opens any NDJSON file of `T` from an in-memory string (tests, stdin).
pub fn from_str<T: DeserializeOwned + Record>(name: &str, text: &str) -> Result<Vec<T>> {
    NdjsonReader::<T, _>::from_reader(name, BufReader::new(text.as_bytes())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_errors_name_line_and_field() {
        let text = "{\"id\":\"1\",\"title\":\"a\"}\n\n{\"id\":\"2\",\"title\":\"b\",\"price\":\"cheap\"}\n";
        let err = from_str::<Product>("cat.ndjson", text).unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.line, loc.column), (3, Some(23)));
        assert_eq!(loc.field.as_deref(), Some("price"));
        assert!(!err.to_string().contains("at line"), "one position: {err}");
        assert!(
            err.to_string()
                .starts_with("cat.ndjson:3:23: field `price`: invalid type"),
            "{err}"
        );

        let err = from_str::<Product>("c", "{\"id\":\"1\"}").unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
        let err =
            from_str::<Product>("c", "{\"id\":\"1\",\"title\":\"x\",\"price\":-3}").unwrap_err();
        assert_eq!(err.location().unwrap().field.as_deref(), Some("price"));
        let err = from_str::<Product>("c", "{\"id\":\"1\",\"title\":\"x\"").unwrap_err();
        assert_eq!(err.location().unwrap().line, 1);
        // Bulk action lines get a hint, in catalogues and in logs.
        let bulk = "{\"index\": {\"_index\": \"x\", \"_id\": \"1\"}}";
        let err = from_str::<Product>("c", bulk).unwrap_err().to_string();
        assert!(err.contains("bulk action line"), "{err}");
        let err = from_str::<InteractionEvent>("events.ndjson", bulk)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("events.ndjson:1:1: field `type`: missing")
                && err.contains("bulk action line"),
            "{err}"
        );
        // The field path inside an event, and one position.
        let err = from_str::<InteractionEvent>(
            "e",
            r#"{"type":"impression","event_id":"e","timestamp":0,"request_id":"r","query":"q","user_id":"u","session_id":"s","results":[{"doc":"d","position":"one"}],"ranker":"x"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("e:1:") && err.contains("field `results[0].position`"),
            "{err}"
        );
    }

    #[test]
    fn queries_tsv_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("q.tsv");
        let qs = vec![
            Query {
                id: "q1".into(),
                text: "grey sofa".into(),
            },
            Query {
                id: "q2".into(),
                text: "tab\there".into(),
            },
        ];
        write_queries_tsv(&tsv, &qs).unwrap();
        let back = read_queries(&tsv).unwrap();
        assert_eq!(back[0], qs[0]);
        assert_eq!(back[1].text, "tab here");
        let jl = dir.path().join("q.jsonl");
        write_queries_jsonl(&jl, &qs[..1]).unwrap();
        assert_eq!(read_queries(&jl).unwrap(), qs[..1].to_vec());

        std::fs::write(&tsv, "q1\tfine\nq2\t  \n").unwrap();
        let err = read_queries(&tsv).unwrap_err().to_string();
        assert!(
            err.contains("q.tsv:2: field `text`: query `q2` is empty"),
            "{err}"
        );
        std::fs::write(&tsv, "q1 no tab here\n").unwrap();
        let err = read_queries(&tsv).unwrap_err();
        assert!(err.to_string().contains("q.tsv:1"), "{err}");
    }
}
