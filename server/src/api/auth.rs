//! `/api/auth/*`, `/api/me` and the JWKS: signup, login, refresh, logout and
//! sessions.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use classboard::{
    api::{
        LoginRequest, RefreshRequest, Session, SessionList, SignupRequest, TokenResponse, User,
        UserResponse,
    },
    validate::{Email, Issue, Password, Username},
};

use crate::{
    AppError, Result,
    auth::{
        blocklist,
        password::Verdict,
        sessions::{Issued, Reason, Refresh},
    },
    db::rfc3339,
    extract::{AppJson, AuthUser, ClientIp, OptionalJson, UserAgent, is_https, same_origin},
    startup::AppState,
    users::{self, Account},
};

/// Name and path of the refresh-token cookie.
pub const COOKIE: &str = "refresh_token";
const COOKIE_PATH: &str = "/api/auth";

/// `POST /api/auth/signup`
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    headers: HeaderMap,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<Response> {
    state
        .limit(&format!("signup:{ip}"), state.config.limits.signups_per_ip)
        .await?;

    let username = Username::parse(&req.username);
    let email = Email::parse(&req.email);
    let local_part = email.as_ref().map_or("", Email::local_part);
    let password = Password::parse(&req.password, &req.username, local_part).and_then(|p| {
        if blocklist::is_common(p.expose()) {
            Err(Issue::Common)
        } else {
            Ok(p)
        }
    });
    let (username, email, password) = match (username, email, password) {
        (Ok(u), Ok(e), Ok(p)) => (u, e, p),
        (u, e, p) => {
            return Err(AppError::validation([
                ("username", u.err()),
                ("email", e.err()),
                ("password", p.err()),
            ]));
        }
    };

    let hash = state.hasher.hash(password.expose()).await?;
    let account = users::insert(&state.db.write, username.as_str(), email.as_str(), &hash)
        .await
        .map_err(|e| match users::taken_field(&e) {
            Some("email") => AppError::Conflict("An account with this email already exists."),
            Some(_) => AppError::Conflict("This username is taken."),
            None => e.into(),
        })?;
    tracing::info!(user = %account.id, "account created");
    let issued = state.sessions.start(&account.id, agent.as_deref()).await?;
    Ok(token_response(
        &state,
        &headers,
        StatusCode::CREATED,
        remembered(&state, &account),
        issued,
    ))
}

/// `POST /api/auth/login`
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    headers: HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Response> {
    let limits = state.config.limits;
    state
        .limit(&format!("auth:{ip}"), limits.auth_requests_per_ip)
        .await?;

    // Failures are counted per login name, whether or not the account exists,
    // so that the limits reveal nothing about which accounts do.
    let account_key = format!("fail:{}", req.login.trim().to_lowercase());
    let account_ip_key = format!("{account_key}:{ip}");
    for (key, limit) in [
        (&account_ip_key, limits.login_failures_per_account_ip),
        (&account_key, limits.login_failures_per_account),
    ] {
        state.limiter.check(key, limit).await??;
    }

    let account = users::by_login(&state.db.read, &req.login).await?;
    let verdict = state
        .hasher
        .verify(
            &req.password,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await?;
    let account = match (verdict, account) {
        (Verdict::Match | Verdict::MatchNeedsRehash, Some(account)) => account,
        _ => {
            state
                .limiter
                .record(&[
                    (&account_ip_key, limits.login_failures_per_account_ip),
                    (&account_key, limits.login_failures_per_account),
                ])
                .await?;
            return Err(AppError::InvalidCredentials);
        }
    };
    state
        .limiter
        .clear(&[&account_ip_key, &account_key])
        .await?;
    if verdict == Verdict::MatchNeedsRehash {
        let upgraded = state.hasher.hash(&req.password).await?;
        users::set_password_hash(&state.db.write, &account.id, &upgraded).await?;
        tracing::info!(user = %account.id, "password hash upgraded to current parameters");
    }
    let issued = state.sessions.start(&account.id, agent.as_deref()).await?;
    Ok(token_response(
        &state,
        &headers,
        StatusCode::OK,
        remembered(&state, &account),
        issued,
    ))
}

/// `POST /api/auth/refresh`
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let key = format!("auth:{ip}");
    let limit = state.config.limits.auth_requests_per_ip;
    let token = match presented_token(&state, &headers, &jar, body) {
        Ok(Some(token)) => token,
        // Refused before the database is asked, but counted all the same.
        refused => {
            state.limit(&key, limit).await?;
            return Err(refused.err().unwrap_or_else(|| {
                AppError::InvalidRequest("No refresh token was sent (cookie or body).".into())
            }));
        }
    };

    // The rotation counts the attempt in the same trip to the database.
    let (issued, role) = match state.sessions.refresh(&token, &key, limit).await? {
        Refresh::Rotated(issued, role) | Refresh::Replayed(issued, role) => (issued, role),
        Refresh::Limited(exceeded) => return Err(exceeded.into()),
        Refresh::Reused(session_id) => {
            state.revocations.insert([&session_id]);
            return Ok(with_cleared_cookie(
                &state,
                &headers,
                AppError::EndedForSafety,
            ));
        }
        Refresh::EndedByReuse => {
            return Ok(with_cleared_cookie(
                &state,
                &headers,
                AppError::EndedForSafety,
            ));
        }
        Refresh::Invalid => {
            return Ok(with_cleared_cookie(
                &state,
                &headers,
                AppError::InvalidGrant,
            ));
        }
    };
    let Some(profile) = state.profiles.get(&state.db.read, &issued.user_id).await? else {
        return Ok(with_cleared_cookie(
            &state,
            &headers,
            AppError::InvalidGrant,
        ));
    };
    let user = profile.to_api(&issued.user_id, role);
    Ok(token_response(
        &state,
        &headers,
        StatusCode::OK,
        user,
        issued,
    ))
}

/// `POST /api/auth/logout`: ends the session of the presented refresh token.
/// Idempotent: an unknown or already ended session is still a `204`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    if let Some(token) = presented_token(&state, &headers, &jar, body)?
        && let Some((session_id, _)) = state.sessions.session_of(&token).await?
    {
        state.sessions.revoke(&session_id, Reason::Logout).await?;
        state.revocations.insert([&session_id]);
    }
    Ok(no_content_clearing_cookie(&state, &headers))
}

/// `POST /api/auth/logout-all`: ends every session of the bearer.
pub async fn logout_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AuthUser,
) -> Result<Response> {
    let ended = state
        .sessions
        .revoke_all(&user.id, Reason::LogoutAll)
        .await?;
    state.revocations.insert(&ended);
    Ok(no_content_clearing_cookie(&state, &headers))
}

/// `GET /api/auth/sessions`
pub async fn sessions(State(state): State<AppState>, user: AuthUser) -> Result<Json<SessionList>> {
    let sessions = state
        .sessions
        .list(&user.id)
        .await?
        .into_iter()
        .map(|s| Session {
            current: s.id == user.session_id,
            id: s.id,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// `DELETE /api/auth/sessions/{id}`: another user's session is a `404`, so
/// that session ids cannot be probed.
pub async fn revoke_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if !state.sessions.revoke_own(&user.id, &id).await? {
        return Err(AppError::NotFound);
    }
    state.revocations.insert([&id]);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserResponse>> {
    // The role is the token's: a role change revokes the sessions of tokens
    // that carry the old one.
    let profile =
        state
            .profiles
            .get(&state.db.read, &user.id)
            .await?
            .ok_or(AppError::InvalidToken(
                crate::auth::jwt::TokenError::Revoked,
            ))?;
    Ok(Json(UserResponse {
        user: profile.to_api(&user.id, user.role),
    }))
}

/// `GET /.well-known/jwks.json`: the public keys (none with HS256).
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.jwks().clone()),
    )
}

/// The refresh token from the body, else from the cookie. A cookie is sent
/// by the browser on its own, so it is only accepted from this site's pages.
fn presented_token(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    body: Option<RefreshRequest>,
) -> Result<Option<String>> {
    if let Some(token) = body.and_then(|b| b.refresh_token).filter(|t| !t.is_empty()) {
        return Ok(Some(token));
    }
    match jar
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
    {
        Some(token) => {
            same_origin(headers, state.config.trust_forwarded_for)?;
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

/// The public view of `account`, whose profile is now remembered for `me`.
fn remembered(state: &AppState, account: &Account) -> User {
    state.profiles.remember(&account.id, account.profile());
    account.to_api()
}

fn token_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    user: User,
    issued: Issued,
) -> Response {
    let access_token = state
        .keys
        .issue(&user.id, &user.username, user.role, &issued.session_id);
    let max_age = state.sessions.policy().idle;
    let cookie = refresh_cookie(state, headers, issued.refresh_token.clone(), max_age);
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.keys.ttl().as_secs(),
        refresh_token: issued.refresh_token,
        user,
    };
    let mut response = (status, Json(body)).into_response();
    no_store(response.headers_mut());
    set_cookie(&mut response, &cookie);
    response
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

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn cleared_cookie(state: &AppState, headers: &HeaderMap) -> Cookie<'static> {
    refresh_cookie(state, headers, String::new(), std::time::Duration::ZERO)
}

fn with_cleared_cookie(state: &AppState, headers: &HeaderMap, error: AppError) -> Response {
    let mut response = error.into_response();
    no_store(response.headers_mut());
    set_cookie(&mut response, &cleared_cookie(state, headers));
    response
}

fn no_content_clearing_cookie(state: &AppState, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &cleared_cookie(state, headers));
    response
}
