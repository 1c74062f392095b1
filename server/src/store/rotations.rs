//! The fast path of a refresh on SQLite, as a batched job for its one writer
//! (see `batches`). (PostgreSQL runs each rotation as one statement of its
//! own, see `sessions::rotate`.)

use sqlx::{
    FromRow, Row, Sqlite,
    query::Query,
    sqlite::{SqliteArguments, SqliteRow},
};

use super::batches::Batched;

/// What a rotation's count and conditional spend returned.
#[derive(Debug)]
pub struct Spent {
    /// The attempts counted under the key in this window, this one included.
    pub count: i64,
    /// Session, user and role when the token was live and is now spent.
    pub rotated: Option<Rotated>,
}

/// The session of a token just spent, with its user's role as stored now.
#[derive(Debug, FromRow)]
pub struct Rotated {
    pub session_id: String,
    pub user_id: String,
    pub role: String,
    /// How the session signed in: RFC 8176 `amr` values, space separated.
    pub amr: String,
    /// When it signed in (ms).
    pub auth_time: i64,
    /// The DPoP key the session is bound to.
    pub dpop_jkt: Option<String>,
}

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
const STATEMENTS: &str = "INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1)
     ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
     RETURNING count;
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
                   AS auth_time,
               (SELECT dpop_jkt FROM sessions WHERE id = session_id) AS dpop_jkt;";

/// The queue of rotations waiting for the writing connection.
pub(crate) type Queue = super::batches::Queue<Rotation>;

impl Batched for Rotation {
    const STATEMENTS: &'static str = STATEMENTS;
    const COUNT: usize = 2;
    type Answer = Spent;

    fn bind<'q>(
        &'q self,
        query: Query<'q, Sqlite, SqliteArguments>,
    ) -> Query<'q, Sqlite, SqliteArguments> {
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

    /// A rotation's answer from its rows: the count's, then the spent
    /// token's.
    fn answer(rows: Vec<SqliteRow>) -> Result<Spent, sqlx::Error> {
        let mut rows = rows.into_iter();
        let count = rows
            .next()
            .ok_or(sqlx::Error::RowNotFound)?
            .try_get("count")?;
        let rotated: Option<Rotated> = rows.next().as_ref().map(FromRow::from_row).transpose()?;
        Ok(Spent { count, rotated })
    }
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
