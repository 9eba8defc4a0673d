//! Readers and writers for the formats hyrank speaks.
//!
//! Every reader streams and every error names the file, the line (or row)
//! and, where it can, the field or column.
//!
//! | module | format |
//! |---|---|
//! | [`ndjson`] | our catalogue NDJSON, queries as TSV or JSONL, generic NDJSON |
//! | [`trec`] | TREC qrels and run files |
//! | [`letor`] | LETOR / SVMlight with `qid:`, LightGBM `.query` group files |
//! | [`esci`] | Amazon ESCI (Shopping Queries) parquet files |
//! | [`wands`] | Wayfair WANDS tab-separated files |
//! | [`beir`] | BEIR corpus.jsonl, queries.jsonl, qrels/*.tsv |
//! | [`cranfield`] | Cranfield 1400 (SMART `.I/.T/.W` records, reversed relevance codes) |
//! | [`ubi`] | OpenSearch User Behavior Insights queries and events NDJSON |

pub mod beir;
pub mod cranfield;
pub mod esci;
pub mod letor;
pub mod ndjson;
pub mod trec;
pub mod ubi;
pub mod wands;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Location, Result};

/// Reads a text file line by line, keeping the 1-based line number, and
/// turning I/O and UTF-8 errors into errors that name the place.
#[derive(Debug)]
pub struct Lines<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buf: Vec<u8>,
    terminated: bool,
}

impl Lines<BufReader<File>> {
    /// Opens a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).at(path)?;
        Ok(Self::new(path, BufReader::with_capacity(1 << 16, file)))
    }
}

impl<R: BufRead> Lines<R> {
    /// Wraps a reader; `path` names it in errors.
    pub fn new(path: impl Into<PathBuf>, reader: R) -> Self {
        Self {
            path: path.into(),
            reader,
            line: 0,
            buf: Vec::new(),
            terminated: true,
        }
    }

    /// The name used in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A location at the current line.
    pub fn location(&self) -> Location {
        Location::new(&self.path, self.line)
    }

    /// Whether the last line returned ended with a newline (false for a torn tail).
    pub fn last_line_terminated(&self) -> bool {
        self.terminated
    }

    /// The next line without its line ending, or `None` at the end.
    pub fn next_line(&mut self) -> Option<Result<(u64, String)>> {
        self.buf.clear();
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                self.terminated = self.buf.last() == Some(&b'\n');
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
                match String::from_utf8(std::mem::take(&mut self.buf)) {
                    Ok(s) => Some(Ok((self.line, s))),
                    Err(e) => Some(Err(Error::parse(
                        self.location(),
                        format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
                    ))),
                }
            }
            Err(e) => Some(Err(Error::io(&self.path, e))),
        }
    }
}

/// Parses one JSON line into `T`; an error names the JSON path of the field.
pub fn parse_json<T: DeserializeOwned>(line: &str, location: Location) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(line);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let location = if path.is_empty() || path == "." {
                location
            } else {
                location.field(path)
            };
            Err(Error::parse(location, inner.to_string()))
        }
    }
}

/// Splits a tab-separated line, naming the line when the count is short.
pub(crate) fn split_tabs<'a>(
    line: &'a str,
    at: &Location,
    min: usize,
    what: &str,
) -> Result<Vec<&'a str>> {
    let cols: Vec<&str> = line.split('\t').collect();
    if cols.len() < min {
        return Err(Error::parse(
            at.clone(),
            format!(
                "expected {min} tab-separated columns ({what}), found {}",
                cols.len()
            ),
        ));
    }
    Ok(cols)
}

/// The column index of each wanted header name, or an error naming the missing one.
pub(crate) fn header_indices(
    header: &[&str],
    wanted: &[&str],
    at: &Location,
) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|w| {
            header
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == *w)
                .ok_or_else(|| {
                    Error::parse(
                        at.clone().field(*w),
                        format!("missing column `{w}` in header [{}]", header.join(", ")),
                    )
                })
        })
        .collect()
}
