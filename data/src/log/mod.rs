//! The durable, append-only interaction log.
//!
//! A log is a folder of numbered segments. The active (highest) segment is
//! NDJSON, one [`InteractionEvent`] per line; closed segments may be compacted
//! to Parquet ([`compact`]). Guarantees:
//!
//! - **Acknowledged means durable.** An event is acknowledged when
//!   [`EventLog::commit`] returns a sequence number at or past it (or on
//!   return of [`EventLog::append`] under [`SyncPolicy::Always`]); by then it
//!   has been written and `fsync`ed. Group commit ([`SyncPolicy::Group`])
//!   amortises one `fsync` over many events.
//! - **Recovery drops only a torn tail.** On open, an unterminated or
//!   unparsable *final* line of the last segment (a write cut by a crash,
//!   never acknowledged) is truncated away and reported in
//!   [`EventLog::recovery`]. Corruption anywhere else is an error, not a
//!   silent loss.
//! - **Compaction is crash-safe**: the Parquet file is written under a
//!   temporary name, fsynced and renamed before the NDJSON segment is removed;
//!   if both exist after a crash, the Parquet one is complete and wins.
//!
//! One writer per folder (the API process), enforced by an exclusive lock on
//! the active segment; readers may run beside it.

mod compact;
mod reader;

pub use compact::{compact, CompactReport};
pub use reader::{list_segments, LogReader, Segment, SegmentKind};

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsio::sync_dir;
use crate::types::InteractionEvent;

/// When the log calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After every append: each `append` is acknowledged on return.
    Always,
    /// After every `max_events` appends, and on commit, rotation and close.
    Group {
        /// Events per fsync.
        max_events: usize,
    },
    /// Only on `commit`, rotation and close (bulk loads).
    Manual,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Group { max_events: 256 }
    }
}

/// Log settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// fsync policy.
    pub sync: SyncPolicy,
    /// A segment is closed and a new one started once it reaches this size.
    pub max_segment_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::default(),
            max_segment_bytes: 64 << 20,
        }
    }
}

impl LogConfig {
    /// Sets the fsync policy.
    #[must_use]
    pub fn sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the rotation size.
    #[must_use]
    pub fn max_segment_bytes(mut self, bytes: u64) -> Self {
        self.max_segment_bytes = bytes;
        self
    }
}

/// What recovery did when the log was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The segment whose tail was cut.
    pub segment: PathBuf,
    /// 1-based line number of the dropped line.
    pub line: u64,
    /// Bytes removed.
    pub dropped_bytes: u64,
    /// Why the line was dropped.
    pub reason: String,
}

/// Name of segment `n` with extension `ext`.
pub(crate) fn segment_name(n: u64, ext: &str) -> String {
    format!("segment-{n:010}.{ext}")
}

/// The writer. See the module docs for the guarantees.
#[derive(Debug)]
pub struct EventLog {
    dir: PathBuf,
    config: LogConfig,
    segment_no: u64,
    segment_path: PathBuf,
    out: BufWriter<File>,
    segment_bytes: u64,
    appended: u64,
    durable: u64,
    since_sync: usize,
    recovery: Option<Recovery>,
}

impl EventLog {
    /// Opens (creating if needed) the log in `dir`, recovering a torn tail.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if config.max_segment_bytes == 0 {
            return Err(Error::InvalidArgument(
                "max_segment_bytes must be > 0".into(),
            ));
        }
        if let SyncPolicy::Group { max_events: 0 } = config.sync {
            return Err(Error::InvalidArgument(
                "group commit needs max_events > 0".into(),
            ));
        }
        fs::create_dir_all(&dir).at(&dir)?;
        let segments = list_segments(&dir)?;
        // A Parquet segment shadows an NDJSON one of the same number (compaction
        // crashed between rename and delete): remove the leftover.
        for s in &segments {
            if s.kind == SegmentKind::Ndjson && s.shadowed {
                fs::remove_file(&s.path).at(&s.path)?;
            }
        }
        let last = segments
            .iter()
            .filter(|s| !s.shadowed)
            .max_by_key(|s| s.number);
        let (segment_no, recovery) = match last {
            Some(s) if s.kind == SegmentKind::Ndjson => (s.number, recover_tail(&s.path)?),
            Some(s) => (s.number + 1, None),
            None => (1, None),
        };
        let segment_path = dir.join(segment_name(segment_no, "ndjson"));
        let file = open_segment(&segment_path)?;
        let segment_bytes = file.metadata().at(&segment_path)?.len();
        sync_dir(&dir)?;
        if let Some(r) = &recovery {
            tracing::warn!(segment = %r.segment.display(), line = r.line, bytes = r.dropped_bytes, reason = %r.reason, "interaction log: dropped a torn final line");
        }
        Ok(Self {
            dir,
            config,
            segment_no,
            segment_path,
            out: BufWriter::with_capacity(1 << 20, file),
            segment_bytes,
            appended: 0,
            durable: 0,
            since_sync: 0,
            recovery,
        })
    }

    /// The torn tail recovery removed on open, if any.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one event; returns its sequence number in this writer's
    /// session (1-based). Durable once [`EventLog::durable_seq`] reaches it.
    pub fn append(&mut self, event: &InteractionEvent) -> Result<u64> {
        let mut line = Vec::new();
        self.encode(event, &mut line)?;
        self.out.write_all(&line).at(&self.segment_path)?;
        self.segment_bytes += line.len() as u64;
        self.appended += 1;
        self.since_sync += 1;
        let must_sync = match self.config.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Group { max_events } => self.since_sync >= max_events,
            SyncPolicy::Manual => false,
        };
        if must_sync {
            self.sync()?;
        }
        if self.segment_bytes >= self.config.max_segment_bytes {
            self.rotate()?;
        }
        Ok(self.appended)
    }

    /// Checks `event` and appends its NDJSON line to `buf`.
    fn encode(&self, event: &InteractionEvent, buf: &mut Vec<u8>) -> Result<()> {
        event.validate().map_err(|(field, why)| {
            Error::InvalidArgument(format!(
                "event {}: field `{field}`: {why}",
                event.event_id()
            ))
        })?;
        serde_json::to_writer(&mut *buf, event)
            .map_err(|e| Error::io(&self.segment_path, std::io::Error::other(e)))?;
        buf.push(b'\n');
        Ok(())
    }

    /// Appends a batch and commits it: one fsync for the lot (group commit).
    pub fn append_batch(&mut self, events: &[InteractionEvent]) -> Result<u64> {
        for e in events {
            self.append(e)?;
        }
        self.commit()
    }

    /// Appends `events` as one unit and makes them durable (one fsync):
    /// every event is checked before anything is written, and when the write
    /// or the fsync fails the segment is cut back to where the batch began,
    /// so the log holds all of the batch or none of it. Returns the sequence
    /// number of its last event. For a server acknowledging a request's
    /// events together.
    pub fn append_all(&mut self, events: &[InteractionEvent]) -> Result<u64> {
        let mut buf = Vec::new();
        for event in events {
            self.encode(event, &mut buf)?;
        }
        // Earlier appends out of the buffer first: the batch starts at a
        // known length and is written past the buffer.
        self.sync()?;
        let start = self.segment_bytes;
        let file = self.out.get_mut();
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let cut = file.set_len(start).and_then(|()| file.sync_data());
            return Err(match cut {
                Ok(()) => Error::io(&self.segment_path, e),
                Err(c) => Error::io(
                    &self.segment_path,
                    std::io::Error::other(format!(
                        "{e}; cutting the partial batch back also failed ({c}): reopening the log drops its torn tail"
                    )),
                ),
            });
        }
        self.segment_bytes += buf.len() as u64;
        self.appended += events.len() as u64;
        self.durable = self.appended;
        if self.segment_bytes >= self.config.max_segment_bytes {
            self.rotate()?;
        }
        Ok(self.appended)
    }

    /// Makes everything appended so far durable; returns the acknowledged sequence number.
    pub fn commit(&mut self) -> Result<u64> {
        if self.durable < self.appended {
            self.sync()?;
        }
        Ok(self.durable)
    }

    /// Highest sequence number known durable.
    pub fn durable_seq(&self) -> u64 {
        self.durable
    }

    fn sync(&mut self) -> Result<()> {
        self.out.flush().at(&self.segment_path)?;
        self.out.get_ref().sync_data().at(&self.segment_path)?;
        self.durable = self.appended;
        self.since_sync = 0;
        Ok(())
    }

    /// Closes the active segment and starts the next one.
    pub fn rotate(&mut self) -> Result<()> {
        self.sync()?;
        self.segment_no += 1;
        self.segment_path = self.dir.join(segment_name(self.segment_no, "ndjson"));
        let file = open_segment(&self.segment_path)?;
        sync_dir(&self.dir)?;
        self.out = BufWriter::with_capacity(1 << 20, file);
        self.segment_bytes = 0;
        tracing::debug!(segment = self.segment_no, "interaction log: rotated");
        Ok(())
    }

    /// Commits and closes.
    pub fn close(mut self) -> Result<u64> {
        self.commit()
    }
}

/// Opens the segment at `path` for appending and takes its exclusive lock
/// (advisory, released when the file is closed): a second writer on the
/// same folder is refused instead of interleaving its lines.
fn open_segment(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .at(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::InvalidArgument(format!(
            "{}: another writer holds this log (one writer per folder)",
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Cuts an unterminated or unparsable final line off `path`.
fn recover_tail(path: &Path) -> Result<Option<Recovery>> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .at(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).at(path)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    // Start of the final line: after the last '\n' that is not the last byte.
    let body_end = if bytes.last() == Some(&b'\n') {
        bytes.len() - 1
    } else {
        bytes.len()
    };
    let start = bytes[..body_end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line_no = bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let last = &bytes[start..body_end];
    let reason = if bytes.last() != Some(&b'\n') {
        Some("unterminated (write cut short)".to_owned())
    } else {
        match serde_json::from_slice::<InteractionEvent>(last) {
            Ok(_) => None,
            Err(_) if last.iter().all(|b| b.is_ascii_whitespace()) => None,
            Err(e) => Some(format!("unparsable final line: {e}")),
        }
    };
    let Some(reason) = reason else {
        return Ok(None);
    };
    file.set_len(start as u64).at(path)?;
    file.seek(SeekFrom::End(0)).at(path)?;
    file.sync_all().at(path)?;
    Ok(Some(Recovery {
        segment: path.to_path_buf(),
        line: line_no,
        dropped_bytes: (bytes.len() - start) as u64,
        reason,
    }))
}

#[cfg(test)]
mod tests;
