//! Storage of user accounts.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use classboard::api::{Role, User};
use sqlx::{FromRow, SqlitePool};

use crate::{
    auth::sessions::{self, Filter, Reason},
    db::{now_ms, rfc3339},
};

/// A stored account, hash included: never serialised as a whole.
#[derive(Clone, FromRow)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    /// Whether the hash was made from the password's NFC form.
    pub password_nfc: bool,
    pub role: String,
    pub created_at: i64,
}

impl Account {
    pub fn role(&self) -> Role {
        stored_role(&self.role)
    }

    /// The public view of the account.
    pub fn to_api(&self) -> User {
        self.profile().to_api(&self.id, self.role())
    }

    pub fn profile(&self) -> Profile {
        Profile {
            username: self.username.clone(),
            email: self.email.clone(),
            created_at: self.created_at,
        }
    }
}

/// A role as stored (the CHECK constraint admits only the three roles).
pub fn stored_role(stored: &str) -> Role {
    Role::parse(stored).unwrap_or(Role::Student)
}

/// What never changes about an account: no endpoint or command changes a
/// username, an email or a creation time. (Whoever adds one must make it
/// forget the account in [`Profiles`].)
#[derive(Debug, Clone, FromRow)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub created_at: i64,
}

impl Profile {
    /// The public view of the account `id` with the given role.
    pub fn to_api(&self, id: &str, role: Role) -> User {
        User {
            id: id.to_owned(),
            username: self.username.clone(),
            email: self.email.clone(),
            role,
            created_at: rfc3339(self.created_at),
        }
    }
}

/// Most profiles remembered by one process (about 150 bytes each).
const PROFILES_KEPT: usize = 10_000;

/// Profiles by user id, remembered by this process so that `GET /api/me` and
/// a refresh need no read for them: a read costs a round trip to a database
/// thread, several times the rest of such a request. Roles are not kept here,
/// because a role changes: it comes from the database (login, refresh) or from
/// the verified access token (`me`), whose session a role change revokes.
#[derive(Clone, Default)]
pub struct Profiles {
    kept: Arc<RwLock<HashMap<String, Profile>>>,
}

impl Profiles {
    /// The profile of `id`, from memory or else from the database.
    pub async fn get(&self, db: &SqlitePool, id: &str) -> Result<Option<Profile>, sqlx::Error> {
        if let Some(profile) = self.kept.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(Some(profile.clone()));
        }
        let profile: Option<Profile> =
            sqlx::query_as("SELECT username, email, created_at FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(db)
                .await?;
        if let Some(profile) = &profile {
            self.remember(id, profile.clone());
        }
        Ok(profile)
    }

    /// Keeps `profile`; when full, one arbitrary profile makes room.
    pub fn remember(&self, id: &str, profile: Profile) {
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= PROFILES_KEPT && !kept.contains_key(id) {
            let evicted = kept.keys().next().cloned();
            if let Some(evicted) = evicted {
                kept.remove(&evicted);
            }
        }
        kept.insert(id.to_owned(), profile);
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `$head`, the columns of [`Account`], then `$tail`.
macro_rules! with_columns {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            " id, username, email, password_hash, password_nfc, role, created_at ",
            $tail
        )
    };
}

/// Inserts a new student. A duplicate username or email fails with the
/// database's unique-constraint error (see [`taken_field`]).
pub async fn insert(
    db: &SqlitePool,
    username: &str,
    email: &str,
    password_hash: &str,
) -> Result<Account, sqlx::Error> {
    sqlx::query_as(with_columns!(
        "INSERT INTO users (id, username, email, password_hash, password_nfc, role, created_at)
         VALUES (?, ?, ?, ?, 1, 'student', ?) RETURNING",
        ""
    ))
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(username)
    .bind(email)
    .bind(password_hash)
    .bind(now_ms())
    .fetch_one(db)
    .await
}

/// Which field a unique-constraint violation on `users` is about.
pub fn taken_field(e: &sqlx::Error) -> Option<&'static str> {
    if !crate::db::is_unique_violation(e) {
        return None;
    }
    let message = e
        .as_database_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    Some(if message.contains("email") {
        "email"
    } else {
        "username"
    })
}

/// Finds an account by username (any case) or, when `login` has an `@`, by
/// email. `login` is compared as given: pass a [`LoginName`]'s form.
///
/// [`LoginName`]: crate::auth::normalize::LoginName
pub async fn by_login(db: &SqlitePool, login: &str) -> Result<Option<Account>, sqlx::Error> {
    if login.contains('@') {
        sqlx::query_as(with_columns!("SELECT", "FROM users WHERE email = ?"))
            .bind(login)
            .fetch_optional(db)
            .await
    } else {
        sqlx::query_as(with_columns!(
            "SELECT",
            "FROM users WHERE username = ? COLLATE NOCASE"
        ))
        .bind(login)
        .fetch_optional(db)
        .await
    }
}

/// What asking for a role change led to.
#[derive(Debug)]
pub enum RoleChanged {
    /// The account now has the role; its sessions, listed, were ended.
    Changed(Account, Vec<String>),
    NoSuchUser,
    /// The account is the last admin, and the change would leave none.
    LastAdmin,
}

/// Gives `id` the role `role` and ends every session of theirs, in one
/// transaction: a token that carries the old role can only come from a
/// session this revokes. The last admin keeps the role.
pub async fn change_role(db: &SqlitePool, id: &str, role: Role) -> Result<RoleChanged, sqlx::Error> {
    // IMMEDIATE: the count of admins and the change see one state.
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    let current: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(current) = current else {
        return Ok(RoleChanged::NoSuchUser);
    };
    if stored_role(&current) == Role::Admin && role != Role::Admin {
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .fetch_one(&mut *tx)
            .await?;
        if admins <= 1 {
            return Ok(RoleChanged::LastAdmin);
        }
    }
    let account: Account = sqlx::query_as(with_columns!(
        "UPDATE users SET role = ? WHERE id = ? RETURNING",
        ""
    ))
    .bind(role.as_str())
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let ended = sessions::revoke_sessions(&mut tx, Filter::User(id), Reason::RoleChange).await?;
    tx.commit().await?;
    Ok(RoleChanged::Changed(account, ended))
}

/// Records that the stored hash is of the password's NFC form.
pub async fn mark_password_nfc(db: &SqlitePool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_nfc = 1 WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map(drop)
}

/// Stores a new hash, made from the password's NFC form.
pub async fn set_password_hash(db: &SqlitePool, id: &str, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ?, password_nfc = 1 WHERE id = ?")
        .bind(hash)
        .bind(id)
        .execute(db)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(n: usize) -> Profile {
        Profile {
            username: format!("user{n}"),
            email: format!("user{n}@example.com"),
            created_at: 0,
        }
    }

    #[test]
    fn profiles_stay_within_their_bound_and_keep_the_newest() {
        let profiles = Profiles::default();
        for n in 0..PROFILES_KEPT + 50 {
            profiles.remember(&n.to_string(), profile(n));
        }
        let kept = profiles.kept.read().unwrap();
        assert_eq!(kept.len(), PROFILES_KEPT);
        let newest = (PROFILES_KEPT + 49).to_string();
        assert_eq!(kept[&newest].username, format!("user{newest}"));
    }
}
