//! Answers that hand out tokens, shared by the handlers that sign people in
//! (`auth`, `passkeys`): starting a session, the token response with its
//! refresh cookie, and the cookie's clearing when a session is over.

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use classboard::api::{EventKind, RefreshRequest, Role, TokenResponse, User};

use crate::{
    AppError, Result,
    auth::{
        jwt::Confirmation,
        sessions::{Admission, Issued, SignIn, Start},
    },
    extract::{from_own_page, is_https, same_origin},
    state::AppState,
    store::{
        rows::Origin,
        users::{self, Account},
    },
};

/// Name and path of the refresh-token cookie.
pub const COOKIE: &str = "refresh_token";

const COOKIE_PATH: &str = "/api/auth";

/// Starts a session for `account`, signed in from `origin` as `sign_in`,
/// records `events` with it, and answers its tokens; `gone` answers an
/// account deleted or locked meanwhile, or a factor the sign-in used that
/// was removed meanwhile.
pub(crate) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    (account, origin): (&Account, &Origin),
    sign_in: SignIn,
    events: &[(EventKind, Option<&str>)],
    gone: AppError,
) -> Result<Response> {
    let second_factor_needed = AppError::Internal(
        "a sign-in that used a second factor was taken for a password-only one".into(),
    );
    begin_session(
        state,
        headers,
        status,
        (account, origin),
        sign_in,
        events,
        gone,
    )
    .await?
    .ok_or(second_factor_needed)
}

/// [`start_session`], for a password-only sign-in: `None` when the account
/// has a second factor by now (added after the sign-in read the account),
/// and no session started.
pub(crate) async fn begin_session(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    (account, origin): (&Account, &Origin),
    sign_in: SignIn,
    events: &[(EventKind, Option<&str>)],
    gone: AppError,
) -> Result<Option<Response>> {
    // The account's credentials as the sign-in checked them: a password
    // reset, change or deletion that committed since refuses the session.
    let started = state
        .sessions
        .start(
            &account.id,
            Some(account.credentials_version),
            origin,
            sign_in,
            events,
        )
        .await?;
    let (issued, role) = match started {
        Start::Started(issued, role) => (issued, role),
        Start::Not(Admission::SecondFactorNeeded) => return Ok(None),
        Start::Not(Admission::FactorGone | Admission::Admit) => return Err(gone),
        Start::Refused => {
            // Locked since the sign-in read the account: say so, as to a
            // sign-in that came after.
            let locked = users::by_id(&state.db, &account.id)
                .await?
                .is_some_and(|a| a.locked);
            return Err(if locked { AppError::Locked } else { gone });
        }
    };
    token_response(
        state,
        headers,
        status,
        remembered(state, account, role),
        issued,
    )
    .map(Some)
}

/// The refresh token from the body, else from the cookie. A cookie is sent
/// by the browser on its own, so it is only accepted from this site's pages.
pub(crate) fn presented_token(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<RefreshRequest>,
) -> Result<Option<String>> {
    if let Some(token) = body.and_then(|b| b.refresh_token).filter(|t| !t.is_empty()) {
        return Ok(Some(token));
    }
    match cookie_token(headers) {
        Some(token) => {
            same_origin(
                headers,
                state.config.trust_forwarded_for,
                &state.config.cors_allowed_origins,
            )?;
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

/// The value of the refresh-token cookie, if the request carries one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
}

/// The public view of `account` with the `role` its new session carries;
/// its profile is now remembered for `me`.
pub(crate) fn remembered(state: &AppState, account: &Account, role: Role) -> User {
    let profile = account.profile();
    state.profiles.remember(&account.id, profile.clone());
    profile.to_api(&account.id, role)
}

pub(crate) fn token_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    user: User,
    issued: Issued,
) -> Result<Response> {
    let access_token = state
        .keys
        .issue_signed_in(
            (&user.id, &user.username, user.role),
            &issued.session_id,
            (
                &issued.amr,
                u64::try_from(issued.auth_time / 1000).unwrap_or(0),
            ),
            issued.dpop_jkt.clone().map(|jkt| Confirmation { jkt }),
        )
        .map_err(|_| AppError::NotReady("no signing key is active"))?;
    let max_age = state.sessions.policy().idle;
    let cookie = refresh_cookie(state, headers, issued.refresh_token.clone(), max_age);
    // A page of this site gets the refresh token only as the HttpOnly
    // cookie: a script injected into the page must not be able to read it.
    let refresh_token =
        (!from_own_page(headers, state.config.trust_forwarded_for)).then_some(issued.refresh_token);
    let body = TokenResponse {
        access_token,
        // A session bound to the browser's DPoP key (RFC 9449 §5).
        token_type: if issued.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
        .into(),
        expires_in: state.keys.ttl().as_secs(),
        refresh_token,
        user,
    };
    let mut response = (status, Json(body)).into_response();
    no_store(response.headers_mut());
    set_cookie(&mut response, &cookie);
    Ok(response)
}

fn refresh_cookie(
    state: &AppState,
    headers: &HeaderMap,
    value: String,
    max_age: std::time::Duration,
) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .secure(is_https(headers, state.config.trust_forwarded_for))
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
}

fn set_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn cleared_cookie(state: &AppState, headers: &HeaderMap) -> Cookie<'static> {
    refresh_cookie(state, headers, String::new(), std::time::Duration::ZERO)
}

pub(crate) fn with_cleared_cookie(
    state: &AppState,
    headers: &HeaderMap,
    error: AppError,
) -> Response {
    let mut response = error.into_response();
    no_store(response.headers_mut());
    set_cookie(&mut response, &cleared_cookie(state, headers));
    response
}

pub(crate) fn no_content_clearing_cookie(state: &AppState, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &cleared_cookie(state, headers));
    response
}
