//! Security events as stored: written in the transaction of the change they
//! record where there is one (`tx::Tx::record`), on their own where there is none
//! (a failed sign-in), read a page at a time, and pruned by age.

use classboard::api::EventKind;
use sqlx::FromRow;

use super::{Db, on, rows::Event, tx::Tx};

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
