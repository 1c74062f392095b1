//! The outbox: mail and texts waiting to be sent. Requests add to it, in
//! the transaction of the change a message tells of where there is one; the
//! sender of its channel, on any instance, claims a due message, delivers
//! it, and deletes it.
//!
//! A claim is one conditional update that moves the message's next attempt
//! past the time a delivery may take: of two senders that pick the same
//! message, only one sees it still due. A sender that dies mid-delivery
//! leaves the message to be claimed again when that time has passed.

use sqlx::FromRow;

use super::{Db, on};

/// How a message goes: each channel has its own sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Mail,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mail => "mail",
            Self::Sms => "sms",
        }
    }
}

/// A message to queue: `message` is the whole RFC 5322 message, or the
/// text's body, sealed.
#[derive(Debug)]
pub struct Queued<'a> {
    pub channel: Channel,
    pub id: &'a str,
    pub recipient: &'a str,
    pub message: &'a [u8],
    pub now: i64,
}

/// A message claimed for delivery.
#[derive(Debug, FromRow)]
pub struct Claimed {
    pub id: String,
    pub recipient: String,
    pub message: Vec<u8>,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// When it was queued (ms).
    pub created_at: i64,
}

pub(super) const INSERT: &str =
    "INSERT INTO outbox (id, recipient, message, created_at, next_attempt_at, channel)
                      VALUES ($1, $2, $3, $4, $4, $5)";

/// Queues one message outside any transaction.
pub async fn queue(db: &Db, mail: &Queued<'_>) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(INSERT)
        .bind(mail.id)
        .bind(mail.recipient)
        .bind(mail.message)
        .bind(mail.now)
        .bind(mail.channel.as_str())
        .execute(pool)
        .await
        .map(drop))
}

/// Whether a message is due, by a read: an idle sender looks every second,
/// and must not take SQLite's one writer (which rotations wait for) to find
/// nothing.
pub async fn any_due(db: &Db, channel: Channel, now: i64) -> Result<bool, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT next_attempt_at FROM outbox WHERE next_attempt_at <= $1 AND channel = $2 LIMIT 1"
    )
    .bind(now)
    .bind(channel.as_str())
    .fetch_optional(pool)
    .await
    .map(|row| row.is_some()))
}

/// Claims the oldest due message of `channel`, if any, for `lease_ms`.
pub async fn claim(
    db: &Db,
    channel: Channel,
    now: i64,
    lease_ms: i64,
) -> Result<Option<Claimed>, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_as(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2
         WHERE id = (SELECT id FROM outbox WHERE next_attempt_at <= $1 AND channel = $3
                     ORDER BY next_attempt_at, created_at LIMIT 1)
           AND next_attempt_at <= $1
         RETURNING id, recipient, message, attempts, created_at"
    )
    .bind(now)
    .bind(now + lease_ms)
    .bind(channel.as_str())
    .fetch_optional(pool)
    .await)
}

/// Forgets a delivered message (or one given up on).
pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM outbox WHERE id = $1"
    )
    .bind(id)
    .execute(pool)
    .await
    .map(drop))
}

/// Puts a message whose delivery failed back, due at `next_attempt_at`.
pub async fn retry_at(
    db: &Db,
    id: &str,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(next_attempt_at)
    .bind(error)
    .execute(pool)
    .await
    .map(drop))
}
