//! The one error type of `hyrank-index`.

use std::path::{Path, PathBuf};

use hyrank_data::ErrorKind;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-index`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An index or model file is missing or corrupt.
    #[error("index {path}: {message}")]
    Corrupt {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No source had the model; every source tried, and why it failed.
    #[error("model not found; tried:\n  - {}", .0.join("\n  - "))]
    ModelNotFound(Vec<String>),
    /// Model files exist but could not be loaded.
    #[error("model {path}: {message}")]
    Model {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// tantivy failed.
    #[error("BM25 index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// candle failed while encoding.
    #[error("encoder: {0}")]
    Candle(#[from] candle_core::Error),
}

impl Error {
    /// The kind (see [`ErrorKind`]): bad parameters are invalid input, a
    /// model no source has is not found, a damaged index or model file and
    /// a failing library are internal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Data(e) => e.kind(),
            Error::InvalidArgument(_) => ErrorKind::InvalidInput,
            Error::ModelNotFound(_) => ErrorKind::NotFound,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Corrupt { .. }
            | Error::Model { .. }
            | Error::Io { .. }
            | Error::Tantivy(_)
            | Error::Candle(_) => ErrorKind::Internal,
        }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_their_kind() {
        let bad_row =
            hyrank_data::Error::parse(hyrank_data::Location::new("x.ndjson", 3), "no title");
        assert_eq!(Error::from(bad_row).kind(), ErrorKind::InvalidInput);
        let io = hyrank_data::Error::io("x", std::io::Error::other("disk"));
        assert_eq!(Error::from(io).kind(), ErrorKind::Internal);
        assert_eq!(
            Error::InvalidArgument("k must be > 0".into()).kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(Error::ModelNotFound(vec![]).kind(), ErrorKind::NotFound);
        let gone = Error::io("x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        let e = Error::ModelNotFound(vec!["a: no".into(), "b: no".into()]).to_string();
        assert!(e.contains("- a: no") && e.contains("- b: no"), "{e}");
    }
}
