//! Dynamic client registration (RFC 7591) and the registration's own
//! management (RFC 7592): an app describes itself in RFC 7591's metadata
//! and is registered under exactly the rules an admin's registration
//! follows (`clients::check`): the same redirect URIs, scopes and grants,
//! never `trusted`. Off unless `DYNAMIC_REGISTRATION=token`; then each
//! registration spends an initial access token an operator made.

use serde::{Deserialize, Serialize};

use super::clients::{Refusal, Registration};
use crate::store::{clients::ClientRow, rfc3339};

/// How an app that registers itself may authenticate at the token
/// endpoint (RFC 7591 §2).
pub const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// The metadata an app sends (RFC 7591 §2, OpenID Connect Dynamic Client
/// Registration §2, RFC 9126 §6). Members this server does not know are
/// ignored, as RFC 7591 §2 asks.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    /// Space-separated.
    pub scope: Option<String>,
    pub jwks_uri: Option<String>,
    /// A key set by value: not taken (only `jwks_uri`).
    pub jwks: Option<serde_json::Value>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub require_pushed_authorization_requests: bool,
}

/// Why metadata was refused (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    /// `invalid_redirect_uri` or `invalid_client_metadata`.
    pub error: &'static str,
    pub description: String,
}

impl MetadataError {
    fn metadata(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_client_metadata",
            description: description.into(),
        }
    }

    /// The registry's refusals, as RFC 7591 names them: a redirect URI's
    /// first, since that has a code of its own.
    pub fn of(refusals: &[Refusal]) -> Self {
        let redirect = refusals
            .iter()
            .any(|r| r.field == "redirect_uris" || r.field == "post_logout_redirect_uris");
        Self {
            error: if redirect {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            },
            description: refusals
                .iter()
                .map(|r| format!("{}: {}", r.field, r.why))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// The registration `metadata` asks for, or why it cannot be made.
pub fn registration_of(metadata: Metadata) -> Result<Registration, MetadataError> {
    let method = metadata
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    if !AUTH_METHODS.contains(&method) {
        return Err(MetadataError::metadata(
            "token_endpoint_auth_method is client_secret_basic, client_secret_post, private_key_jwt or none.",
        ));
    }
    if (method == "private_key_jwt") != metadata.jwks_uri.is_some() {
        return Err(MetadataError::metadata(
            "private_key_jwt goes with a jwks_uri, and a jwks_uri with private_key_jwt.",
        ));
    }
    if metadata.jwks.is_some() {
        return Err(MetadataError::metadata(
            "jwks by value is not taken: register a jwks_uri.",
        ));
    }
    if let Some(types) = &metadata.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(MetadataError::metadata(
            "Only the response type code is offered.",
        ));
    }
    // An app's access for itself (grades:read with no person asking) is
    // given by an administrator, never taken by a registration.
    if metadata
        .grant_types
        .as_ref()
        .is_some_and(|grants| grants.iter().any(|g| g == "client_credentials"))
    {
        return Err(MetadataError::metadata(
            "client_credentials is registered by an administrator: an app's access for itself needs one.",
        ));
    }
    let Some(name) = metadata.client_name.filter(|n| !n.trim().is_empty()) else {
        return Err(MetadataError::metadata(
            "client_name is required: people see it when the app asks them.",
        ));
    };
    Ok(Registration {
        name,
        redirect_uris: metadata.redirect_uris,
        public: method == "none",
        scopes: metadata
            .scope
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        // Only an operator may spare people the consent page.
        trusted: false,
        post_logout_redirect_uris: metadata.post_logout_redirect_uris,
        backchannel_logout_uri: metadata.backchannel_logout_uri,
        grant_types: metadata.grant_types.unwrap_or_default(),
        jwks_uri: metadata.jwks_uri,
        id_token_signed_response_alg: metadata.id_token_signed_response_alg,
        require_par: metadata.require_pushed_authorization_requests,
    })
}

/// What the registration endpoint answers about an app (RFC 7591 §3.2.1):
/// its metadata as registered, and with the registration its secret and
/// registration access token, shown this once.
#[derive(Debug, Serialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Seconds since the epoch.
    pub client_id_issued_at: i64,
    /// `0`: the secret does not expire (only with a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    pub grant_types: Vec<String>,
    pub response_types: [&'static str; 1],
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: String,
    pub require_pushed_authorization_requests: bool,
    /// When it was registered, as people read dates (RFC 3339).
    pub created_at: String,
}

impl Registered {
    /// `row` as registered, its configuration at `uri`; `secret` and
    /// `access_token` only when they were just made.
    pub fn of(
        row: &ClientRow,
        uri: String,
        (secret, access_token): (Option<String>, Option<String>),
        auth_method: Option<&str>,
    ) -> Self {
        let list = |text: &str| text.split_whitespace().map(str::to_owned).collect();
        let method = match (&row.secret_hash, &row.jwks_uri) {
            (None, _) => "none",
            (Some(_), Some(_)) => "private_key_jwt",
            (Some(_), None) if auth_method == Some("client_secret_post") => "client_secret_post",
            (Some(_), None) => "client_secret_basic",
        };
        Self {
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            client_id: row.id.clone(),
            client_secret: secret,
            client_id_issued_at: row.created_at / 1000,
            registration_access_token: access_token,
            registration_client_uri: uri,
            client_name: row.name.clone(),
            redirect_uris: list(&row.redirect_uris),
            token_endpoint_auth_method: method,
            grant_types: list(&row.grant_types),
            response_types: ["code"],
            scope: row.scopes.clone(),
            jwks_uri: row.jwks_uri.clone(),
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            backchannel_logout_uri: row.backchannel_logout_uri.clone(),
            id_token_signed_response_alg: row.id_token_signed_response_alg.clone(),
            require_pushed_authorization_requests: row.require_par,
            created_at: rfc3339(row.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: serde_json::Value) -> Metadata {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn metadata_becomes_a_registration_by_the_same_rules() {
        let asked = registration_of(metadata(serde_json::json!({
            "client_name": "Timetable",
            "redirect_uris": ["https://timetable.example/cb"],
            "token_endpoint_auth_method": "none",
            "scope": "openid profile",
            "unknown_member": true,
        })))
        .unwrap();
        assert!(asked.public && !asked.trusted);
        assert_eq!(asked.scopes, ["openid", "profile"]);
        let confidential = registration_of(metadata(serde_json::json!({
            "client_name": "Web", "redirect_uris": ["https://web.example/cb"],
        })))
        .unwrap();
        assert!(!confidential.public);
        for refused in [
            serde_json::json!({"redirect_uris": ["https://a.example/cb"]}),
            serde_json::json!({"client_name": " "}),
            serde_json::json!({"client_name": "A", "token_endpoint_auth_method": "client_secret_jwt"}),
            serde_json::json!({"client_name": "A", "token_endpoint_auth_method": "private_key_jwt"}),
            serde_json::json!({"client_name": "A", "jwks_uri": "https://a.example/jwks"}),
            serde_json::json!({"client_name": "A", "jwks": {"keys": []}}),
            serde_json::json!({"client_name": "A", "response_types": ["token"]}),
            serde_json::json!({"client_name": "A", "grant_types": ["client_credentials"]}),
        ] {
            let error = registration_of(metadata(refused.clone())).unwrap_err();
            assert_eq!(error.error, "invalid_client_metadata", "{refused}");
        }
    }
}
