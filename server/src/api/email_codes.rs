//! `/api/auth/otp/*`: signing in with a code sent by mail instead of the
//! password. The code is a first factor: an account with a second factor
//! still takes its second step.

use crate::error::Failure;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use classboard::api::{EmailCodeLogin, EmailCodeRequest, EventKind};

use super::{
    auth::after_first_step,
    shared::{self, prepare},
};
use crate::{
    AppError, Result,
    auth::{
        email_tokens::{self, CODE_TTL},
        limits::{FailureLimits, Key, RequesterNet, Subject},
        normalize,
        sessions::First,
    },
    extract::{AppJson, Requester, SessionKey},
    mail::Letter,
    state::AppState,
    store::{
        email_codes::{self, Checked, NewCode},
        ms, now_ms,
        rows::{Event, Origin},
        users,
    },
};

/// Lookups and mails of codes running at once, at most: an attacker with
/// many networks cannot pile them up. When every slot is taken the request
/// is answered alike, and dropped.
const LOOKUPS_AT_ONCE: usize = 64;
static LOOKUPS: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(tokio::sync::Semaphore::new(LOOKUPS_AT_ONCE)));

/// `POST /api/auth/otp/email {email}`: `202 {}` at once for any valid
/// address, whether an account has it or not; the account is looked up and
/// the code mailed after the answer. Limited per address
/// (`EMAIL_CODES_PER_ADDRESS`) and by the network's sign-in budget.
#[utoipa::path(
    post, path = "/api/auth/otp/email", tag = "auth",
    request_body = classboard::api::EmailCodeRequest,
    responses(
        (status = 202, description = "Answered alike whether or not the address has an account", body = Object),
        Failure,
    ),
)]
pub async fn request_code(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    AppJson(req): AppJson<EmailCodeRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let email = normalize::email(&req.email)
        .map_err(|issue| AppError::validation([("email", Some(issue))]))?;
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let limit = state.config.limits.email_codes_per_address;
    state
        .limit(&Key::email_codes(email.as_str()), limit)
        .await?;
    match LOOKUPS.clone().try_acquire_owned() {
        Ok(slot) => {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = mail_code(&state, email.as_str(), &origin).await {
                    tracing::error!(error = %e, "cannot send a sign-in code");
                }
                drop(slot);
            });
        }
        Err(_) => tracing::warn!("sign-in code lookups at capacity; a request was dropped"),
    }
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

/// A new code for the account with `email`, if there is one (and it is not
/// locked), mailed to that address.
async fn mail_code(state: &AppState, email: &str, origin: &Origin) -> Result<()> {
    let Some(account) = users::by_login(&state.db, email).await? else {
        tracing::info!("a sign-in code asked for an address with no account");
        return Ok(());
    };
    let (code, hash) = state.email_tokens.mint_code(&account.id);
    let letter = Letter::SignInCode {
        username: &account.username,
        email: &account.email,
        code: &code,
    };
    let mail = prepare(state, &account.email, letter)?;
    let now = now_ms();
    let new = NewCode {
        user_id: &account.id,
        email: &account.email,
        hash: &hash,
        now,
        expires_at: now + ms(CODE_TTL),
    };
    let event = Event::new(EventKind::SignInCodeRequested, &account.id, origin);
    if email_codes::issue(&state.db, &new, &mail.queued(), &event).await? {
        state.mailer.wake();
        tracing::info!(user = %account.id, "sign-in code queued");
    } else {
        tracing::info!(user = %account.id, "no sign-in code: the account is locked or its address unconfirmed");
    }
    Ok(())
}

/// `POST /api/auth/otp/verify {email, code}`: signs in with the code the
/// mail gave. The code works once, for 10 minutes, the newest one only; the
/// fifth wrong one ends it. Every failure, an unknown address's included, is
/// answered alike, and counts against the account's (or the address's)
/// failure budgets like a wrong password. An account with a second factor
/// gets `403 mfa_required`, as after a password. (Codes go only to confirmed
/// addresses, so a code confirms nothing: see `store::email_codes::issue`.)
#[utoipa::path(
    post, path = "/api/auth/otp/verify", tag = "auth",
    request_body = classboard::api::EmailCodeLogin,
    responses(
        (status = 200, description = "Signed in: tokens (and the refresh cookie)", body = classboard::api::TokenResponse),
        (status = 403, description = "`mfa_required` (a `MfaRequired` body: the second step is next)", body = classboard::ErrorBody),
        Failure,
    ),
)]
pub async fn verify_code(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    key: SessionKey,
    headers: HeaderMap,
    AppJson(req): AppJson<EmailCodeLogin>,
) -> Result<Response> {
    let email = normalize::email(&req.email)
        .map_err(|issue| AppError::validation([("email", Some(issue))]))?;
    let Some(code) = email_tokens::code(&req.code) else {
        return Err(AppError::validation([(
            "code",
            Some(classboard::validate::Issue::Invalid),
        )]));
    };
    let net = RequesterNet::of(ip);
    state.limit_auth_request(net).await?;
    let key = key.spend(&state).await?;
    let account = users::by_login(&state.db, email.as_str())
        .await?
        .filter(|a| a.email == email.as_str());
    let subject = account
        .as_ref()
        .map_or(Subject::Name(email.as_str()), |a| Subject::Account(&a.id));
    let attempt = state
        .limiter
        .attempt(subject, net, FailureLimits::of(&state.config.limits))
        .await??;
    // Every failure alike; an unknown address's too, after the same keyed
    // hash and an event as a wrong code's (without the address).
    let hash = state
        .email_tokens
        .code_hash(account.as_ref().map_or("", |a| a.id.as_str()), &code);
    let checked = match &account {
        Some(account) => email_codes::check(&state.db, &account.id, &hash, now_ms()).await?,
        None => Checked::Gone,
    };
    let (
        Checked::Right {
            credentials_version,
        },
        Some(account),
    ) = (checked, account.clone())
    else {
        let failed = Event {
            user_id: account.as_ref().map(|a| a.id.as_str()),
            detail: Some("a sign-in code"),
            ..Event::new(EventKind::LoginFailed, "", &origin)
        };
        shared::record_alone(&state, &failed).await;
        return Err(wrong_code());
    };
    // The session starts only if the credentials are still those the code
    // was checked against.
    let account = users::Account {
        credentials_version,
        ..account
    };
    let proven = (First::EmailCode, attempt, key);
    let (how, gone) = ("code by mail", wrong_code());
    after_first_step(&state, &headers, (&account, &origin), proven, how, gone).await
}

/// The one answer to every failed code.
fn wrong_code() -> AppError {
    AppError::WrongProof(
        "This code is not right, or no longer works. Check it, or ask for a new one.",
    )
}
