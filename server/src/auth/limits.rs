//! Abuse limits, counted in the database so that all instances share them.
//! Counting uses fixed windows: one row per key and window, incremented by a
//! single upsert.

use std::time::Duration;

use crate::{
    config::RateLimit,
    db::{Db, now_ms},
};

/// The statement that counts one event under its first parameter in the
/// window starting at its second, and returns the new count. Its parameters
/// are plain `?`, which a query of several statements binds in order: sqlx
/// leaves a later statement's `?NNN` unbound when the numbers below it are
/// another statement's. A macro, so that a query counting and doing more in
/// one trip to the database (`rotations`) can `concat!` it.
macro_rules! count_event {
    () => {
        "INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
         RETURNING count"
    };
}
pub(crate) use count_event;

/// The attempt must not be processed; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after_secs: u64,
}

#[derive(Clone)]
pub struct Limiter {
    db: Db,
}

impl Limiter {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Counts one event under `key` and refuses it if that exceeds `limit`.
    pub async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<Result<(), Exceeded>, sqlx::Error> {
        let (start, retry) = window(limit.window);
        let count: i64 = sqlx::query_scalar(count_event!())
            .bind(key)
            .bind(start)
            .fetch_one(&self.db.write)
            .await?;
        Ok(verdict(count, limit.max, retry))
    }

    /// Refuses if `key` has already reached `limit` in this window, without counting.
    pub async fn check(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<Result<(), Exceeded>, sqlx::Error> {
        let (start, retry) = window(limit.window);
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT count FROM rate_counters WHERE key = ? AND window_start = ?",
        )
        .bind(key)
        .bind(start)
        .fetch_optional(&self.db.read)
        .await?;
        // Refused when one more event would go over the limit.
        Ok(verdict(count.unwrap_or(0) + 1, limit.max, retry))
    }

    /// Counts one event under each key (in this window of each limit).
    pub async fn record(&self, keys: &[(&str, RateLimit)]) -> Result<(), sqlx::Error> {
        for (key, limit) in keys {
            // Going over the limit here is seen by the next `check`.
            let _ = self.hit(key, *limit).await?;
        }
        Ok(())
    }

    /// Forgets every count under the given keys (a successful login clears failures).
    pub async fn clear(&self, keys: &[&str]) -> Result<(), sqlx::Error> {
        for key in keys {
            sqlx::query("DELETE FROM rate_counters WHERE key = ?")
                .bind(key)
                .execute(&self.db.write)
                .await?;
        }
        Ok(())
    }

    /// Deletes counters of windows that have ended (run periodically).
    pub async fn prune(&self, longest_window: Duration) -> Result<u64, sqlx::Error> {
        let cutoff = now_ms() - i64::try_from(longest_window.as_millis()).unwrap_or(i64::MAX);
        let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < ?")
            .bind(cutoff)
            .execute(&self.db.write)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Whether the event that made `count` stays within `max`.
pub(crate) fn verdict(count: i64, max: u32, retry_after_secs: u64) -> Result<(), Exceeded> {
    if count > i64::from(max) {
        Err(Exceeded { retry_after_secs })
    } else {
        Ok(())
    }
}

/// The current window's start (ms) and the seconds until it ends (≥ 1).
pub(crate) fn window(length: Duration) -> (i64, u64) {
    let len = i64::try_from(length.as_millis()).unwrap_or(i64::MAX).max(1);
    let now = now_ms();
    let start = now - now.rem_euclid(len);
    let remaining_ms = start + len - now;
    (
        start,
        u64::try_from((remaining_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1),
    )
}
