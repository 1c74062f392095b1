//! One error type for every handler. Its `IntoResponse` writes the contract's
//! JSON error body; server-side failures are logged with their cause and
//! answered without it.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use classboard::{ErrorBody, ErrorCode};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no such resource")]
    NotFound,
    /// A dependency (the database) cannot serve requests right now.
    #[error("service unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl AppError {
    fn body(&self) -> ErrorBody {
        match self {
            Self::NotFound => {
                ErrorBody::new(ErrorCode::NotFound, "There is nothing at this address.")
            }
            Self::Unavailable(_) => ErrorBody::new(
                ErrorCode::Unavailable,
                "The service is temporarily unavailable.",
            ),
            Self::Database(_) => ErrorBody::new(
                ErrorCode::Internal,
                "Something went wrong on our side. Please try again.",
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = self.body();
        let status =
            StatusCode::from_u16(body.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            // The cause goes to the log only; the client gets the generic sentence.
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "request failed");
        }
        (status, Json(body)).into_response()
    }
}
