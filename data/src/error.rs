//! The one error type of `hyrank-data`.
//!
//! Errors are split the way the API needs them: [`Error::is_user_error`] is
//! true when the *input* was wrong (a malformed row, an unknown format, a bad
//! argument) and false when we failed (I/O, an internal invariant).

use std::fmt;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an input a problem was found: one position (file, 1-based line
/// or row, 1-based column when known) and the field or column name when the
/// problem is in one. Displayed as `file:line:column: field `path``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (or a name such as `<stdin>`).
    pub path: PathBuf,
    /// 1-based line for text formats, 1-based row for Parquet; 0 when unknown.
    pub line: u64,
    /// 1-based column (in characters) on that line, when known.
    pub column: Option<u64>,
    /// The field (JSON path) or column, when the problem is in one.
    pub field: Option<String>,
}

impl Location {
    /// A location at a line of a file.
    pub fn new(path: impl Into<PathBuf>, line: u64) -> Self {
        Self {
            path: path.into(),
            line,
            column: None,
            field: None,
        }
    }

    /// The same location narrowed to a field or column.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same location at a 1-based column of its line.
    #[must_use]
    pub fn column(mut self, column: u64) -> Self {
        self.column = Some(column);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in `hyrank-data`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record of an input file is malformed (user error).
    #[error("{location}: {message}")]
    Parse {
        /// Where.
        location: Location,
        /// What is wrong, in words.
        message: String,
    },
    /// An argument or configuration value is out of its domain (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The interaction log found a state it cannot recover from on its own.
    #[error("interaction log {path}: {message}")]
    Log {
        /// The log folder or segment.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Arrow / Parquet failed on a file that is not malformed in a way we could name.
    #[error("{path}: parquet: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The library's message.
        message: String,
    },
}

impl Error {
    /// A parse error at `location`.
    pub fn parse(location: Location, message: impl Into<String>) -> Self {
        Error::Parse {
            location,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// True when the caller's input was wrong (maps to HTTP 4xx), false when we failed.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::Parse { .. } | Error::InvalidArgument(_))
    }

    /// The location of a parse error, if this is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Parse { location, .. } => Some(location),
            _ => None,
        }
    }
}

/// Adds the path to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
