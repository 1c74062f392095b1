//! Revoked sessions, held in memory so that checking an access token needs no
//! database read. Each process fills the set from the database at start and
//! polls it several times a second, so a revocation made by any instance
//! reaches every instance well within a second. Entries are forgotten once
//! every access token of that session has expired anyway.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use sqlx::SqlitePool;

use crate::db::now_ms;

/// How often the database is polled for new revocations.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct Revocations {
    /// Session id → when it may be forgotten (ms).
    revoked: Arc<RwLock<HashMap<String, i64>>>,
    /// How long after revocation an access token of the session may still be
    /// unexpired: the token lifetime plus verification leeway.
    keep_for: i64,
}

impl Revocations {
    pub fn new(access_ttl: Duration) -> Self {
        let keep_for = access_ttl + Duration::from_secs(super::jwt::LEEWAY_SECS + 1);
        Self {
            revoked: Arc::default(),
            keep_for: i64::try_from(keep_for.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Whether access tokens of `session_id` must be refused.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(session_id)
    }

    /// Records revocations made by this process at once, without waiting for the poll.
    pub fn insert<'a>(&self, session_ids: impl IntoIterator<Item = &'a String>) {
        let forget_at = now_ms() + self.keep_for;
        let mut set = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        for id in session_ids {
            set.insert(id.clone(), forget_at);
        }
    }

    /// Loads revocations made since `since` (ms) and forgets expired entries.
    /// Returns the newest revocation time seen.
    pub async fn sync(&self, db: &SqlitePool, since: i64) -> Result<i64, sqlx::Error> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, revoked_at FROM sessions WHERE revoked_at >= ?")
                .bind(since)
                .fetch_all(db)
                .await?;
        let now = now_ms();
        let newest = rows.iter().map(|(_, at)| *at).max().unwrap_or(since);
        let mut set = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        set.retain(|_, forget_at| *forget_at > now);
        for (id, at) in rows {
            let forget_at = at + self.keep_for;
            if forget_at > now {
                set.insert(id, forget_at);
            }
        }
        Ok(newest)
    }

    /// Fills the set from the database, then keeps polling it until the
    /// process ends. The first fill happens before this returns.
    pub async fn start(self, db: SqlitePool) -> Result<(), sqlx::Error> {
        let mut since = self.sync(&db, now_ms() - self.keep_for).await?;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Look back a little: a revocation committed late by another
                // instance can carry a slightly older timestamp.
                match self.sync(&db, since - 2_000).await {
                    Ok(newest) => since = since.max(newest),
                    Err(e) => tracing::error!(error = %e, "cannot poll revoked sessions"),
                }
            }
        });
        Ok(())
    }
}
