//! Storage of user accounts.

use classboard::api::{Role, User};
use sqlx::{FromRow, SqlitePool};

use crate::db::{now_ms, rfc3339};

/// A stored account, hash included: never serialised as a whole.
#[derive(Clone, FromRow)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

impl Account {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only the three roles.
        Role::parse(&self.role).unwrap_or(Role::Student)
    }

    /// The public view of the account.
    pub fn to_api(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            role: self.role(),
            created_at: rfc3339(self.created_at),
        }
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
            " id, username, email, password_hash, role, created_at ",
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
        "INSERT INTO users (id, username, email, password_hash, role, created_at)
         VALUES (?, ?, ?, ?, 'student', ?) RETURNING",
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

/// Finds an account by username (any case) or, when `login` has an `@`, by email.
pub async fn by_login(db: &SqlitePool, login: &str) -> Result<Option<Account>, sqlx::Error> {
    let login = login.trim();
    if login.contains('@') {
        sqlx::query_as(with_columns!("SELECT", "FROM users WHERE email = ?"))
            .bind(login.to_lowercase())
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

pub async fn by_id(db: &SqlitePool, id: &str) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as(with_columns!("SELECT", "FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_role(
    db: &SqlitePool,
    id: &str,
    role: Role,
) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as(with_columns!(
        "UPDATE users SET role = ? WHERE id = ? RETURNING",
        ""
    ))
    .bind(role.as_str())
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn set_password_hash(db: &SqlitePool, id: &str, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(hash)
        .bind(id)
        .execute(db)
        .await
        .map(drop)
}
