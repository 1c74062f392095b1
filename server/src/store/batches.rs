//! SQLite's writes that come by the thousand, batched: every job of one kind
//! waiting when the writing connection comes free goes to SQLite in one
//! query. (PostgreSQL has no single writer to queue for: each job there is
//! one statement of its own.)
//!
//! A job is a few statements (a refresh counts the attempt, then spends the
//! token unless that count is over the limit; a post counts it, then
//! inserts the post the same way). Sent one job per query, each costs a trip
//! to sqlx's connection thread and back, and under load those trips, not
//! SQLite, are what the one writer spends its time on. One task owns a
//! kind's queue; it takes everything queued (up to `MAX_BATCH`), sends the
//! jobs' statements as one query, and hands each caller its own rows.
//!
//! Each statement commits on its own, as when sent alone, so a job's effect
//! does not depend on the others in its batch: the same attempts are counted
//! in the same order, and a statement that fails fails its own job only;
//! the jobs after it go in the next batch.
//!
//! sqlx calls several statements in one query deprecated (only its SQLite
//! driver runs them); `Cargo.lock` holds the version whose behaviour the
//! tests of `Sessions::refresh` and of publishing check.

use futures::TryStreamExt;
use sqlx::{
    AssertSqlSafe, Either, Executor, Sqlite, SqlitePool,
    query::Query,
    sqlite::{SqliteArguments, SqliteQueryResult, SqliteRow},
};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one query. A query's statements stay prepared in the
/// connection's cache, one entry per kind and batch size.
const MAX_BATCH: usize = 32;

/// A kind of job for SQLite's writer.
pub(crate) trait Batched: Send + Sync + 'static {
    /// One job's statements, each ending with `;`, with `?` bound in order
    /// of appearance by [`Batched::bind`].
    const STATEMENTS: &'static str;
    /// How many statements [`Batched::STATEMENTS`] holds.
    const COUNT: usize;
    /// What a job's caller gets.
    type Answer: Send + 'static;

    /// Binds the job's values to its statements, in order.
    fn bind<'q>(
        &'q self,
        query: Query<'q, Sqlite, SqliteArguments>,
    ) -> Query<'q, Sqlite, SqliteArguments>;

    /// The job's answer from the rows its statements returned.
    fn answer(rows: Vec<SqliteRow>) -> Result<Self::Answer, sqlx::Error>;
}

type Job<B> = (
    B,
    oneshot::Sender<Result<<B as Batched>::Answer, sqlx::Error>>,
);

/// The queue of one kind's jobs waiting for the writing connection.
pub(crate) struct Queue<B: Batched> {
    queue: mpsc::Sender<Job<B>>,
}

impl<B: Batched> std::fmt::Debug for Queue<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<B: Batched> Clone for Queue<B> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<B: Batched> Queue<B> {
    /// Starts the task that runs queued jobs on `write`. It ends when the
    /// last clone of the returned handle is dropped.
    pub(crate) fn start(write: SqlitePool) -> Self {
        // Every job is a request waiting for its answer, so the queue holds
        // at most the requests in flight; the bound only adds back-pressure.
        let (queue, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(write, jobs));
        Self { queue }
    }

    /// Runs `job`'s statements, in a batch with whatever else is queued.
    pub(crate) async fn run(&self, job: B) -> Result<B::Answer, sqlx::Error> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((job, answer))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn run<B: Batched>(write: SqlitePool, mut jobs: mpsc::Receiver<Job<B>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        while !batch.is_empty() {
            run_batch(&write, &mut batch).await;
        }
    }
}

/// Runs the batch's statements as one query and answers every job whose
/// statements ran, removing it from `batch`. After a failed statement, the
/// jobs behind it never ran and stay in `batch`.
async fn run_batch<B: Batched>(write: &SqlitePool, batch: &mut Vec<Job<B>>) {
    let sql = B::STATEMENTS.repeat(batch.len());
    let query = batch
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |query, (job, _)| {
            job.bind(query)
        });
    // Rows in statement order: statement `i` belongs to job `i / COUNT`.
    let mut rows: Vec<Vec<SqliteRow>> =
        std::iter::repeat_with(Vec::new).take(batch.len()).collect();
    let mut finished = 0;
    let mut failure = None;
    {
        let mut results = write.fetch_many(query);
        loop {
            match results.try_next().await {
                Ok(Some(Either::Left(SqliteQueryResult { .. }))) => finished += 1,
                Ok(Some(Either::Right(row))) => rows[finished / B::COUNT].push(row),
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
        // A statement failed: that job's failure. The ones before it ran
        // and are answered; the ones after it go again.
        Some(e @ sqlx::Error::Database(_)) => {
            let failed = finished / B::COUNT;
            let (_, answer) = batch.remove(failed);
            let _ = answer.send(Err(e));
            failed
        }
        // The connection failed (closed pool, timeout): every job's.
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
        let _ = answer.send(B::answer(rows));
    }
}
