//! Dynamic client registration's HTTP side: `POST /oauth/register`
//! (RFC 7591) with an initial access token, and an app's own registration
//! read or removed with its registration access token (RFC 7592). Each
//! handler parses, calls `provider`, and maps the answer; refusals are
//! RFC 7591's `{error, error_description}`.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    AppError,
    api::app_requests::no_store,
    auth::limits::{Key, RequesterNet},
    error::Failure,
    extract::{Requester, presented_token},
    provider::{
        clients::RegistryError,
        registration::{Metadata, MetadataError, Registered, registration_of},
    },
    state::AppState,
};

/// Where apps register themselves (discovery names it when it is on).
pub const REGISTER: &str = "/oauth/register";

/// `POST /oauth/register` (RFC 7591): an app registers itself with an
/// initial access token (`server clients registration-token`), which it
/// spends. `404` unless `DYNAMIC_REGISTRATION=token`.
#[utoipa::path(
    post, path = "/oauth/register", tag = "provider",
    request_body(content = Object, description = "RFC 7591 client metadata: client_name, redirect_uris, token_endpoint_auth_method, grant_types, response_types, scope, jwks_uri, post_logout_redirect_uris, backchannel_logout_uri, id_token_signed_response_alg, require_pushed_authorization_requests"),
    responses(
        (status = 201, description = "Registered: client_id, client_secret (a confidential app's, shown once), registration_access_token, registration_client_uri and the metadata as registered", body = Object),
        (status = 400, description = "invalid_client_metadata or invalid_redirect_uri (RFC 7591 §3.2.2)", body = Object),
        (status = 401, description = "invalid_token: no live initial access token", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn register(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.config.dynamic_registration {
        return AppError::NotFound.into_response();
    }
    let net = RequesterNet::of(ip);
    let answer = async {
        let token = bearer(&headers)?;
        let Some(initial) = state.clients.live_initial_token(token).await? else {
            return Err(refused_token(&state, net).await);
        };
        if !is_json(&headers) {
            return Err(refused("Send the metadata as application/json."));
        }
        let metadata: Metadata = serde_json::from_slice(&body)
            .map_err(|_| refused("The metadata is not a JSON object of RFC 7591's members."))?;
        let auth_method = metadata.token_endpoint_auth_method.clone();
        let registration = registration_of(metadata).map_err(metadata_error)?;
        let registered = match state
            .clients
            .register_itself(&registration, &origin, &initial)
            .await
        {
            Ok(registered) => registered,
            Err(RegistryError::Refused(refusals)) => {
                return Err(metadata_error(MetadataError::of(&refusals)));
            }
            Err(RegistryError::TokenNotLive) => return Err(refused_token(&state, net).await),
            Err(e) => return Err(AppError::from(e).into_response()),
        };
        let uri = configuration_uri(&state, &registered.client.id);
        Ok(Registered::of(
            &registered.client,
            uri,
            (registered.secret, registered.registration_access_token),
            auth_method.as_deref(),
        ))
    };
    match answer.await {
        Ok(registered) => no_store((StatusCode::CREATED, Json(registered)).into_response()),
        Err(refusal) => refusal,
    }
}

/// `GET /oauth/register/{client_id}` (RFC 7592 §2.1): an app that
/// registered itself reads its registration.
#[utoipa::path(
    get, path = "/oauth/register/{client_id}", tag = "provider",
    params(("client_id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 200, description = "The metadata as registered (never the secret)", body = Object),
        (status = 401, description = "invalid_token: not this app's registration access token", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn read(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let client = own_registration(&state, RequesterNet::of(ip), &client_id, &headers).await?;
        let uri = configuration_uri(&state, &client.id);
        Ok::<_, Response>(Registered::of(&client, uri, (None, None), None))
    };
    match answer.await {
        Ok(registered) => no_store(Json(registered).into_response()),
        Err(refusal) => refusal,
    }
}

/// `DELETE /oauth/register/{client_id}` (RFC 7592 §2.3): an app that
/// registered itself removes itself, ending every grant it holds.
#[utoipa::path(
    delete, path = "/oauth/register/{client_id}", tag = "provider",
    params(("client_id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "invalid_token: not this app's registration access token", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let client = own_registration(&state, RequesterNet::of(ip), &client_id, &headers).await?;
        let ended = state
            .clients
            .remove(&client.id, &origin, None)
            .await
            .map_err(|e| AppError::from(e).into_response())?;
        state.revocations.insert(&ended);
        Ok::<_, Response>(())
    };
    match answer.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refusal,
    }
}

/// The app `client_id`, when the request's bearer token is its
/// registration access token; a failure counts against the network.
async fn own_registration(
    state: &AppState,
    net: RequesterNet,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<crate::store::clients::ClientRow, Response> {
    if !state.config.dynamic_registration {
        return Err(AppError::NotFound.into_response());
    }
    let token = bearer(headers)?;
    match state.clients.registered_itself(client_id, token).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(refused_token(state, net).await),
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

/// The bearer token of the request, or the bare challenge.
fn bearer(headers: &HeaderMap) -> Result<&str, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .ok_or(AppError::MissingToken)
        .and_then(|value| presented_token(value.as_bytes()));
    match presented {
        Ok((crate::extract::Scheme::Bearer, token)) if !token.is_empty() => Ok(token),
        _ => Err(challenge("This request needs a bearer token.")),
    }
}

/// A token that is not a live one: counted against the network (as an
/// app's failed authentication is), then `401 invalid_token`.
async fn refused_token(state: &AppState, net: RequesterNet) -> Response {
    let limit = state.config.limits.login_failures_per_account_ip;
    if let Err(e) = state.limit(&Key::client_failures(net), limit).await {
        return e.into_response();
    }
    challenge("The token is unknown, used, expired, or not this registration's.")
}

fn challenge(why: &'static str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_token", "error_description": why})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    );
    response
}

fn refused(why: &'static str) -> Response {
    metadata_error(MetadataError {
        error: "invalid_client_metadata",
        description: why.to_owned(),
    })
}

fn metadata_error(e: MetadataError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": e.error, "error_description": e.description})),
    )
        .into_response()
}

fn configuration_uri(state: &AppState, client_id: &str) -> String {
    format!("{}{REGISTER}/{client_id}", state.authorizations.issuer())
}

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

impl From<RegistryError> for Response {
    fn from(e: RegistryError) -> Self {
        AppError::from(e).into_response()
    }
}
