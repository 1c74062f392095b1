//! `/api/auth/*`, `/api/me` and the JWKS: signup, login, refresh, logout and
//! sessions.

use crate::{error::Failure, extract::Page};
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use classboard::{
    ErrorCode,
    api::{
        EventKind, LoginRequest, MfaLogin, MfaMethod, MfaRequired, RefreshRequest, Session,
        SessionList, SignupRequest,
    },
    validate::{Email, Issue, Username},
};

use super::{
    shared::{self, device_name},
    tokens::{
        begin_session, no_content_clearing_cookie, no_store, presented_token, start_session,
        token_response, with_cleared_cookie,
    },
};
use crate::{
    AppError, Result,
    auth::{
        dpop::Proven,
        limits::{Attempt, Key, RequesterNet, Subject},
        mfa,
        normalize::{self, LoginName, PasswordForms},
        passkeys::Verified,
        password::Verdict,
        sessions::{First, Reason, Refresh, SessionCursor, SignIn},
    },
    extract::{AppJson, AuthUser, OptionalJson, PageQuery, Requester, SessionKey},
    state::AppState,
    store::{
        now_ms, rfc3339,
        rows::{Event, Origin},
        users::{self, Account},
    },
};

/// `POST /api/auth/signup`
#[utoipa::path(
    post, path = "/api/auth/signup", tag = "auth",
    request_body = classboard::api::SignupRequest,
    responses(
        (status = 201, description = "Signed up and signed in", body = classboard::api::TokenResponse),
        Failure,
    ),
)]
pub async fn signup(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    key: SessionKey,
    headers: HeaderMap,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<Response> {
    state
        .limit(
            &Key::signups(RequesterNet::of(ip)),
            state.config.limits.signups_per_ip,
        )
        .await?;
    let key = key.spend(&state).await?;

    let username = Username::parse(&req.username);
    let email = normalize::email(&req.email);
    let local_part = email.as_ref().map_or("", Email::local_part);
    let password = normalize::new_password(&req.password, &req.username, local_part);
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

    let hash = state.hasher.reserve()?.hash(password.expose()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let account = users::insert(
        &state.db,
        &id,
        username.as_str(),
        email.as_str(),
        &hash,
        now_ms(),
    )
    .await
    .map_err(|e| match crate::store::taken_field(&e) {
        Some("email") => AppError::Conflict("An account with this email already exists."),
        Some(_) => AppError::Conflict("This username is taken."),
        None => e.into(),
    })?;
    tracing::info!(user = %account.id, "account created");
    super::shared::mail_signup_verification(&state, &account).await;
    let sign_in = SignIn::password(now_ms()).bound_to(key);
    let gone = AppError::Internal("the account vanished while signing up".into());
    let events = [(EventKind::Signup, None), (EventKind::LoginSucceeded, None)];
    start_session(
        &state,
        &headers,
        StatusCode::CREATED,
        (&account, &origin),
        sign_in,
        &events,
        gone,
    )
    .await
}

/// `POST /api/auth/login`
///
/// The attempt is counted against the account's failure budgets before its
/// password is hashed (and given back when it succeeds), so however many
/// guesses arrive at once, no more are hashed than the limits allow.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = classboard::api::LoginRequest,
    responses(
        (status = 200, description = "Signed in: tokens (and the refresh cookie)", body = classboard::api::TokenResponse),
        (status = 403, description = "`mfa_required` (a `MfaRequired` body: the second step is next), or `forbidden`: the account is locked", body = classboard::ErrorBody),
        Failure,
    ),
)]
pub async fn login(
    state: State<AppState>,
    requester: Requester,
    key: SessionKey,
    headers: HeaderMap,
    req: AppJson<LoginRequest>,
) -> Result<Response> {
    let result = log_in(state, requester, key, headers, req).await;
    crate::metrics::login(&result);
    result
}

async fn log_in(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    key: SessionKey,
    headers: HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Response> {
    // An unusable name is refused before anything is counted or looked up.
    let name =
        LoginName::parse(&req.login).map_err(|issue| AppError::invalid_field("login", issue))?;
    let net = RequesterNet::of(ip);
    let limits = state.config.limits;
    state.limit_auth_request(net).await?;
    let key = key.spend(&state).await?;

    let account = users::by_login(&state.db, name.as_str()).await?;
    // Failures count against the account however its name was typed; for a
    // name that matches none, against the name, so the limits reveal nothing
    // about which accounts exist.
    let subject = account
        .as_ref()
        .map_or(Subject::Name(name.as_str()), |a| Subject::Account(&a.id));
    let attempt = state
        .limiter
        .attempt(
            subject,
            net,
            crate::auth::limits::FailureLimits::of(&limits),
        )
        .await??;
    let (reserved, attempt) = state.reserve_hash(attempt).await?;

    let password = PasswordForms::of(&req.password);
    // A name that matches no account is checked as a current hash would be.
    let candidates = password.against(account.as_ref().is_none_or(|a| a.password_nfc));
    let verdict = reserved
        .verify(
            &candidates,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await?;
    let account = match (verdict, account) {
        (Verdict::Match | Verdict::MatchNeedsRehash, Some(account)) => account,
        (_, account) => {
            let failed = Event {
                user_id: account.as_ref().map(|a| a.id.as_str()),
                ..Event::new(EventKind::LoginFailed, "", &origin)
            };
            super::shared::record_alone(&state, &failed).await;
            return Err(AppError::InvalidCredentials);
        }
    };
    if account.locked {
        // Said only to whoever knows the password.
        return Err(AppError::Locked);
    }
    if verdict == Verdict::MatchNeedsRehash {
        rehash(&state, &account, &password.normalised).await?;
    } else if !account.password_nfc {
        // The normalised form matched: that is what the hash was made from.
        users::mark_password_nfc(&state.db, &account.id, &account.password_hash).await?;
    }
    // Deleted between the password check and now: as if it never existed.
    let gone = AppError::InvalidCredentials;
    let proven = (First::Password, attempt, key);
    after_first_step(
        &state,
        &headers,
        (&account, &origin),
        proven,
        "password",
        gone,
    )
    .await
}

/// What follows a right first factor (`first`, counted as `attempt`):
/// the second step when the account has a second factor (the attempt keeps
/// counting until that is right: a known password or code must not buy
/// fresh guesses at the second factor), else a session bound to `key`,
/// recorded as signed in `how`. `gone` answers an account deleted since it
/// was read; a second factor added since turns the sign-in into the second
/// step, as if it had been there all along. A session refused for a reason
/// of its own (the password changed meanwhile, say) is answered as `gone`,
/// but does not count as a failure.
pub(super) async fn after_first_step(
    state: &AppState,
    headers: &HeaderMap,
    (account, origin): (&Account, &Origin),
    (first, attempt, key): (First, Attempt, Option<Proven>),
    how: &str,
    gone: AppError,
) -> Result<Response> {
    let agent = origin.user_agent.as_deref();
    if account.second_factor(state.config.sms_second_factor) {
        return mfa_required(state, account, first, agent).await;
    }
    state.limiter.succeeded(attempt).await?;
    let sign_in = SignIn::first_alone(first, now_ms()).bound_to(key);
    let started = begin_session(
        state,
        headers,
        StatusCode::OK,
        (account, origin),
        sign_in,
        &[(EventKind::LoginSucceeded, Some(how))],
        gone,
    )
    .await?;
    match started {
        Some(response) => Ok(response),
        None => mfa_required(state, account, first, agent).await,
    }
}

/// The `403 mfa_required` answer: no token yet, a challenge for the second
/// step, and the methods the account can finish it with.
pub(super) async fn mfa_required(
    state: &AppState,
    account: &Account,
    first: First,
    agent: Option<&str>,
) -> Result<Response> {
    let factors = state.second_factors.factors(&account.id).await?;
    let challenge = (account.id.as_str(), account.credentials_version, first);
    let Some(mfa_token) = state.second_factors.challenge(challenge, agent).await? else {
        // The password changed since it was checked: as if it were wrong.
        return Err(AppError::InvalidCredentials);
    };
    let mut methods = Vec::new();
    if factors.totp_since.is_some() {
        methods.push(MfaMethod::Totp);
    }
    if factors.recovery_codes_left > 0 {
        methods.push(MfaMethod::RecoveryCode);
    }
    if factors.passkeys > 0 {
        methods.push(MfaMethod::Passkey);
    }
    if factors.sms_usable() {
        methods.push(MfaMethod::Sms);
    }
    let body = MfaRequired {
        error: ErrorCode::MfaRequired,
        error_description: match first {
            First::Password => "The password is right; this account also needs its second factor.",
            First::EmailCode => "The code is right; this account also needs its second factor.",
        }
        .into(),
        mfa_token,
        methods,
        expires_in: mfa::CHALLENGE_TTL.as_secs(),
    };
    let mut response = (StatusCode::FORBIDDEN, Json(body)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// `POST /api/auth/mfa`: the second step of a login. The code (or passkey
/// assertion) counts against the account's failure budgets like a
/// password; the fifth wrong one ends the `mfa_token`.
#[utoipa::path(
    post, path = "/api/auth/mfa", tag = "auth",
    request_body = classboard::api::MfaLogin,
    responses(
        (status = 200, description = "Signed in: tokens (and the refresh cookie)", body = classboard::api::TokenResponse),
        Failure,
    ),
)]
pub async fn mfa(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    session_key: SessionKey,
    headers: HeaderMap,
    AppJson(req): AppJson<MfaLogin>,
) -> Result<Response> {
    let passkey = match req.method {
        MfaMethod::Passkey => Some(shared::passkey_assertion(
            req.ceremony.as_deref(),
            req.credential.as_deref(),
        )?),
        MfaMethod::Totp | MfaMethod::RecoveryCode | MfaMethod::Sms
            if req.code.trim().is_empty() =>
        {
            return Err(AppError::invalid_field("code", Issue::Required));
        }
        MfaMethod::Totp | MfaMethod::RecoveryCode | MfaMethod::Sms => None,
    };
    let Some(challenge) = state.second_factors.challenged(&req.mfa_token).await? else {
        return Err(AppError::InvalidMfaToken);
    };
    let net = RequesterNet::of(ip);
    let limits = state.config.limits;
    state.limit_auth_request(net).await?;
    let session_key = session_key.spend(&state).await?;
    let attempt = state
        .limiter
        .attempt_code(
            &challenge.user_id,
            net,
            crate::auth::limits::FailureLimits::of(&limits),
        )
        .await??;
    // The passkey (its key, `hwk` or `swk`, and id) when one verified.
    let (outcome, key) = match (req.method, passkey) {
        (MfaMethod::Passkey, Some((ceremony, presented))) => {
            let verified = state
                .passkeys
                .finish_assertion(
                    &challenge.user_id,
                    Some(&req.mfa_token),
                    &ceremony,
                    &presented,
                )
                .await?;
            let key = match verified {
                Verified::Yes {
                    amr, passkey_id, ..
                } => Some((amr, passkey_id)),
                Verified::Gone => {
                    state.limiter.abandoned(attempt).await?;
                    return Err(AppError::CeremonyGone);
                }
                Verified::Refused | Verified::CounterWentBack => None,
            };
            let outcome = state
                .second_factors
                .redeem_passkey(&req.mfa_token, key.is_some())
                .await?;
            (outcome, key)
        }
        (method, _) => {
            let method = match method {
                MfaMethod::Totp => mfa::Method::Totp,
                MfaMethod::Sms => mfa::Method::Sms,
                _ => mfa::Method::RecoveryCode,
            };
            let outcome = state
                .second_factors
                .redeem(&req.mfa_token, &challenge.user_id, method, &req.code)
                .await?;
            (outcome, None)
        }
    };
    if let mfa::Outcome::Wrong { .. } = outcome {
        let failed = Event::new(EventKind::SecondFactorFailed, &challenge.user_id, &origin);
        super::shared::record_alone(&state, &failed).await;
    }
    let (challenge, recovery_set, phone_since) = match outcome {
        mfa::Outcome::Done {
            challenge,
            recovery_set,
            phone_since,
        } => (challenge, recovery_set, phone_since),
        mfa::Outcome::Wrong { ended: false } => {
            return Err(AppError::WrongProof("The code is not correct."));
        }
        mfa::Outcome::Wrong { ended: true } => {
            return Err(AppError::WrongProof(
                "The code is not correct. That was the last try: log in again.",
            ));
        }
        mfa::Outcome::Gone => return Err(AppError::InvalidMfaToken),
    };
    state.limiter.succeeded(attempt).await?;
    let at = challenge.created_at;
    let Some(first) = First::parse(&challenge.first_factor) else {
        return Err(AppError::Internal(format!(
            "a second step whose first factor is {:?}",
            challenge.first_factor
        )));
    };
    let sign_in = match (req.method, key, recovery_set, phone_since) {
        (MfaMethod::Totp, ..) => SignIn::first_and_totp(first, at),
        (MfaMethod::Sms, _, _, Some(since)) => SignIn::first_and_sms(first, since, at),
        (MfaMethod::RecoveryCode, _, Some(set), _) => {
            SignIn::first_and_recovery_code(first, set, at)
        }
        // Done only when the passkey verified, which named it.
        (MfaMethod::Passkey, Some((key, id)), ..) => SignIn::first_and_passkey(first, key, &id, at),
        _ => {
            return Err(AppError::Internal(
                "a second step was done without the factor that did it".into(),
            ));
        }
    }
    .bound_to(session_key);
    let Some(mut account) = users::by_id(&state.db, &challenge.user_id).await? else {
        return Err(AppError::InvalidMfaToken);
    };
    // The session starts only if the password is still the one the first
    // step checked.
    account.credentials_version = challenge.credentials_version;
    // The session is the browser's that gave the password.
    let origin = Origin {
        user_agent: challenge.user_agent.clone(),
        ..origin
    };
    let first_words = match first {
        First::Password => "password",
        First::EmailCode => "code by mail",
    };
    let (second_words, used) = match req.method {
        MfaMethod::Totp => ("TOTP", None),
        MfaMethod::Sms => ("texted code", None),
        MfaMethod::RecoveryCode => ("recovery code", Some(EventKind::RecoveryCodeUsed)),
        MfaMethod::Passkey => ("passkey", Some(EventKind::PasskeyUsed)),
    };
    let how = format!("{first_words} and {second_words}");
    let mut events = vec![(EventKind::LoginSucceeded, Some(how.as_str()))];
    events.extend(used.map(|kind| (kind, None)));
    let gone = AppError::InvalidMfaToken;
    start_session(
        &state,
        &headers,
        StatusCode::OK,
        (&account, &origin),
        sign_in,
        &events,
        gone,
    )
    .await
}

/// Replaces a hash made with weaker parameters, or from a password before
/// normalisation, by one of `password` as it is compared today. Skipped
/// when every hashing slot is busy (the next login tries again), and when
/// the hash changed meanwhile (a new password committed during the hashing
/// wins; so does another login's upgrade).
async fn rehash(state: &AppState, account: &Account, password: &str) -> Result<()> {
    let Ok(reserved) = state.hasher.reserve() else {
        return Ok(());
    };
    let upgraded = reserved.hash(password).await?;
    if users::replace_password_hash(&state.db, &account.id, &account.password_hash, &upgraded)
        .await?
    {
        tracing::info!(user = %account.id, "password hash upgraded to current parameters");
    }
    Ok(())
}

/// `POST /api/auth/refresh`
#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth",
    request_body = Option<classboard::api::RefreshRequest>,
    responses(
        (status = 200, description = "A new token pair; the presented token is spent", body = classboard::api::TokenResponse),
        Failure,
    ),
    security((), ("refresh_cookie" = [])),
)]
pub async fn refresh(
    state: State<AppState>,
    requester: Requester,
    key: SessionKey,
    headers: HeaderMap,
    body: OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let result = rotate(state, requester, key, headers, body).await;
    crate::metrics::refresh(&result);
    result
}

async fn rotate(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    key: SessionKey,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let Some(token) = presented_token(&state, &headers, body)? else {
        return Err(AppError::InvalidRequest(
            "No refresh token was sent (cookie or body).".into(),
        ));
    };
    let counter = state
        .limiter
        .stored(&Key::auth_requests(RequesterNet::of(ip)));
    let limit = state.config.limits.auth_requests_per_ip;
    if let Some(exceeded) = state.limiter.known_refused(&counter, limit) {
        return Err(exceeded.into());
    }
    let key = key.spend(&state).await?;

    // A session bound to a browser's key is refreshed only with a proof of
    // it. A live token without any proof is refused before it is spent: the
    // browser that holds the key goes on (a tab of an older page, a key
    // IndexedDB failed to give back for a moment), and whoever copied the
    // token gets nothing. A spent one is a reuse, and a proof of another key
    // a theft: both end the session (below).
    if key.is_none() && state.sessions.needs_proof(&token).await? {
        return Err(AppError::InvalidDpopProof(
            "This session is bound to its browser's DPoP key: a refresh needs a proof of it.",
        ));
    }

    // The rotation counts the attempt in the same trip to the database.
    let (mut issued, role) = match state.sessions.refresh(&token, &counter, limit).await? {
        Refresh::Rotated(issued, role) | Refresh::Replayed(issued, role) => (issued, role),
        Refresh::Limited(exceeded) => {
            state.limiter.remember_refused(&counter, limit);
            return Err(exceeded.into());
        }
        Refresh::Reused {
            session_id,
            user_id,
        } => {
            state.revocations.insert([&session_id]);
            crate::metrics::reuse_detected();
            // After the revocation committed: it is what matters, and its
            // statement is shared by every way a reuse can be found.
            let reused = Event::new(EventKind::RefreshTokenReused, &user_id, &origin);
            super::shared::record_alone(&state, &reused.session(&session_id)).await;
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
    if !state.sessions.holds_key(&mut issued, key.as_ref()).await? {
        // The token was spent with a proof of another key (or without one,
        // when the session was bound meanwhile): it left the browser it was
        // issued to. End the session, as a reuse.
        tracing::warn!(session = %issued.session_id, "a DPoP-bound refresh token came with a proof of another key; session ended");
        let stolen = Event::new(EventKind::RefreshTokenReused, &issued.user_id, &origin)
            .session(&issued.session_id);
        let ended = state
            .sessions
            .revoke(&issued.session_id, Reason::Reuse, &stolen)
            .await?;
        state.revocations.insert(&ended);
        crate::metrics::reuse_detected();
        return Ok(with_cleared_cookie(
            &state,
            &headers,
            AppError::EndedForSafety,
        ));
    }
    let Some(profile) = state.profiles.get(&state.db, &issued.user_id).await? else {
        return Ok(with_cleared_cookie(
            &state,
            &headers,
            AppError::InvalidGrant,
        ));
    };
    let user = profile.to_api(&issued.user_id, role);
    token_response(&state, &headers, StatusCode::OK, user, issued)
}

/// `POST /api/auth/logout`: ends the session of the presented refresh token.
/// Idempotent: an unknown or already ended session is still a `204`.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    request_body = Option<classboard::api::RefreshRequest>,
    responses(
        (status = 204, description = "The session is over (also when it was already)"),
        Failure,
    ),
    security((), ("refresh_cookie" = [])),
)]
pub async fn logout(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    if let Some(token) = presented_token(&state, &headers, body)?
        && let Some((session_id, user_id)) = state.sessions.unrevoked_session_of(&token).await?
    {
        let event = Event::new(EventKind::Logout, &user_id, &origin).session(&session_id);
        // The session, and the apps' grants it signed in.
        let ended = state
            .sessions
            .revoke(&session_id, Reason::Logout, &event)
            .await?;
        state.revocations.insert(&ended);
    }
    Ok(no_content_clearing_cookie(&state, &headers))
}

/// `POST /api/auth/logout-all`: ends every session of the bearer.
#[utoipa::path(
    post, path = "/api/auth/logout-all", tag = "auth",
    responses(
        (status = 204, description = "Every session of the caller is over"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn logout_all(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    headers: HeaderMap,
    user: AuthUser,
) -> Result<Response> {
    let event = Event::new(EventKind::LogoutAll, &user.id, &origin).session(&user.session_id);
    let ended = state
        .sessions
        .revoke_all(&user.id, Reason::LogoutAll, &event)
        .await?;
    state.revocations.insert(&ended);
    Ok(no_content_clearing_cookie(&state, &headers))
}

/// `GET /api/auth/sessions?limit=&before=`: most recently used first.
#[utoipa::path(
    get, path = "/api/auth/sessions", tag = "auth",
    params(Page),
    responses(
        (status = 200, description = "The caller's live sessions, most recently used first", body = classboard::api::SessionList),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn sessions(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<SessionList>> {
    let after = page
        .before
        .as_deref()
        .map(|raw| SessionCursor::decode(raw).ok_or_else(PageQuery::bad_cursor))
        .transpose()?;
    let (rows, next) = state
        .sessions
        .list(&user.id, page.limit, after.as_ref())
        .await?;
    let sessions = rows
        .into_iter()
        .map(|s| Session {
            current: s.id == user.session_id,
            id: s.id,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            device: s.user_agent.as_deref().and_then(device_name),
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(Json(SessionList {
        sessions,
        next: next.map(|c| c.encode()),
    }))
}

/// `DELETE /api/auth/sessions/{id}`: another user's session is a `404`, so
/// that session ids cannot be probed.
#[utoipa::path(
    delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "The session is over"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let event = Event::new(EventKind::SessionRevoked, &user.id, &origin).session(&id);
    let ended = state.sessions.revoke_own(&user.id, &id, &event).await?;
    if ended.is_empty() {
        return Err(AppError::NotFound);
    }
    state.revocations.insert(&ended);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`
#[utoipa::path(
    get, path = "/api/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = classboard::api::UserResponse),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<impl IntoResponse> {
    // The role is the token's: a role change revokes the sessions of tokens
    // that carry the old one.
    let shown = state
        .profiles
        .shown(&state.db, &user.id, user.role)
        .await?
        .ok_or(AppError::InvalidToken(
            crate::auth::jwt::TokenError::Revoked,
        ))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], shown))
}

/// `GET /.well-known/jwks.json`: the public keys of the ring (published,
/// active and retired; none with HS256). Cached for a minute: far less than
/// the publish lead, so verifiers have a new key before it signs.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "operations",
    responses(
        (status = 200, description = "The public keys that verify access tokens (RFC 7517)", body = Object),
        Failure,
    ),
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(state.keys.jwks()),
    )
}
