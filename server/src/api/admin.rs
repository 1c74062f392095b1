//! `/api/admin/users*`: what the admin console does to accounts. Every
//! handler asks for the `admin` role first; every change, for a session
//! proven within `REAUTH_WINDOW` too (the proof policy, `auth::proof`).

use crate::{error::Failure, extract::Page};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use classboard::api::{AdminUser, AdminUserPage, EventKind, Role};

use super::shared::prepare;
use crate::{
    AppError, Result,
    auth::proof::Action,
    extract::{AuthUser, PageQuery, Requester},
    mail::Letter,
    state::AppState,
    store::{
        mfa, rfc3339,
        rows::{Event, stored_role},
        users::{self, Listed, LockChanged},
    },
};

/// The longest search prefix accepted.
const MAX_QUERY: usize = 254;

/// `GET /api/admin/users?q=&limit=&before=`: accounts whose username or
/// email starts with `q` (any case), by username.
#[utoipa::path(
    get, path = "/api/admin/users", tag = "admin",
    params(("q" = Option<String>, Query, description = "A prefix of the username or email, any case"), Page),
    responses(
        (status = 200, description = "Accounts by username", body = classboard::api::AdminUserPage),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn users(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<AdminUserPage>> {
    user.require(Role::Admin)?;
    let prefix = page.param("q").unwrap_or_default().trim();
    if prefix.chars().count() > MAX_QUERY {
        return Err(AppError::InvalidRequest(format!(
            "q must be at most {MAX_QUERY} characters."
        )));
    }
    let (rows, more) = users::search(&state.db, prefix, page.limit, page.before.as_deref()).await?;
    let next = more
        .then(|| rows.last().map(|r| r.username.to_lowercase()))
        .flatten();
    Ok(Json(AdminUserPage {
        users: rows.into_iter().map(view).collect(),
        next,
    }))
}

fn view(row: Listed) -> AdminUser {
    AdminUser {
        role: stored_role(&row.role),
        created_at: rfc3339(row.created_at),
        last_login_at: row.last_login_at.map(rfc3339),
        id: row.id,
        username: row.username,
        email: row.email,
        email_verified: row.email_verified,
        mfa: row.mfa,
        locked: row.locked,
    }
}

/// `POST /api/admin/users/{id}/lock`: the account cannot sign in or
/// refresh, and its sessions end at once. An admin cannot lock themselves,
/// nor the last admin who can sign in (`409`); locking a locked account
/// changes nothing.
#[utoipa::path(
    post, path = "/api/admin/users/{id}/lock", tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Locked; its sessions are over"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn lock(
    state: State<AppState>,
    requester: Requester,
    user: AuthUser,
    id: Path<String>,
) -> Result<StatusCode> {
    set_locked(state, requester, user, id, true).await
}

/// `POST /api/admin/users/{id}/unlock`
#[utoipa::path(
    post, path = "/api/admin/users/{id}/unlock", tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Unlocked"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn unlock(
    state: State<AppState>,
    requester: Requester,
    user: AuthUser,
    id: Path<String>,
) -> Result<StatusCode> {
    set_locked(state, requester, user, id, false).await
}

async fn set_locked(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
    lock: bool,
) -> Result<StatusCode> {
    user.require(Role::Admin)?;
    if lock && id == user.id {
        return Err(AppError::Conflict("You cannot lock your own account."));
    }
    let action = if lock {
        Action::LockAccount
    } else {
        Action::UnlockAccount
    };
    state.proof.require_proven(user.caller(ip), action).await?;
    let kind = if lock {
        EventKind::AccountLocked
    } else {
        EventKind::AccountUnlocked
    };
    let event = Event::new(kind, &id, &origin).by(&user.id);
    match users::set_locked(&state.db, &id, lock, &event).await? {
        LockChanged::Done(ended) => {
            state.revocations.insert(&ended);
            tracing::info!(user = %id, by = %user.id, lock, sessions_ended = ended.len(), "account lock changed");
        }
        LockChanged::Already => {}
        LockChanged::NoSuchUser => return Err(AppError::NotFound),
        LockChanged::LastAdmin => {
            return Err(AppError::Conflict(
                "This is the last admin who can sign in; make another admin first.",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/admin/users/{id}/mfa`: removes every second factor (for
/// someone who lost them); the account is told by mail. `404` when the
/// account has none, or does not exist.
#[utoipa::path(
    delete, path = "/api/admin/users/{id}/mfa", tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Every second factor is removed; the owner is mailed"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn remove_mfa(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    user.require(Role::Admin)?;
    if id == user.id {
        // What the account page asks of everyone (the password and a
        // factor), an admin's token alone must not skip.
        return Err(AppError::Conflict(
            "Remove your own second factors from your account page.",
        ));
    }
    state
        .proof
        .require_proven(user.caller(ip), Action::RemoveSecondFactors)
        .await?;
    let Some(account) = users::by_id(&state.db, &id).await? else {
        return Err(AppError::NotFound);
    };
    let notice = prepare(
        &state,
        &account.email,
        Letter::SecondFactorsRemoved {
            username: &account.username,
        },
    )?;
    let event = Event::new(EventKind::SecondFactorRemoved, &id, &origin)
        .by(&user.id)
        .detail("all, by an admin");
    let Some(ended) = mfa::remove_all(&state.db, &id, (&notice.queued(), &event)).await? else {
        return Err(AppError::NotFound);
    };
    state.revocations.insert(&ended);
    state.profiles.forget(&id);
    state.mailer.wake();
    tracing::info!(user = %id, by = %user.id, sessions_ended = ended.len(), "second factors removed by an admin");
    Ok(StatusCode::NO_CONTENT)
}
