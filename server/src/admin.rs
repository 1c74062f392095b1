//! Commands an operator runs from the shell, such as making the first admin.

use classboard::api::Role;

use crate::{
    Config,
    auth::sessions::{self, Policy, Reason, Sessions},
    db, users,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("{0:?} is not a role; use student, teacher or admin")]
    UnknownRole(String),
    #[error("no user has the username or email {0:?}")]
    UnknownUser(String),
}

/// Sets the role of the user with username or email `login`, and ends their
/// sessions so that the new role applies from their next login. Running
/// servers see the ended sessions at their next revocation poll.
pub async fn set_role(
    config: &Config,
    login: &str,
    role: &str,
) -> Result<users::Account, AdminError> {
    let role = Role::parse(role).ok_or_else(|| AdminError::UnknownRole(role.to_owned()))?;
    let db = db::connect(&config.database_url).await?;
    let account = users::by_login(&db.read, login)
        .await?
        .ok_or_else(|| AdminError::UnknownUser(login.to_owned()))?;
    let account = users::set_role(&db.write, &account.id, role)
        .await?
        .ok_or_else(|| AdminError::UnknownUser(login.to_owned()))?;
    // The successor key is not needed to revoke, so no secret is loaded here.
    let policy = Policy {
        idle: config.refresh_token_ttl,
        absolute: sessions::ABSOLUTE_LIFETIME,
        grace: config.refresh_reuse_grace,
    };
    Sessions::new(db.clone(), policy, b"")
        .revoke_all(&account.id, Reason::RoleChange)
        .await?;
    db.close().await;
    Ok(account)
}
