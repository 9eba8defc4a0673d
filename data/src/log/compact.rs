//! Compaction of closed NDJSON segments into Parquet.
//!
//! Schema: flat, queryable columns (`event_id`, `type`, `timestamp_ms`,
//! `request_id`, `user_id`, `session_id`, `doc_id`, `position`, `query`) and
//! `event`, the whole event as JSON, so that reading back is lossless.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::reader::{list_segments, row_location, SegmentKind};
use super::segment_name;
use crate::error::{Error, IoContext, Result};
use crate::formats::ndjson::NdjsonReader;
use crate::fsio::{sync_dir, AtomicFile};
use crate::parquet_io::{read_batches, Columns};
use crate::types::InteractionEvent;

/// What [`compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Segments converted.
    pub segments: u64,
    /// Events converted.
    pub events: u64,
    /// Bytes of NDJSON removed.
    pub ndjson_bytes: u64,
    /// Bytes of Parquet written.
    pub parquet_bytes: u64,
}

/// Converts every closed NDJSON segment of `dir` (all but the highest-numbered
/// one, which a writer may hold) to Parquet. Run it from the writer's process
/// or while no writer is rotating.
pub fn compact(dir: impl AsRef<Path>) -> Result<CompactReport> {
    let dir = dir.as_ref();
    // A compaction killed while writing leaves a temporary Parquet file.
    crate::fsio::remove_stale_temp_files(dir)?;
    let segments = list_segments(dir)?;
    let last = segments.iter().map(|s| s.number).max();
    let mut report = CompactReport::default();
    for s in segments {
        if s.kind != SegmentKind::Ndjson || Some(s.number) == last {
            continue;
        }
        if s.shadowed {
            fs::remove_file(&s.path).at(&s.path)?;
            continue;
        }
        let events: Vec<InteractionEvent> =
            NdjsonReader::<InteractionEvent>::open(&s.path)?.collect::<Result<_>>()?;
        let target: PathBuf = dir.join(segment_name(s.number, "parquet"));
        write_parquet_segment(&target, &events)?;
        report.ndjson_bytes += fs::metadata(&s.path).at(&s.path)?.len();
        report.parquet_bytes += fs::metadata(&target).at(&target)?.len();
        fs::remove_file(&s.path).at(&s.path)?;
        sync_dir(dir)?;
        report.segments += 1;
        report.events += events.len() as u64;
    }
    Ok(report)
}

fn opt_str(v: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

/// Writes events as one Parquet segment, atomically.
pub fn write_parquet_segment(path: &Path, events: &[InteractionEvent]) -> Result<()> {
    let perr = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut json = Vec::with_capacity(events.len());
    for e in events {
        json.push(Some(
            serde_json::to_string(e).map_err(|err| Error::io(path, std::io::Error::other(err)))?,
        ));
    }
    let batch = RecordBatch::try_from_iter([
        (
            "event_id",
            opt_str(
                events
                    .iter()
                    .map(|e| Some(e.event_id().0.clone()))
                    .collect(),
            ),
        ),
        (
            "type",
            opt_str(events.iter().map(|e| Some(e.kind().to_owned())).collect()),
        ),
        (
            "timestamp_ms",
            Arc::new(Int64Array::from(
                events.iter().map(|e| e.timestamp().0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "request_id",
            opt_str(
                events
                    .iter()
                    .map(|e| e.request_id().map(|r| r.0.clone()))
                    .collect(),
            ),
        ),
        (
            "user_id",
            opt_str(events.iter().map(|e| Some(e.user_id().0.clone())).collect()),
        ),
        (
            "session_id",
            opt_str(
                events
                    .iter()
                    .map(|e| Some(e.session_id().0.clone()))
                    .collect(),
            ),
        ),
        (
            "doc_id",
            opt_str(
                events
                    .iter()
                    .map(|e| e.doc().map(|d| d.0.clone()))
                    .collect(),
            ),
        ),
        (
            "position",
            Arc::new(Int32Array::from(
                events
                    .iter()
                    .map(|e| match e {
                        InteractionEvent::Click(c) => Some(c.position as i32),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "query",
            opt_str(
                events
                    .iter()
                    .map(|e| match e {
                        InteractionEvent::Impression(i) => Some(i.query.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        ),
        ("event", opt_str(json)),
    ])
    .map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut file = AtomicFile::create(path)?;
    {
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), Some(props)).map_err(perr)?;
        w.write(&batch).map_err(perr)?;
        w.close().map_err(perr)?;
    }
    file.commit()
}

/// Reads a Parquet segment back (from its `event` column).
pub fn read_parquet_segment(path: &Path) -> Result<Vec<InteractionEvent>> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for batch in read_batches(path)? {
        let batch = batch?;
        let cols = Columns::new(&batch, path, offset);
        for (i, json) in cols.required_strings("event")?.into_iter().enumerate() {
            let at = row_location(path, offset + i as u64 + 1).field("event");
            let e: InteractionEvent = crate::formats::parse_json(&json, at.clone())?;
            out.push(e);
        }
        offset += batch.num_rows() as u64;
    }
    Ok(out)
}
