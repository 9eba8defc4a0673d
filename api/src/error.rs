//! The one error type of `hyrank-api`, and its HTTP form: user errors are
//! 4xx with the message, failures are 500 with the details in the server log
//! only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hyrank-api`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data-layer error (reading a file, a malformed record).
    #[error(transparent)]
    Data(#[from] hyrank_data::Error),
    /// The caller's input or parameters are invalid (user error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No such route (user error, 404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The server failed in a way no caller can fix (a worker panicked).
    #[error("internal: {0}")]
    Internal(String),
    /// The index layer failed.
    #[error(transparent)]
    Index(#[from] hyrank_index::Error),
    /// The ranker layer failed.
    #[error(transparent)]
    Ranker(#[from] hyrank_ranker::Error),
    /// The evaluation layer failed.
    #[error(transparent)]
    Eval(#[from] hyrank_eval::Error),
}

impl Error {
    /// True when the caller's input was wrong (maps to HTTP 4xx).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Data(e) => e.is_user_error(),
            Error::InvalidArgument(_) | Error::NotFound(_) => true,
            Error::Internal(_) => false,
            Error::Index(e) => e.is_user_error(),
            Error::Ranker(e) => e.is_user_error(),
            Error::Eval(e) => e.is_user_error(),
        }
    }
}

impl Error {
    /// The HTTP status: 404 for routes, 400 for other user errors, 500 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            e if e.is_user_error() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"error": {"status": 400, "message": "..."}}`. A 5xx says only that the
/// server failed; what failed (paths, OS errors) goes to the log.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error (details in the server log)".to_owned()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"status": status.as_u16(), "message": message}});
        (status, Json(body)).into_response()
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
        assert_eq!(Error::NotFound("/x".into()).status(), StatusCode::NOT_FOUND);
        let io = hyrank_data::Error::io("x", std::io::Error::other("disk"));
        assert_eq!(Error::from(io).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
