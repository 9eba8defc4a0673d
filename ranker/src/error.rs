//! The one error type of `hyrank-ranker`.

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-ranker`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The index layer failed (or refused a parameter).
    #[error(transparent)]
    Index(#[from] hyrank_index::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A model id (or the champion) that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with the registry's state (an id taken, a
    /// promotion of the current champion).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A model artefact is missing, corrupt or of another version.
    #[error("model {path}: {message}")]
    Model {
        /// The artefact.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The kind (see [`hyrank_data::ErrorKind`]): a damaged model artefact is internal.
    pub fn kind(&self) -> hyrank_data::ErrorKind {
        match self {
            Error::Data(e) => e.kind(),
            Error::Index(e) => e.kind(),
            Error::InvalidArgument(_) => hyrank_data::ErrorKind::InvalidInput,
            Error::NotFound(_) => hyrank_data::ErrorKind::NotFound,
            Error::Conflict(_) => hyrank_data::ErrorKind::Conflict,
            Error::Model { .. } => hyrank_data::ErrorKind::Internal,
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
