//! The one error body every API failure is answered with (see `docs/API.md`).

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code. Clients branch on this, never on
/// the human sentence beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    ValidationFailed,
    InvalidCredentials,
    InvalidToken,
    /// A DPoP proof (RFC 9449) that is malformed, stale, replayed, or for
    /// another request or key.
    InvalidDpopProof,
    /// A DPoP proof without this server's current nonce: send it again
    /// with the nonce of the `DPoP-Nonce` header.
    UseDpopNonce,
    InvalidGrant,
    Forbidden,
    /// The password was right; the account's second factor is next.
    MfaRequired,
    /// A sensitive action that takes a recently proven session
    /// (`POST /api/account/reauth`), and this one is not.
    ReauthRequired,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// The server (or a store it needs) is temporarily unable to answer.
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The HTTP status that always accompanies this code.
    pub const fn status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::InvalidGrant => 400,
            Self::InvalidCredentials
            | Self::InvalidToken
            | Self::InvalidDpopProof
            | Self::UseDpopNonce => 401,
            Self::Forbidden | Self::MfaRequired | Self::ReauthRequired => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ValidationFailed => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidGrant => "invalid_grant",
            Self::Forbidden => "forbidden",
            Self::MfaRequired => "mfa_required",
            Self::ReauthRequired => "reauth_required",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// One invalid field of a request, reported in [`ErrorBody::details`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldIssue {
    pub field: String,
    /// A stable code such as `too_short` or `taken`.
    pub issue: String,
}

/// The JSON body of every error response:
/// `{"error": "...", "error_description": "...", "details": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub error_description: String,
    /// Present only for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldIssue>,
}

impl ErrorBody {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            details: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_serialises_with_contract_field_names() {
        let body = ErrorBody::new(ErrorCode::InvalidToken, "The token has expired.");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_token", "error_description": "The token has expired."})
        );
    }

    #[test]
    fn details_appear_only_when_present() {
        let mut body = ErrorBody::new(ErrorCode::ValidationFailed, "Some fields are invalid.");
        body.details.push(FieldIssue {
            field: "password".into(),
            issue: "too_short".into(),
        });
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["details"][0]["issue"], "too_short");
    }

    #[test]
    fn wire_code_matches_serde_name() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::ValidationFailed,
            ErrorCode::InvalidCredentials,
            ErrorCode::InvalidToken,
            ErrorCode::InvalidGrant,
            ErrorCode::Forbidden,
            ErrorCode::MfaRequired,
            ErrorCode::ReauthRequired,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
