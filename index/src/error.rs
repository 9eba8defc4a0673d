//! The one error type of `hyrank-index`.

use std::path::{Path, PathBuf};

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
    /// True when the caller's input was wrong (maps to HTTP 4xx).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Data(e) => e.is_user_error(),
            Error::InvalidArgument(_) => true,
            _ => false,
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
    fn user_errors_are_told_apart_from_failures() {
        let bad_row =
            hyrank_data::Error::parse(hyrank_data::Location::new("x.ndjson", 3), "no title");
        assert!(Error::from(bad_row).is_user_error());
        let io = hyrank_data::Error::io("x", std::io::Error::other("disk"));
        assert!(!Error::from(io).is_user_error());
        assert!(Error::InvalidArgument("k must be > 0".into()).is_user_error());
        let e = Error::ModelNotFound(vec!["a: no".into(), "b: no".into()]).to_string();
        assert!(e.contains("- a: no") && e.contains("- b: no"), "{e}");
    }
}
