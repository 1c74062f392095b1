//! Facts about the database itself, by name.

use super::{Db, on};

/// When this database first ran a version that minted tagged refresh tokens
/// (ms), recorded by the migration that began it.
pub async fn tagged_refresh_tokens_since(db: &Db) -> Result<i64, sqlx::Error> {
    let value: String = on!(db, read, |pool| sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = 'tagged_refresh_tokens_since'"
    )
    .fetch_one(pool)
    .await)?;
    Ok(value.parse().unwrap_or(0))
}
