//! Reading a log folder: every segment, merged into timestamp order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Location, Result};
use crate::formats::ndjson::Record;
use crate::formats::Lines;
use crate::time::Timestamp;
use crate::types::InteractionEvent;

/// NDJSON (active or not yet compacted) or Parquet (compacted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SegmentKind {
    /// `segment-N.ndjson`.
    Ndjson,
    /// `segment-N.parquet`.
    Parquet,
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its number (order of creation).
    pub number: u64,
    /// Its format.
    pub kind: SegmentKind,
    /// Its path.
    pub path: PathBuf,
    /// True for an NDJSON segment whose Parquet twin exists (left by a
    /// compaction cut short): the Parquet file is the one to read.
    pub shadowed: bool,
}

/// The segments of a log folder, in number order.
pub fn list_segments(dir: &Path) -> Result<Vec<Segment>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("segment-") else {
            continue;
        };
        let (num, kind) = if let Some(n) = rest.strip_suffix(".ndjson") {
            (n, SegmentKind::Ndjson)
        } else if let Some(n) = rest.strip_suffix(".parquet") {
            (n, SegmentKind::Parquet)
        } else {
            continue;
        };
        let Ok(number) = num.parse::<u64>() else {
            continue;
        };
        out.push(Segment {
            number,
            kind,
            path: entry.path(),
            shadowed: false,
        });
    }
    out.sort_by_key(|s| (s.number, s.kind));
    let parquet: std::collections::BTreeSet<u64> = out
        .iter()
        .filter(|s| s.kind == SegmentKind::Parquet)
        .map(|s| s.number)
        .collect();
    for s in &mut out {
        s.shadowed = s.kind == SegmentKind::Ndjson && parquet.contains(&s.number);
    }
    Ok(out)
}

enum Source {
    Ndjson {
        lines: Lines<BufReader<File>>,
        is_last: bool,
    },
    Parquet {
        events: std::vec::IntoIter<InteractionEvent>,
        path: PathBuf,
        row: u64,
    },
}

impl Source {
    fn path(&self) -> &Path {
        match self {
            Source::Ndjson { lines, .. } => lines.path(),
            Source::Parquet { path, .. } => path,
        }
    }

    /// The next event with its line (NDJSON) or row (Parquet).
    fn next_event(&mut self) -> Option<Result<(u64, InteractionEvent)>> {
        match self {
            Source::Parquet { events, row, .. } => events.next().map(|e| {
                *row += 1;
                Ok((*row, e))
            }),
            Source::Ndjson { lines, is_last } => loop {
                let (_, line) = match lines.next_line()? {
                    Ok(l) => l,
                    Err(e) => return Some(Err(e)),
                };
                if !lines.last_line_terminated() {
                    if *is_last {
                        // A line being written right now, or a torn tail the
                        // writer will cut on open: never acknowledged.
                        return None;
                    }
                    return Some(Err(Error::parse(
                        lines.location(),
                        "unterminated line in a closed segment",
                    )));
                }
                if line.trim().is_empty() {
                    continue;
                }
                let at = lines.location();
                return Some(InteractionEvent::read(&line, at.clone()).map(|e| (at.line, e)));
            },
        }
    }
}

/// Streams every event of a log folder in timestamp order (ties: segment
/// order, then append order), merging segments k-way. Memory: one pending
/// event per NDJSON segment, plus one whole Parquet segment at a time.
pub struct LogReader {
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<(Timestamp, usize, u64)>>,
    pending: Vec<Option<(u64, InteractionEvent)>>,
    seq: u64,
    error: Option<Error>,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("segments", &self.sources.len())
            .finish()
    }
}

impl LogReader {
    /// Opens every segment of `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Log {
                path: dir.to_path_buf(),
                message: "not a log folder".into(),
            });
        }
        let segments: Vec<Segment> = list_segments(dir)?
            .into_iter()
            .filter(|s| !s.shadowed)
            .collect();
        let last_no = segments.iter().map(|s| s.number).max();
        let mut sources = Vec::with_capacity(segments.len());
        for s in &segments {
            sources.push(match s.kind {
                SegmentKind::Ndjson => Source::Ndjson {
                    lines: Lines::open(&s.path)?,
                    is_last: Some(s.number) == last_no,
                },
                SegmentKind::Parquet => Source::Parquet {
                    events: super::compact::read_parquet_segment(&s.path)?.into_iter(),
                    path: s.path.clone(),
                    row: 0,
                },
            });
        }
        let mut r = Self {
            pending: vec![None; sources.len()],
            sources,
            heap: BinaryHeap::new(),
            seq: 0,
            error: None,
        };
        for i in 0..r.sources.len() {
            r.refill(i);
        }
        Ok(r)
    }

    fn refill(&mut self, i: usize) {
        match self.sources[i].next_event() {
            Some(Ok((line, e))) => {
                self.seq += 1;
                self.heap.push(Reverse((e.timestamp(), i, self.seq)));
                self.pending[i] = Some((line, e));
            }
            Some(Err(e)) if self.error.is_none() => self.error = Some(e),
            Some(Err(_)) => {}
            None => {}
        }
    }

    /// Reads everything into memory (tests, small logs).
    pub fn read_all(dir: impl AsRef<Path>) -> Result<Vec<InteractionEvent>> {
        Self::open(dir)?.collect()
    }

    fn pop(&mut self) -> Option<Result<(usize, u64, InteractionEvent)>> {
        if let Some(e) = self.error.take() {
            self.heap.clear();
            return Some(Err(e));
        }
        let Reverse((_, i, _)) = self.heap.pop()?;
        let event = self.pending[i].take();
        self.refill(i);
        event.map(|(line, e)| Ok((i, line, e)))
    }

    /// The next event with where it is: segment file and line (NDJSON) or row (Parquet).
    pub fn next_located(&mut self) -> Option<Result<(Location, InteractionEvent)>> {
        self.pop()
            .map(|r| r.map(|(i, line, e)| (Location::new(self.sources[i].path(), line), e)))
    }
}

impl Iterator for LogReader {
    type Item = Result<InteractionEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        self.pop().map(|r| r.map(|(_, _, e)| e))
    }
}

/// Location helper for Parquet rows.
pub(crate) fn row_location(path: &Path, row: u64) -> Location {
    Location::new(path, row)
}
