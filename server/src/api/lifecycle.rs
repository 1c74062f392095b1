//! The account's life by mail: proving an address, resetting a forgotten
//! password, changing the password or the address, and deleting the
//! account.
//!
//! Links in mails carry a token that only a form's submission spends
//! (`POST`): opening a link, as mail scanners do, spends nothing. A reset
//! request answers the same, at once, whether or not the address has an
//! account: the lookup and the mail happen after the answer.

use crate::error::Failure;
use axum::{Json, extract::State, http::StatusCode};
use classboard::{
    api::{EventKind, MailedToken, NewEmail, NewPassword, PasswordReset, PasswordResetRequest},
    validate::{Email, Issue},
};

use super::shared::{current, mail_token, prepare, presented};
use crate::{
    AppError, Result,
    auth::{
        limits::{Key, RequesterNet},
        normalize,
        proof::Action,
    },
    extract::{AppJson, AuthUser, Proven, Requester},
    mail::Letter,
    state::AppState,
    store::{
        email_tokens::{self, Purpose, Reset, Verified},
        now_ms,
        rows::{Event, Origin},
        users::{self, Account, Deleted},
    },
};

/// `POST /api/auth/verify-email {token}`: proves the address the token was
/// mailed to; for a new address, it becomes the account's.
#[utoipa::path(
    post, path = "/api/auth/verify-email", tag = "auth",
    request_body = classboard::api::MailedToken,
    responses(
        (status = 204, description = "The address is proven (a new one is now the account's)"),
        Failure,
    ),
)]
pub async fn verify_email(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    AppJson(req): AppJson<MailedToken>,
) -> Result<StatusCode> {
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let hash = state.email_tokens.hash(&req.token);
    match email_tokens::verify(&state.db, &hash, now_ms(), &origin).await? {
        Verified::Done { user_id, changed } => {
            state.profiles.forget(&user_id);
            tracing::info!(user = %user_id, changed, "email address verified");
            Ok(StatusCode::NO_CONTENT)
        }
        Verified::Gone => Err(AppError::MailedTokenGone),
        Verified::Taken => Err(AppError::Conflict("Another account uses this address now.")),
    }
}

/// `POST /api/account/verify-email`: mails a fresh verification link to the
/// account's address (the newest link is the one that works).
#[utoipa::path(
    post, path = "/api/account/verify-email", tag = "account",
    responses(
        (status = 202, description = "A new link is on its way", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn resend_verification(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let account = current(&state, &user).await?;
    if account.email_verified {
        return Err(AppError::Conflict("This address is verified already."));
    }
    let limit = state.config.limits.verification_mails_per_account;
    state
        .limit(&Key::verification_mails(&account.id), limit)
        .await?;
    if !mail_token(
        &state,
        &account,
        Purpose::VerifyEmail,
        &account.email,
        None,
        (&[], None),
    )
    .await?
    {
        return Err(AppError::InvalidToken(
            crate::auth::jwt::TokenError::Revoked,
        ));
    }
    Ok(accepted())
}

/// `POST /api/auth/password-reset {email}`: always `202 {}` for a valid
/// address, at once; the account is looked up, and the link mailed, after
/// the answer. Limited per address and per network.
#[utoipa::path(
    post, path = "/api/auth/password-reset", tag = "auth",
    request_body = classboard::api::PasswordResetRequest,
    responses(
        (status = 202, description = "Answered alike whether or not the address has an account", body = Object),
        Failure,
    ),
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    AppJson(req): AppJson<PasswordResetRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let email = normalize::email(&req.email)
        .map_err(|issue| AppError::validation([("email", Some(issue))]))?;
    let limits = state.config.limits;
    state
        .limit(
            &Key::password_resets_from(RequesterNet::of(ip)),
            limits.password_resets_per_ip,
        )
        .await?;
    state
        .limit(
            &Key::password_resets(email.as_str()),
            limits.password_resets_per_email,
        )
        .await?;
    // Bounded: an attacker with many networks cannot pile up lookups. When
    // every slot is taken the request is answered alike, and dropped.
    match RESET_LOOKUPS.clone().try_acquire_owned() {
        Ok(slot) => {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = mail_reset_link(&state, &email, &origin).await {
                    tracing::error!(error = %e, "cannot send a password-reset mail");
                }
                drop(slot);
            });
        }
        Err(_) => tracing::warn!("password-reset lookups at capacity; a request was dropped"),
    }
    Ok(accepted())
}

/// Password-reset lookups running at once, at most.
const RESET_LOOKUPS_AT_ONCE: usize = 64;
static RESET_LOOKUPS: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| {
        std::sync::Arc::new(tokio::sync::Semaphore::new(RESET_LOOKUPS_AT_ONCE))
    });

/// The reset link for the account with `email`, if there is one.
async fn mail_reset_link(state: &AppState, email: &Email, origin: &Origin) -> Result<()> {
    let Some(account) = users::by_login(&state.db, email.as_str()).await? else {
        tracing::info!("password reset asked for an address with no account");
        return Ok(());
    };
    let event = Event::new(EventKind::PasswordResetRequested, &account.id, origin);
    if mail_token(
        state,
        &account,
        Purpose::ResetPassword,
        &account.email,
        None,
        (&[], Some(&event)),
    )
    .await?
    {
        tracing::info!(user = %account.id, "password-reset link queued");
    }
    Ok(())
}

/// `POST /api/auth/password-reset/confirm {token, new_password}`: sets the
/// new password and ends every session of the account. A new password that
/// breaks a rule is `422` and spends nothing. Second factors stay.
#[utoipa::path(
    post, path = "/api/auth/password-reset/confirm", tag = "auth",
    request_body = classboard::api::PasswordReset,
    responses(
        (status = 204, description = "The password is set; every session is over"),
        Failure,
    ),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    AppJson(req): AppJson<PasswordReset>,
) -> Result<StatusCode> {
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let hash = state.email_tokens.hash(&req.token);
    let now = now_ms();
    let token = email_tokens::peek(&state.db, &hash, Purpose::ResetPassword, now)
        .await?
        .ok_or(AppError::MailedTokenGone)?;
    let account = users::by_id(&state.db, &token.user_id)
        .await?
        .ok_or(AppError::MailedTokenGone)?;
    let password = new_password(&account, &req.new_password)?;
    let password_hash = state.hasher.reserve()?.hash(password.expose()).await?;
    let notice = prepare(
        &state,
        &account.email,
        Letter::PasswordWasReset {
            username: &account.username,
        },
    )?;
    let reset = Reset {
        token_hash: &hash,
        user_id: &account.id,
        password_hash: &password_hash,
        now,
        notice: &notice.queued(),
        event: &Event::new(EventKind::PasswordResetDone, &account.id, &origin),
    };
    let ended = email_tokens::reset_password(&state.db, &reset)
        .await?
        .ok_or(AppError::MailedTokenGone)?;
    state.revocations.insert(&ended);
    state.profiles.forget(&account.id);
    state.mailer.wake();
    tracing::info!(user = %account.id, sessions_ended = ended.len(), "password reset");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/password {password, code?, new_password}`: every
/// other session ends; this one stays.
#[utoipa::path(
    post, path = "/api/account/password", tag = "account",
    request_body = super::openapi::PasswordChangeBody,
    responses(
        (status = 204, description = "The password is changed; the other sessions are over"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn change_password(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Proven { proof, change }: Proven<NewPassword>,
) -> Result<StatusCode> {
    // The new password, and a slot to hash it, before the proof is taken:
    // a rule it breaks, or a full hashing queue, costs no recovery code.
    let granted = state
        .proof
        .demand(
            user.caller(ip),
            Action::ChangePassword,
            presented(proof)?,
            async |account: &Account| {
                let password = new_password(account, &change.new_password)?;
                Ok::<_, AppError>((password, state.hasher.reserve()?))
            },
        )
        .await?;
    let (account, (password, slot)) = (granted.account, granted.checked);
    let password_hash = slot.hash(password.expose()).await?;
    let notice = prepare(
        &state,
        &account.email,
        Letter::PasswordChanged {
            username: &account.username,
        },
    )?;
    let ended = users::change_password(
        &state.db,
        &account.id,
        &user.session_id,
        (account.credentials_version, &password_hash),
        (
            &notice.queued(),
            &Event::new(EventKind::PasswordChanged, &account.id, &origin).session(&user.session_id),
        ),
    )
    .await?
    .ok_or(AppError::WrongProof(
        "The password changed meanwhile. Try again with the current one.",
    ))?;
    state.revocations.insert(&ended);
    state.mailer.wake();
    tracing::info!(user = %account.id, sessions_ended = ended.len(), "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/email {password, code?, email}`: mails a link to the
/// new address (which becomes the account's when it is followed) and a
/// notice to the current one.
#[utoipa::path(
    post, path = "/api/account/email", tag = "account",
    request_body = super::openapi::EmailChangeBody,
    responses(
        (status = 202, description = "A link is on its way to the new address", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn change_email(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Proven { proof, change }: Proven<NewEmail>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let email = normalize::email(&change.email)
        .map_err(|issue| AppError::validation([("email", Some(issue))]))?;
    // After the password (whether an address has an account is not for
    // anyone with a stolen token to probe) and within the mail budget, but
    // before the second factor is taken: a refusal spends none.
    let granted = state
        .proof
        .demand(
            user.caller(ip),
            Action::ChangeEmail,
            presented(proof)?,
            async |account: &Account| {
                if email.as_str() == account.email {
                    return Err(AppError::Conflict("This is the account's address already."));
                }
                let limit = state.config.limits.verification_mails_per_account;
                state
                    .limit(&Key::verification_mails(&account.id), limit)
                    .await?;
                if users::by_login(&state.db, email.as_str()).await?.is_some() {
                    return Err(AppError::Conflict(
                        "An account with this email already exists.",
                    ));
                }
                Ok(())
            },
        )
        .await?;
    let account = granted.account;
    let notice = prepare(
        &state,
        &account.email,
        Letter::EmailChangeRequested {
            username: &account.username,
            new_email: email.as_str(),
        },
    )?;
    let issued = mail_token(
        &state,
        &account,
        Purpose::ChangeEmail,
        email.as_str(),
        Some(account.credentials_version),
        (
            &[notice],
            Some(&Event::new(
                EventKind::EmailChangeRequested,
                &account.id,
                &origin,
            )),
        ),
    )
    .await?;
    if !issued {
        return Err(AppError::WrongProof(
            "The password changed meanwhile. Try again with the current one.",
        ));
    }
    tracing::info!(user = %account.id, "email change asked for");
    Ok(accepted())
}

/// `DELETE /api/account {password, code?}`: the account, its sessions,
/// factors and grades go; its posts stay, by a deleted user.
#[utoipa::path(
    delete, path = "/api/account", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "The account is deleted"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn delete_account(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(proof): AppJson<classboard::api::Reauth>,
) -> Result<StatusCode> {
    let granted = state
        .proof
        .demand(
            user.caller(ip),
            Action::DeleteAccount,
            presented(proof)?,
            async |account: &Account| {
                if users::is_last_admin(&state.db, &account.id).await? {
                    Err(last_admin())
                } else {
                    Ok(())
                }
            },
        )
        .await?;
    let account = granted.account;
    let notice = prepare(
        &state,
        &account.email,
        Letter::AccountDeleted {
            username: &account.username,
        },
    )?;
    let target = (account.id.as_str(), account.credentials_version);
    let event = Event::new(EventKind::AccountDeleted, &account.id, &origin);
    let mail_and_event = (&notice.queued(), &event);
    match users::delete(&state.db, target, now_ms(), mail_and_event).await? {
        Deleted::Done(ended) => {
            state.revocations.insert(&ended);
            state.profiles.forget(&account.id);
            state.mailer.wake();
            tracing::info!(user = %account.id, sessions_ended = ended.len(), "account deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        Deleted::Stale => Err(AppError::WrongProof(
            "The password changed meanwhile. Try again with the current one.",
        )),
        Deleted::LastAdmin => Err(last_admin()),
    }
}

fn last_admin() -> AppError {
    AppError::Conflict("You are the last admin: make someone else an admin first.")
}

/// A new password for `account`, checked against the rules; `422` on the
/// field `new_password`.
fn new_password(account: &Account, raw: &str) -> Result<classboard::validate::Password> {
    let local_part = account
        .email
        .rsplit_once('@')
        .map_or("", |(local, _)| local);
    normalize::new_password(raw, &account.username, local_part)
        .map_err(|issue: Issue| AppError::validation([("new_password", Some(issue))]))
}

/// `202 {}`.
fn accepted() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::ACCEPTED, Json(serde_json::json!({})))
}
