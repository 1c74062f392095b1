//! Storage: every SQL statement of the server lives under this module, one
//! file per concern (users, sessions and their tokens, rate counters, posts,
//! grades, revocations, signing keys, settings). Handlers and the `auth`
//! core call typed functions here and receive named row structs.
//!
//! Two databases stand behind one type, [`Db`]: SQLite (the default, one
//! file, no set-up) and PostgreSQL (`DATABASE_URL=postgres://…`, for several
//! instances sharing one database).
//!
//! **How one body serves both.** Statements are written once, with `$N`
//! parameters, which both drivers accept (sqlx's SQLite driver reads `$N` as
//! the N-th argument). The [`on!`] macro instantiates a body once per pool
//! type, so the compiler checks each instantiation's bind and row types
//! against its own driver (the SQL text itself is checked by the tests, which
//! run on both databases), and a statement both databases understand is
//! written exactly once. Where
//! they differ, a function matches on the backend and says why: how a
//! transaction takes its locks (SQLite's one write lock, taken up front with
//! `BEGIN IMMEDIATE`, against PostgreSQL's row locks), a rotation (a batch
//! of statements on SQLite's one writer, one statement of CTEs on
//! PostgreSQL), and names compared without case. What a transaction can do
//! once another function began it (lock an account, record an audit event,
//! queue a mail, revoke sessions…) is one trait in one file, [`tx::Tx`],
//! implemented once for each database's connection. Every statement is one
//! string literal that grep finds whole; a statement several functions run
//! is a named constant. Rows that several files share are in [`rows`].
//!
//! **Where is…** (file, then function):
//!
//! | what | where |
//! |---|---|
//! | a session starts (sign-in, signup) | `sessions::start` |
//! | a refresh token is rotated | `sessions::rotate`: on PostgreSQL one statement; on SQLite the job `rotations::Rotation`, batched by `batches`, whose `UPDATE … SET successor` fires the trigger `refresh_token_spent` (`migrations/sqlite/0004_rotation_trigger.sql`) that stores the successor |
//! | a presented refresh token is read | `sessions::token_state` |
//! | a reuse ends a session | `sessions::revoke_if` |
//! | sessions are revoked (logout, lock, password change…) | `sessions::revoke`, and in another change's transaction `tx::Tx::revoke_sessions` |
//! | revoked sessions reach other instances | `revocations::revoked_after` |
//! | a mailed link is issued, read, spent | `email_tokens::issue`, `peek`, `verify` (address), `reset_password` (password reset) |
//! | pending links end with a credential change | `tx::Tx::end_credential_flows` |
//! | an audit event is written | `audit::record` alone; in a change's transaction `tx::Tx::record` (e.g. a lock: `users::set_locked`) |
//! | a mail is queued | `tx::Tx::queue_mail`, in its cause's transaction (`outbox::queue` alone) |
//! | an account's row is locked before a change | `tx::Tx::lock_account`, `lock_live_account`, `lock_for_role` |
//! | a rate limit counts | `counters::take`; with a rotation or a post on SQLite, the first statement of `rotations::STATEMENTS`, `publications::Publication::STATEMENTS` |
//! | TOTP, recovery codes, second-step challenges | `mfa` |
//! | passkeys and their ceremonies | `passkeys` |
//! | signing keys | `keys`, and their in-transaction steps `tx::Tx::lock_ring`, `insert_key`, `promote_due_key` |
//! | posts, grades | `posts` (on SQLite published by the batched job `publications`), `grades` |
//! | apps, their grants, codes, requests (pushed or not), device requests | `clients`, `grants`, `devices` |
//! | a DPoP proof's `jti` is spent | `dpop::spend` (on SQLite the batched job `dpop::Spend`) |
//!
//! The alternatives weighed (docs/DEVELOPMENT.md): sqlx's `Any` driver
//! checks nothing at compile time and knows too few types; a trait with one
//! implementation per database would write every shared statement twice.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::files::{self, FileError};

pub mod audit;
mod batches;
pub mod clients;
pub mod counters;
pub mod devices;
pub mod dpop;
pub mod email_codes;
pub mod email_tokens;
pub mod grades;
pub mod grants;
pub mod keys;
pub mod logouts;
pub mod mfa;
pub mod outbox;
pub mod passkeys;
pub mod phones;
pub mod posts;
mod publications;
pub mod revocations;
pub mod rotations;
pub mod rows;
pub mod sessions;
pub mod settings;
pub mod tx;
pub mod users;

/// Runs `$body` with `$pool` bound to the `$which` pool (`read`, `write` or
/// `poll`) of whichever database `$db` is. The body is compiled once per
/// database, against that database's driver.
///
/// A read that fails because its PostgreSQL connection was lost (the
/// server restarted, say: every idle connection of the pool is dead, and
/// only using one tells) runs once more, on a fresh connection of its own,
/// so that one lost connection does not fail the request. Only a lost
/// connection: a pool with none free, or a server refusing more, gets no
/// extra connection from a retry (that would pile connections onto a
/// database that is already full). Writes are not run again: the caller
/// answers `503`, and the client may retry.
macro_rules! on {
    (@once $db:expr, $which:ident, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(db) => {
                let $pool = &db.$which;
                $body
            }
            $crate::store::Db::Postgres(db) => {
                let $pool = &db.$which;
                $body
            }
        }
    };
    ($db:expr, read, |$pool:ident| $body:expr) => {{
        let db: &$crate::store::Db = $db;
        match ($crate::store::on!(@once db, read, |$pool| $body), db) {
            (Err(lost), $crate::store::Db::Postgres(pg)) if $crate::store::is_lost_connection(&lost) => {
                match $crate::store::fresh_connection(&pg.read).await {
                    Ok(mut connection) => {
                        tracing::warn!(error = %lost, "a read lost its connection; read again on a fresh one");
                        let again = {
                            let $pool = &mut connection;
                            $body
                        };
                        let _ = sqlx::Connection::close(connection).await;
                        again
                    }
                    Err(_) => Err(lost),
                }
            }
            (result, _) => result,
        }
    }};
    ($db:expr, $which:ident, |$pool:ident| $body:expr) => {
        $crate::store::on!(@once $db, $which, |$pool| $body)
    };
}
pub(crate) use on;

/// Runs `$body` inside a write transaction of whichever database `$db` is,
/// with `$tx` bound to the transaction and `$pg` to whether it is
/// PostgreSQL's. SQLite's begins `IMMEDIATE`: it takes the one write lock up
/// front, so everything the body reads stays as read until it commits.
/// PostgreSQL's takes row locks as it goes; a body that reads what it will
/// decide on locks those rows itself (`FOR UPDATE`, chosen with `$pg`). The
/// body commits; an early return rolls back.
macro_rules! in_tx {
    ($db:expr, |$tx:ident, $pg:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(db) => {
                #[allow(unused_mut)]
                let mut $tx = db.write.begin_with("BEGIN IMMEDIATE").await?;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Db::Postgres(db) => {
                #[allow(unused_mut)]
                let mut $tx = db.write.begin().await?;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}
pub(crate) use in_tx;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL: {0}")]
    Url(sqlx::Error),
    #[error("DATABASE_URL: neither sqlite:// nor postgres://")]
    Scheme,
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(FileError),
    #[error("cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database, and the pools the server uses on it.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// SQLite: pools over one file.
///
/// SQLite lets one connection write at a time. With every connection able to
/// write, the losers of that race sleep in SQLite's busy handler (1 ms, 2 ms,
/// 5 ms, … up to 100 ms) while the lock is long free. With one writing
/// connection, this process's writers queue for it in the pool, asleep on a
/// future and woken the moment it is free; readers never wait (WAL). Other
/// processes on the same file still meet the busy handler.
#[derive(Clone, Debug)]
pub struct Sqlite {
    /// For statements that only read.
    pub read: SqlitePool,
    /// The one connection for everything that writes.
    pub write: SqlitePool,
    /// A connection of its own for the revocation poll, so that requests
    /// filling the read pool never make it late (and the set stale).
    pub poll: SqlitePool,
    /// Rotations queued for the writer, sent to it in batches.
    pub(crate) rotations: rotations::Queue,
    /// Posts queued for the writer, sent to it in batches.
    pub(crate) publications: publications::Queue,
    /// DPoP proofs' `jti`s queued for the writer, spent in batches.
    pub(crate) proof_spends: dpop::Queue,
}

/// PostgreSQL: one pool for requests, and a connection for the poll. `read`
/// and `write` are the same pool: the server takes no lock of its own, and
/// PostgreSQL lets many connections write at once.
#[derive(Clone, Debug)]
pub struct Postgres {
    pub read: PgPool,
    pub write: PgPool,
    pub poll: PgPool,
}

/// Connections of SQLite's read pool, and of PostgreSQL's pool.
const CONNECTIONS: u32 = 8;

impl Db {
    /// Opens the database `url` names (creating a SQLite file and its folder,
    /// private, on first start) and runs pending migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await
        } else {
            Err(DbError::Scheme)
        }
    }

    /// Closes every pool, waiting for its connections.
    pub async fn close(&self) {
        on!(self, write, |pool| pool.close().await);
        on!(@once self, read, |pool| pool.close().await);
        on!(self, poll, |pool| pool.close().await);
    }

    /// Whether this is PostgreSQL (shared by several instances).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Answers whether the database can serve a query right now.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on!(self, read, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))
    }
}

async fn connect_sqlite(url: &str) -> Result<Db, DbError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(DbError::Url)?
        .create_if_missing(true)
        // WAL lets readers proceed while one writer commits; NORMAL sync is
        // durable across application crashes and is WAL's recommended pairing.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));

    // The folder (0700) and the file (0600) exist before SQLite opens it, so
    // that its journals are private too (see `files::private_database`).
    let file = options.get_filename();
    if let Some(parent) = file.parent() {
        files::private_dir(parent).map_err(|e| match e {
            FileError::Io { source, .. } => DbError::Folder {
                path: parent.display().to_string(),
                source,
            },
            other => DbError::File(other),
        })?;
    }
    if !is_in_memory(url) {
        files::private_database(file).map_err(DbError::File)?;
    }

    // Neither pool pings a connection before lending it: a SQLite connection
    // is an open file, not a socket that can go stale, and sqlx's ping is a
    // round trip to the connection's worker thread, as long as a statement.
    //
    // The writer first: it creates the file and brings the schema up to date
    // before any reader opens it.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await
        .map_err(DbError::Open)?;
    sqlx::migrate!("./migrations/sqlite").run(&write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await
        .map_err(DbError::Open)?;
    let poll = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.read_only(true))
        .await
        .map_err(DbError::Open)?;
    let rotations = rotations::Queue::start(write.clone());
    let publications = publications::Queue::start(write.clone());
    let proof_spends = dpop::Queue::start(write.clone());
    Ok(Db::Sqlite(Sqlite {
        read,
        write,
        poll,
        rotations,
        publications,
        proof_spends,
    }))
}

async fn connect_postgres(url: &str) -> Result<Db, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::Url)?;
    // sqlx already pings a connection when it comes back to the pool; a
    // second ping before each loan would be one more round trip per query.
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.clone())
        .await
        .map_err(DbError::Open)?;
    // Instances starting together migrate once: sqlx takes an advisory lock.
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    let poll = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(DbError::Open)?;
    Ok(Db::Postgres(Postgres {
        read: pool.clone(),
        write: pool,
        poll,
    }))
}

/// Whether `url` names SQLite's in-memory database rather than a file.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Whether `e` says the database cannot serve the request right now, rather
/// than that the request itself failed: a connection lost or refused (the
/// server restarting or shutting down, too many connections), no connection
/// to be had from the pool in time, or SQLite's write lock held by another
/// process past the busy timeout. Such a request is answered `503` with
/// `Retry-After`, never `500`.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY and its extended codes.
                code.parse::<i32>().is_ok_and(|c| c & 0xff == 5)
            } else {
                // PostgreSQL: class 08 (connection exception), the server
                // shutting down or starting (57P01–57P03), too many
                // connections (53300).
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
            }
        }
        _ => false,
    }
}

/// Whether `e` says the connection a statement ran on was lost (closed
/// under it, or ended by the server), rather than that none could be had:
/// the one case in which running a read again, on another connection, can
/// succeed at once.
pub fn is_lost_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_none() =>
        {
            let code = db.code().unwrap_or_default();
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }
        _ => false,
    }
}

/// A PostgreSQL connection of its own, outside the pool (whose idle
/// connections may all be dead), made with the pool's options.
pub async fn fresh_connection(pool: &PgPool) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::ConnectOptions;
    pool.connect_options().connect().await
}

/// Milliseconds since the Unix epoch: how the database stores time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A stored time as the API shows it: RFC 3339, UTC, with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// A page of a list read with one row more than `limit` (the way every list
/// here learns whether another page follows): the first `limit` rows, and
/// whether there were more.
pub fn one_page<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// A duration in milliseconds, as the database stores lengths of time.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The unique index or constraint a unique violation is about, by name:
/// PostgreSQL names it; SQLite names the columns ("UNIQUE constraint
/// failed: users.email"), which stand in for the name here.
pub(crate) fn violated_unique(e: &sqlx::Error) -> Option<String> {
    let db = e.as_database_error().filter(|d| d.is_unique_violation())?;
    Some(match db.constraint() {
        Some(name) => name.to_owned(),
        None => db.message().rsplit_once(": ").map_or_else(
            || db.message().to_owned(),
            |(_, columns)| columns.to_owned(),
        ),
    })
}

/// Which field a unique-constraint violation on `users` is about, by the
/// index or constraint it names (see [`violated_unique`]).
pub fn taken_field(e: &sqlx::Error) -> Option<&'static str> {
    match violated_unique(e)?.as_str() {
        // SQLite names the columns, PostgreSQL the index or constraint.
        "users.email" | "users_email_key" => Some("email"),
        "users.username" | "users_username_lower" => Some("username"),
        _ => None,
    }
}

#[cfg(test)]
mod unavailable {
    use super::{is_lost_connection, is_unavailable};

    #[test]
    fn a_full_pool_is_unavailable_but_no_reason_for_another_connection() {
        for full in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(is_unavailable(&full));
            assert!(!is_lost_connection(&full));
        }
        let lost = sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert!(is_unavailable(&lost) && is_lost_connection(&lost));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }
}

/// The steps of SQLite's plan for `statement` (`EXPLAIN QUERY PLAN`), for
/// tests that require statements to search by key.
#[cfg(test)]
pub(crate) async fn query_plan(pool: &SqlitePool, statement: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {statement}"
    )))
    .fetch_all(pool)
    .await
    .expect("a statement SQLite can plan")
    .iter()
    .map(|row| row.get("detail"))
    .collect()
}

/// A SQLite database in a temporary folder, for unit tests of statements.
#[cfg(test)]
pub(crate) async fn scratch_sqlite() -> (tempfile::TempDir, Sqlite) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
    match Db::connect(&url).await.expect("a scratch database") {
        Db::Sqlite(db) => (dir, db),
        Db::Postgres(_) => unreachable!("a sqlite:// URL"),
    }
}
