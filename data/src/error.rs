//! The one error type of `hyrank-data`, and [`ErrorKind`], the kind every
//! hyrank crate's error reports.
//!
//! The kind says who can act on an error: the caller (the input was wrong,
//! something it named does not exist, it conflicts with the current state),
//! nobody right now (unavailable), or us (internal). The API maps kinds to
//! HTTP statuses in one place and the CLI to exit codes.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure an error is. Every hyrank crate's `Error::kind`
/// answers with one, so that a caller maps errors to answers in one place
/// (HTTP statuses in `hyrank-api`, exit codes in the `hyrank` binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller's input was wrong: a malformed record, a bad argument.
    InvalidInput,
    /// Something the caller named does not exist (a file, a model id).
    NotFound,
    /// The request conflicts with the current state (another process is
    /// writing the folder).
    Conflict,
    /// A resource is not available now; the same request may work later.
    Unavailable,
    /// We failed: I/O, a damaged file of ours, a broken invariant.
    Internal,
}

impl ErrorKind {
    /// True when the caller can fix it (HTTP 4xx).
    pub fn is_caller_error(self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Conflict
        )
    }

    /// The `hyrank` binary's exit code for errors of this kind: 2 invalid
    /// input, 3 not found, 4 conflict, 5 unavailable, 1 internal.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::InvalidInput => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::Conflict => 4,
            ErrorKind::Unavailable => 5,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        })
    }
}

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
    /// Another process holds what this one needs (a data folder being written).
    #[error("{0}")]
    Conflict(String),
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

    /// The kind: a malformed record or a bad argument is invalid input; a
    /// file that does not exist is not found; a folder another process
    /// writes is a conflict; other I/O and a damaged log are internal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse { .. } | Error::InvalidArgument(_) | Error::Parquet { .. } => {
                ErrorKind::InvalidInput
            }
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } | Error::Log { .. } => ErrorKind::Internal,
        }
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
