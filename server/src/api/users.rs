//! `/api/users/{id}/role`: an admin changes someone's role.

use axum::{
    Json,
    extract::{Path, State},
};
use classboard::{
    api::{Role, RoleChange, UserResponse},
    validate::Issue,
};

use crate::{
    AppError, Result,
    auth::sessions::Reason,
    extract::{AppJson, AuthUser},
    startup::AppState,
    users,
};

/// `PATCH /api/users/{id}/role`. The user's sessions end, so the new role
/// applies from their next login.
pub async fn change_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    AppJson(req): AppJson<RoleChange>,
) -> Result<Json<UserResponse>> {
    user.require(Role::Admin)?;
    let role =
        Role::parse(&req.role).ok_or_else(|| AppError::invalid_field("role", Issue::Invalid))?;
    let account = users::set_role(&state.db.write, &id, role)
        .await?
        .ok_or(AppError::NotFound)?;
    let ended = state
        .sessions
        .revoke_all(&account.id, Reason::RoleChange)
        .await?;
    state.revocations.insert(&ended);
    tracing::info!(user = %account.id, role = role.as_str(), by = %user.id, "role changed");
    Ok(Json(UserResponse {
        user: account.to_api(),
    }))
}
