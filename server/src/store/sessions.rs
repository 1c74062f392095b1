//! Sessions (refresh-token families) and their refresh tokens, as stored:
//! starting one, rotating a token, reading a token's state, revoking,
//! listing and pruning. What a presentation *means* is decided in
//! `auth::sessions`; this module only reads and writes.

use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    rotations::{self, Rotated, Spent},
    rows::{Event, FactorKind, Reason},
    tx::{Filter, Tx, revoking},
};

/// A new session and its first refresh token.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub user_agent: Option<&'a str>,
    /// Where it signed in from (see `rows::Origin`).
    pub ip: Option<&'a str>,
    /// Recorded with it: the sign-in, and what it used.
    pub events: &'a [Event<'a>],
    pub token_hash: &'a [u8],
    pub now: i64,
    /// The family's absolute end (ms).
    pub ends_at: i64,
    /// The first token's idle end (ms).
    pub token_expires_at: i64,
    /// How the holder signed in (RFC 8176 values, space separated), and when
    /// (ms): every access token of the session says so.
    pub amr: &'a str,
    pub auth_time: i64,
    /// The account's credentials version when the sign-in checked them: a
    /// session starts only if it is unchanged (no reset, password change or
    /// deletion committed in between).
    pub credentials_version: Option<i64>,
    /// The DPoP key the session is bound to, if any.
    pub dpop_jkt: Option<&'a str>,
    /// What the sign-in used besides (or instead of) the password.
    pub factor: &'a Factor,
}

/// What a session's sign-in used besides (or instead of) the password, as
/// the sessions table records it (`factor`, `factor_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Factor {
    /// A first factor alone: the password, or a code by mail instead of
    /// it. Admitted only while the account has no second factor.
    Password,
    Totp,
    /// A recovery code of the set made at `set` (ms): one set is live at a
    /// time, and its codes share that time.
    RecoveryCode {
        set: i64,
    },
    /// The passkey with this id (alone, or after the password).
    Passkey {
        id: String,
    },
    /// A code texted to the account's phone, the one confirmed at `since`
    /// (ms).
    Sms {
        since: i64,
    },
}

impl Factor {
    pub fn kind(&self) -> FactorKind {
        match self {
            Self::Password => FactorKind::Password,
            Self::Totp => FactorKind::Totp,
            Self::RecoveryCode { .. } => FactorKind::RecoveryCode,
            Self::Passkey { .. } => FactorKind::Passkey,
            Self::Sms { .. } => FactorKind::Sms,
        }
    }

    /// Which one of its kind, as stored.
    fn id(&self) -> Option<String> {
        match self {
            Self::Password | Self::Totp => None,
            Self::Sms { since } => Some(since.to_string()),
            Self::RecoveryCode { set } => Some(set.to_string()),
            Self::Passkey { id } => Some(id.clone()),
        }
    }
}

/// The account's second factors as a session start reads them, under the
/// account's lock: what decides whether the sign-in still holds.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct FactorsNow {
    /// TOTP is on.
    pub totp: bool,
    /// The account has a passkey.
    pub any_passkey: bool,
    /// The sign-in's own passkey is still the account's.
    pub passkey: bool,
    /// The sign-in's recovery codes are still the account's set.
    pub recovery_set: bool,
    /// The account has a confirmed phone.
    pub phone: bool,
    /// The sign-in's phone (confirmed at `$4`) is still the account's.
    pub phone_of_sign_in: bool,
}

/// Whether a sign-in may become a session, given the account's factors now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// The password alone, but the account has a second factor by now.
    SecondFactorNeeded,
    /// The factor the sign-in used was removed meanwhile.
    FactorGone,
}

/// What starting a session led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Started; the user's role as stored now.
    Yes(String),
    /// The account no longer exists, is locked, or its credentials moved on.
    Refused,
    /// See [`Admission`].
    Not(Admission),
}

/// Everything known about a presented token, read to decide what its
/// presentation means.
#[derive(Debug, Clone, FromRow)]
pub struct TokenState {
    pub session_id: String,
    pub user_id: String,
    pub role: String,
    /// How the session signed in (see [`rotations::Rotated::amr`]).
    pub amr: String,
    pub auth_time: i64,
    /// The DPoP key the session is bound to.
    pub dpop_jkt: Option<String>,
    pub spent_at: Option<i64>,
    pub expires_at: i64,
    pub successor: Option<Vec<u8>>,
    pub successor_live: Option<bool>,
    pub session_end: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

/// A session as listed to its owner.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Starts a session and reads the user's role in the same transaction: a
/// role change either commits first (and this session carries the new
/// role) or after (and revokes this session with the others), never in
/// between. On PostgreSQL the user's row is locked for that (`FOR NO KEY
/// UPDATE`), against the update of a role change or a lock. Not `FOR
/// SHARE`: two logins of one account would each hold it and then wait for
/// the other to write the last sign-in time, a deadlock; logins of one
/// account take turns instead, for a transaction of a few statements.
///
/// Under that lock it reads the account's second factors and asks `admit`
/// whether the sign-in still holds: every change of a factor locks the
/// account's row first, so a factor added or removed either commits before
/// (and this start sees it) or after (and ends this session with the
/// others of its kind). A password-only login racing the first second
/// factor, or a second step racing the removal of the factor it used,
/// therefore never leaves a session behind.
///
/// [`Started::Refused`] when the account no longer exists, was deleted or
/// locked, or its password changed since the sign-in read it. The account's
/// last sign-in time moves to `now`, and `events` are recorded, in the same
/// transaction.
pub async fn start(
    db: &Db,
    new: &NewSession<'_>,
    admit: impl Fn(&FactorsNow) -> Admission,
) -> Result<Started, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let role: Option<String> = sqlx::query_scalar(if pg {
            "SELECT role FROM users
             WHERE id = $1 AND deleted_at IS NULL AND locked_at IS NULL
               AND ($2::bigint IS NULL OR credentials_version = $2)
             FOR NO KEY UPDATE"
        } else {
            "SELECT role FROM users
             WHERE id = $1 AND deleted_at IS NULL AND locked_at IS NULL
               AND ($2 IS NULL OR credentials_version = $2)"
        })
        .bind(new.user_id)
        .bind(new.credentials_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(role) = role else {
            tx.rollback().await?;
            return Ok(Started::Refused);
        };
        let (passkey, recovery_set, phone_since) = match new.factor {
            Factor::Passkey { id } => (Some(id.as_str()), None, None),
            Factor::RecoveryCode { set } => (None, Some(*set), None),
            Factor::Sms { since } => (None, None, Some(*since)),
            Factor::Password | Factor::Totp => (None, None, None),
        };
        let factors: FactorsNow = sqlx::query_as(FACTORS_NOW)
            .bind(new.user_id)
            .bind(passkey)
            .bind(recovery_set)
            .bind(phone_since)
            .fetch_one(&mut *tx)
            .await?;
        let admission = admit(&factors);
        if admission != Admission::Admit {
            tx.rollback().await?;
            return Ok(Started::Not(admission));
        }
        sqlx::query(
            "INSERT INTO sessions
                 (id, user_id, created_at, last_used_at, expires_at, user_agent, amr, auth_time,
                  ip, factor, factor_id, dpop_jkt)
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.now)
        .bind(new.ends_at)
        .bind(new.user_agent)
        .bind(new.amr)
        .bind(new.auth_time)
        .bind(new.ip)
        .bind(new.factor.kind().as_str())
        .bind(new.factor.id())
        .bind(new.dpop_jkt)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(new.user_id)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
        for event in new.events {
            tx.record(event).await?;
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(new.token_hash)
        .bind(new.id)
        .bind(new.now)
        .bind(new.token_expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Started::Yes(role))
    })
}

/// Account `$1`'s second factors, for a session start: TOTP on, any
/// passkey, passkey `$2` (the sign-in's), recovery codes of the set made at
/// `$3` (the sign-in's; a spent code stays in its set until the set goes),
/// a phone, the phone confirmed at `$4` (the sign-in's).
const FACTORS_NOW: &str = "SELECT
        EXISTS (SELECT 1 FROM totp_secrets
                WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS totp,
        EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1) AS any_passkey,
        EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1 AND id = $2) AS passkey,
        EXISTS (SELECT 1 FROM recovery_codes
                WHERE user_id = $1 AND created_at = $3) AS recovery_set,
        EXISTS (SELECT 1 FROM phones WHERE user_id = $1) AS phone,
        EXISTS (SELECT 1 FROM phones WHERE user_id = $1 AND confirmed_at = $4) AS phone_of_sign_in";

/// Records that session `session_id` of `user_id` proved presence at `now`;
/// `false` when it is not a live session of theirs.
pub async fn mark_proven(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE sessions SET proven_at = $3
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3"
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// When session `session_id` of `user_id` last proved presence, by a read:
/// `None` when it is not a live session of theirs (revoked since its token
/// was checked), `Some(None)` when it never proved presence.
pub async fn proven_at(
    db: &Db,
    user_id: &str,
    session_id: &str,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT proven_at FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

/// Binds session `session_id` (a person's or an app's grant) to the DPoP
/// key `jkt` unless it is bound already; whether it is bound to `jkt` now.
/// Of two keys that race to bind one session, one wins and the other is
/// told `false`.
pub async fn bind_key(db: &Db, session_id: &str, jkt: &str) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE sessions SET dpop_jkt = $1
         WHERE id = $2 AND (dpop_jkt IS NULL OR dpop_jkt = $1)"
    )
    .bind(jkt)
    .bind(session_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// Counts the attempt and, unless the count goes over the limit, spends the
/// live token `rotation.presented_hash` and stores its successor: one atomic
/// conditional step, so of many presentations of one token at once exactly
/// one rotates it.
pub async fn rotate(db: &Db, rotation: rotations::Rotation) -> Result<Spent, sqlx::Error> {
    match db {
        // SQLite: the statements go to its one writer in a batch with
        // whatever other rotations are waiting (see `rotations`).
        Db::Sqlite(db) => db.rotations.run(rotation).await,
        // PostgreSQL: one statement of CTEs. The token's row lock makes a
        // concurrent presentation wait, then find the token spent.
        Db::Postgres(db) => {
            let row: RotationRow = sqlx::query_as(
                "WITH counted AS (
                     INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
                     ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
                     RETURNING count
                 ),
                 spent AS (
                     UPDATE refresh_tokens t
                     SET spent_at = $4, successor = $5,
                         successor_expires_at = LEAST($4 + $6, s.expires_at)
                     FROM sessions s
                     WHERE t.hash = $7 AND t.spent_at IS NULL AND t.expires_at > $4
                       AND s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > $4
                       AND (SELECT count FROM counted) <= $3
                     RETURNING t.session_id, s.user_id, t.successor, t.successor_expires_at,
                               s.amr, COALESCE(s.auth_time, s.created_at) AS auth_time,
                               s.dpop_jkt
                 ),
                 stored AS (
                     INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
                     SELECT successor, session_id, $4, successor_expires_at FROM spent
                 ),
                 used AS (
                     UPDATE sessions SET last_used_at = $4
                     WHERE id IN (SELECT session_id FROM spent)
                 )
                 SELECT (SELECT count FROM counted) AS count,
                        spent.session_id, spent.user_id, u.role, spent.amr, spent.auth_time,
                        spent.dpop_jkt
                 FROM (SELECT 1) AS one
                 LEFT JOIN spent ON TRUE
                 LEFT JOIN users u ON u.id = spent.user_id",
            )
            .bind(&rotation.key)
            .bind(rotation.window_start)
            .bind(rotation.max)
            .bind(rotation.now)
            .bind(&rotation.successor_hash)
            .bind(rotation.idle_ms)
            .bind(&rotation.presented_hash)
            .fetch_one(&db.write)
            .await?;
            Ok(row.into())
        }
    }
}

/// One row of PostgreSQL's rotation statement.
#[derive(FromRow)]
struct RotationRow {
    count: i64,
    session_id: Option<String>,
    user_id: Option<String>,
    role: Option<String>,
    amr: Option<String>,
    auth_time: Option<i64>,
    dpop_jkt: Option<String>,
}

impl From<RotationRow> for Spent {
    fn from(row: RotationRow) -> Self {
        let rotated = match (
            row.session_id,
            row.user_id,
            row.role,
            row.amr,
            row.auth_time,
        ) {
            (Some(session_id), Some(user_id), Some(role), Some(amr), Some(auth_time)) => {
                Some(Rotated {
                    session_id,
                    user_id,
                    role,
                    amr,
                    auth_time,
                    dpop_jkt: row.dpop_jkt,
                })
            }
            _ => None,
        };
        Self {
            count: row.count,
            rotated,
        }
    }
}

/// The state of the token with hash `hash` (`$1`) at `now` (`$2`).
const TOKEN_STATE: &str = "SELECT t.session_id, s.user_id, u.role, s.amr,
            COALESCE(s.auth_time, s.created_at) AS auth_time, s.dpop_jkt,
            t.spent_at, t.expires_at, t.successor,
            n.spent_at IS NULL AND n.expires_at > $2 AS successor_live,
            s.expires_at AS session_end, s.revoked_at, s.revoked_reason
     FROM refresh_tokens t
     JOIN sessions s ON s.id = t.session_id
     JOIN users u ON u.id = s.user_id
     LEFT JOIN refresh_tokens n ON n.hash = t.successor
     WHERE t.hash = $1";

/// [`TOKEN_STATE`] with the token's row locked (PostgreSQL).
const TOKEN_STATE_FOR_UPDATE: &str = "SELECT t.session_id, s.user_id, u.role, s.amr,
            COALESCE(s.auth_time, s.created_at) AS auth_time, s.dpop_jkt,
            t.spent_at, t.expires_at, t.successor,
            n.spent_at IS NULL AND n.expires_at > $2 AS successor_live,
            s.expires_at AS session_end, s.revoked_at, s.revoked_reason
     FROM refresh_tokens t
     JOIN sessions s ON s.id = t.session_id
     JOIN users u ON u.id = s.user_id
     LEFT JOIN refresh_tokens n ON n.hash = t.successor
     WHERE t.hash = $1
     FOR UPDATE OF t";

/// What the token with hash `hash` is at `now`, read without any lock.
pub async fn token_state(
    db: &Db,
    hash: &[u8],
    now: i64,
) -> Result<Option<TokenState>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(TOKEN_STATE)
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)
}

/// What revoking on a decision led to.
#[derive(Debug)]
pub enum Decided {
    /// No such token (any more).
    Gone,
    /// `decide` said no; here is the state it saw.
    Kept(TokenState),
    /// `decide` said yes: the token's session is revoked.
    Revoked(TokenState),
}

/// Reads the token's state again under a lock (SQLite's write lock; on
/// PostgreSQL the token's row), asks `decide`, and if it says so revokes
/// the token's session in the same transaction. A decision that leads to a
/// revocation is thus taken on the state as it is, not as a read saw it.
pub async fn revoke_if(
    db: &Db,
    hash: &[u8],
    now: i64,
    reason: Reason,
    decide: impl Fn(&TokenState) -> bool,
) -> Result<Decided, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        if pg {
            // Locks in the order every revocation takes them (the clock,
            // then tokens, then sessions), so two cannot deadlock.
            sqlx::query(revoking::LOCK_CLOCK).execute(&mut *tx).await?;
        }
        let state: Option<TokenState> = sqlx::query_as(if pg {
            TOKEN_STATE_FOR_UPDATE
        } else {
            TOKEN_STATE
        })
        .bind(hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(state) = state else {
            return Ok(Decided::Gone);
        };
        if !decide(&state) {
            return Ok(Decided::Kept(state));
        }
        tx.revoke_sessions(Filter::One(&state.session_id), reason)
            .await?;
        tx.commit().await?;
        Ok(Decided::Revoked(state))
    })
}

/// Whether a token with this hash was ever stored (a read, no lock).
pub async fn exists(db: &Db, hash: &[u8]) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = on!(db, read, |pool| sqlx::query_scalar(
        "SELECT 1 FROM refresh_tokens WHERE hash = $1"
    )
    .bind(hash)
    .fetch_optional(pool)
    .await)?;
    Ok(found.is_some())
}

/// The session the token with this hash belongs to, and its user, if it
/// has not been revoked (a read, no lock).
pub async fn unrevoked_session_of(
    db: &Db,
    hash: &[u8],
) -> Result<Option<(String, String)>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.hash = $1 AND s.revoked_at IS NULL"
    )
    .bind(hash)
    .fetch_optional(pool)
    .await)
}

/// Whether `session_id` is a live session of `user_id` at `now` (a read).
pub async fn is_live_and_owned(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<String> = on!(db, read, |pool| sqlx::query_scalar(revoking::FIND_OWNED)
        .bind(now)
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
    Ok(found.is_some())
}

/// Ends the live sessions `filter` selects, in a transaction of its own;
/// returns their ids. `event` is recorded with them, if any ended.
pub async fn revoke(
    db: &Db,
    filter: Filter<'_>,
    reason: Reason,
    event: Option<&Event<'_>>,
) -> Result<Vec<String>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let ended = tx.revoke_sessions(filter, reason).await?;
        if let Some(event) = event.filter(|_| !ended.is_empty()) {
            tx.record(event).await?;
        }
        tx.commit().await?;
        Ok(ended)
    })
}

/// `$2`'s live sessions at `$1` (see [`revoking::FIND_OWNED`] for what
/// live means), after the one used last at `$3` with id `$4`, at most `$5`.
const LIST: &str = "SELECT id, created_at, last_used_at, user_agent, ip FROM sessions
     WHERE user_id = $2 AND client_id IS NULL AND revoked_at IS NULL AND expires_at > $1
       AND EXISTS (SELECT 1 FROM refresh_tokens t
                   WHERE t.session_id = sessions.id AND t.spent_at IS NULL
                     AND t.expires_at > $1)
       AND ($3 IS NULL OR (last_used_at, id) < ($3, $4))
     ORDER BY last_used_at DESC, id DESC
     LIMIT $5";

/// A page of `user_id`'s live sessions at `now`, most recently used first,
/// after the session `after` (its last use and id), at most `limit`.
pub async fn list(
    db: &Db,
    user_id: &str,
    now: i64,
    limit: i64,
    after: Option<(i64, &str)>,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(LIST)
        .bind(now)
        .bind(user_id)
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// Deletes sessions that ended (revoked, or past their absolute end) before
/// `ended_before` (ms), with their refresh tokens; returns how many. Rows are
/// deleted a batch at a time, so no lock is held long.
///
/// Call it only with a time by which every access token of those sessions
/// has expired: until then, revocation needs the revoked rows.
pub async fn prune_ended(db: &Db, ended_before: i64) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 500;
    let mut deleted = 0;
    loop {
        // Refresh tokens go with their session (ON DELETE CASCADE).
        let done = on!(db, write, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE revoked_at < $1
                 UNION
                 SELECT id FROM sessions WHERE expires_at < $1
                 LIMIT $2)"
        )
        .bind(ended_before)
        .bind(BATCH)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        deleted += done;
        if done < BATCH as u64 {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sessions list and a revocation of one's own session count
    /// "live" alike: a session listed can be ended, and one that cannot be
    /// ended is not listed. Neither is an app's grant, which is the
    /// person's to withdraw as an app, not as a device.
    #[test]
    fn the_list_and_the_owned_revocation_mean_the_same_live() {
        let words = |statement: &str| statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let live = "client_id IS NULL AND revoked_at IS NULL AND expires_at > $1 AND EXISTS (SELECT 1 FROM refresh_tokens t \
                    WHERE t.session_id = sessions.id AND t.spent_at IS NULL AND t.expires_at > $1)";
        assert!(words(LIST).contains(&words(live)), "{LIST}");
        assert!(
            words(revoking::FIND_OWNED).contains(&words(live)),
            "{}",
            revoking::FIND_OWNED
        );
    }

    /// The locking read is the plain read with its lock, and nothing else.
    #[test]
    fn the_locking_token_state_is_the_plain_one_locked() {
        let words = |statement: &str| statement.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            words(TOKEN_STATE_FOR_UPDATE),
            words(&format!("{TOKEN_STATE} FOR UPDATE OF t"))
        );
    }
}
