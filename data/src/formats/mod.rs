//! Readers and writers for the formats hyrank speaks.
//!
//! Every reader streams and every error names the file, the line (or row)
//! and, where it can, the field or column.
//!
//! | module | format |
//! |---|---|
//! | [`ndjson`] | our catalogue NDJSON, queries as TSV or JSONL, generic NDJSON |
//! | [`feed`] | catalogues fed like a bulk API: other shapes mapped, bad rows rejected and reported |
//! | [`trec`] | TREC qrels and run files |
//! | [`letor`] | LETOR / SVMlight with `qid:`, LightGBM `.query` group files |
//! | [`esci`] | Amazon ESCI (Shopping Queries) parquet files |
//! | [`wands`] | Wayfair WANDS tab-separated files |
//! | [`beir`] | BEIR corpus.jsonl, queries.jsonl, qrels/*.tsv |
//! | [`cranfield`] | Cranfield 1400 (SMART `.I/.T/.W` records, reversed relevance codes) |
//! | [`ubi`] | OpenSearch User Behavior Insights queries and events (NDJSON or bulk) |
//! | [`yandex`] | Yandex click logs (Relevance Prediction 2011, Personalized Search 2013) |
//! | [`srw`] | OpenSearch Search Relevance Workbench judgments and query sets |

pub mod beir;
pub mod cranfield;
pub mod esci;
pub mod feed;
pub mod letor;
pub mod ndjson;
pub mod npy;
pub mod srw;
pub mod trec;
pub mod ubi;
pub mod wands;
pub mod yandex;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Location, Result};

/// The first line of a Git LFS pointer file (a file checked out without `git lfs pull`).
const LFS_POINTER: &str = "version https://git-lfs.github.com/spec/";

/// The hint for a file that is a Git LFS pointer, or `None`.
pub(crate) fn lfs_pointer_hint(first_bytes: &[u8]) -> Option<String> {
    first_bytes.starts_with(LFS_POINTER.as_bytes()).then(|| {
        "this is a Git LFS pointer, not the data: the file was checked out without its content (run `git lfs pull` in its repository, or download the file itself)".to_owned()
    })
}

/// Fails with the LFS hint when the file at `path` is a Git LFS pointer.
pub(crate) fn refuse_lfs_pointer(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 64];
    let mut f = File::open(path).at(path)?;
    let n = f.read(&mut head).at(path)?;
    match lfs_pointer_hint(&head[..n]) {
        Some(hint) => Err(Error::parse(Location::new(path, 1).column(1), hint)),
        None => Ok(()),
    }
}

/// Reads a text file line by line, keeping the 1-based line number, and
/// turning I/O and UTF-8 errors into errors that name the place. A UTF-8
/// byte-order mark at the start is skipped ([`Lines::had_bom`] tells); a Git
/// LFS pointer is refused with a hint.
#[derive(Debug)]
pub struct Lines<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buf: Vec<u8>,
    terminated: bool,
    bom: bool,
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
            bom: false,
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

    /// Whether the file started with a UTF-8 byte-order mark (skipped).
    pub fn had_bom(&self) -> bool {
        self.bom
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
                if self.line == 1 {
                    if let Some(hint) = lfs_pointer_hint(&self.buf) {
                        return Some(Err(Error::parse(self.location().column(1), hint)));
                    }
                    if self.buf.starts_with("\u{feff}".as_bytes()) {
                        self.buf.drain(..3);
                        self.bom = true;
                    }
                }
                match String::from_utf8(std::mem::take(&mut self.buf)) {
                    Ok(s) => Some(Ok((self.line, s))),
                    Err(e) => {
                        let valid = e.utf8_error().valid_up_to();
                        let bytes = e.into_bytes();
                        let column = String::from_utf8_lossy(&bytes[..valid]).chars().count() + 1;
                        Some(Err(Error::parse(
                            self.location().column(column as u64),
                            format!("not valid UTF-8 (byte {} of the line)", valid + 1),
                        )))
                    }
                }
            }
            Err(e) => Some(Err(Error::io(&self.path, e))),
        }
    }
}

/// The 1-based character column of byte offset `byte` in `line`.
pub(crate) fn char_column(line: &str, byte: usize) -> u64 {
    let byte = byte.min(line.len());
    let mut b = byte;
    while !line.is_char_boundary(b) {
        b -= 1;
    }
    line[..b].chars().count() as u64 + 1
}

/// The 1-based character column of the key of the last segment of a JSON
/// path (`results[2].position` → `"position"`) in one line of JSON, if found.
pub(crate) fn key_column(line: &str, field: &str) -> Option<u64> {
    let last = field.rsplit('.').next()?;
    let name = last.split('[').next()?;
    if name.is_empty() {
        return None;
    }
    let needle = format!("\"{name}\"");
    let mut from = 0;
    while let Some(i) = line[from..].find(&needle) {
        let at = from + i;
        let rest = line[at + needle.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(char_column(line, at));
        }
        from = at + needle.len();
    }
    None
}

/// An error about `field` of a record read from `line` at `at`: the column
/// is the field's key when it can be found on the line.
pub(crate) fn field_error(line: &str, at: Location, field: &str, why: impl Into<String>) -> Error {
    let at = match key_column(line, field) {
        Some(c) => at.column(c),
        None => at,
    };
    Error::parse(at.field(field), why)
}

/// An OpenSearch / Elasticsearch bulk action line (`{"index": {...}}`,
/// `create`, `update` or `delete`): its action and metadata, or `None`.
pub fn bulk_action(
    value: &serde_json::Value,
) -> Option<(&str, &serde_json::Map<String, serde_json::Value>)> {
    let obj = value.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (k, v) = obj.iter().next()?;
    match k.as_str() {
        "index" | "create" | "update" | "delete" => v.as_object().map(|m| (k.as_str(), m)),
        _ => None,
    }
}

/// The hint for a record that failed to parse when its line is a bulk action line.
pub(crate) fn bulk_hint(text: &str) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    bulk_action(&v).map(|_| {
        "this is an OpenSearch/Elasticsearch bulk action line (`{\"index\": {...}}`), not a record: bulk files are read by `data convert --from ubi` and `index build`, or strip the action lines"
    })
}

/// Parses one JSON text (one NDJSON line, or a whole JSON file) into `T`.
/// An error carries one position, `file:line:column` (lines counted from
/// `location.line`, columns in characters), the JSON path of the field, and
/// a hint where the cause is recognisable (a bulk action line).
pub fn parse_json<T: DeserializeOwned>(text: &str, location: Location) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // Trailing characters after the value are an error too.
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(e) => Err(json_error(text, location, "", &e)),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Err(json_error(text, location, &path, &inner))
        }
    }
}

/// Turns a serde_json error on `text` into our error with one position.
pub(crate) fn json_error(
    text: &str,
    location: Location,
    path: &str,
    e: &serde_json::Error,
) -> Error {
    let mut message = e.to_string();
    let (line, column) = (e.line(), e.column());
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_owned();
    }
    let mut at = location;
    // serde_path_to_error writes `?` where it lost track (inside untagged or
    // flattened values): keep the part of the path it knows.
    let path = match path.find('?') {
        Some(i) => path[..i].trim_end_matches(['.', '[']),
        None => path,
    };
    let known_path = !(path.is_empty() || path == ".");
    if line > 0 {
        let base = at.line.max(1);
        at.line = base + line as u64 - 1;
        let text_line = text.lines().nth(line - 1).unwrap_or("");
        // A value of the wrong type: point at its key. Otherwise serde's
        // column (in bytes, just past the offending token) as characters.
        let col = known_path
            .then(|| key_column(text_line, path))
            .flatten()
            .unwrap_or_else(|| char_column(text_line, column.saturating_sub(1)));
        at = at.column(col);
    }
    if known_path {
        at = at.field(path);
    }
    if let Some(hint) = bulk_hint(text) {
        message = format!("{message} (hint: {hint})");
    }
    Error::parse(at, message)
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
