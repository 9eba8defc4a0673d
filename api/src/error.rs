//! The one error type of `hyrank-api`, and its HTTP form: the error's kind
//! decides the status (in [`Error::status`], the one place); caller errors
//! are 4xx with the message, failures 5xx with the details in the server log
//! only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hyrank_data::ErrorKind;

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
    /// A request body over the server's limit (413).
    #[error("request body too large: {0}")]
    TooLarge(String),
    /// No such route (user error, 404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The server cannot answer now (503): it is shutting down.
    #[error("unavailable: {0}")]
    Unavailable(String),
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
    /// The kind. A lower layer's error is the caller's only when it is
    /// invalid input (a bad parameter); any other failure below, a missing
    /// or damaged file included, is the server's own.
    pub fn kind(&self) -> ErrorKind {
        let below = |k: ErrorKind| {
            if k == ErrorKind::InvalidInput {
                k
            } else {
                ErrorKind::Internal
            }
        };
        match self {
            Error::InvalidArgument(_) | Error::TooLarge(_) => ErrorKind::InvalidInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Unavailable(_) => ErrorKind::Unavailable,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Data(e) => below(e.kind()),
            Error::Index(e) => below(e.kind()),
            Error::Ranker(e) => below(e.kind()),
            Error::Eval(e) => below(e.kind()),
        }
    }

    /// The HTTP status, from the kind (the one place the API maps errors):
    /// invalid input 400 (a body over the limit 413), not found 404,
    /// conflict 409, unavailable 503, internal 500.
    pub fn status(&self) -> StatusCode {
        match (self, self.kind()) {
            (Error::TooLarge(_), _) => StatusCode::PAYLOAD_TOO_LARGE,
            (_, ErrorKind::InvalidInput) => StatusCode::BAD_REQUEST,
            (_, ErrorKind::NotFound) => StatusCode::NOT_FOUND,
            (_, ErrorKind::Conflict) => StatusCode::CONFLICT,
            (_, ErrorKind::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            (_, ErrorKind::Internal) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"error": {"status": 400, "kind": "invalid_input", "message": "..."}}`.
/// A 5xx says only that the server failed; what failed (paths, OS errors)
/// goes to the log.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = self.kind();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            match kind {
                ErrorKind::Unavailable => "the server cannot answer now; retry later".to_owned(),
                _ => "internal error (details in the server log)".to_owned(),
            }
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"status": status.as_u16(), "kind": kind, "message": message}});
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses() {
        let bad_row =
            hyrank_data::Error::parse(hyrank_data::Location::new("x.ndjson", 3), "no title");
        assert_eq!(Error::from(bad_row).status(), StatusCode::BAD_REQUEST);
        let io = hyrank_data::Error::io("x", std::io::Error::other("disk"));
        assert_eq!(Error::from(io).status(), StatusCode::INTERNAL_SERVER_ERROR);
        // A file missing inside the server is the server's failure, not a 404.
        let gone =
            hyrank_data::Error::io("idx/x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(
            Error::from(gone).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            Error::InvalidArgument("k".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Error::TooLarge("2 MB".into()).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(Error::NotFound("/x".into()).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            Error::Unavailable("stopping".into()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
