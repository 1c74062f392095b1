//! Sessions (refresh-token families) and their opaque refresh tokens:
//! minting, rotation with reuse detection and a grace window, revocation.
//!
//! A refresh token is 256 random bits, base64url. Only its SHA-256 is stored.
//! Its successor is derived as HMAC(server secret, token): the server can
//! recompute the successor when the same token comes back within the grace
//! window, so the honest second tab gets the same new token, and no token is
//! ever kept readable at rest.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use classboard::api::Role;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{
    auth::{
        limits::{self, Exceeded},
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
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
}

/// Mints and rotates refresh tokens.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    policy: Policy,
    /// Key of the successor derivation (HMAC-SHA-256).
    key: std::sync::Arc<[u8]>,
    rotations: Rotations,
}

type HmacSha256 = Hmac<Sha256>;

impl Sessions {
    /// Also starts the task that runs rotations in batches
    /// ([`Rotations::start`]), so it must be called inside a Tokio runtime.
    pub fn new(db: Db, policy: Policy, secret: &[u8]) -> Self {
        // A key of its own, so refresh tokens never share a key with JWTs.
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"classboard refresh-token successor key");
        Self {
            rotations: Rotations::start(db.clone()),
            db,
            policy,
            key: mac.finalize().into_bytes().to_vec().into(),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Starts a new family for `user_id` (a login or a signup).
    pub async fn start(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
    ) -> Result<Issued, sqlx::Error> {
        let now = now_ms();
        let session_id = uuid::Uuid::new_v4().to_string();
        let token = random_token();
        let absolute_end = now + ms(self.policy.absolute);
        let user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());

        let mut tx = self.db.write.begin().await?;
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
        self.insert_token(&mut tx, &hash(&token), &session_id, now, absolute_end)
            .await?;
        tx.commit().await?;
        Ok(Issued {
            session_id,
            user_id: user_id.to_owned(),
            refresh_token: token,
        })
    }

    /// Counts the attempt under `key` against `limit` and, unless that goes
    /// over it, rotates `presented`. Spending a live token is one conditional
    /// UPDATE, so of many concurrent presentations exactly one rotates; the
    /// others find it spent within the grace window and get the same
    /// successor.
    pub async fn refresh(
        &self,
        presented: &str,
        key: &str,
        limit: RateLimit,
    ) -> Result<Refresh, sqlx::Error> {
        let now = now_ms();
        let (window_start, retry_after_secs) = limits::window(limit.window);
        let presented_hash = hash(presented);
        let successor = self.successor(presented);
        let successor_hash = hash(&successor);

        // Counted and, unless that goes over the limit, spent, in one trip
        // to the writing connection shared with the other rotations queued.
        let spent = self
            .rotations
            .run(Rotation {
                key: key.to_owned(),
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

        // Not live: find out why. IMMEDIATE takes the write lock up front, so
        // the verdict and the revocation it may lead to see one state.
        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let Some(row) = sqlx::query(
            "SELECT t.session_id, t.spent_at, t.successor, s.user_id, s.revoked_at, s.expires_at,
                    n.spent_at IS NULL AND n.expires_at > ?2 AS successor_live, s.revoked_reason,
                    u.role, t.expires_at
             FROM refresh_tokens t
             JOIN sessions s ON s.id = t.session_id
             JOIN users u ON u.id = s.user_id
             LEFT JOIN refresh_tokens n ON n.hash = t.successor
             WHERE t.hash = ?1",
        )
        .bind(&presented_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Refresh::Invalid);
        };
        let session_id: String = row.get(0);
        let spent_at: Option<i64> = row.get(1);
        let stored_successor: Option<Vec<u8>> = row.get(2);
        let revoked_at: Option<i64> = row.get(4);
        let session_end: i64 = row.get(5);
        let successor_live: Option<bool> = row.get(6);

        if revoked_at.is_some() {
            let reason: Option<String> = row.get(7);
            return Ok(if reason.as_deref() == Some(Reason::Reuse.as_str()) {
                Refresh::EndedByReuse
            } else {
                Refresh::Invalid
            });
        }
        let Some(spent_at) = spent_at else {
            let token_end: i64 = row.get(9);
            if token_end > now && session_end > now {
                // Unspent and live, so the count in the UPDATE refused it:
                // another process counted an attempt between our statements.
                return Ok(Refresh::Limited(Exceeded { retry_after_secs }));
            }
            // Unspent but expired: nothing to punish.
            return Ok(Refresh::Invalid);
        };
        if session_end <= now {
            return Ok(Refresh::Invalid);
        }
        let within_grace = now - spent_at <= ms(self.policy.grace);
        if within_grace
            && successor_live == Some(true)
            && stored_successor.as_deref() == Some(successor_hash.as_slice())
        {
            return Ok(Refresh::Replayed(
                Issued {
                    session_id,
                    user_id: row.get(3),
                    refresh_token: successor,
                },
                stored_role(row.get(8)),
            ));
        }

        revoke_in(&mut tx, &session_id, None, Reason::Reuse, now).await?;
        tx.commit().await?;
        tracing::warn!(session = %session_id, "refresh token reuse detected; session revoked");
        Ok(Refresh::Reused(session_id))
    }

    /// The session a (live or spent) refresh token belongs to, with its user.
    pub async fn session_of(
        &self,
        presented: &str,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.hash = ?",
        )
        .bind(hash(presented))
        .fetch_optional(&self.db.read)
        .await
    }

    /// Ends one session. Returns whether it was live.
    pub async fn revoke(&self, session_id: &str, reason: Reason) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.write.begin().await?;
        let ended = revoke_in(&mut tx, session_id, None, reason, now_ms()).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends one of `user_id`'s sessions; `false` if no such live session is theirs.
    pub async fn revoke_own(&self, user_id: &str, session_id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.write.begin().await?;
        let ended = revoke_in(
            &mut tx,
            session_id,
            Some(user_id),
            Reason::Revoked,
            now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends every live session of `user_id`; returns their ids.
    pub async fn revoke_all(
        &self,
        user_id: &str,
        reason: Reason,
    ) -> Result<Vec<String>, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.db.write.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
        for id in &ids {
            revoke_in(&mut tx, id, None, reason, now).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// `user_id`'s live sessions, most recently used first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, user_agent FROM sessions
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
               AND EXISTS (SELECT 1 FROM refresh_tokens t
                           WHERE t.session_id = sessions.id AND t.spent_at IS NULL AND t.expires_at > ?)
             ORDER BY last_used_at DESC",
        )
        .bind(user_id)
        .bind(now_ms())
        .bind(now_ms())
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SessionRow {
                id: r.get(0),
                created_at: r.get(1),
                last_used_at: r.get(2),
                user_agent: r.get(3),
            })
            .collect())
    }

    /// Stores a new live token, idle-expiring but never after the family's end.
    async fn insert_token(
        &self,
        tx: &mut sqlx::SqliteConnection,
        token_hash: &[u8],
        session_id: &str,
        now: i64,
        family_end: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(session_id)
            .bind(now)
            .bind((now + ms(self.policy.idle)).min(family_end))
            .execute(&mut *tx)
            .await
            .map(drop)
    }

    fn successor(&self, token: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
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
        .await?
        .rows_affected();
        deleted += done;
        if done < BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// Marks a live session revoked (only if `owner` owns it, when given) and
/// spends its tokens. Spent tokens are kept, so a later presentation is still
/// recognised as belonging to an ended session.
async fn revoke_in(
    tx: &mut sqlx::SqliteConnection,
    session_id: &str,
    owner: Option<&str>,
    reason: Reason,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2
         WHERE id = ?3 AND revoked_at IS NULL AND (?4 IS NULL OR user_id = ?4)",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(session_id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE refresh_tokens SET spent_at = ? WHERE session_id = ? AND spent_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

/// 256 bits from the OS's CSPRNG, base64url without padding (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
