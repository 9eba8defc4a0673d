//! Small helpers over arrow-rs / parquet: typed column access that names the
//! file, row and column when a file does not have the shape we expect.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, IoContext, Location, Result};

/// Streams the record batches of a parquet file.
/// A Git LFS pointer in place of the file is refused with a hint.
pub fn read_batches(path: &Path) -> Result<impl Iterator<Item = Result<RecordBatch>>> {
    crate::formats::refuse_lfs_pointer(path)?;
    let file = File::open(path).at(path)?;
    let perr = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(perr)?
        .with_batch_size(8192)
        .build()
        .map_err(perr)?;
    let p = path.to_path_buf();
    Ok(reader.map(move |b| {
        b.map_err(|e| Error::Parquet {
            path: p.clone(),
            message: e.to_string(),
        })
    }))
}

/// A batch seen through column names, with the file name and the row offset
/// of the batch for error messages.
#[derive(Debug)]
pub struct Columns<'a> {
    batch: &'a RecordBatch,
    path: PathBuf,
    row_offset: u64,
}

impl<'a> Columns<'a> {
    /// Wraps a batch.
    pub fn new(batch: &'a RecordBatch, path: &Path, row_offset: u64) -> Self {
        Self {
            batch,
            path: path.to_path_buf(),
            row_offset,
        }
    }

    fn at(&self, row: usize, col: &str) -> Location {
        Location::new(&self.path, self.row_offset + row as u64 + 1).field(col)
    }

    fn column(&self, name: &str) -> Result<&'a dyn Array> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| {
                let names: Vec<String> = self
                    .batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                Error::parse(
                    Location::new(&self.path, 0).field(name),
                    format!("missing column `{name}` (columns: {})", names.join(", ")),
                )
            })
    }

    /// True when the column exists.
    pub fn has(&self, name: &str) -> bool {
        self.batch.column_by_name(name).is_some()
    }

    /// A string column (Utf8, LargeUtf8 or Utf8View) as owned options.
    pub fn strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        let col = self.column(name)?;
        let get = |i: usize| -> Option<String> {
            if col.is_null(i) {
                return None;
            }
            Some(match col.data_type() {
                DataType::Utf8 => col.as_string::<i32>().value(i).to_owned(),
                DataType::LargeUtf8 => col.as_string::<i64>().value(i).to_owned(),
                DataType::Utf8View => col.as_string_view().value(i).to_owned(),
                _ => unreachable!(),
            })
        };
        match col.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Ok((0..col.len()).map(get).collect())
            }
            other => Err(Error::parse(
                Location::new(&self.path, 0).field(name),
                format!("expected a string column, found {other}"),
            )),
        }
    }

    /// A string column whose every value must be present.
    pub fn required_strings(&self, name: &str) -> Result<Vec<String>> {
        self.strings(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| Error::parse(self.at(i, name), "null in a required column"))
            })
            .collect()
    }

    /// An integer column (Int32 or Int64; integral strings are accepted too).
    pub fn ints(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let col = self.column(name)?;
        match col.data_type() {
            DataType::Int64 => {
                let a = col.as_primitive::<Int64Type>();
                Ok((0..a.len())
                    .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                    .collect())
            }
            DataType::Int32 => {
                let a = col.as_primitive::<Int32Type>();
                Ok((0..a.len())
                    .map(|i| (!a.is_null(i)).then(|| i64::from(a.value(i))))
                    .collect())
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => self
                .strings(name)?
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    None => Ok(None),
                    Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                        Error::parse(self.at(i, name), format!("`{s}` is not an integer"))
                    }),
                })
                .collect(),
            other => Err(Error::parse(
                Location::new(&self.path, 0).field(name),
                format!("expected an integer column, found {other}"),
            )),
        }
    }

    /// A float column (Float32/Float64; integers are widened).
    pub fn floats(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let col = self.column(name)?;
        match col.data_type() {
            DataType::Float64 => {
                let a = col.as_primitive::<Float64Type>();
                Ok((0..a.len())
                    .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                    .collect())
            }
            DataType::Float32 => {
                let a = col.as_primitive::<Float32Type>();
                Ok((0..a.len())
                    .map(|i| (!a.is_null(i)).then(|| f64::from(a.value(i))))
                    .collect())
            }
            DataType::Int64 | DataType::Int32 => Ok(self
                .ints(name)?
                .into_iter()
                .map(|v| v.map(|x| x as f64))
                .collect()),
            other => Err(Error::parse(
                Location::new(&self.path, 0).field(name),
                format!("expected a numeric column, found {other}"),
            )),
        }
    }
}

/// One column of a table written by [`write_table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// UTF-8 strings.
    Str(Vec<String>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// 32-bit floats.
    F32(Vec<f32>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::F32(v) => v.len(),
        }
    }
}

/// Writes named columns of equal length as one Parquet file (snappy), atomically.
pub fn write_table(path: &Path, columns: Vec<(String, Column)>) -> Result<()> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, Int64Array, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let perr = |message: String| Error::Parquet {
        path: path.to_path_buf(),
        message,
    };
    if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != columns[0].1.len()) {
        return Err(perr(format!(
            "column `{name}` has {} values, `{}` {}",
            c.len(),
            columns[0].0,
            columns[0].1.len()
        )));
    }
    let arrays = columns.into_iter().map(|(name, c)| {
        let a: ArrayRef = match c {
            Column::Str(v) => Arc::new(StringArray::from(v)),
            Column::I64(v) => Arc::new(Int64Array::from(v)),
            Column::F32(v) => Arc::new(Float32Array::from(v)),
        };
        (name, a)
    });
    let batch = RecordBatch::try_from_iter(arrays).map_err(|e| perr(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut file = crate::fsio::AtomicFile::create(path)?;
    {
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), Some(props))
            .map_err(|e| perr(e.to_string()))?;
        w.write(&batch).map_err(|e| perr(e.to_string()))?;
        w.close().map_err(|e| perr(e.to_string()))?;
    }
    file.commit()
}
