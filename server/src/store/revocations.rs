//! What every instance reads to keep its set of revoked sessions current:
//! the revocation clock, and sessions (and the apps' own tokens, by their
//! `sid`) by the number of their revocation.

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

/// Every revoked session the database still holds (at start), and the
/// `sid`s of apps' own tokens ended lately (a secret replaced, an app
/// removed).
pub async fn all_revoked(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    super::on!(db, poll, |pool| sqlx::query_scalar(
        "SELECT id FROM sessions WHERE revoked_at IS NOT NULL
         UNION ALL
         SELECT sid FROM revoked_app_tokens"
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

/// Sessions revoked after the point `(seq, after)`: numbered above `seq`,
/// or numbered `seq` with an id above `after` (`None`: all of `seq` was
/// read). In (number, id) order, at most [`POLL_BATCH`].
pub async fn revoked_after(
    db: &Db,
    seq: i64,
    after: Option<&str>,
) -> Result<Vec<RevokedRow>, sqlx::Error> {
    super::on!(db, poll, |pool| sqlx::query_as(
        "SELECT id, revoked_seq FROM (
             SELECT id, revoked_seq FROM sessions
             WHERE revoked_seq > $1 OR ($2 IS NOT NULL AND revoked_seq = $1 AND id > $2)
             UNION ALL
             SELECT sid AS id, revoked_seq FROM revoked_app_tokens
             WHERE revoked_seq > $1 OR ($2 IS NOT NULL AND revoked_seq = $1 AND sid > $2)
         ) AS revoked
         ORDER BY revoked_seq, id LIMIT $3"
    )
    .bind(seq)
    .bind(after)
    .bind(POLL_BATCH)
    .fetch_all(pool)
    .await)
}
