//! The fast path of a refresh on SQLite, batched: every rotation waiting when
//! the writing connection comes free goes to SQLite in one query.
//! (PostgreSQL runs each rotation as one statement of its own, see
//! `sessions::rotate`: it has no single writer to queue for.)
//!
//! A rotation is two statements (count the attempt, then spend the token
//! unless that count is over the limit). Sent one rotation per query, each
//! costs a trip to sqlx's connection thread and back, and under load those
//! trips, not SQLite, are what the one writer spends its time on. One task
//! owns the queue; it takes everything queued (up to `MAX_BATCH`), sends the
//! pairs of statements as one query, and hands each caller its own rows.
//!
//! Each statement commits on its own, as when sent alone, so a rotation's
//! effect does not depend on the others in its batch: the same attempts are
//! counted in the same order, and a statement that fails fails its own
//! rotation only; the ones after it go in the next batch.
//!
//! sqlx calls several statements in one query deprecated (only its SQLite
//! driver runs them); `Cargo.lock` holds the version whose behaviour the
//! tests of `Sessions::refresh` check.

use futures::TryStreamExt;
use sqlx::{
    AssertSqlSafe, Either, Executor, FromRow, Row, SqlitePool,
    sqlite::{SqliteQueryResult, SqliteRow},
};
use tokio::sync::{mpsc, oneshot};

use super::{
    counters,
    sessions::{Rotated, Spent},
};

/// Most rotations in one query. A query's statements stay prepared in the
/// connection's cache, one entry per batch size.
const MAX_BATCH: usize = 32;

/// One refresh's fast path, as the two statements bind it.
pub struct Rotation {
    /// The rate-limit counter's key, and its window's start (ms).
    pub key: String,
    pub window_start: i64,
    /// The most attempts the window allows.
    pub max: i64,
    pub now: i64,
    pub presented_hash: Vec<u8>,
    pub successor_hash: Vec<u8>,
    /// The successor's idle lifetime (ms).
    pub idle_ms: i64,
}

/// One rotation's statements, with `?` bound in order of appearance
/// ([`Rotation::bind`]). The `UPDATE` spends the token only while the count
/// the first statement made is within the limit; it is atomic by itself, and
/// the trigger of migration 0004 stores the successor and marks the session
/// used.
const STATEMENTS: &str = concat!(
    counters::count_event!(),
    ";
     UPDATE refresh_tokens
     SET spent_at = ?, successor = ?,
         successor_expires_at = MIN(? + ?, (SELECT expires_at FROM sessions WHERE id = session_id))
     WHERE hash = ? AND spent_at IS NULL AND expires_at > ?
       AND EXISTS (SELECT 1 FROM sessions
                   WHERE id = session_id AND revoked_at IS NULL AND expires_at > ?)
       AND (SELECT count FROM rate_counters WHERE key = ? AND window_start = ?) <= ?
     RETURNING session_id,
               (SELECT user_id FROM sessions WHERE id = session_id) AS user_id,
               (SELECT u.role FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id = session_id) AS role,
               (SELECT amr FROM sessions WHERE id = session_id) AS amr,
               (SELECT COALESCE(auth_time, created_at) FROM sessions WHERE id = session_id)
                   AS auth_time;
    "
);

type Job = (Rotation, oneshot::Sender<Result<Spent, sqlx::Error>>);

/// The queue of rotations waiting for the writing connection.
#[derive(Clone, Debug)]
pub struct Queue {
    queue: mpsc::Sender<Job>,
}

impl Queue {
    /// Starts the task that runs queued rotations on `write`. It ends when
    /// the last clone of the returned handle is dropped.
    pub fn start(write: SqlitePool) -> Self {
        // Every job is a request waiting for its answer, so the queue holds
        // at most the requests in flight; the bound only adds back-pressure.
        let (queue, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(write, jobs));
        Self { queue }
    }

    /// Runs `rotation`'s statements, in a batch with whatever else is queued.
    pub async fn run(&self, rotation: Rotation) -> Result<Spent, sqlx::Error> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((rotation, answer))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

impl Rotation {
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        query
            // The count.
            .bind(&self.key)
            .bind(self.window_start)
            // The UPDATE.
            .bind(self.now)
            .bind(&self.successor_hash)
            .bind(self.now)
            .bind(self.idle_ms)
            .bind(&self.presented_hash)
            .bind(self.now)
            .bind(self.now)
            .bind(&self.key)
            .bind(self.window_start)
            .bind(self.max)
    }
}

async fn run(write: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        while !batch.is_empty() {
            run_batch(&write, &mut batch).await;
        }
    }
}

/// Runs the batch's statements as one query and answers every rotation whose
/// statements ran, removing it from `batch`. After a failed statement, the
/// rotations behind it never ran and stay in `batch`.
async fn run_batch(write: &SqlitePool, batch: &mut Vec<Job>) {
    let sql = STATEMENTS.repeat(batch.len());
    let query = batch
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |query, (rotation, _)| {
            rotation.bind(query)
        });
    // Rows in statement order: statement `i` belongs to rotation `i / 2`.
    let mut rows: Vec<Vec<SqliteRow>> =
        std::iter::repeat_with(Vec::new).take(batch.len()).collect();
    let mut finished = 0;
    let mut failure = None;
    {
        let mut results = write.fetch_many(query);
        loop {
            match results.try_next().await {
                Ok(Some(Either::Left(SqliteQueryResult { .. }))) => finished += 1,
                Ok(Some(Either::Right(row))) => rows[finished / 2].push(row),
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }

    let answered = match failure {
        None => batch.len(),
        // A statement failed: that rotation's failure. The ones before it
        // ran and are answered; the ones after it go again.
        Some(e @ sqlx::Error::Database(_)) => {
            let failed = finished / 2;
            let (_, answer) = batch.remove(failed);
            let _ = answer.send(Err(e));
            failed
        }
        // The connection failed (closed pool, timeout): every rotation's.
        Some(e) => {
            let message = e.to_string();
            for (_, answer) in batch.drain(1..) {
                let _ = answer.send(Err(sqlx::Error::Io(std::io::Error::other(message.clone()))));
            }
            let (_, answer) = batch.remove(0);
            let _ = answer.send(Err(e));
            return;
        }
    };
    for ((_, answer), rows) in batch.drain(..answered).zip(rows) {
        let _ = answer.send(spent(rows));
    }
}

/// A rotation's answer from its rows: the count's, then the spent token's.
fn spent(rows: Vec<SqliteRow>) -> Result<Spent, sqlx::Error> {
    let mut rows = rows.into_iter();
    let count = rows
        .next()
        .ok_or(sqlx::Error::RowNotFound)?
        .try_get("count")?;
    let rotated: Option<Rotated> = rows.next().as_ref().map(FromRow::from_row).transpose()?;
    Ok(Spent { count, rotated })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rotation must cost the same with ten sessions or a million: every
    /// table it reads is searched by key. (A non-correlated `IN (SELECT …)`
    /// once made each rotation copy the id of every live session.)
    #[tokio::test]
    async fn a_rotation_searches_each_table_by_key_and_copies_nothing() {
        let (_dir, db) = crate::store::scratch_sqlite().await;
        let mut searches = 0;
        for statement in STATEMENTS.split(';').filter(|s| !s.trim().is_empty()) {
            let plan = crate::store::query_plan(&db.write, statement).await;
            // A plan lists each table read and each subquery; an `INSERT …
            // VALUES` reads none, and its conflict check is a key search.
            for step in &plan {
                let keyed = step.starts_with("SEARCH ")
                    || step.starts_with("SCALAR SUBQUERY")
                    || step.starts_with("CORRELATED SCALAR SUBQUERY");
                assert!(keyed, "{step:?} in the plan of {statement}: {plan:#?}");
                searches += usize::from(step.starts_with("SEARCH "));
            }
        }
        // The token, the rate counter, and the session (the successor's end,
        // and whether it is live).
        assert!(searches >= 4, "{searches} searches");
    }
}
