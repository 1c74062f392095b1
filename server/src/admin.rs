//! Commands an operator runs from the shell, such as making the first admin.

use classboard::api::Role;

use crate::{
    Config,
    auth::normalize::LoginName,
    store::{
        Db, DbError,
        users::{self, RoleChanged},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("{0:?} is not a role; use student, teacher or admin")]
    UnknownRole(String),
    #[error("no user has the username or email {0:?}")]
    UnknownUser(String),
    #[error("{0} is the last admin; make another admin first")]
    LastAdmin(String),
}

/// Sets the role of the user with username or email `login`, and ends their
/// sessions so that the new role applies from their next login, in one
/// transaction. Running servers see the ended sessions at their next
/// revocation poll.
pub async fn set_role(
    config: &Config,
    login: &str,
    role: &str,
) -> Result<users::Account, AdminError> {
    let role = Role::parse(role).ok_or_else(|| AdminError::UnknownRole(role.to_owned()))?;
    let unknown = || AdminError::UnknownUser(login.to_owned());
    let name = LoginName::parse(login).map_err(|_| unknown())?;
    let db = Db::connect(config.database_url.as_str()).await?;
    let account = users::by_login(&db, name.as_str())
        .await?
        .ok_or_else(unknown)?;
    let changed = users::change_role(&db, &account.id, role).await;
    db.close().await;
    match changed? {
        RoleChanged::Changed(account, _) => Ok(account),
        RoleChanged::NoSuchUser => Err(unknown()),
        RoleChanged::LastAdmin => Err(AdminError::LastAdmin(account.username)),
    }
}
