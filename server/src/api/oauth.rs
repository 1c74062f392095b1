//! The identity provider's HTTP side: discovery, the authorization endpoint
//! and the API its page calls, the token endpoint, `userinfo`. Each handler
//! parses, calls `provider`, and maps the answer; the decisions are there.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use classboard::api::{
    AppAccess, AppAccessList, AuthorizationAsked, AuthorizationDecision, AuthorizationStep,
};
use serde::Serialize;
use serde_json::json;

use super::{
    app_requests::{
        OAuthError, answered, authenticate, count_failure, form, limited, no_store, oauth_limited,
        param, proof_at, provider_error, refuse, request_to_keep,
    },
    shared::in_words,
};
use crate::{
    AppError, Result,
    auth::{
        dpop,
        limits::{Key, RequesterNet},
    },
    error::Failure,
    extract::{AppJson, AuthUser, Requester, RequesterIp},
    provider::{
        authorization::{Begun, Person, Pushed, Step, StepError},
        clients::{GRANTS, ID_TOKEN_ALGS, SCOPES},
        tokens::{PersonClaims, TokenError, Tokens},
    },
    state::AppState,
    store::{clients::ClientRow, rfc3339},
};

/// Where the provider's endpoints are (discovery names them).
pub const AUTHORIZE: &str = "/oauth/authorize";
pub const TOKEN: &str = "/oauth/token";
pub const USERINFO: &str = "/oauth/userinfo";
pub const REVOKE: &str = "/oauth/revoke";
pub const INTROSPECT: &str = "/oauth/introspect";
pub const END_SESSION: &str = "/oauth/logout";
pub const PAR: &str = "/oauth/par";
/// The page that carries a request through sign-in and consent.
const PAGE: &str = "/authorize";

/// How an app authenticates at the token and revocation endpoints.
const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];
/// How a confidential app authenticates at the introspection endpoint.
const CONFIDENTIAL_AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];
/// What a `private_key_jwt` assertion may be signed with.
const ASSERTION_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The claims an ID token or `userinfo` may hold.
const CLAIMS: [&str; 17] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "acr",
    "sid",
    "at_hash",
    "preferred_username",
    "name",
    "email",
    "email_verified",
    "role",
];

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0)
/// and `GET /.well-known/oauth-authorization-server` (RFC 8414): the same
/// document.
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "provider",
    responses(
        (status = 200, description = "The provider's metadata (OpenID Connect Discovery 1.0)", body = Object),
        Failure,
    ),
)]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    discovery(&state)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "provider",
    responses(
        (status = 200, description = "The provider's metadata (RFC 8414)", body = Object),
        Failure,
    ),
)]
pub async fn authorization_server(State(state): State<AppState>) -> Response {
    discovery(&state)
}

fn discovery(state: &AppState) -> Response {
    let issuer = state.authorizations.issuer();
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE}"),
        "token_endpoint": format!("{issuer}{TOKEN}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO}"),
        "revocation_endpoint": format!("{issuer}{REVOKE}"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint": format!("{issuer}{INTROSPECT}"),
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANTS,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "end_session_endpoint": format!("{issuer}{END_SESSION}"),
        "device_authorization_endpoint": format!("{issuer}{}", super::device::DEVICE_AUTHORIZATION),
        "pushed_authorization_request_endpoint": format!("{issuer}{PAR}"),
        "require_pushed_authorization_requests": false,
        "dpop_signing_alg_values_supported": dpop::ALGORITHMS,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    if state.config.dynamic_registration {
        document["registration_endpoint"] =
            json!(format!("{issuer}{}", super::registration::REGISTER));
    }
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(document),
    )
        .into_response()
}

/// `GET /oauth/authorize`: the authorization endpoint. A good request is
/// kept and the browser goes on to the page that signs the person in and
/// asks them; an unknown app or redirect URI is explained on that page,
/// never sent anywhere else; any other error goes back to the app.
pub async fn authorize(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    // Each good request is a row kept for the person: counted like a
    // sign-in request, so that nobody can fill the database with them.
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let to = match state.authorizations.begin(&params).await? {
        Begun::Waiting(handle) => format!("{PAGE}?request={handle}"),
        Begun::Redirect(to) => to,
        Begun::Page(problem) => format!("{PAGE}?problem={}", problem_code(problem)),
    };
    Ok(see_other(&to))
}

/// The code in the page's address for each problem shown there.
fn problem_code(problem: crate::provider::authorization::PageError) -> &'static str {
    use crate::provider::authorization::PageError as P;
    match problem {
        P::NoApp => "no_app",
        P::UnknownApp => "unknown_app",
        P::NoRedirect => "no_redirect_uri",
        P::UnknownRedirect => "unknown_redirect_uri",
        P::Repeated => "repeated_parameter",
        P::RequestUriEnded => "request_uri_ended",
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/oauth/authorization`: where the page goes on with a request,
/// for the signed-in person (bearer) or for nobody.
#[utoipa::path(
    post, path = "/api/oauth/authorization", tag = "provider",
    request_body = AuthorizationAsked,
    responses(
        (status = 200, description = "The next step: back to the app, sign in, or consent", body = AuthorizationStep),
        Failure,
    ),
    security((), ("bearer" = [])),
)]
pub async fn authorization(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    AppJson(asked): AppJson<AuthorizationAsked>,
) -> Result<Json<AuthorizationStep>> {
    let person = user.as_ref().map(person);
    let step = state
        .authorizations
        .step(&asked.request, person)
        .await
        .map_err(step_error)?;
    Ok(Json(wire(step)))
}

/// `POST /api/oauth/authorization/decision`: the person's Allow or Deny.
/// It takes the person's bearer token, never a cookie alone, so that
/// another site cannot make a browser consent.
#[utoipa::path(
    post, path = "/api/oauth/authorization/decision", tag = "provider",
    request_body = AuthorizationDecision,
    responses(
        (status = 200, description = "Back to the app, with a code or access_denied", body = AuthorizationStep),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn decide(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    user: AuthUser,
    AppJson(decision): AppJson<AuthorizationDecision>,
) -> Result<Json<AuthorizationStep>> {
    let step = state
        .authorizations
        .decide(&decision.request, person(&user), decision.allow, &origin)
        .await
        .map_err(step_error)?;
    Ok(Json(wire(step)))
}

fn person(user: &AuthUser) -> Person<'_> {
    Person {
        user_id: &user.id,
        session_id: &user.session_id,
        auth_time: user.auth_time,
    }
}

fn step_error(e: StepError) -> AppError {
    match e {
        StepError::Ended => AppError::InvalidRequest(e.to_string()),
        StepError::ReauthRequired => AppError::ReauthRequired,
        StepError::SessionEnded => AppError::InvalidToken(crate::auth::jwt::TokenError::Revoked),
        StepError::Database(e) => e.into(),
    }
}

fn wire(step: Step) -> AuthorizationStep {
    match step {
        Step::Redirect(to) => AuthorizationStep::Redirect { to },
        Step::SignIn { login_hint } => AuthorizationStep::SignIn { login_hint },
        Step::Consent {
            app,
            scopes: asked,
            registered_itself,
        } => AuthorizationStep::Consent {
            app,
            registered_itself,
            scopes: in_words(&asked.join(" ")),
        },
    }
}

/// The token endpoint's form, for the OpenAPI document (the handler reads
/// the body itself, to refuse a parameter given twice).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenForm {
    /// `authorization_code`, `refresh_token`, `client_credentials` or
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    grant_type: String,
    /// For `client_credentials`: what the app asks for itself.
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    /// For the device grant (`urn:ietf:params:oauth:grant-type:device_code`).
    device_code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, with
    /// `client_assertion` (`private_key_jwt`).
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// An answer of the token endpoint: RFC 6749 §5.1.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenAnswer {
    access_token: String,
    /// `Bearer`.
    token_type: String,
    expires_in: u64,
    scope: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

/// `POST /oauth/token`: codes and refresh tokens for tokens. The app
/// authenticates with its secret (HTTP Basic, or in the form), or as a
/// public app by its `client_id` alone; failures count against the app's
/// limit.
#[utoipa::path(
    post, path = "/oauth/token", tag = "provider",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = TokenAnswer),
        (status = 400, description = "RFC 6749 §5.2", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "Too many failed authentications from this network, or refreshes of this app", body = OAuthError),
        (status = 503, description = "temporarily_unavailable", body = OAuthError),
        Failure,
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_answer(&state, RequesterNet::of(ip), &headers, &body).await {
        // A request with a proof gets the next nonce from `fresh_nonce`.
        Ok(tokens) => no_store((StatusCode::OK, Json(tokens)).into_response()),
        Err(refusal) => refusal,
    }
}

/// The tokens, and whether they are bound to a DPoP key.
async fn token_answer(
    state: &AppState,
    net: RequesterNet,
    headers: &HeaderMap,
    body: &[u8],
) -> std::result::Result<Tokens, Response> {
    let params = form(headers, body)?;
    let get = |name: &str| param(&params, name);
    let client = authenticate(state, net, headers, &get).await?;
    if client.secret_hash.is_none() && headers.contains_key("dpop") {
        // Anyone who names a public app is that app: each proof checked
        // costs a signature and a write, so they count, per app and
        // network, against the budget of the requests an app makes for
        // everyone there (devices polling every few seconds among them).
        let key = Key::public_app_proofs(&client.id, net);
        let limit = state.config.limits.app_refreshes_per_ip;
        state.limit(&key, limit).await.map_err(oauth_limited)?;
    }
    let proven = proof_at(state, headers, TOKEN).await?;
    let proven = proven.as_ref();
    let answer = match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return Err(refuse(TokenError::new(
                    "invalid_request",
                    "code is missing.",
                )));
            };
            // A code that is not one costs a write transaction: such
            // failures count per app and network, on the budget of the
            // requests an app's backend makes for everyone
            // (`APP_REFRESHES_PER_IP`: a busy app's few stale codes never
            // reach it), and over it the app is answered from memory.
            let failures = Key::app_code_failures(&client.id, net);
            let limit = state.config.limits.app_refreshes_per_ip;
            if let Some(exceeded) = state
                .limiter
                .known_refused(&state.limiter.stored(&failures), limit)
            {
                return Err(limited(exceeded.retry_after_secs));
            }
            let answer = state
                .tokens
                .exchange_code(
                    &client,
                    code,
                    (get("redirect_uri"), get("code_verifier")),
                    proven,
                )
                .await;
            if matches!(&answer, Ok(Err(refusal)) if refusal.error == "invalid_grant") {
                count_failure(state, &failures, limit).await?;
            }
            answer
        }
        Some("refresh_token") => {
            let Some(presented) = get("refresh_token") else {
                return Err(refuse(TokenError::new(
                    "invalid_request",
                    "refresh_token is missing.",
                )));
            };
            let counter = state.limiter.stored(&Key::app_refreshes(&client.id, net));
            state
                .tokens
                .refresh(&client, presented, &counter, proven)
                .await
        }
        Some("client_credentials") => {
            state
                .tokens
                .client_credentials(&client, get("scope"), proven)
        }
        Some(crate::provider::device::DEVICE_GRANT) => {
            let Some(device_code) = get("device_code") else {
                return Err(refuse(TokenError::new(
                    "invalid_request",
                    "device_code is missing.",
                )));
            };
            state.tokens.device_code(&client, device_code, proven).await
        }
        Some(_) => {
            return Err(refuse(TokenError::new(
                "unsupported_grant_type",
                "grant_type is authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code.",
            )));
        }
        None => {
            return Err(refuse(TokenError::new(
                "invalid_request",
                "grant_type is missing.",
            )));
        }
    };
    answered(answer)
}

/// The pushed authorization request's form (RFC 9126 §2.1), for the
/// OpenAPI document: the authorization request's parameters, with the
/// app's authentication.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PushedForm {
    response_type: String,
    client_id: Option<String>,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    /// `S256`.
    code_challenge_method: String,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    /// The thumbprint of the DPoP key the code will be exchanged with
    /// (RFC 9449 §10); a DPoP proof sent with the push binds it as well.
    dpop_jkt: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// RFC 9126 §2.2.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PushedAnswer {
    /// `urn:ietf:params:oauth:request_uri:…`: pass it to the authorization
    /// endpoint with `client_id`, once.
    request_uri: String,
    /// Seconds.
    expires_in: u64,
}

/// `POST /oauth/par` (RFC 9126): an app pushes its authorization request
/// first, authenticated, and sends the browser with the `request_uri` it
/// gets. The request is checked as the authorization endpoint checks one.
#[utoipa::path(
    post, path = "/oauth/par", tag = "provider",
    request_body(content = PushedForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "Kept: the request_uri to send the browser with", body = PushedAnswer),
        (status = 400, description = "RFC 6749 §5.2, as the authorization endpoint would refuse it", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "Too many requests or failed authentications from this network", body = OAuthError),
        (status = 503, description = "temporarily_unavailable", body = OAuthError),
        Failure,
    ),
)]
pub async fn par(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (params, client) = request_to_keep(&state, ip, &headers, &body).await?;
        let proven = proof_at(&state, &headers, PAR).await?;
        let jkt = proven.as_ref().map(|proven| proven.jkt.as_str());
        match state.authorizations.push(&client, &params, jkt).await {
            Ok(Ok(pushed)) => Ok(pushed),
            Ok(Err(refusal)) => Err(refuse(TokenError::new(refusal.error, refusal.description))),
            Err(e) => Err(provider_error(e.into())),
        }
    };
    match answer.await {
        Ok(Pushed {
            request_uri,
            expires_in,
        }) => no_store(
            (
                StatusCode::CREATED,
                Json(json!({ "request_uri": request_uri, "expires_in": expires_in })),
            )
                .into_response(),
        ),
        Err(refusal) => refusal,
    }
}

/// What the revocation and introspection endpoints both read: the app,
/// authenticated, and the `token` it asks about.
async fn token_of_app(
    state: &AppState,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientRow, String), Response> {
    let params = form(headers, body)?;
    let get = |name: &str| param(&params, name);
    let client = authenticate(state, RequesterNet::of(ip), headers, &get).await?;
    let Some(token) = get("token") else {
        return Err(refuse(TokenError::new(
            "invalid_request",
            "token is missing.",
        )));
    };
    Ok((client, token.to_owned()))
}

/// The form of the revocation and introspection endpoints, for the OpenAPI
/// document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenOfApp {
    /// An access or refresh token.
    token: String,
    /// `access_token` or `refresh_token`; a hint only: both are looked for.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// `POST /oauth/revoke` (RFC 7009): the app ends a token it was issued,
/// and with it the grant. `200` whether or not there was anything to end.
#[utoipa::path(
    post, path = "/oauth/revoke", tag = "provider",
    request_body(content = TokenOfApp, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing of the app's to revoke"),
        (status = 400, description = "RFC 6749 §5.2", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "Too many failed authentications from this network", body = OAuthError),
        (status = 503, description = "temporarily_unavailable", body = OAuthError),
        Failure,
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (client, token) = token_of_app(&state, ip, &headers, &body).await?;
        answered(state.tokens.revoke(&client, &token).await)
    };
    match answer.await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(refusal) => refusal,
    }
}

/// `POST /oauth/introspect` (RFC 7662): what a token is, for a
/// confidential app.
#[utoipa::path(
    post, path = "/oauth/introspect", tag = "provider",
    request_body(content = TokenOfApp, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{active: false}`, or an active token's scope, client_id, sub, exp, …", body = Object),
        (status = 400, description = "RFC 6749 §5.2", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "Too many failed authentications from this network", body = OAuthError),
        (status = 503, description = "temporarily_unavailable", body = OAuthError),
        Failure,
    ),
)]
pub async fn introspect(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (client, token) = token_of_app(&state, ip, &headers, &body).await?;
        answered(state.tokens.introspect(&client, &token).await)
    };
    match answer.await {
        Ok(said) => no_store(Json(said).into_response()),
        Err(refusal) => refusal,
    }
}

/// `GET /oauth/userinfo` (OpenID Connect Core §5.3): the claims the
/// app's scopes allow, for an app's token with `openid`.
#[utoipa::path(
    get, path = "/oauth/userinfo", tag = "provider",
    responses(
        (status = 200, description = "The person's claims, as the token's scope allows", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn userinfo(State(state): State<AppState>, user: AuthUser) -> Result<Response> {
    userinfo_of(&state, &user).await
}

/// `POST /oauth/userinfo`: the same.
#[utoipa::path(
    post, path = "/oauth/userinfo", tag = "provider",
    responses(
        (status = 200, description = "The person's claims, as the token's scope allows", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn userinfo_post(State(state): State<AppState>, user: AuthUser) -> Result<Response> {
    userinfo_of(&state, &user).await
}

async fn userinfo_of(state: &AppState, user: &AuthUser) -> Result<Response> {
    // The board's own tokens are not for this: the page has `/api/me`.
    let Some((_, scope)) = &user.app else {
        return Err(AppError::AppScope(Some("openid")));
    };
    // The profile as `/api/me` reads it (kept a moment in memory); the role
    // is the token's, as there: a role change ends the grant.
    let profile = state
        .profiles
        .get(&state.db, &user.id)
        .await?
        .ok_or(AppError::InvalidToken(
            crate::auth::jwt::TokenError::Revoked,
        ))?;
    #[derive(Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        #[serde(flatten)]
        person: PersonClaims,
    }
    let claims = Claims {
        sub: &user.id,
        person: PersonClaims::of_profile(
            (&profile.username, &profile.email, profile.email_verified),
            user.role,
            scope,
        ),
    };
    Ok(no_store(Json(claims).into_response()))
}

/// `GET /api/account/apps`: the apps the person allowed ("Apps with
/// access" on `/account`).
#[utoipa::path(
    get, path = "/api/account/apps", tag = "account",
    responses(
        (status = 200, description = "The apps allowed, by name, with what each may do", body = AppAccessList),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn apps_with_access(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<AppAccessList>> {
    let rows = state.authorizations.apps_with_access(&user.id).await?;
    Ok(Json(AppAccessList {
        apps: rows
            .into_iter()
            .map(|row| AppAccess {
                scopes: in_words(&row.scope),
                client_id: row.client_id,
                name: row.name,
                allowed_at: rfc3339(row.granted_at),
            })
            .collect(),
    }))
}

/// `DELETE /api/account/apps/{client_id}`: withdraws what the person
/// allowed the app; its tokens of theirs end at once, and it asks again
/// next time.
#[utoipa::path(
    delete, path = "/api/account/apps/{client_id}", tag = "account",
    params(("client_id" = String, Path, description = "The app")),
    responses(
        (status = 204, description = "Withdrawn: the app's tokens of this person have ended"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn withdraw_app(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    user: AuthUser,
    Path(client_id): Path<String>,
) -> Result<StatusCode> {
    let ended = state
        .authorizations
        .withdraw(person(&user), &client_id, &origin)
        .await?
        .ok_or(AppError::NotFound)?;
    state.revocations.insert(&ended);
    Ok(StatusCode::NO_CONTENT)
}
