//! Rate counters: one row per key and fixed window, shared by every instance.
//! The keys are opaque here (the `auth::limits` module names them).

use std::time::Duration;

use super::{Db, in_tx, now_ms, on};

/// Counts one event under `key` in the window starting at `start`; the new count.
pub async fn count(db: &Db, key: &str, start: i64) -> Result<i64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_scalar(
        "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
         RETURNING count"
    )
    .bind(key)
    .bind(start)
    .fetch_one(pool)
    .await)
}

/// The count under `key` in the window starting at `start`, by a read.
pub async fn current(db: &Db, key: &str, start: i64) -> Result<i64, sqlx::Error> {
    let count: Option<i64> = on!(db, read, |pool| sqlx::query_scalar(
        "SELECT count FROM rate_counters WHERE key = $1 AND window_start = $2"
    )
    .bind(key)
    .bind(start)
    .fetch_optional(pool)
    .await)?;
    Ok(count.unwrap_or(0))
}

/// One budget an attempt draws on: its counter, window and limit.
#[derive(Debug, Clone)]
pub struct Budget {
    pub key: String,
    pub window_start: i64,
    pub max: i64,
}

/// Counts one attempt against every budget, if every one has room; else
/// counts nothing and returns the index of the first full one. One
/// transaction of conditional upserts: on SQLite under the write lock, on
/// PostgreSQL under the lock each upsert takes on its row (a concurrent
/// upsert of the same row waits, then re-checks its condition on the row as
/// committed), always in the caller's order of budgets.
pub async fn take(db: &Db, budgets: &[Budget]) -> Result<Result<(), usize>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        for (i, budget) in budgets.iter().enumerate() {
            let counted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
                 ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
                 WHERE rate_counters.count < $3
                 RETURNING count",
            )
            .bind(&budget.key)
            .bind(budget.window_start)
            .bind(budget.max)
            .fetch_optional(&mut *tx)
            .await?;
            if counted.is_none() {
                tx.rollback().await?;
                return Ok(Err(i));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    })
}

/// Returns one attempt to each budget (in the window it was counted in).
pub async fn give_back(db: &Db, budgets: &[Budget]) -> Result<(), sqlx::Error> {
    in_tx!(db, |tx, pg| {
        for budget in budgets {
            sqlx::query(
                "UPDATE rate_counters SET count = count - 1
                 WHERE key = $1 AND window_start = $2 AND count > 0",
            )
            .bind(&budget.key)
            .bind(budget.window_start)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    })
}

/// Forgets every count under the given keys, in every window.
pub async fn clear(db: &Db, keys: &[String]) -> Result<(), sqlx::Error> {
    in_tx!(db, |tx, pg| {
        for key in keys {
            sqlx::query("DELETE FROM rate_counters WHERE key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    })
}

/// Deletes counters of windows that ended more than `longest_window` ago.
pub async fn prune(db: &Db, longest_window: Duration) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - super::ms(longest_window);
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM rate_counters WHERE window_start < $1"
    )
    .bind(cutoff)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
