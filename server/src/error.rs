//! One error type for every handler. Its `IntoResponse` writes the contract's
//! JSON error body with the headers that go with it (`WWW-Authenticate`,
//! `Retry-After`); server-side failures are logged with their cause and
//! answered without it.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use classboard::{ErrorBody, ErrorCode, FieldIssue, validate::Issue};

use crate::auth::jwt::TokenError;

/// The header a server's DPoP nonce is given in (RFC 9449 §8).
pub const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed JSON, a missing field, or a bad query parameter.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldIssue>),
    /// A `422` whose fields' issues a sentence explains (which rule a
    /// redirect URI broke, say).
    #[error("validation failed: {1}")]
    Explained(Vec<FieldIssue>, String),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A wrong password or code where the caller is already known
    /// (re-authentication, a login's second step); the sentence says which.
    #[error("wrong proof: {0}")]
    WrongProof(&'static str),
    /// No bearer credentials at all: the bare challenge.
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid token: {0}")]
    InvalidToken(TokenError),
    /// A DPoP proof refused (RFC 9449 §7.1); the sentence says why.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// A DPoP proof without a current nonce: this one is to be used.
    #[error("DPoP proof without the current nonce")]
    UseDpopNonce(String),
    /// A refresh token that is unknown, expired, spent or revoked.
    #[error("invalid grant")]
    InvalidGrant,
    /// An `mfa_token` that is unknown, expired, used or ended.
    #[error("invalid grant: mfa_token")]
    InvalidMfaToken,
    /// An unknown, expired or used passkey ceremony.
    #[error("invalid grant: passkey ceremony")]
    CeremonyGone,
    /// A mailed link's token that is unknown, expired, used or replaced by
    /// a newer one.
    #[error("invalid grant: mailed token")]
    MailedTokenGone,
    /// A refresh token whose session reuse detection ended.
    #[error("invalid grant: session ended by reuse detection")]
    EndedForSafety,
    /// A valid bearer token whose holder may not do this.
    #[error("insufficient scope: {0}")]
    InsufficientScope(&'static str),
    /// An app's token whose scope does not allow this route: the scope it
    /// would need, or `None` where no app's token may go.
    #[error("an app's token lacks the scope {0:?}")]
    AppScope(Option<&'static str>),
    /// An action that takes a recently proven session, from one that is not.
    #[error("reauthentication required")]
    ReauthRequired,
    /// A cookie-authenticated request from another origin.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// The right password of an account an admin locked.
    #[error("account locked")]
    Locked,
    #[error("no such resource")]
    NotFound,
    /// Nothing by this name, said in a sentence (a code that names nothing
    /// waiting).
    #[error("not found: {0}")]
    NotFoundBecause(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("payload too large")]
    PayloadTooLarge,
    /// The request body did not arrive within the read timeout.
    #[error("request body not received in time")]
    RequestTimeout,
    /// Every password-hashing slot is taken; the client should retry soon.
    #[error("password hashing is at capacity")]
    Busy,
    /// The process cannot answer correctly right now (readiness).
    #[error("not ready: {0}")]
    NotReady(&'static str),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A dependency (the database) cannot serve requests right now: a lost
    /// or refused connection (see `store::is_unavailable`).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error: a bug, or data that breaks a rule.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 422 for one field.
    pub fn invalid_field(field: &str, issue: Issue) -> Self {
        Self::validation([(field, Some(issue))])
    }

    /// The same error, with a 422's issues of field `from` named `to`.
    pub fn renamed_field(self, from: &str, to: &str) -> Self {
        match self {
            Self::Validation(details) => Self::Validation(
                details
                    .into_iter()
                    .map(|issue| FieldIssue {
                        field: if issue.field == from {
                            to.to_owned()
                        } else {
                            issue.field
                        },
                        ..issue
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// A 422 listing every field that has an issue.
    pub fn validation<'a>(fields: impl IntoIterator<Item = (&'a str, Option<Issue>)>) -> Self {
        Self::Validation(
            fields
                .into_iter()
                .filter_map(|(field, issue)| {
                    issue.map(|i| FieldIssue {
                        field: field.into(),
                        issue: i.code().into(),
                    })
                })
                .collect(),
        )
    }

    fn body(&self) -> ErrorBody {
        use ErrorCode as C;
        match self {
            Self::InvalidRequest(why) => ErrorBody::new(C::InvalidRequest, why.clone()),
            Self::Validation(details) => ErrorBody {
                error: C::ValidationFailed,
                error_description: describe(details),
                details: details.clone(),
            },
            Self::Explained(details, why) => ErrorBody {
                error: C::ValidationFailed,
                error_description: why.clone(),
                details: details.clone(),
            },
            Self::InvalidCredentials => ErrorBody::new(
                C::InvalidCredentials,
                "The username, email or password is not correct.",
            ),
            Self::WrongProof(why) => ErrorBody::new(C::InvalidCredentials, *why),
            Self::MissingToken => {
                ErrorBody::new(C::InvalidToken, "This request needs a bearer access token.")
            }
            Self::InvalidToken(why) => ErrorBody::new(C::InvalidToken, why.to_string()),
            Self::InvalidDpopProof(why) => ErrorBody::new(C::InvalidDpopProof, *why),
            Self::UseDpopNonce(_) => ErrorBody::new(
                C::UseDpopNonce,
                "Send the proof again with the nonce in the DPoP-Nonce header.",
            ),
            Self::InvalidGrant => ErrorBody::new(
                C::InvalidGrant,
                "The refresh token is not valid: it is unknown, expired, already used or revoked.",
            ),
            Self::InvalidMfaToken => ErrorBody::new(
                C::InvalidGrant,
                "This sign-in step has expired or was already used. Please log in again.",
            ),
            Self::CeremonyGone => ErrorBody::new(
                C::InvalidGrant,
                "This passkey request has expired or was already used. Please start again.",
            ),
            Self::MailedTokenGone => ErrorBody::new(
                C::InvalidGrant,
                "This link has expired, was already used, or a newer one was sent. Ask for a new one.",
            ),
            Self::EndedForSafety => {
                ErrorBody::new(C::InvalidGrant, classboard::api::ENDED_FOR_SAFETY)
            }
            Self::InsufficientScope(why) => ErrorBody::new(C::Forbidden, *why),
            Self::AppScope(Some(scope)) => ErrorBody::new(
                C::Forbidden,
                format!("This app's token does not allow this: it needs the scope {scope}."),
            ),
            Self::AppScope(None) => ErrorBody::new(
                C::Forbidden,
                "An app's token cannot be used here: this is the person's own.",
            ),
            Self::ReauthRequired => ErrorBody::new(
                C::ReauthRequired,
                "Confirm it is you first (POST /api/account/reauth): this takes a recently proven session.",
            ),
            Self::CrossOrigin => ErrorBody::new(
                C::Forbidden,
                "Requests from another site are not accepted here.",
            ),
            Self::Locked => ErrorBody::new(
                C::Forbidden,
                "This account is locked. Ask an administrator to unlock it.",
            ),
            Self::NotFound => ErrorBody::new(C::NotFound, "There is nothing at this address."),
            Self::NotFoundBecause(why) => ErrorBody::new(C::NotFound, *why),
            Self::MethodNotAllowed => {
                ErrorBody::new(C::InvalidRequest, "This method is not allowed here.")
            }
            Self::Conflict(why) => ErrorBody::new(C::Conflict, *why),
            Self::PayloadTooLarge => ErrorBody::new(
                C::PayloadTooLarge,
                "The request body is larger than 64 KiB.",
            ),
            Self::RequestTimeout => ErrorBody::new(
                C::InvalidRequest,
                "The request body was not received in time.",
            ),
            Self::Busy => {
                ErrorBody::new(C::Unavailable, "The server is busy. Try again in a moment.")
            }
            Self::NotReady(_) => {
                ErrorBody::new(C::Unavailable, "The service is temporarily unavailable.")
            }
            Self::UnsupportedMediaType => ErrorBody::new(
                C::UnsupportedMediaType,
                "Send the body as application/json.",
            ),
            Self::RateLimited { retry_after_secs } => ErrorBody::new(
                C::RateLimited,
                format!("Too many attempts. Try again in {retry_after_secs} seconds."),
            ),
            Self::Unavailable(_) => {
                ErrorBody::new(C::Unavailable, "The service is temporarily unavailable.")
            }
            Self::Database(_) | Self::Internal(_) => ErrorBody::new(
                C::Internal,
                "Something went wrong on our side. Please try again.",
            ),
        }
    }

    fn status(&self, body: &ErrorBody) -> StatusCode {
        match self {
            Self::MissingToken => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::from_u16(body.error.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The RFC 6750 §3 challenge, for errors of bearer-protected routes.
    fn challenge(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some(r#"Bearer realm="api""#.into()),
            Self::InvalidToken(why @ TokenError::NeedsProof) => Some(format!(
                r#"DPoP algs="{algs}", error="invalid_token", error_description="{why}""#,
                algs = crate::auth::dpop::ALGORITHMS.join(" ")
            )),
            Self::InvalidToken(why) => Some(format!(
                r#"Bearer realm="api", error="invalid_token", error_description="{why}""#
            )),
            Self::InvalidDpopProof(why) => Some(format!(
                r#"DPoP algs="{algs}", error="invalid_dpop_proof", error_description="{why}""#,
                algs = crate::auth::dpop::ALGORITHMS.join(" ")
            )),
            Self::UseDpopNonce(_) => Some(format!(
                r#"DPoP algs="{algs}", error="use_dpop_nonce", error_description="The proof needs the nonce of the DPoP-Nonce header.""#,
                algs = crate::auth::dpop::ALGORITHMS.join(" ")
            )),
            Self::InsufficientScope(_) | Self::AppScope(None) => {
                Some(r#"Bearer realm="api", error="insufficient_scope""#.into())
            }
            Self::AppScope(Some(scope)) => Some(format!(
                r#"Bearer realm="api", error="insufficient_scope", scope="{scope}""#
            )),
            _ => None,
        }
    }
}

fn describe(details: &[FieldIssue]) -> String {
    match details {
        [one] => Issue::from_code(&one.issue)
            .map_or_else(|| "A field is invalid.".into(), |i| i.message(&one.field)),
        _ => "Some fields are invalid; see details.".into(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = self.body();
        let status = self.status(&body);
        match self {
            // Load shed on purpose, not a failure.
            Self::Busy | Self::NotReady(_) => tracing::warn!(error = %self, "request refused"),
            // Not this server's fault, and the client may try again.
            Self::Unavailable(_) => {
                tracing::warn!(error = %self, "request refused: the database is unavailable");
            }
            // The cause goes to the log only; the client gets the generic sentence.
            _ if status.is_server_error() => tracing::error!(error = %self, "request failed"),
            _ => {}
        }
        let challenge = self.challenge();
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        match self {
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Self::UseDpopNonce(nonce) => {
                if let Ok(nonce) = HeaderValue::from_str(&nonce) {
                    headers.insert(DPOP_NONCE, nonce);
                }
            }
            // A hash takes tens of milliseconds: a slot frees up within a second;
            // a database restarting takes about as long.
            Self::Busy | Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            _ => {}
        }
        response
    }
}

impl From<crate::auth::dpop::DpopError> for AppError {
    fn from(e: crate::auth::dpop::DpopError) -> Self {
        use crate::auth::dpop::DpopError as D;
        match e {
            D::Invalid(why) => Self::InvalidDpopProof(why),
            D::UseNonce(nonce) => Self::UseDpopNonce(nonce),
            D::Database(e) => e.into(),
        }
    }
}

impl From<crate::auth::limits::Exceeded> for AppError {
    fn from(e: crate::auth::limits::Exceeded) -> Self {
        Self::RateLimited {
            retry_after_secs: e.retry_after_secs,
        }
    }
}

impl From<crate::auth::password::HashError> for AppError {
    fn from(e: crate::auth::password::HashError) -> Self {
        match e {
            crate::auth::password::HashError::Busy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Every operation's other answers: an error, in the contract's one error
/// body (`error`, `error_description`, `details` for `validation_failed`).
#[derive(utoipa::IntoResponses)]
#[response(status = "default", description = "An error; the body says which")]
pub struct Failure(#[allow(dead_code)] classboard::ErrorBody);

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: AppError) -> (StatusCode, String) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn server_errors_never_send_their_cause() {
        let cause = sqlx::Error::Protocol("table users is locked by /var/db/app.db".into());
        let (status, body) = body_of(AppError::Database(cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains(r#""error":"internal""#), "{body}");
        assert!(
            !body.contains("users") && !body.contains("/var/db"),
            "{body}"
        );
        let (status, body) =
            body_of(AppError::Internal("argon2 exploded at 0xdeadbeef".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !body.contains("argon2") && !body.contains("0xdeadbeef"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn rate_limited_answers_carry_retry_after() {
        let response = AppError::RateLimited {
            retry_after_secs: 42,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }
}

impl From<sqlx::Error> for AppError {
    /// A lost or refused connection is `503` with `Retry-After`; any other
    /// database error is `500`.
    fn from(e: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Database(e)
        }
    }
}

impl From<crate::auth::mfa::MfaError> for AppError {
    fn from(e: crate::auth::mfa::MfaError) -> Self {
        match e {
            crate::auth::mfa::MfaError::Database(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::auth::passkeys::PasskeyError> for AppError {
    fn from(e: crate::auth::passkeys::PasskeyError) -> Self {
        match e {
            crate::auth::passkeys::PasskeyError::Database(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::provider::clients::RegistryError> for AppError {
    fn from(e: crate::provider::clients::RegistryError) -> Self {
        use crate::provider::clients::RegistryError as R;
        match e {
            R::Refused(refusals) => {
                let mut details: Vec<FieldIssue> = Vec::new();
                for refusal in &refusals {
                    let issue = FieldIssue {
                        field: refusal.field.into(),
                        issue: refusal.issue.code().into(),
                    };
                    if !details.contains(&issue) {
                        details.push(issue);
                    }
                }
                let why = refusals
                    .iter()
                    .map(|r| format!("{}: {}", r.field, r.why))
                    .collect::<Vec<_>>()
                    .join(" ");
                Self::Explained(details, why)
            }
            R::Unknown(_) => Self::NotFound,
            R::Public(_) => Self::Conflict("This app is public: it has no secret."),
            R::KeysOnly(_) => Self::Conflict(
                "This app authenticates with the keys of its JWKS: it has no secret to replace.",
            ),
            R::ChangedMeanwhile(_) => {
                Self::Conflict("The app's secret was replaced meanwhile; ask again for a new one.")
            }
            R::TokenNotLive => Self::InvalidToken(crate::auth::jwt::TokenError::Revoked),
            R::Database(e) => e.into(),
        }
    }
}

impl From<crate::auth::proof::ProofError> for AppError {
    fn from(e: crate::auth::proof::ProofError) -> Self {
        use crate::auth::proof::ProofError as P;
        match e {
            P::Missing(fields) => Self::validation(
                fields
                    .into_iter()
                    .map(|(field, issue)| (field, Some(issue))),
            ),
            P::Wrong(why) => Self::WrongProof(why),
            P::ReauthRequired => Self::ReauthRequired,
            P::CeremonyGone => Self::CeremonyGone,
            P::SessionEnded => Self::InvalidToken(TokenError::Revoked),
            P::Limited(exceeded) => exceeded.into(),
            P::Hash(e) => e.into(),
            P::Database(e) => e.into(),
            P::Factors(e) => e.into(),
            P::Passkeys(e) => e.into(),
        }
    }
}
