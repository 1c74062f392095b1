//! What every instance reads to keep its set of revoked sessions current:
//! the revocation clock, and sessions by the number of their revocation.

use super::Db;

/// Revocations read by one poll at most; more wait for the next one.
pub const POLL_BATCH: i64 = 10_000;

/// The number of the latest revocation that committed.
pub async fn clock(db: &Db) -> Result<i64, sqlx::Error> {
    super::on!(db, poll, |pool| sqlx::query_scalar(
        "SELECT seq FROM revocation_clock WHERE id = 1"
    )
    .fetch_one(pool)
    .await)
}

/// Every revoked session the database still holds (at start).
pub async fn all_revoked(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    super::on!(db, poll, |pool| sqlx::query_scalar(
        "SELECT id FROM sessions WHERE revoked_at IS NOT NULL"
    )
    .fetch_all(pool)
    .await)
}

/// A session's revocation, as a poll reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct RevokedRow {
    /// The session.
    pub id: String,
    /// The number its revocation took from the clock.
    pub revoked_seq: i64,
}

/// Sessions revoked with a number above `seen`, in number order, at most
/// [`POLL_BATCH`].
pub async fn revoked_after(db: &Db, seen: i64) -> Result<Vec<RevokedRow>, sqlx::Error> {
    super::on!(db, poll, |pool| sqlx::query_as(
        "SELECT id, revoked_seq FROM sessions WHERE revoked_seq > $1
         ORDER BY revoked_seq LIMIT $2"
    )
    .bind(seen)
    .bind(POLL_BATCH)
    .fetch_all(pool)
    .await)
}
