//! The one error type of `hyrank-training`.

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-training`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The index layer failed.
    #[error(transparent)]
    Index(#[from] hyrank_index::Error),
    /// The ranker layer failed.
    #[error(transparent)]
    Ranker(#[from] hyrank_ranker::Error),
    /// The evaluation layer failed.
    #[error(transparent)]
    Eval(#[from] hyrank_eval::Error),
    /// Training a network failed (a numerical or library error).
    #[error("network training: {0}")]
    Train(String),
}

impl Error {
    /// The kind (see [`hyrank_data::ErrorKind`]), of the layer that failed.
    pub fn kind(&self) -> hyrank_data::ErrorKind {
        match self {
            Error::Data(e) => e.kind(),
            Error::InvalidArgument(_) => hyrank_data::ErrorKind::InvalidInput,
            Error::Index(e) => e.kind(),
            Error::Ranker(e) => e.kind(),
            Error::Eval(e) => e.kind(),
            Error::Train(_) => hyrank_data::ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_their_kind() {
        use hyrank_data::ErrorKind;
        let bad_row =
            hyrank_data::Error::parse(hyrank_data::Location::new("x.ndjson", 3), "no title");
        assert_eq!(Error::from(bad_row).kind(), ErrorKind::InvalidInput);
        let io = hyrank_data::Error::io("x", std::io::Error::other("disk"));
        assert_eq!(Error::from(io).kind(), ErrorKind::Internal);
        assert_eq!(
            Error::InvalidArgument("k must be > 0".into()).kind(),
            ErrorKind::InvalidInput
        );
    }
}
