//! Sessions (refresh-token families) and their refresh tokens: starting,
//! rotation with reuse detection and a grace window, revocation, listing.
//! The format of the tokens themselves is in [`super::refresh_token`].

use std::time::Duration;

use classboard::api::Role;
use sqlx::{AssertSqlSafe, FromRow, SqliteConnection};

use crate::{
    auth::{
        limits::{self, Exceeded},
        refresh_token::{self, Presented, TokenKeys},
        rotations::{Rotation, Rotations},
    },
    config::RateLimit,
    db::{Db, now_ms},
    users::stored_role,
};

/// The absolute lifetime of a family, whatever its use.
pub const ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Longest stored `User-Agent`.
const MAX_USER_AGENT: usize = 256;

/// Lifetimes that shape refresh behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub idle: Duration,
    pub absolute: Duration,
    pub grace: Duration,
}

/// Why a session ended (stored, and shown in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Logout,
    LogoutAll,
    Revoked,
    Reuse,
    RoleChange,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::Reuse => "reuse",
            Self::RoleChange => "role_change",
        }
    }
}

/// A refresh token handed to a client, with the session it belongs to.
#[derive(Debug)]
pub struct Issued {
    pub session_id: String,
    pub user_id: String,
    pub refresh_token: String,
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Refresh {
    /// The token was live and is now spent; here is its successor, and the
    /// user's role as stored now.
    Rotated(Issued, Role),
    /// The token was rotated moments ago (within the grace window) and its
    /// successor is still live: the same successor again.
    Replayed(Issued, Role),
    /// A spent token came back outside the grace window: the family is now
    /// revoked. Carries the revoked session id.
    Reused(String),
    /// A token of a session that reuse detection ended earlier.
    EndedByReuse,
    /// Unknown, expired, or belonging to an ended session.
    Invalid,
    /// Over the per-IP limit: not looked at.
    Limited(Exceeded),
}

/// A session as listed to its owner.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
}

/// Where a page of sessions starts: after this session, in the list's order
/// (most recently used first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub last_used_at: i64,
    pub id: String,
}

impl SessionCursor {
    /// The cursor as clients see it (opaque to them).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_used_at, self.id)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let (at, id) = raw.split_once('.')?;
        Some(Self {
            last_used_at: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// Everything known about a presented token that is not live, read to decide
/// what its presentation means.
#[derive(Debug, FromRow)]
struct TokenState {
    session_id: String,
    user_id: String,
    role: String,
    spent_at: Option<i64>,
    expires_at: i64,
    successor: Option<Vec<u8>>,
    successor_live: Option<bool>,
    session_end: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

/// What a presentation of a token that the fast path could not spend means.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Invalid,
    EndedByReuse,
    /// Live and unspent: the count in the rotation refused it.
    Limited,
    /// Rotated within the grace window, successor still live.
    Replay,
    /// Spent, and not a replay: theft.
    Reuse,
}

/// Decides what presenting a token in `state` at `now` means; pure, so that
/// every case is tested without a database.
fn classify(state: &TokenState, now: i64, grace: Duration, successor_hash: &[u8]) -> Verdict {
    if state.revoked_at.is_some() {
        return if state.revoked_reason.as_deref() == Some(Reason::Reuse.as_str()) {
            Verdict::EndedByReuse
        } else {
            Verdict::Invalid
        };
    }
    let Some(spent_at) = state.spent_at else {
        // Unspent: live means the count refused it; expired proves nothing.
        return if state.expires_at > now && state.session_end > now {
            Verdict::Limited
        } else {
            Verdict::Invalid
        };
    };
    if state.session_end <= now {
        return Verdict::Invalid;
    }
    if now - spent_at <= ms(grace)
        && state.successor_live == Some(true)
        && state.successor.as_deref() == Some(successor_hash)
    {
        return Verdict::Replay;
    }
    Verdict::Reuse
}

/// Starts, rotates, revokes and lists sessions.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    policy: Policy,
    tokens: TokenKeys,
    rotations: Rotations,
    /// Until when (ms) untagged tokens of earlier versions are looked up;
    /// after it, every family they could belong to has ended.
    untagged_until: i64,
}

impl Sessions {
    /// Also starts the task that runs rotations in batches
    /// ([`Rotations::start`]), so it must be called inside a Tokio runtime.
    pub fn new(db: Db, policy: Policy, secret: &[u8]) -> Self {
        Self {
            rotations: Rotations::start(db.clone()),
            db,
            policy,
            tokens: TokenKeys::derive(secret),
            untagged_until: 0,
        }
    }

    /// Accepts untagged tokens of earlier versions for as long as a family
    /// started before this database minted tagged ones can live (read from
    /// the database, where migration 0007 recorded that moment).
    pub async fn accepting_untagged_tokens(mut self) -> Result<Self, sqlx::Error> {
        let since: String = sqlx::query_scalar(
            "SELECT value FROM settings WHERE key = 'tagged_refresh_tokens_since'",
        )
        .fetch_one(&self.db.read)
        .await?;
        let since: i64 = since.parse().unwrap_or(0);
        self.untagged_until = since.saturating_add(ms(self.policy.absolute));
        Ok(self)
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// What `presented` is, without any I/O.
    pub fn check(&self, presented: &str) -> Presented {
        self.tokens.check(presented)
    }

    /// Starts a new family for `user_id` (a login or a signup), and reads the
    /// user's role in the same transaction: a role change either commits
    /// first (and this session carries the new role) or after (and revokes
    /// this session with the others), never in between. `None` when the
    /// account no longer exists.
    pub async fn start(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<(Issued, Role)>, sqlx::Error> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let token = self.tokens.mint();
        let user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());

        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let now = now_ms();
        let absolute_end = now + ms(self.policy.absolute);
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(role) = role else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&session_id)
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(absolute_end)
        .bind(user_agent)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(refresh_token::hash(&token))
        .bind(&session_id)
        .bind(now)
        .bind((now + ms(self.policy.idle)).min(absolute_end))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((
            Issued {
                session_id,
                user_id: user_id.to_owned(),
                refresh_token: token,
            },
            stored_role(&role),
        )))
    }

    /// Counts the attempt under the counter named `counter` (see
    /// `Limiter::stored`) against `limit` and, unless that goes over it,
    /// rotates `presented`. Spending a live token is one conditional
    /// UPDATE, so of many concurrent presentations exactly one rotates; the
    /// others find it spent within the grace window and get the same
    /// successor. A token this server cannot have minted is refused before
    /// any query, and counts nothing.
    pub async fn refresh(
        &self,
        presented: &str,
        counter: &str,
        limit: RateLimit,
    ) -> Result<Refresh, sqlx::Error> {
        let presented_hash = refresh_token::hash(presented);
        match self.tokens.check(presented) {
            Presented::Junk => return Ok(Refresh::Invalid),
            Presented::Legacy
                if now_ms() >= self.untagged_until || !self.exists(&presented_hash).await? =>
            {
                return Ok(Refresh::Invalid);
            }
            Presented::Legacy | Presented::Minted => {}
        }
        let now = now_ms();
        let (window_start, retry_after_secs) = limits::window(limit.window);
        let successor = self.tokens.successor(presented);
        let successor_hash = refresh_token::hash(&successor);

        // Counted and, unless that goes over the limit, spent, in one trip
        // to the writing connection shared with the other rotations queued.
        let spent = self
            .rotations
            .run(Rotation {
                key: counter.to_owned(),
                window_start,
                max: i64::from(limit.max),
                now,
                presented_hash: presented_hash.clone(),
                successor_hash: successor_hash.clone(),
                idle_ms: ms(self.policy.idle),
            })
            .await?;
        if let Err(exceeded) = limits::verdict(spent.count, limit.max, retry_after_secs) {
            return Ok(Refresh::Limited(exceeded));
        }
        if let Some((session_id, user_id, role)) = spent.rotated {
            return Ok(Refresh::Rotated(
                Issued {
                    session_id,
                    user_id,
                    refresh_token: successor,
                },
                stored_role(&role),
            ));
        }

        // Not live: find out why, first without any lock. Only a reuse
        // writes (it revokes the family), and it decides again under the
        // write lock, on the state as it is then.
        let Some(state) = self.token_state(&self.db.read, &presented_hash, now).await? else {
            return Ok(Refresh::Invalid);
        };
        let verdict = classify(&state, now, self.policy.grace, &successor_hash);
        let verdict = if verdict == Verdict::Reuse {
            let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
            let Some(state) = self.token_state(&mut *tx, &presented_hash, now).await? else {
                return Ok(Refresh::Invalid);
            };
            let verdict = classify(&state, now, self.policy.grace, &successor_hash);
            if verdict == Verdict::Reuse {
                revoke_sessions(&mut tx, Filter::One(&state.session_id), Reason::Reuse).await?;
                tx.commit().await?;
                tracing::warn!(session = %state.session_id, "refresh token reuse detected; session revoked");
                return Ok(Refresh::Reused(state.session_id));
            }
            verdict
        } else {
            verdict
        };
        Ok(match verdict {
            Verdict::Invalid | Verdict::Reuse => Refresh::Invalid,
            Verdict::EndedByReuse => Refresh::EndedByReuse,
            Verdict::Limited => Refresh::Limited(Exceeded { retry_after_secs }),
            Verdict::Replay => Refresh::Replayed(
                Issued {
                    session_id: state.session_id,
                    user_id: state.user_id,
                    refresh_token: successor,
                },
                stored_role(&state.role),
            ),
        })
    }

    async fn token_state<'e>(
        &self,
        db: impl sqlx::SqliteExecutor<'e>,
        presented_hash: &[u8],
        now: i64,
    ) -> Result<Option<TokenState>, sqlx::Error> {
        sqlx::query_as(
            "SELECT t.session_id, s.user_id, u.role, t.spent_at, t.expires_at, t.successor,
                    n.spent_at IS NULL AND n.expires_at > ?2 AS successor_live,
                    s.expires_at AS session_end, s.revoked_at, s.revoked_reason
             FROM refresh_tokens t
             JOIN sessions s ON s.id = t.session_id
             JOIN users u ON u.id = s.user_id
             LEFT JOIN refresh_tokens n ON n.hash = t.successor
             WHERE t.hash = ?1",
        )
        .bind(presented_hash)
        .bind(now)
        .fetch_optional(db)
        .await
    }

    /// Whether a token with this hash was ever stored (read pool, no lock).
    async fn exists(&self, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM refresh_tokens WHERE hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(found.is_some())
    }

    /// The session a (live or spent) refresh token belongs to, if that
    /// session has not ended yet; found by a read, without any lock. A token
    /// this server cannot have minted belongs to none.
    pub async fn unrevoked_session_of(&self, presented: &str) -> Result<Option<String>, sqlx::Error> {
        match self.tokens.check(presented) {
            Presented::Minted => {}
            Presented::Legacy if now_ms() < self.untagged_until => {}
            Presented::Legacy | Presented::Junk => return Ok(None),
        }
        sqlx::query_scalar(
            "SELECT s.id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.hash = ? AND s.revoked_at IS NULL",
        )
        .bind(refresh_token::hash(presented))
        .fetch_optional(&self.db.read)
        .await
    }

    /// Ends one session. Returns whether it was live.
    pub async fn revoke(&self, session_id: &str, reason: Reason) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let ended = revoke_sessions(&mut tx, Filter::One(session_id), reason).await?;
        tx.commit().await?;
        Ok(!ended.is_empty())
    }

    /// Ends one of `user_id`'s sessions; `false` if no such live session is
    /// theirs. An id that names none is answered by a read, without the lock.
    pub async fn revoke_own(&self, user_id: &str, session_id: &str) -> Result<bool, sqlx::Error> {
        let live: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT 1 FROM sessions WHERE id = ?2 AND user_id = ?3 AND {LIVE}"
        )))
        .bind(now_ms())
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.db.read)
        .await?;
        if live.is_none() {
            return Ok(false);
        }
        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let ended = revoke_sessions(
            &mut tx,
            Filter::Owned {
                user_id,
                session_id,
            },
            Reason::Revoked,
        )
        .await?;
        tx.commit().await?;
        Ok(!ended.is_empty())
    }

    /// Ends every live session of `user_id`; returns their ids.
    pub async fn revoke_all(
        &self,
        user_id: &str,
        reason: Reason,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let ended = revoke_sessions(&mut tx, Filter::User(user_id), reason).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// A page of `user_id`'s live sessions, most recently used first, and
    /// where the next page starts if there is one.
    pub async fn list(
        &self,
        user_id: &str,
        limit: i64,
        after: Option<&SessionCursor>,
    ) -> Result<(Vec<SessionRow>, Option<SessionCursor>), sqlx::Error> {
        let now = now_ms();
        let mut rows: Vec<SessionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, created_at, last_used_at, user_agent FROM sessions
             WHERE user_id = ?2 AND {LIVE}
               AND (?3 IS NULL OR (last_used_at, id) < (?3, ?4))
             ORDER BY last_used_at DESC, id DESC
             LIMIT ?5"
        )))
        .bind(now)
        .bind(user_id)
        .bind(after.map(|c| c.last_used_at))
        .bind(after.map(|c| c.id.as_str()))
        .bind(limit + 1)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(0);
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next = more
            .then(|| rows.last())
            .flatten()
            .map(|last| SessionCursor {
                last_used_at: last.last_used_at,
                id: last.id.clone(),
            });
        Ok((rows, next))
    }
}

/// Deletes sessions that ended (revoked, or past their absolute end) before
/// `ended_before` (ms), with their refresh tokens; returns how many. Rows are
/// deleted a batch at a time, so the single write lock is never held long.
///
/// Call it only with a time by which every access token of those sessions
/// has expired: until then, revocation needs the revoked rows.
pub async fn prune_ended(write: &sqlx::SqlitePool, ended_before: i64) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 500;
    let mut deleted = 0;
    loop {
        // Refresh tokens go with their session (ON DELETE CASCADE).
        let done = sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE revoked_at < ?1
                 UNION
                 SELECT id FROM sessions WHERE expires_at < ?1
                 LIMIT ?2)",
        )
        .bind(ended_before)
        .bind(BATCH)
        .execute(write)
        .await?;
        let done = done.rows_affected();
        deleted += done;
        if done < BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// Which live sessions a revocation ends.
#[derive(Debug, Clone, Copy)]
pub enum Filter<'a> {
    One(&'a str),
    /// One session, only if `user_id` owns it and it is live as the sessions
    /// list counts live (see [`LIVE`]).
    Owned { user_id: &'a str, session_id: &'a str },
    /// Every session of a user.
    User(&'a str),
}

/// The condition under which a session counts as live to its owner: not
/// revoked, not past its end, and holding a token that can still be used.
/// `?1` is the time now.
const LIVE: &str = "revoked_at IS NULL AND expires_at > ?1
    AND EXISTS (SELECT 1 FROM refresh_tokens t
                WHERE t.session_id = sessions.id AND t.spent_at IS NULL AND t.expires_at > ?1)";

/// Ends the live sessions `filter` selects and spends their tokens, inside
/// the caller's write transaction (begun `IMMEDIATE`); returns their ids.
/// Spent tokens are kept, so a later presentation is still recognised as
/// belonging to an ended session. Every statement searches by key, and a
/// filter that selects nothing writes nothing.
///
/// A revocation takes the next number of the `revocation_clock`, and only
/// then the time. On SQLite the write lock, and on a shared database the
/// lock of the clock's one row, make revocations commit in the order of
/// their numbers: an instance that polls "numbers above the last I saw" can
/// never skip one that committed late (see `revocation.rs`). The time is
/// taken after the lock, so it is never earlier than tokens a concurrent
/// rotation minted before this commit.
pub async fn revoke_sessions(
    tx: &mut SqliteConnection,
    filter: Filter<'_>,
    reason: Reason,
) -> Result<Vec<String>, sqlx::Error> {
    let ids: Vec<String> = match filter {
        Filter::One(id) => {
            sqlx::query_scalar(revoking::ONE)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
        }
        Filter::Owned {
            user_id,
            session_id,
        } => {
            sqlx::query_scalar(AssertSqlSafe(revoking::owned()))
                .bind(now_ms())
                .bind(session_id)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?
        }
        Filter::User(user_id) => {
            sqlx::query_scalar(revoking::USER)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    if ids.is_empty() {
        return Ok(ids);
    }
    let seq: i64 = sqlx::query_scalar(revoking::NEXT_NUMBER)
        .fetch_one(&mut *tx)
        .await?;
    let now = now_ms();
    let (stamp, subject) = match filter {
        Filter::One(id)
        | Filter::Owned {
            session_id: id, ..
        } => (revoking::STAMP_ONE, id),
        Filter::User(user_id) => (revoking::STAMP_USER, user_id),
    };
    sqlx::query(stamp)
        .bind(now)
        .bind(reason.as_str())
        .bind(seq)
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    sqlx::query(revoking::SPEND)
        .bind(now)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(ids)
}

/// The statements of a revocation, each a search by key (see the test).
mod revoking {
    pub const ONE: &str = "SELECT id FROM sessions WHERE id = ? AND revoked_at IS NULL";
    pub const USER: &str = "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL";
    /// `?1` now, `?2` the session, `?3` its owner.
    pub fn owned() -> String {
        format!(
            "SELECT id FROM sessions WHERE id = ?2 AND user_id = ?3 AND {}",
            super::LIVE
        )
    }
    pub const NEXT_NUMBER: &str =
        "UPDATE revocation_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq";
    pub const STAMP_ONE: &str =
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2, revoked_seq = ?3
         WHERE id = ?4 AND revoked_at IS NULL";
    pub const STAMP_USER: &str =
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2, revoked_seq = ?3
         WHERE user_id = ?4 AND revoked_at IS NULL";
    pub const SPEND: &str = "UPDATE refresh_tokens SET spent_at = ?1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions WHERE revoked_seq = ?2)";
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);
    const NOW: i64 = 1_000_000_000;

    fn live() -> TokenState {
        TokenState {
            session_id: "s".into(),
            user_id: "u".into(),
            role: "student".into(),
            spent_at: None,
            expires_at: NOW + 1000,
            successor: None,
            successor_live: None,
            session_end: NOW + 10_000,
            revoked_at: None,
            revoked_reason: None,
        }
    }

    fn rotated(ago: i64, successor_live: bool) -> TokenState {
        TokenState {
            spent_at: Some(NOW - ago),
            successor: Some(b"next".to_vec()),
            successor_live: Some(successor_live),
            ..live()
        }
    }

    #[test]
    fn a_live_token_the_fast_path_did_not_spend_was_refused_by_its_count() {
        assert_eq!(classify(&live(), NOW, GRACE, b"next"), Verdict::Limited);
        let expired = TokenState {
            expires_at: NOW - 1,
            ..live()
        };
        assert_eq!(classify(&expired, NOW, GRACE, b"next"), Verdict::Invalid);
    }

    #[test]
    fn the_last_rotated_token_within_grace_is_a_replay_and_otherwise_reuse() {
        assert_eq!(classify(&rotated(1_000, true), NOW, GRACE, b"next"), Verdict::Replay);
        assert_eq!(classify(&rotated(10_001, true), NOW, GRACE, b"next"), Verdict::Reuse);
        // Its successor was rotated too: this token is no longer the last.
        assert_eq!(classify(&rotated(1_000, false), NOW, GRACE, b"next"), Verdict::Reuse);
        // Recorded with another successor (another secret): not a replay.
        assert_eq!(classify(&rotated(1_000, true), NOW, GRACE, b"other"), Verdict::Reuse);
    }

    #[test]
    fn ended_sessions_explain_themselves_and_punish_nothing_more() {
        let reused = TokenState {
            revoked_at: Some(NOW - 5),
            revoked_reason: Some("reuse".into()),
            ..rotated(60_000, false)
        };
        assert_eq!(classify(&reused, NOW, GRACE, b"next"), Verdict::EndedByReuse);
        let logged_out = TokenState {
            revoked_reason: Some("logout".into()),
            ..reused
        };
        assert_eq!(classify(&logged_out, NOW, GRACE, b"next"), Verdict::Invalid);
        let past_end = TokenState {
            session_end: NOW,
            ..rotated(60_000, false)
        };
        assert_eq!(classify(&past_end, NOW, GRACE, b"next"), Verdict::Invalid);
    }

    /// A revocation must cost the same with ten sessions or a million: an
    /// unlimited client can ask for one (logout), so none of its statements
    /// may scan a table.
    #[tokio::test]
    async fn every_statement_of_a_revocation_searches_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let owned = revoking::owned();
        let statements = [
            revoking::ONE,
            revoking::USER,
            &owned,
            revoking::NEXT_NUMBER,
            revoking::STAMP_ONE,
            revoking::STAMP_USER,
            revoking::SPEND,
        ];
        for statement in statements {
            let plan = crate::db::query_plan(&db.write, statement).await;
            for step in &plan {
                assert!(
                    !step.starts_with("SCAN "),
                    "{step:?} in the plan of {statement}: {plan:#?}"
                );
            }
        }
        db.close().await;
    }

    #[test]
    fn session_cursors_round_trip_and_refuse_garbage() {
        let cursor = SessionCursor {
            last_used_at: 1_700_000_000_123,
            id: "2b1c0f4e-9a6c-4a8e-9d3f-0c8b7a6e5d4c".into(),
        };
        assert_eq!(SessionCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "abc", "12", ".id", "x.id"] {
            assert_eq!(SessionCursor::decode(bad), None, "{bad:?}");
        }
    }
}
