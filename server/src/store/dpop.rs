//! DPoP proofs (RFC 9449) as stored: each accepted proof's `jti`, so that
//! no proof works twice, on any instance. What a proof must say is
//! `auth::dpop`; this module only reads and writes.
//!
//! Every request with a proof spends one, so on SQLite the spends are a
//! batched job for its one writer (see `batches`), as refreshes and posts
//! are; on PostgreSQL each is one statement.

use sqlx::{
    Sqlite,
    query::Query,
    sqlite::{SqliteArguments, SqliteRow},
};

use super::{Db, batches::Batched};

/// Records the proof whose `jti` (with its key) hashes to `jti_hash`,
/// remembered until `expires_at` (ms); `false` when it was recorded before
/// (a replay), on this instance or another.
pub async fn spend(db: &Db, jti_hash: &[u8], expires_at: i64) -> Result<bool, sqlx::Error> {
    match db {
        Db::Sqlite(db) => {
            db.proof_spends
                .run(Spend {
                    jti_hash: jti_hash.to_vec(),
                    expires_at,
                })
                .await
        }
        Db::Postgres(db) => sqlx::query(
            "INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti_hash) DO NOTHING",
        )
        .bind(jti_hash)
        .bind(expires_at)
        .execute(&db.write)
        .await
        .map(|done| done.rows_affected() == 1),
    }
}

/// A proof's spend on SQLite, as its batched statement binds it.
pub(crate) struct Spend {
    jti_hash: Vec<u8>,
    expires_at: i64,
}

/// The queue of spends waiting for SQLite's writer.
pub(crate) type Queue = super::batches::Queue<Spend>;

impl Batched for Spend {
    /// A row back only when the `jti` was not there.
    const STATEMENTS: &'static str = "INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES (?, ?)
         ON CONFLICT (jti_hash) DO NOTHING RETURNING 1;";
    const COUNT: usize = 1;
    type Answer = bool;

    fn bind<'q>(
        &'q self,
        query: Query<'q, Sqlite, SqliteArguments>,
    ) -> Query<'q, Sqlite, SqliteArguments> {
        query.bind(&self.jti_hash).bind(self.expires_at)
    }

    fn answer(rows: Vec<SqliteRow>) -> Result<bool, sqlx::Error> {
        Ok(rows.len() == 1)
    }
}
