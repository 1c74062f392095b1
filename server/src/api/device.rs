//! The device grant's HTTP side (RFC 8628): the device authorization
//! endpoint an app's device calls, and the API the `/device` page calls
//! for the person. (The device's polls go to the token endpoint.) Each
//! handler parses, calls `provider::device`, and maps the answer.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use classboard::api::{DeviceAsks, DeviceCode, DeviceDecision};

use super::app_requests::{OAuthError, answered, no_store, param, request_to_keep};
use crate::{
    AppError, Result,
    auth::limits::{Key, RequesterNet},
    error::Failure,
    extract::{AppJson, AuthUser, Requester, RequesterIp},
    provider::{authorization::Person, tokens::ProviderError},
    state::AppState,
};

/// Where a device asks for its codes (discovery names it).
pub const DEVICE_AUTHORIZATION: &str = "/oauth/device_authorization";

/// The device authorization endpoint's form, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct DeviceForm {
    /// What the app asks for, space-separated.
    scope: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// RFC 8628 §3.2.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct DeviceAnswer {
    /// What the device polls the token endpoint with.
    device_code: String,
    /// What the person types at `verification_uri`: `XXXX-XXXX`.
    user_code: String,
    verification_uri: String,
    /// `verification_uri` with the code in it, for a QR code.
    verification_uri_complete: String,
    /// Seconds.
    expires_in: u64,
    /// Seconds between polls.
    interval: i64,
}

/// `POST /oauth/device_authorization` (RFC 8628 §3.1): a device of an app
/// registered for the device grant asks for a device code and a user code.
#[utoipa::path(
    post, path = "/oauth/device_authorization", tag = "provider",
    request_body(content = DeviceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The codes, where to send the person, how often to poll", body = DeviceAnswer),
        (status = 400, description = "RFC 6749 §5.2: invalid_scope, unauthorized_client, invalid_request", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        (status = 429, description = "Too many requests or failed authentications from this network", body = OAuthError),
        (status = 503, description = "temporarily_unavailable", body = OAuthError),
        Failure,
    ),
)]
pub async fn device_authorization(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (params, client) = request_to_keep(&state, ip, &headers, &body).await?;
        let started = state.devices.start(&client, param(&params, "scope")).await;
        answered(started.map_err(ProviderError::from))
    };
    match answer.await {
        Ok(started) => no_store((StatusCode::OK, Json(started)).into_response()),
        Err(refusal) => refusal,
    }
}

/// `POST /api/oauth/device`: what the device whose code the person typed
/// asks for, for them to allow or deny. A code that names nothing waiting
/// is `404`, and counts against the person and their network.
#[utoipa::path(
    post, path = "/api/oauth/device", tag = "provider",
    request_body = DeviceCode,
    responses(
        (status = 200, description = "The app that asks, and what for in words", body = DeviceAsks),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn asks(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    user: AuthUser,
    AppJson(code): AppJson<DeviceCode>,
) -> Result<Json<DeviceAsks>> {
    let person = person_only(&user)?;
    let guess = take_guess(&state, person.user_id, RequesterNet::of(ip)).await?;
    let Some((waiting, user_code)) = state.devices.waiting(&code.user_code).await? else {
        return Err(nothing_waiting());
    };
    state.limiter.give_back(&guess).await?;
    Ok(Json(DeviceAsks {
        app: waiting.name,
        scopes: super::shared::in_words(&waiting.scope),
        user_code,
        registered_itself: waiting.registered_itself,
    }))
}

/// `POST /api/oauth/device/decision`: the person's Allow or Deny. It
/// takes their bearer token, never a cookie alone.
#[utoipa::path(
    post, path = "/api/oauth/device/decision", tag = "provider",
    request_body = DeviceDecision,
    responses(
        (status = 204, description = "Answered: the device gets its tokens, or access_denied, at its next poll"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn decide(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(decision): AppJson<DeviceDecision>,
) -> Result<StatusCode> {
    let person = person_only(&user)?;
    let guess = take_guess(&state, person.user_id, RequesterNet::of(ip)).await?;
    let answered = state
        .devices
        .answer(&decision.user_code, person, decision.allow, &origin)
        .await?;
    if !answered {
        return Err(nothing_waiting());
    }
    state.limiter.give_back(&guess).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The person behind a board token (an app's token is refused: a device is
/// allowed by its person, on this site).
fn person_only(user: &AuthUser) -> Result<Person<'_>> {
    if user.app.is_some() {
        return Err(AppError::AppScope(None));
    }
    Ok(Person {
        user_id: &user.id,
        session_id: &user.session_id,
        auth_time: user.auth_time,
    })
}

/// Counts a typed code against the person's budget of wrong codes
/// (`LOGIN_FAILURES_PER_ACCOUNT_IP`) and their network's, larger one (a
/// school's network is many people: `AUTH_REQUESTS_PER_IP`), **before** it
/// is looked up, in the database every instance shares: many guesses at
/// once take the budget once each, and over either budget nothing is
/// looked up. A code that names a waiting device gives its count back.
async fn take_guess(
    state: &AppState,
    user_id: &str,
    net: RequesterNet,
) -> Result<crate::auth::limits::Taken> {
    let limits = &state.config.limits;
    let person = Key::user_code_failures(user_id);
    let network = Key::user_code_failures_from(net);
    Ok(state
        .limiter
        .take(&[
            (&person, limits.login_failures_per_account_ip),
            (&network, limits.auth_requests_per_ip),
        ])
        .await??)
}

fn nothing_waiting() -> AppError {
    AppError::NotFoundBecause(
        "No device is waiting for this code: check it, or start again on the device.",
    )
}
