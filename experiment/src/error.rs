//! The one error type of `hyrank-experiment`.

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-experiment`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record, a policy
    /// that failed to rank).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The evaluation layer refused its input.
    #[error(transparent)]
    Eval(#[from] hyrank_eval::Error),
    /// The ranking layer failed (a registry, a model).
    #[error(transparent)]
    Ranker(#[from] hyrank_ranker::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A policy file that does not parse or names unknown keys:
    /// `file:line:column: message`.
    #[error("{0}")]
    Policy(String),
}

impl Error {
    /// The kind (see [`hyrank_data::ErrorKind`]).
    pub fn kind(&self) -> hyrank_data::ErrorKind {
        match self {
            Error::Data(e) => e.kind(),
            Error::Eval(e) => e.kind(),
            Error::Ranker(e) => e.kind(),
            Error::InvalidArgument(_) | Error::Policy(_) => hyrank_data::ErrorKind::InvalidInput,
        }
    }
}
