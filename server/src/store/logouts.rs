//! Back-channel logout deliveries waiting to be made. The transaction that
//! ends a person's session queues one per app that received an ID token
//! for it and registered a back-channel logout address ([`QUEUE`], run by
//! `tx::Tx::revoke_sessions`); the sender of any instance claims a due one
//! as mail's sender claims a message (`outbox`), and deletes it when it is
//! delivered or given up.

use sqlx::FromRow;

use super::{Db, on};

/// Queues the deliveries owed for the person's sessions ended with
/// revocation number `$2`, at `$1`: one per app and session, for each grant
/// of an app with a back-channel address whose scope held `openid` (its
/// code exchange gave an ID token naming the session in `sid`), whether or
/// not the grant itself had ended before (the app's own session may live
/// on after its tokens).
pub(super) const QUEUE: &str = "INSERT INTO logout_deliveries
         (client_id, sid, user_id, created_at, next_attempt_at)
     SELECT DISTINCT g.client_id, g.parent_id, g.user_id, $1, $1
     FROM sessions g JOIN clients c ON c.id = g.client_id
     WHERE c.backchannel_logout_uri IS NOT NULL
       AND g.parent_id IN (SELECT id FROM sessions
                           WHERE revoked_seq = $2 AND client_id IS NULL)
       AND (' ' || g.scope || ' ') LIKE '% openid %'
     ON CONFLICT (client_id, sid) DO NOTHING";

/// A delivery claimed by a sender.
#[derive(Debug, FromRow)]
pub struct Claimed {
    pub client_id: String,
    pub sid: String,
    pub user_id: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Whether a delivery is due, by a read (see `outbox::any_due`).
pub async fn any_due(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT next_attempt_at FROM logout_deliveries WHERE next_attempt_at <= $1 LIMIT 1"
    )
    .bind(now)
    .fetch_optional(pool)
    .await
    .map(|row| row.is_some()))
}

/// Claims the oldest due delivery, if any, for `lease_ms`.
pub async fn claim(db: &Db, now: i64, lease_ms: i64) -> Result<Option<Claimed>, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_as(
        "UPDATE logout_deliveries SET attempts = attempts + 1, next_attempt_at = $2
         WHERE (client_id, sid) = (SELECT client_id, sid FROM logout_deliveries
                                   WHERE next_attempt_at <= $1
                                   ORDER BY next_attempt_at, created_at LIMIT 1)
           AND next_attempt_at <= $1
         RETURNING client_id, sid, user_id, attempts"
    )
    .bind(now)
    .bind(now + lease_ms)
    .fetch_optional(pool)
    .await)
}

/// Forgets a delivery made (or given up), if it is still the one
/// `claimed` (a sender that overran its lease leaves the next claim's
/// attempt alone).
pub async fn delete(db: &Db, claimed: &Claimed) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM logout_deliveries WHERE client_id = $1 AND sid = $2 AND attempts = $3"
    )
    .bind(&claimed.client_id)
    .bind(&claimed.sid)
    .bind(claimed.attempts)
    .execute(pool)
    .await
    .map(drop))
}

/// Puts a delivery that failed back, due at `next_attempt_at`, if it is
/// still the one `claimed`.
pub async fn retry_at(
    db: &Db,
    claimed: &Claimed,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE logout_deliveries SET next_attempt_at = $4, last_error = $5
         WHERE client_id = $1 AND sid = $2 AND attempts = $3"
    )
    .bind(&claimed.client_id)
    .bind(&claimed.sid)
    .bind(claimed.attempts)
    .bind(next_attempt_at)
    .bind(error)
    .execute(pool)
    .await
    .map(drop))
}
