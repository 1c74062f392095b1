//! Extractors: how handlers receive a JSON body, the bearer's identity and
//! the client's address, with every failure already mapped to the contract.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use classboard::api::{Reauth, Role};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::{
    AppError,
    auth::{jwt::TokenError, limits::RequesterNet, proof::Caller},
    provider::scopes,
    state::AppState,
    store::rows::Origin,
};

/// A JSON body whose rejections speak the contract: wrong content type 415,
/// too large 413, a string holding a NUL character, a body that is not an
/// object, or anything else unreadable 400 `invalid_request`.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = match axum::Json::<Box<RawValue>>::from_request(req, state).await {
            Ok(axum::Json(body)) => body,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(AppError::UnsupportedMediaType);
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(AppError::PayloadTooLarge);
            }
            Err(_) => {
                return Err(AppError::InvalidRequest(
                    "The body is not valid JSON.".into(),
                ));
            }
        };
        if holds_nul(body.get()) {
            return Err(AppError::InvalidRequest(
                "Text in the body may not hold a NUL character (\\u0000).".into(),
            ));
        }
        // Every body of this API is an object (`null` stands for none where
        // a body is optional). serde would also read an array as a struct,
        // field by field in order, which no client means.
        if !matches!(
            body.get().trim_start().as_bytes().first(),
            Some(b'{' | b'n')
        ) {
            return Err(AppError::InvalidRequest(
                "The body must be a JSON object.".into(),
            ));
        }
        read_as(&body).map(Self)
    }
}

/// Whether the JSON text `raw` holds a string with a NUL character
/// (`\u0000`, the only way JSON can). PostgreSQL stores no NUL in text, and
/// no field of this API has a use for one: refused at the door, it cannot
/// reach a statement as a `500` or a stored value as a surprise.
fn holds_nul(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1..].starts_with(b"u0000") {
                return true;
            }
            // Skip the escaped character, so `\\u0000` (a backslash, then
            // the text u0000) is not read as a NUL.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// A sensitive change and its proof of presence, side by side in one JSON
/// object (`{"password", "code"?, …, "new_password"}`): the body is read
/// once, then as [`Reauth`] and as `T`, by the rules of [`AppJson`].
pub struct Proven<T> {
    pub proof: Reauth,
    pub change: T,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Proven<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppJson(body) = AppJson::<Box<RawValue>>::from_request(req, state).await?;
        Ok(Self {
            proof: read_as(&body)?,
            change: read_as(&body)?,
        })
    }
}

/// `body` read as `T`; a failure names the field, as axum's `Json` does.
/// Reads a body taken as [`AppJson`]`<Box<RawValue>>` as a `T`, with
/// [`AppJson`]'s answers: for a handler that checks who asks before it
/// looks at what they sent.
pub fn read_as<T: DeserializeOwned>(body: &RawValue) -> Result<T, AppError> {
    let mut reader = serde_json::Deserializer::from_str(body.get());
    serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        shape_error(&if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
}

/// `400 invalid_request` for a body of the wrong shape, saying which field
/// and what was expected, but never the value sent (it may be a password or
/// a code): `code: invalid type: integer `123456`, expected a string at
/// line 1 column 14` becomes `code, expected a string`.
fn shape_error(detail: &str) -> AppError {
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    let detail = match detail.split_once(", expected ") {
        Some((head, expected)) => {
            let what = head.split(':').next().unwrap_or(head);
            let what = what.split(" `").next().unwrap_or(what);
            format!("{what}, expected {expected}")
        }
        None => detail.to_owned(),
    };
    AppError::InvalidRequest(format!(
        "The JSON body does not match the expected shape: {detail}"
    ))
}

/// The holder of a valid, unrevoked bearer access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// The session the token was issued for.
    pub session_id: String,
    /// When the session's holder signed in (seconds).
    pub auth_time: u64,
    /// The app the token was issued to, with the scope it was allowed;
    /// `None` for the board's own tokens.
    pub app: Option<(String, String)>,
}

impl AuthUser {
    /// Whether the token is an app's for itself (`client_credentials`):
    /// no person is behind it.
    pub fn is_app_itself(&self) -> bool {
        self.app.as_ref().is_some_and(|(client_id, _)| {
            *client_id == self.id
                && self
                    .session_id
                    .starts_with(&scopes::own_sid_prefix(client_id))
        })
    }

    /// The caller as the proof policy sees it, asking from `ip`.
    pub fn caller(&self, ip: IpAddr) -> Caller<'_> {
        Caller {
            user_id: &self.id,
            session_id: &self.session_id,
            net: RequesterNet::of(ip),
        }
    }

    /// Refuses with `403 insufficient_scope` unless the role is at least `min`.
    pub fn require(&self, min: Role) -> Result<(), AppError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(AppError::InsufficientScope(match min {
                Role::Admin => "Only an admin may do this.",
                _ => "Only a teacher or an admin may do this.",
            }))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(AppError::MissingToken);
        };
        let (scheme, token) = presented_token(value.as_bytes())?;
        let claims = state.keys.verify(token).map_err(AppError::InvalidToken)?;
        // Without a current list of revoked sessions this process cannot
        // tell a revoked token from a live one: it refuses rather than guess.
        if !state.revocations.is_fresh() {
            return Err(AppError::NotReady("the revocation set is stale"));
        }
        // Nor can it while its keys may miss a revocation of one of them.
        if !state.keys.is_fresh() {
            return Err(AppError::NotReady("the signing keys are stale"));
        }
        if state.revocations.is_revoked(&claims.sid) {
            return Err(AppError::InvalidToken(TokenError::Revoked));
        }
        // A bound token works only with a proof of its key, for this very
        // request (RFC 9449 §7); an unbound one only as a bearer token.
        match (scheme, &claims.cnf) {
            (Scheme::Bearer, None) => {}
            (Scheme::Bearer, Some(_)) => {
                return Err(AppError::InvalidToken(TokenError::NeedsProof));
            }
            (Scheme::Dpop, None) => return Err(AppError::InvalidToken(TokenError::NotBound)),
            (Scheme::Dpop, Some(bound)) => {
                let proof = one_proof(&parts.headers)?;
                let request = crate::auth::dpop::Request {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    access_token: Some(token),
                };
                let proven = state.dpop.check(proof, request).await?;
                if proven.jkt != bound.jkt {
                    return Err(AppError::InvalidDpopProof(
                        "The proof is signed by another key than the one the token is bound to.",
                    ));
                }
            }
        }
        let app = match (claims.client_id, claims.scope) {
            (None, _) => None,
            (Some(client_id), scope) => {
                let scope = scope.unwrap_or_default();
                // An app reaches only the routes its scope names; every
                // other route is the person's own.
                let path = parts
                    .extensions
                    .get::<axum::extract::MatchedPath>()
                    .map(axum::extract::MatchedPath::as_str)
                    .unwrap_or_default();
                match scopes::needed_for(&parts.method, path) {
                    Some(needed) if scopes::has(&scope, needed) => {}
                    needed => return Err(AppError::AppScope(needed)),
                }
                Some((client_id, scope))
            }
        };
        Ok(Self {
            id: claims.sub,
            username: claims.username,
            role: claims.role,
            session_id: claims.sid,
            auth_time: claims.auth_time,
            app,
        })
    }
}

/// A bearer token when one is sent, else nobody (pages that anyone may
/// open, and that say more to a signed-in person). A token sent but not
/// valid is refused as it is everywhere, so that the page refreshes it.
impl axum::extract::OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// How an access token is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    /// With a proof of the key it is bound to (RFC 9449 §7.1).
    Dpop,
}

/// The scheme and token of an `Authorization` header's value:
/// `Bearer <token>` or `DPoP <token>`, the scheme in any case. Another
/// scheme carries no credentials of ours, and is answered as if no header
/// had been sent.
pub fn presented_token(value: &[u8]) -> Result<(Scheme, &str), AppError> {
    let value =
        std::str::from_utf8(value).map_err(|_| AppError::InvalidToken(TokenError::Malformed))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(AppError::MissingToken);
    };
    Ok((scheme, token.trim()))
}

/// The request's one `DPoP` header, if it has one (`Ok(None)`), as text.
pub fn dpop_header(headers: &axum::http::HeaderMap) -> Result<Option<&str>, AppError> {
    let mut proofs = headers.get_all("dpop").iter();
    match (proofs.next(), proofs.next()) {
        (None, _) => Ok(None),
        (Some(proof), None) => proof
            .to_str()
            .map(Some)
            .map_err(|_| AppError::InvalidDpopProof("The DPoP header is not text.")),
        (Some(_), Some(_)) => Err(AppError::InvalidDpopProof(
            "Send one DPoP header, not several.",
        )),
    }
}

/// The DPoP key a browser signs in or refreshes its own session with: its
/// proof (`DPoP` header) checked for this very request, without an access
/// token (RFC 9449 §5), all but its `jti`. The handler spends that with
/// `SessionKey::spend` once the request's rate limits have let it through,
/// so that a flood of refused requests writes nothing; a proof without the
/// current nonce is refused here, before anything is counted. `None` when
/// no proof came, which `FIRST_PARTY_DPOP=required` refuses.
pub struct SessionKey(Option<crate::auth::dpop::Unspent>);

impl SessionKey {
    /// The proof's key, its `jti` now spent; `None` when no proof came.
    pub async fn spend(
        self,
        state: &AppState,
    ) -> Result<Option<crate::auth::dpop::Proven>, AppError> {
        match self.0 {
            Some(unspent) => Ok(Some(unspent.spend(&state.dpop).await?)),
            None => Ok(None),
        }
    }
}

impl FromRequestParts<AppState> for SessionKey {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(proof) = dpop_header(&parts.headers)? else {
            if state.config.first_party_dpop_required {
                return Err(AppError::InvalidDpopProof(
                    "This server keeps sessions only in browsers that prove a DPoP key: send a DPoP proof.",
                ));
            }
            return Ok(Self(None));
        };
        let request = crate::auth::dpop::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            access_token: None,
        };
        Ok(Self(Some(state.dpop.unspent(proof, request)?)))
    }
}

/// The request's one `DPoP` proof, which it must have.
fn one_proof(headers: &axum::http::HeaderMap) -> Result<&str, AppError> {
    dpop_header(headers)?.ok_or(AppError::InvalidDpopProof(
        "A DPoP-bound token comes with a DPoP proof header.",
    ))
}

/// The requester's IP: the TCP peer, or with `TRUST_FORWARDED_FOR=true` the
/// address the proxy in front appended last to `X-Forwarded-For`.
pub struct RequesterIp(pub IpAddr);

impl FromRequestParts<AppState> for RequesterIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| AppError::Internal("no peer address on the connection".into()))?;
        if !state.config.trust_forwarded_for {
            return Ok(Self(peer));
        }
        let Some(forwarded) = parts.headers.get_all("x-forwarded-for").iter().next_back() else {
            return Ok(Self(peer));
        };
        match forwarded_client(forwarded.as_bytes()) {
            Some(ip) => Ok(Self(ip)),
            None => {
                // A proxy that appends something else (an address with a
                // port, say) puts every client in one bucket: say so, once.
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "the last X-Forwarded-For entry is not an IP address; counting the TCP peer \
                         instead (check what the proxy appends)"
                    );
                });
                Ok(Self(peer))
            }
        }
    }
}

/// The client address a trusted proxy appended to `X-Forwarded-For`: the
/// last entry of the (last) header, exactly. Anything else in that place
/// (`unknown`, an address with a port, garbage) means the proxy did not
/// name an address, and the caller falls back to the TCP peer; an earlier
/// entry is never used, because the client wrote it.
pub fn forwarded_client(value: &[u8]) -> Option<IpAddr> {
    let value = std::str::from_utf8(value).ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

/// The `User-Agent` header, if any, for the session list.
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

/// Who is asking, as a security event records it: the requester's address
/// ([`RequesterIp`]) and its `User-Agent`.
pub struct Requester {
    pub ip: IpAddr,
    pub origin: Origin,
}

impl Requester {
    /// The longest `User-Agent` kept, in characters.
    pub const MAX_USER_AGENT: usize = 512;

    pub fn new(ip: IpAddr, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            origin: Origin {
                ip: Some(RequesterNet::of(ip).to_string()),
                user_agent: user_agent.map(|ua| ua.chars().take(Self::MAX_USER_AGENT).collect()),
            },
        }
    }
}

impl FromRequestParts<AppState> for Requester {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let RequesterIp(ip) = RequesterIp::from_request_parts(parts, state).await?;
        let Ok(UserAgent(agent)) = UserAgent::from_request_parts(parts, state).await;
        Ok(Self::new(ip, agent.as_deref()))
    }
}

/// Whether the request was made over HTTPS (as told by a trusted proxy).
pub fn is_https(headers: &axum::http::HeaderMap, trust_proxy: bool) -> bool {
    trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Whether the browser says the request comes from a page of this site
/// itself: `Sec-Fetch-Site: same-origin`, or, from a browser too old to send
/// that, an `Origin` equal to the site's own.
pub fn from_own_page(headers: &axum::http::HeaderMap, trust_proxy: bool) -> bool {
    match headers.get("sec-fetch-site") {
        Some(site) => site.as_bytes().eq_ignore_ascii_case(b"same-origin"),
        None => {
            headers.contains_key(header::ORIGIN) && same_origin(headers, trust_proxy, &[]).is_ok()
        }
    }
}

/// `?limit=&before=`: which page of a list. `limit` is 1 to
/// [`PageQuery::MAX_LIMIT`] (default [`PageQuery::DEFAULT_LIMIT`]); `before`
/// is the `next` of the previous page, opaque here and decoded by the list.
pub struct PageQuery {
    pub limit: i64,
    pub before: Option<String>,
    /// The query's other parameters, for lists that filter.
    others: std::collections::HashMap<String, String>,
}

impl PageQuery {
    pub const DEFAULT_LIMIT: i64 = 20;
    pub const MAX_LIMIT: i64 = 100;

    /// The error for a `before` the list cannot decode.
    pub fn bad_cursor() -> AppError {
        AppError::InvalidRequest("before must be a cursor from a previous page's next.".into())
    }

    /// The query parameter `name`, unless it is missing or empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.given(name).filter(|v| !v.is_empty())
    }

    /// The value of `name` as given, empty included: for a parameter
    /// whose every value must be one of a list (`kind=` is none of them).
    pub fn given(&self, name: &str) -> Option<&str> {
        self.others.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(mut query) = axum::extract::Query::<
            std::collections::HashMap<String, String>,
        >::try_from_uri(&parts.uri)
        .map_err(|_| AppError::InvalidRequest("The query string is malformed.".into()))?;
        let limit = match query.get("limit") {
            None => Self::DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    AppError::InvalidRequest(format!(
                        "limit must be a whole number from 1 to {}.",
                        Self::MAX_LIMIT
                    ))
                })?,
        };
        let before = query.remove("before").filter(|s| !s.is_empty());
        query.remove("limit");
        Ok(Self {
            limit,
            before,
            others: query,
        })
    }
}

/// Refuses a cookie-authenticated request whose `Origin` is neither this
/// site's nor one of `allowed` (`CORS_ALLOWED_ORIGINS`).
pub fn same_origin(
    headers: &axum::http::HeaderMap,
    trust_proxy: bool,
    allowed: &[String],
) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    if origin
        .to_str()
        .is_ok_and(|o| allowed.iter().any(|a| a == o))
    {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let scheme = if is_https(headers, trust_proxy) {
        "https"
    } else {
        "http"
    };
    if origin
        .to_str()
        .is_ok_and(|o| o.eq_ignore_ascii_case(&format!("{scheme}://{host}")))
    {
        Ok(())
    } else {
        Err(AppError::CrossOrigin)
    }
}

/// A JSON body that may be absent: an empty body is `None`; a non-empty one
/// follows the rules of [`AppJson`].
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared_empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.trim() == "0"));
        let has_body = req.headers().contains_key(header::CONTENT_TYPE)
            || req.headers().contains_key(header::TRANSFER_ENCODING)
            || req.headers().get(header::CONTENT_LENGTH).is_some();
        if declared_empty || !has_body {
            return Ok(Self(None));
        }
        // `null` is no body too, as the OpenAPI document says.
        AppJson::<Option<T>>::from_request(req, state)
            .await
            .map(|AppJson(v)| Self(v))
    }
}

/// `?limit=&before=` of every list (see `extract::PageQuery`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Page {
    /// How many, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next` of the previous page.
    before: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(detail: &str) -> String {
        match shape_error(detail) {
            AppError::InvalidRequest(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_shape_error_names_the_field_and_never_the_value() {
        let text = described(
            "code: invalid type: integer `123456`, expected a string at line 1 column 14",
        );
        assert!(text.ends_with("code, expected a string"), "{text}");
        let text = described("invalid type: string \"hunter2hunter2\", expected a boolean");
        assert!(!text.contains("hunter2"), "{text}");
        let text = described("unknown variant `sekrit`, expected one of `totp`, `passkey`");
        assert!(
            !text.contains("sekrit") && text.contains("one of"),
            "{text}"
        );
        let text = described("missing field `new_password` at line 1 column 2");
        assert!(text.ends_with("missing field `new_password`"), "{text}");
    }
}
