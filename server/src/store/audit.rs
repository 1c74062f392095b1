//! Security events as stored: written in the transaction of the change they
//! record where there is one ([`Record`]), on their own where there is none
//! (a failed sign-in), read a page at a time, and pruned by age.

use classboard::api::EventKind;
use sqlx::{FromRow, PgConnection, SqliteConnection};

use super::{Db, on};

/// Where a request came from: its address (an IPv6 one cut to its /64) and
/// its `User-Agent`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub at: i64,
    pub user_id: Option<&'a str>,
    /// The admin who acted, when not the account's owner.
    pub actor_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    /// What changed, in words; never a secret.
    pub detail: Option<&'a str>,
    pub origin: &'a Origin,
}

impl<'a> Event<'a> {
    /// `kind` happening to `user_id` now, by a request from `origin`.
    pub fn new(kind: EventKind, user_id: &'a str, origin: &'a Origin) -> Self {
        Self {
            kind,
            at: super::now_ms(),
            user_id: Some(user_id),
            actor_id: None,
            session_id: None,
            detail: None,
            origin,
        }
    }

    pub fn session(self, session_id: &'a str) -> Self {
        Self {
            session_id: Some(session_id),
            ..self
        }
    }

    pub fn detail(self, detail: &'a str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }

    /// Done by the admin `actor_id` to someone else's account.
    pub fn by(self, actor_id: &'a str) -> Self {
        Self {
            actor_id: Some(actor_id),
            ..self
        }
    }

    /// The same event about another kind (a sign-in that also used a
    /// recovery code, say).
    pub fn also(self, kind: EventKind) -> Self {
        Self { kind, ..self }
    }
}

/// A stored event.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<String>,
    pub detail: Option<String>,
}

/// Which events a page holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub user_id: Option<&'a str>,
    pub kind: Option<EventKind>,
}

const INSERT: &str = "INSERT INTO audit_events
                          (at, kind, user_id, actor_id, ip, user_agent, session_id, detail)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Records events inside a transaction of either database.
pub(crate) trait Record {
    async fn record(&mut self, event: &Event<'_>) -> Result<(), sqlx::Error>;
}

macro_rules! record_on {
    ($conn:ty) => {
        impl Record for $conn {
            async fn record(&mut self, event: &Event<'_>) -> Result<(), sqlx::Error> {
                sqlx::query(INSERT)
                    .bind(event.at)
                    .bind(event.kind.as_str())
                    .bind(event.user_id)
                    .bind(event.actor_id)
                    .bind(event.origin.ip.as_deref())
                    .bind(event.origin.user_agent.as_deref())
                    .bind(event.session_id)
                    .bind(event.detail)
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }
        }
    };
}

record_on!(SqliteConnection);
record_on!(PgConnection);

/// Records one event that no change goes with.
pub async fn record(db: &Db, event: &Event<'_>) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| {
        let mut conn = pool.acquire().await?;
        conn.record(event).await
    })
}

/// Up to `limit` events that `filter` selects, older than the event with id
/// `before`, newest first, and whether there are more.
pub async fn page(
    db: &Db,
    filter: Filter<'_>,
    limit: i64,
    before: i64,
) -> Result<(Vec<EventRow>, bool), sqlx::Error> {
    let rows: Vec<EventRow> = on!(db, read, |pool| sqlx::query_as(
        "SELECT id, at, kind, user_id, actor_id, ip, user_agent, session_id, detail
         FROM audit_events
         WHERE id < $1 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR kind = $3)
         ORDER BY id DESC
         LIMIT $4"
    )
    .bind(before)
    .bind(filter.user_id)
    .bind(filter.kind.map(EventKind::as_str))
    .bind(limit + 1)
    .fetch_all(pool)
    .await)?;
    Ok(super::one_page(rows, limit))
}

/// Deletes events recorded before `before`, a batch at a time so that no
/// lock is held long; returns how many.
pub async fn prune(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 1000;
    let mut deleted = 0;
    loop {
        let done = on!(db, write, |pool| sqlx::query(
            "DELETE FROM audit_events WHERE id IN (
                 SELECT id FROM audit_events WHERE at < $1 LIMIT $2)"
        )
        .bind(before)
        .bind(BATCH)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        deleted += done;
        if done < u64::try_from(BATCH).unwrap_or(0) {
            return Ok(deleted);
        }
    }
}
