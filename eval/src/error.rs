//! The one error type of `hyrank-eval`.

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-eval`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// True when the caller's input was wrong (maps to HTTP 4xx).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Data(e) => e.is_user_error(),
            Error::InvalidArgument(_) => true,
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
    }
}
