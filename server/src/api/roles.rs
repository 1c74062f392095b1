//! `/api/users/{id}/role`: an admin changes someone's role.

use crate::error::Failure;
use axum::{
    Json,
    extract::{Path, State},
};
use classboard::{
    api::{EventKind, Role, RoleChange, UserResponse},
    validate::Issue,
};

use crate::{
    AppError, Result,
    auth::proof::Action,
    extract::{AppJson, AuthUser, Requester},
    state::AppState,
    store::{
        rows::Event,
        users::{self, RoleChanged},
    },
};

/// `PATCH /api/users/{id}/role`. The user's sessions end with the change, so
/// the new role applies from their next login. The last admin stays one.
/// Takes a session proven within `REAUTH_WINDOW`.
#[utoipa::path(
    patch, path = "/api/users/{id}/role", tag = "admin",
    params(("id" = String, Path)),
    request_body = classboard::api::RoleChange,
    responses(
        (status = 200, description = "The new role; the user's sessions are over", body = classboard::api::UserResponse),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn change_role(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
    AppJson(req): AppJson<RoleChange>,
) -> Result<Json<UserResponse>> {
    user.require(Role::Admin)?;
    let role =
        Role::parse(&req.role).ok_or_else(|| AppError::invalid_field("role", Issue::Invalid))?;
    state
        .proof
        .require_proven(user.caller(ip), Action::ChangeRole)
        .await?;
    let event = Event::new(EventKind::RoleChanged, &id, &origin)
        .by(&user.id)
        .detail(role.as_str());
    let (account, ended) = match users::change_role(&state.db, &id, role, &event).await? {
        RoleChanged::Changed(account, ended) => (account, ended),
        RoleChanged::NoSuchUser => return Err(AppError::NotFound),
        RoleChanged::LastAdmin => {
            return Err(AppError::Conflict(
                "This is the last admin; make another admin first.",
            ));
        }
    };
    state.revocations.insert(&ended);
    tracing::info!(user = %account.id, role = role.as_str(), by = %user.id, "role changed");
    Ok(Json(UserResponse {
        user: account.to_api(),
    }))
}
