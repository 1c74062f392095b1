//! Device authorizations (RFC 8628) as stored: a device's request, the
//! person's answer to it at `/device`, and the device's polls until it
//! gets its tokens. What they *mean* (who may answer, what a poll is told)
//! is `provider::device`; this module only reads and writes, each change in
//! one statement or transaction.

use sqlx::FromRow;

use super::{
    Db,
    grants::{NewGrant, SIGNED_IN, SIGNED_IN_POSTGRES, START_GRANT, SignedIn},
    in_tx, on,
    rows::Event,
    tx::Tx,
};

/// A device's request, about to be stored.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    pub device_code_hash: &'a [u8],
    pub user_code_hash: &'a [u8],
    pub client_id: &'a str,
    pub scope: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
}

/// A device's request as the person's page sees it.
#[derive(Debug, Clone, FromRow)]
pub struct WaitingDevice {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    /// The app registered itself (dynamic registration).
    pub registered_itself: bool,
}

/// What a poll found, under the lock of its row.
#[derive(Debug, Clone, FromRow)]
struct PolledRow {
    client_id: String,
    scope: String,
    expires_at: i64,
    interval_secs: i64,
    last_polled_at: Option<i64>,
    state: String,
    user_id: Option<String>,
    session_id: Option<String>,
}

/// What a device's poll is told.
#[derive(Debug)]
pub enum Poll {
    /// The person allowed it: the grant started, as a child of their
    /// session, with `scope`.
    Started {
        user_id: String,
        session_id: String,
        scope: String,
        signed_in: SignedIn,
    },
    /// Nobody has answered yet.
    Pending,
    /// Polled sooner than the interval: it is now `interval_secs`.
    SlowDown,
    Denied,
    Expired,
    /// Unknown, another app's, used before, or the person's session has
    /// ended since they allowed it.
    Invalid,
}

/// Stores a device's request; `false` when its user code is taken (the
/// caller draws another).
pub async fn insert(db: &Db, device: &NewDevice<'_>) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO device_authorizations
             (device_code_hash, user_code_hash, client_id, scope, created_at, expires_at,
              interval_secs)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT DO NOTHING"
    )
    .bind(device.device_code_hash)
    .bind(device.user_code_hash)
    .bind(device.client_id)
    .bind(device.scope)
    .bind(device.now)
    .bind(device.expires_at)
    .bind(device.interval_secs)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// The request a user code names, while it waits for an answer.
pub async fn waiting(
    db: &Db,
    user_code_hash: &[u8],
    now: i64,
) -> Result<Option<WaitingDevice>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT d.client_id, c.name, d.scope,
                c.registration_access_hash IS NOT NULL AS registered_itself
         FROM device_authorizations d JOIN clients c ON c.id = d.client_id
         WHERE d.user_code_hash = $1 AND d.state = 'pending' AND d.expires_at > $2"
    )
    .bind(user_code_hash)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// The person's answer to the request a user code names, recorded by
/// `event` when they allow it; `false` when it was no longer waiting
/// (answered meanwhile, or expired).
pub async fn answer(
    db: &Db,
    user_code_hash: &[u8],
    (user_id, session_id): (&str, &str),
    allow: bool,
    event: &Event<'_>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let done = sqlx::query(
            "UPDATE device_authorizations SET state = $1, user_id = $2, session_id = $3
             WHERE user_code_hash = $4 AND state = 'pending' AND expires_at > $5",
        )
        .bind(if allow { "approved" } else { "denied" })
        .bind(user_id)
        .bind(session_id)
        .bind(user_code_hash)
        .bind(event.at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if allow {
            tx.record(event).await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// A device's poll with the code hashing to `device_code_hash`, as the
/// app of `grant`, in one transaction: the poll is recorded (a poll sooner
/// than the interval makes the interval five seconds longer), and an
/// allowed request starts `grant`, once, if the person's session still
/// signs them in.
pub async fn poll(
    db: &Db,
    device_code_hash: &[u8],
    grant: &NewGrant<'_>,
    now: i64,
) -> Result<Poll, sqlx::Error> {
    let client_id = grant.client_id;
    in_tx!(db, |tx, pg| {
        let row: Option<PolledRow> = sqlx::query_as(if pg {
            "SELECT client_id, scope, expires_at, interval_secs, last_polled_at, state, user_id,
                    session_id
             FROM device_authorizations WHERE device_code_hash = $1 FOR UPDATE"
        } else {
            "SELECT client_id, scope, expires_at, interval_secs, last_polled_at, state, user_id,
                    session_id
             FROM device_authorizations WHERE device_code_hash = $1"
        })
        .bind(device_code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row.filter(|row| row.client_id == client_id) else {
            return Ok(Poll::Invalid);
        };
        if row.state == "used" {
            return Ok(Poll::Invalid);
        }
        if row.expires_at <= now {
            return Ok(Poll::Expired);
        }
        // A second of slack: polls may reach instances whose clocks differ
        // a little.
        let too_soon = row
            .last_polled_at
            .is_some_and(|at| now - at < row.interval_secs.saturating_mul(1000) - 1000);
        sqlx::query(
            "UPDATE device_authorizations SET last_polled_at = $1, interval_secs = $2
             WHERE device_code_hash = $3",
        )
        .bind(now)
        .bind(row.interval_secs + if too_soon { 5 } else { 0 })
        .bind(device_code_hash)
        .execute(&mut *tx)
        .await?;
        let outcome = match (row.state.as_str(), too_soon) {
            (_, true) => Poll::SlowDown,
            ("pending", _) => Poll::Pending,
            ("denied", _) => Poll::Denied,
            _ => {
                let (Some(user_id), Some(session_id)) = (row.user_id, row.session_id) else {
                    return Ok(Poll::Invalid);
                };
                // Under a lock a revocation's update waits for, as a code's
                // exchange reads it.
                let signed_in: Option<SignedIn> =
                    sqlx::query_as(if pg { SIGNED_IN_POSTGRES } else { SIGNED_IN })
                        .bind(&session_id)
                        .bind(&user_id)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                sqlx::query(
                    "UPDATE device_authorizations SET state = 'used', grant_id = $1
                     WHERE device_code_hash = $2",
                )
                .bind(grant.id)
                .bind(device_code_hash)
                .execute(&mut *tx)
                .await?;
                let Some(signed_in) = signed_in else {
                    tx.commit().await?;
                    return Ok(Poll::Invalid);
                };
                sqlx::query(START_GRANT)
                    .bind(grant.id)
                    .bind(now)
                    .bind(client_id)
                    .bind(&row.scope)
                    .bind(&session_id)
                    .bind(grant.dpop_jkt)
                    .execute(&mut *tx)
                    .await?;
                Poll::Started {
                    user_id,
                    session_id,
                    scope: row.scope,
                    signed_in,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    })
}

/// Deletes requests that expired before `before` (ms).
pub async fn prune(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM device_authorizations WHERE expires_at < $1"
    )
    .bind(before)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
