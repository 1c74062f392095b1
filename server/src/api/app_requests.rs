//! What the provider's form endpoints share (the token, PAR, revocation,
//! introspection and device authorization endpoints): the form, each
//! parameter at most once; the app's authentication, its failures counted;
//! a DPoP proof for the endpoint; and answers in RFC 6749 §5.2's shape,
//! never cached.

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Serialize;

use crate::{
    AppError,
    auth::{
        dpop::{self, DpopError, Proven},
        limits::{Key, RequesterNet},
    },
    error::DPOP_NONCE,
    extract::dpop_header,
    provider::{
        assertions::{ASSERTION_TYPE, claimed_app},
        clients::usable_id,
        tokens::{Credentials, ProviderError, TokenError},
    },
    state::AppState,
    store::clients::ClientRow,
};

/// An error of the provider's form endpoints: RFC 6749 §5.2.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `temporarily_unavailable`, `invalid_dpop_proof`, `use_dpop_nonce`,
    /// and the device grant's `authorization_pending`, `slow_down`,
    /// `access_denied`, `expired_token`.
    error: String,
    error_description: String,
}

/// Gives the app the DPoP nonce to use next (RFC 9449 §8.2).
fn with_nonce(state: &AppState, response: &mut Response) {
    if let Ok(nonce) = HeaderValue::from_str(&state.dpop.nonce()) {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
}

/// Answers every request that came with a DPoP proof (an app's, or the
/// board's own pages') with the nonce for the next one (RFC 9449 §8.2), so
/// a client that keeps the latest meets `use_dpop_nonce` only after a
/// pause of ten minutes or more.
pub(crate) async fn fresh_nonce(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let proved = request.headers().contains_key("dpop");
    let mut response = next.run(request).await;
    if proved && !response.headers().contains_key(DPOP_NONCE) {
        with_nonce(&state, &mut response);
    }
    response
}

/// The request's DPoP proof for the provider's endpoint `path`, checked
/// (RFC 9449 §5), if it sent one. A refusal is the endpoint's RFC 6749
/// §5.2 body: `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to
/// use.
pub(crate) async fn proof_at(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> std::result::Result<Option<Proven>, Response> {
    let proof = match dpop_header(headers) {
        Ok(Some(proof)) => proof,
        Ok(None) => return Ok(None),
        Err(AppError::InvalidDpopProof(why)) => {
            return Err(refuse(TokenError::new("invalid_dpop_proof", why)));
        }
        Err(other) => return Err(other.into_response()),
    };
    let request = dpop::Request {
        method: "POST",
        path,
        access_token: None,
    };
    match state.dpop.check(proof, request).await {
        Ok(proven) => Ok(Some(proven)),
        Err(DpopError::Invalid(why)) => Err(refuse(TokenError::new("invalid_dpop_proof", why))),
        Err(DpopError::UseNonce(nonce)) => {
            let mut response = refuse(TokenError::new(
                "use_dpop_nonce",
                "Send the proof again with the nonce in the DPoP-Nonce header.",
            ));
            if let Ok(nonce) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert(DPOP_NONCE, nonce);
            }
            Err(response)
        }
        Err(DpopError::Database(e)) => Err(provider_error(e.into())),
    }
}

/// The provider's answer as the endpoint sends it: a refusal as its RFC
/// 6749 §5.2 body, a failure as `503` or `429`.
pub(crate) fn answered<T>(
    answer: Result<Result<T, TokenError>, ProviderError>,
) -> Result<T, Response> {
    match answer {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(refusal)) => Err(refuse(refusal)),
        Err(e) => Err(provider_error(e)),
    }
}

/// The value of `name` in a form, if given and not empty.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// What a request whose body is not a form is told.
pub(crate) const NOT_A_FORM: &str = "Send the form as application/x-www-form-urlencoded.";

/// Whether the request says its body is a form
/// (`application/x-www-form-urlencoded`, parameters aside).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The parameters of a form-encoded body (the provider's endpoints take
/// nothing else), each at most once.
pub(crate) fn form(
    headers: &HeaderMap,
    body: &[u8],
) -> std::result::Result<Vec<(String, String)>, Response> {
    if !is_form(headers) {
        return Err(refuse(TokenError::new("invalid_request", NOT_A_FORM)));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((name, _)) = params.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(refuse(TokenError::new(
            "invalid_request",
            format!("{:.40} is given more than once.", name.escape_debug()),
        )));
    }
    Ok(params)
}

/// The form of a request that asks the server to keep a row for a person
/// (a pushed authorization request, a device's request), with the app it
/// comes from, authenticated, and its network: each such request counts
/// against the network's sign-in budget, as a request to the authorization
/// endpoint does, so that nobody can fill the database with them.
pub(crate) async fn request_to_keep(
    state: &AppState,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<(String, String)>, ClientRow), Response> {
    let params = form(headers, body)?;
    let net = RequesterNet::of(ip);
    let client = authenticate(state, net, headers, &|name: &str| param(&params, name)).await?;
    state.limit_auth_request(net).await.map_err(oauth_limited)?;
    Ok((params, client))
}

/// The app a request of the token, revocation or introspection endpoint
/// comes from, authenticated. A failure is counted per app and network,
/// and per network; over either, `429`. A request whose secret is right is
/// never refused for others' failures: an app's `client_id` is public, and
/// anyone could otherwise lock it out.
pub(crate) async fn authenticate<'a>(
    state: &AppState,
    net: RequesterNet,
    headers: &HeaderMap,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> std::result::Result<ClientRow, Response> {
    let credentials = credentials(headers, get).map_err(refuse)?;
    let refusal = match state.tokens.authenticate(&credentials).await {
        Ok(Ok(client)) => return Ok(client),
        Ok(Err(refusal)) => refusal,
        Err(e) => return Err(provider_error(e)),
    };
    // The network's count first: once it is over, the refusal is answered
    // from memory, and a flood of made-up client_ids writes no counter each.
    for key in [
        Key::client_failures(net),
        Key::client_failures_from(&credentials.client_id, net),
    ] {
        count_failure(
            state,
            &key,
            state.config.limits.login_failures_per_account_ip,
        )
        .await?;
    }
    Err(refuse(refusal))
}

/// Counts one failed app request under `key`; over `limit`, `429`.
pub(crate) async fn count_failure(
    state: &AppState,
    key: &Key,
    limit: crate::config::RateLimit,
) -> std::result::Result<(), Response> {
    state.limit(key, limit).await.map_err(oauth_limited)
}

/// A limit's refusal as the provider's endpoints answer it.
pub(crate) fn oauth_limited(e: AppError) -> Response {
    match e {
        AppError::RateLimited { retry_after_secs } => limited(retry_after_secs),
        other => other.into_response(),
    }
}

/// Who the app says it is: HTTP Basic (`client_secret_basic`, each part
/// form-encoded, RFC 6749 §2.3.1), or the form (`client_secret_post`, an
/// assertion for `private_key_jwt` with or without `client_id`, or a
/// public app's `client_id` alone). One method at a time.
pub(crate) fn credentials<'a>(
    headers: &HeaderMap,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> std::result::Result<Credentials, TokenError> {
    let (form_id, form_secret) = (get("client_id"), get("client_secret"));
    let assertion = match (get("client_assertion_type"), get("client_assertion")) {
        (None, None) => None,
        (Some(ASSERTION_TYPE), Some(assertion)) => Some(assertion),
        (Some(ASSERTION_TYPE), None) => {
            return Err(TokenError::new(
                "invalid_request",
                "client_assertion is missing.",
            ));
        }
        _ => {
            return Err(TokenError::new(
                "invalid_request",
                format!("client_assertion_type must be {ASSERTION_TYPE}."),
            ));
        }
    };
    let one_way_only = || {
        TokenError::new(
            "invalid_request",
            "The app authenticates one way only: HTTP Basic, a secret in the form, or an \
             assertion.",
        )
    };
    let malformed = || {
        TokenError::new(
            "invalid_request",
            "The Authorization header is not HTTP Basic credentials.",
        )
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(malformed());
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let unform = |part: &str| -> String {
            url::form_urlencoded::parse(format!("x={part}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (unform(id), unform(secret));
        if form_secret.is_some()
            || assertion.is_some()
            || form_id.is_some_and(|form_id| form_id != id)
        {
            return Err(one_way_only());
        }
        if !usable_id(&id) {
            return Err(TokenError::invalid_client());
        }
        return Ok(Credentials {
            client_id: id,
            secret: Some(secret),
            assertion: None,
        });
    }
    if form_secret.is_some() && assertion.is_some() {
        return Err(one_way_only());
    }
    // RFC 7523 §3: without client_id, the assertion's issuer names the app.
    let claimed = assertion.and_then(claimed_app);
    let client_id = match (form_id, claimed.as_deref()) {
        (Some(id), Some(claimed)) if id != claimed => return Err(TokenError::invalid_client()),
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return Err(TokenError::invalid_client()),
    };
    if !usable_id(client_id) {
        return Err(TokenError::invalid_client());
    }
    Ok(Credentials {
        client_id: client_id.to_owned(),
        secret: form_secret.map(str::to_owned),
        assertion: assertion.map(str::to_owned),
    })
}

pub(crate) fn refuse(refusal: TokenError) -> Response {
    let status = if refusal.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = oauth_error(status, refusal.error, refusal.description);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="classboard""#),
        );
    }
    response
}

pub(crate) fn limited(retry_after_secs: u64) -> Response {
    let mut response = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        format!("Too many requests. Try again in {retry_after_secs} seconds."),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

pub(crate) fn provider_error(e: ProviderError) -> Response {
    match e {
        ProviderError::Limited { retry_after_secs } => limited(retry_after_secs),
        ProviderError::Database(e) => {
            tracing::error!(error = %e, "token endpoint: database error");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is temporarily unavailable.".into(),
            )
        }
        ProviderError::Stale => {
            tracing::warn!("introspection refused: the revocation set or the keys are stale");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is temporarily unavailable.".into(),
            )
        }
        ProviderError::NoSigningKey => {
            tracing::warn!("token endpoint: no key signs ID tokens yet");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is starting; try again in a moment.".into(),
            )
        }
    }
}

pub(crate) fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: String,
) -> Response {
    no_store(
        (
            status,
            Json(OAuthError {
                error: error.to_owned(),
                error_description: description,
            }),
        )
            .into_response(),
    )
}

/// Token answers are never cached (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
