//! The database: opening it (creating the SQLite file and its folder on first
//! start) and bringing its schema up to date with the `migrations/` folder.

use std::{str::FromStr, time::Duration};

use crate::files::{self, FileError};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL: {0}")]
    Url(sqlx::Error),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(crate::files::FileError),
    #[error("cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database's two pools over one SQLite file.
///
/// SQLite lets one connection write at a time. With every connection able to
/// write, the losers of that race sleep in SQLite's busy handler (1 ms, 2 ms,
/// 5 ms, … up to 100 ms) while the lock is long free. With one writing
/// connection, this process's writers queue for it in the pool, asleep on a
/// future and woken the moment it is free; readers never wait (WAL). Other
/// processes on the same file still meet the busy handler.
#[derive(Clone, Debug)]
pub struct Db {
    /// For statements that only read.
    pub read: SqlitePool,
    /// The one connection for everything that writes.
    pub write: SqlitePool,
    /// A connection of its own for the revocation poll, so that requests
    /// filling the read pool never make it late (and the set stale).
    pub poll: SqlitePool,
}

impl Db {
    /// Closes both pools, waiting for their connections.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.poll.close().await;
    }
}

/// Connections of the read pool.
const READERS: u32 = 8;

/// Opens the pools and runs pending migrations.
pub async fn connect(url: &str) -> Result<Db, DbError> {
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
    sqlx::migrate!("./migrations").run(&write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(READERS)
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
    Ok(Db { read, write, poll })
}

/// The steps of SQLite's plan for `statement` (`EXPLAIN QUERY PLAN`), for
/// tests that require statements to search by key.
#[cfg(test)]
pub(crate) async fn query_plan(pool: &SqlitePool, statement: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}")))
        .fetch_all(pool)
        .await
        .expect("a statement SQLite can plan")
        .iter()
        .map(|row| row.get("detail"))
        .collect()
}

/// Whether `url` names SQLite's in-memory database rather than a file.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Answers whether the database can serve a query right now.
pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
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

/// Whether `e` is a violation of a unique constraint (a duplicate).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
