//! What a transaction can do: every statement that runs inside a
//! transaction another function began (with `in_tx!`), on either database.
//!
//! One trait, [`Tx`], with one body per method; `tx_on!` at the end of the
//! file instantiates it for SQLite's and PostgreSQL's connection, so the
//! compiler checks each against its driver's bind and row types. Where the
//! two databases differ (a row lock PostgreSQL takes and SQLite's one writer
//! does not need), the body asks [`Tx::POSTGRES`].
//!
//! Every change of an account that another must not interleave locks first
//! ([`Tx::lock_account`], [`Tx::lock_live_account`], [`Tx::lock_for_role`],
//! [`Tx::lock_ring`]), and records its audit event and queues its mail in
//! the same transaction ([`Tx::record`], [`Tx::queue`]): either all of
//! it commits, or none.

use sqlx::{FromRow, PgConnection, SqliteConnection};

use super::{
    now_ms,
    outbox::{self, Queued},
    rows::{Event, FactorKind, KeyRow, Reason, stored_role},
};
use classboard::api::Role;

/// The statements a transaction of either database can run.
pub(crate) trait Tx {
    /// Whether this is a PostgreSQL connection (row locks), not SQLite's
    /// one writer (which holds the whole database from `BEGIN IMMEDIATE`).
    const POSTGRES: bool;

    /// Records an audit event with the change it tells of.
    async fn record(&mut self, event: &Event<'_>) -> Result<(), sqlx::Error>;

    /// Queues a mail or a text with the change it tells of.
    async fn queue(&mut self, message: &Queued<'_>) -> Result<(), sqlx::Error>;

    /// On PostgreSQL, locks account `user_id`'s row, so that changes to its
    /// second factors (TOTP, passkeys, recovery codes) take turns and each
    /// sees what the one before it left.
    async fn lock_account(&mut self, user_id: &str) -> Result<(), sqlx::Error>;

    /// Locks the account's row on PostgreSQL (always before any token row,
    /// so that no two transactions wait on each other in opposite orders),
    /// and reads it; `None` when it is not live (deleted, or never was).
    async fn lock_live_account(
        &mut self,
        user_id: &str,
    ) -> Result<Option<LiveAccount>, sqlx::Error>;

    /// Inside a change that may take away an admin (a role change, a
    /// deletion, a lock): reads how many admins can sign in and the role of
    /// live account `id` (at credentials `version`, when given). On
    /// PostgreSQL every admin's row is locked first, always in the order of
    /// their ids, then the account's: two admins demoting or deleting each
    /// other at once are serialised, never deadlocked, and the last one
    /// stays. `None` when there is no such live account.
    async fn lock_for_role(
        &mut self,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<LockedRole>, sqlx::Error>;

    /// Ends the live sessions `filter` selects and spends their tokens;
    /// returns their ids. Spent tokens are kept, so a later presentation is
    /// still recognised as belonging to an ended session. Every statement
    /// searches by key, and a filter that selects nothing writes nothing.
    ///
    /// A revocation takes the next number of the `revocation_clock`, and
    /// only then the time. On SQLite the write lock, and on PostgreSQL the
    /// lock of the clock's one row (held until commit), make revocations
    /// commit in the order of their numbers: an instance that polls "numbers
    /// above the last I saw" can never skip one that committed late (see
    /// `revocations`). The time is taken after the lock, so it is never
    /// earlier than tokens a concurrent rotation minted before this commit.
    async fn revoke_sessions(
        &mut self,
        filter: Filter<'_>,
        reason: Reason,
    ) -> Result<Vec<String>, sqlx::Error>;

    /// Ends the tokens an app got for itself (client_credentials) under
    /// `sid`: a revocation numbered by the same clock as sessions', so that
    /// every instance learns of it the same way.
    async fn revoke_app_tokens(&mut self, sid: &str) -> Result<(), sqlx::Error>;

    /// What a new password (or a lock) ends besides sessions: logins waiting
    /// for their second factor (their password was checked against the old
    /// one) and the mailed links to change the address or reset the
    /// password, which someone who knew the old password may have asked
    /// for. A link to confirm the current address stays.
    async fn end_credential_flows(&mut self, user_id: &str) -> Result<(), sqlx::Error>;

    /// The old set of recovery codes goes, with the sessions that signed in
    /// with one of its codes (but `keep`, the caller's), and `codes`
    /// (hashed) become the new one. Returns the sessions ended.
    async fn replace_recovery_codes(
        &mut self,
        user_and_keep: (&str, &str),
        codes: &[Vec<u8>],
        now: i64,
    ) -> Result<Vec<String>, sqlx::Error>;

    /// Takes the signing keys' lock for the rest of the transaction:
    /// SQLite's write lock is already held; PostgreSQL takes an advisory
    /// lock, so that two instances changing the ring at once take turns.
    async fn lock_ring(&mut self) -> Result<(), sqlx::Error>;

    /// Since when the active signing key of `purpose` signs, if there is one.
    async fn active_key_since(&mut self, purpose: &str) -> Result<Option<i64>, sqlx::Error>;

    /// Stores a signing key's row as it is.
    async fn insert_key(&mut self, key: &KeyRow) -> Result<(), sqlx::Error>;

    /// Makes the published key that is due (the earliest) of each purpose
    /// the active one of that purpose, retiring the key active until now.
    /// Returns whether one was made active.
    async fn promote_due_key(&mut self, now: i64) -> Result<bool, sqlx::Error>;

    /// Tries the code whose hash is `hash` against the live texted code of
    /// `user_id` for `purpose` (`phones::Purpose::as_str`): spends it when
    /// right, counts a failure when wrong (the fifth ends it). A login's or
    /// a proof's code is good only while the number it went to is still
    /// the account's. On PostgreSQL the code's row is locked first, so two
    /// attempts at once take turns.
    async fn try_sms_code(
        &mut self,
        code: (&str, &str),
        hash: &[u8],
        now: i64,
    ) -> Result<SmsAttempt, sqlx::Error>;
}

/// What an attempt at a texted code found ([`Tx::try_sms_code`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SmsAttempt {
    /// Right, and spent; it went to `number`.
    Right { number: String },
    /// Wrong, and counted; `ended` when that was its last try.
    Wrong { ended: bool },
    /// No live code.
    Gone,
}

/// A texted code as an attempt at it reads it.
#[derive(Debug, FromRow)]
struct SmsCodeRow {
    number: String,
    hash: Vec<u8>,
    expires_at: i64,
    failures: i64,
    /// For a login or a proof: the number is still the account's.
    current: bool,
}

/// A live account as a mailed link's transaction reads it, under its lock.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct LiveAccount {
    pub credentials_version: i64,
    pub email: String,
    /// An admin locked it: its mailbox changes nothing until unlocked.
    pub locked: bool,
}

/// An account's role, read with the admins' rows locked ([`Tx::lock_for_role`]).
pub(crate) struct LockedRole {
    pub role: Role,
    /// Whether an admin locked the account.
    pub locked: bool,
    /// Admins who can sign in (not locked), the account included if it is one.
    pub admins: usize,
}

impl LockedRole {
    /// Whether the account is the only admin who can sign in: it must stay
    /// one, and stay unlocked.
    pub fn last_admin(&self) -> bool {
        self.role == Role::Admin && !self.locked && self.admins <= 1
    }
}

/// The account a [`Tx::lock_for_role`] is about.
#[derive(FromRow)]
struct TargetRow {
    role: String,
    locked: bool,
}

/// Which live sessions a revocation ends.
#[derive(Debug, Clone, Copy)]
pub enum Filter<'a> {
    One(&'a str),
    /// One session, only if `user_id` owns it and it is live as the sessions
    /// list counts live (see [`revoking::FIND_OWNED`]).
    Owned {
        user_id: &'a str,
        session_id: &'a str,
    },
    /// Every session of a user.
    User(&'a str),
    /// Every session of a user but one (the caller's).
    UserExcept {
        user_id: &'a str,
        keep: &'a str,
    },
    /// Every grant of an app.
    App(&'a str),
    /// Every grant of one person's to one app.
    UserApp {
        user_id: &'a str,
        client_id: &'a str,
    },
    /// Every session of a user (but `keep`, when given) that signed in with
    /// a factor of `kind`; with `id`, with that one only (and sessions of
    /// earlier versions, which did not record which).
    SignedInWith {
        user_id: &'a str,
        keep: Option<&'a str>,
        kind: FactorKind,
        id: Option<&'a str>,
    },
}

impl<'a> Filter<'a> {
    /// The live sessions of `user_id` but `keep` that signed in with a
    /// factor of `kind` (any one of it).
    pub fn signed_in_with(user_id: &'a str, keep: &'a str, kind: FactorKind) -> Self {
        Self::SignedInWith {
            user_id,
            keep: Some(keep),
            kind,
            id: None,
        }
    }
}

/// The statements of a revocation, each a search by key (see the test).
///
/// Each filter has three: one that finds the live sessions it selects, one
/// that spends their refresh tokens, one that stamps them revoked. The
/// filter's own parameters come last in each, in the same order: after the
/// time in the spending one (`$1`), after the time, reason and number in
/// the stamping one (`$1`–`$3`).
pub(super) mod revoking {
    pub const FIND_ONE: &str = "SELECT id FROM sessions WHERE id = $1 AND revoked_at IS NULL";
    pub const FIND_USER: &str = "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL";
    pub const FIND_USER_EXCEPT: &str =
        "SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL";
    /// `$1` the user, `$2` the session kept (`''` for none), `$3` the
    /// factor's kind, `$4` which one (`NULL` for any; a session that did not
    /// record which is taken to have used it).
    pub const FIND_SIGNED_IN_WITH: &str =
        "SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL
           AND factor = $3 AND ($4 IS NULL OR factor_id IS NULL OR factor_id = $4)";
    /// `$1` now, `$2` the session, `$3` its owner.
    /// A session counts as live to its owner when it is not revoked, not
    /// past its end, and holds a token that can still be used (the same
    /// condition as `sessions::LIST`'s).
    pub const FIND_OWNED: &str = "SELECT id FROM sessions
         WHERE id = $2 AND user_id = $3 AND client_id IS NULL AND revoked_at IS NULL
           AND expires_at > $1
           AND EXISTS (SELECT 1 FROM refresh_tokens t
                       WHERE t.session_id = sessions.id AND t.spent_at IS NULL
                         AND t.expires_at > $1)";
    pub const NEXT_NUMBER: &str =
        "UPDATE revocation_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq";
    pub const STAMP_ONE: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE id = $4 AND revoked_at IS NULL RETURNING id";
    pub const STAMP_USER: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE user_id = $4 AND revoked_at IS NULL RETURNING id";
    pub const STAMP_USER_EXCEPT: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE user_id = $4 AND id <> $5 AND revoked_at IS NULL RETURNING id";
    pub const STAMP_SIGNED_IN_WITH: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE user_id = $4 AND id <> $5 AND revoked_at IS NULL
           AND factor = $6 AND ($7 IS NULL OR factor_id IS NULL OR factor_id = $7)
         RETURNING id";
    /// The tokens of the sessions a revocation ends are spent before the
    /// sessions are stamped: a rotation locks a token, then its session,
    /// and a revocation must take the two in that order too, or each could
    /// wait for the other (PostgreSQL would abort one).
    pub const SPEND_ONE: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL AND session_id = $2";
    pub const SPEND_USER: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions WHERE user_id = $2 AND revoked_at IS NULL)";
    pub const SPEND_USER_EXCEPT: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions
                              WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL)";
    pub const SPEND_SIGNED_IN_WITH: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions
                              WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL
                                AND factor = $4
                                AND ($5 IS NULL OR factor_id IS NULL OR factor_id = $5))";
    pub const FIND_APP: &str =
        "SELECT id FROM sessions WHERE client_id = $1 AND revoked_at IS NULL";
    pub const SPEND_APP: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions WHERE client_id = $2 AND revoked_at IS NULL)";
    pub const STAMP_APP: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE client_id = $4 AND revoked_at IS NULL RETURNING id";
    pub const FIND_USER_APP: &str =
        "SELECT id FROM sessions WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL";
    pub const SPEND_USER_APP: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions
                              WHERE user_id = $2 AND client_id = $3 AND revoked_at IS NULL)";
    pub const STAMP_USER_APP: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE user_id = $4 AND client_id = $5 AND revoked_at IS NULL RETURNING id";
    /// An app's grant ends with the session it came from: after a
    /// revocation numbered `$2` stamped its sessions, their grants' tokens
    /// are spent, then the grants stamped with the same number.
    pub const SPEND_GRANTS: &str = "UPDATE refresh_tokens SET spent_at = $1
         WHERE spent_at IS NULL
           AND session_id IN (SELECT id FROM sessions
                              WHERE revoked_at IS NULL
                                AND parent_id IN (SELECT id FROM sessions WHERE revoked_seq = $2))";
    pub const STAMP_GRANTS: &str =
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, revoked_seq = $3
         WHERE revoked_at IS NULL
           AND parent_id IN (SELECT id FROM sessions WHERE revoked_seq = $3)
         RETURNING id";
    /// Takes the clock's lock without moving it (PostgreSQL).
    pub const LOCK_CLOCK: &str = "SELECT seq FROM revocation_clock WHERE id = 1 FOR UPDATE";
    /// PostgreSQL tells every instance listening (see `revocations`).
    pub const NOTIFY: &str = "SELECT pg_notify('classboard_revocations', $1)";
}

impl Filter<'_> {
    /// The filter's statements (find, spend, stamp), and its parameters in
    /// the order they take them (see [`revoking`]). [`Filter::Owned`] finds
    /// with a statement of its own (it also takes the time), then spends and
    /// stamps as [`Filter::One`].
    fn statements(&self) -> ([&'static str; 3], Vec<Option<&str>>) {
        use revoking::*;
        match *self {
            Self::One(id) => ([FIND_ONE, SPEND_ONE, STAMP_ONE], vec![Some(id)]),
            Self::Owned { session_id, .. } => {
                ([FIND_OWNED, SPEND_ONE, STAMP_ONE], vec![Some(session_id)])
            }
            Self::User(user_id) => ([FIND_USER, SPEND_USER, STAMP_USER], vec![Some(user_id)]),
            Self::App(client_id) => ([FIND_APP, SPEND_APP, STAMP_APP], vec![Some(client_id)]),
            Self::UserApp { user_id, client_id } => (
                [FIND_USER_APP, SPEND_USER_APP, STAMP_USER_APP],
                vec![Some(user_id), Some(client_id)],
            ),
            Self::UserExcept { user_id, keep } => (
                [FIND_USER_EXCEPT, SPEND_USER_EXCEPT, STAMP_USER_EXCEPT],
                vec![Some(user_id), Some(keep)],
            ),
            Self::SignedInWith {
                user_id,
                keep,
                kind,
                id,
            } => (
                [
                    FIND_SIGNED_IN_WITH,
                    SPEND_SIGNED_IN_WITH,
                    STAMP_SIGNED_IN_WITH,
                ],
                vec![
                    Some(user_id),
                    Some(keep.unwrap_or("")),
                    Some(kind.as_str()),
                    id,
                ],
            ),
        }
    }
}

const INSERT_EVENT: &str = "INSERT INTO audit_events
                          (at, kind, user_id, actor_id, ip, user_agent, session_id, detail)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// What [`Tx::end_credential_flows`] deletes.
const ENDED_BY_NEW_PASSWORD: [&str; 3] = [
    "DELETE FROM email_tokens WHERE user_id = $1 AND purpose IN ('change_email', 'reset_password')",
    "DELETE FROM mfa_challenges WHERE user_id = $1",
    // A sign-in code is as good as the password it stands in for.
    "DELETE FROM email_codes WHERE user_id = $1",
];

/// The wrong guesses that end a texted code.
pub(crate) const SMS_CODE_FAILURES: i64 = 5;

macro_rules! tx_on {
    ($conn:ty, $postgres:literal) => {
        impl Tx for $conn {
            const POSTGRES: bool = $postgres;

            async fn try_sms_code(
                &mut self,
                (user_id, purpose): (&str, &str),
                hash: &[u8],
                now: i64,
            ) -> Result<SmsAttempt, sqlx::Error> {
                let row: Option<SmsCodeRow> = sqlx::query_as(if Self::POSTGRES {
                    "SELECT c.number, c.hash, c.expires_at, c.failures,
                            (c.purpose = 'confirm' OR COALESCE(c.number = p.number, FALSE))
                                AS current
                     FROM sms_codes c LEFT JOIN phones p ON p.user_id = c.user_id
                     WHERE c.user_id = $1 AND c.purpose = $2
                     FOR UPDATE OF c"
                } else {
                    "SELECT c.number, c.hash, c.expires_at, c.failures,
                            (c.purpose = 'confirm' OR COALESCE(c.number = p.number, FALSE))
                                AS current
                     FROM sms_codes c LEFT JOIN phones p ON p.user_id = c.user_id
                     WHERE c.user_id = $1 AND c.purpose = $2"
                })
                .bind(user_id)
                .bind(purpose)
                .fetch_optional(&mut *self)
                .await?;
                let Some(row) = row else {
                    return Ok(SmsAttempt::Gone);
                };
                let delete = sqlx::query("DELETE FROM sms_codes WHERE user_id = $1 AND purpose = $2")
                    .bind(user_id)
                    .bind(purpose);
                if row.expires_at <= now || !row.current {
                    delete.execute(&mut *self).await?;
                    return Ok(SmsAttempt::Gone);
                }
                if !bool::from(subtle::ConstantTimeEq::ct_eq(row.hash.as_slice(), hash)) {
                    let failures = row.failures + 1;
                    let ended = failures >= SMS_CODE_FAILURES;
                    if ended {
                        delete.execute(&mut *self).await?;
                    } else {
                        sqlx::query(
                            "UPDATE sms_codes SET failures = $3 WHERE user_id = $1 AND purpose = $2",
                        )
                        .bind(user_id)
                        .bind(purpose)
                        .bind(failures)
                        .execute(&mut *self)
                        .await?;
                    }
                    return Ok(SmsAttempt::Wrong { ended });
                }
                delete.execute(&mut *self).await?;
                Ok(SmsAttempt::Right { number: row.number })
            }

            async fn record(&mut self, event: &Event<'_>) -> Result<(), sqlx::Error> {
                sqlx::query(INSERT_EVENT)
                    .bind(event.at)
                    .bind(event.kind.as_str())
                    .bind(event.user_id)
                    .bind(event.actor_id)
                    .bind(event.origin.ip.as_deref())
                    .bind(event.origin.user_agent.as_deref())
                    .bind(event.session_id)
                    .bind(event.detail)
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }

            async fn queue(&mut self, message: &Queued<'_>) -> Result<(), sqlx::Error> {
                sqlx::query(outbox::INSERT)
                    .bind(message.id)
                    .bind(message.recipient)
                    .bind(message.message)
                    .bind(message.now)
                    .bind(message.channel.as_str())
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }

            async fn lock_account(&mut self, user_id: &str) -> Result<(), sqlx::Error> {
                if Self::POSTGRES {
                    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
                        .bind(user_id)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn lock_live_account(
                &mut self,
                user_id: &str,
            ) -> Result<Option<LiveAccount>, sqlx::Error> {
                sqlx::query_as(if Self::POSTGRES {
                    "SELECT credentials_version, email, (locked_at IS NOT NULL) AS locked
                     FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
                } else {
                    "SELECT credentials_version, email, (locked_at IS NOT NULL) AS locked
                     FROM users WHERE id = $1 AND deleted_at IS NULL"
                })
                .bind(user_id)
                .fetch_optional(&mut *self)
                .await
            }

            async fn lock_for_role(
                &mut self,
                id: &str,
                version: Option<i64>,
            ) -> Result<Option<LockedRole>, sqlx::Error> {
                // PostgreSQL checks the condition again on a row it had to
                // wait for: an admin locked by the transaction before is
                // not counted.
                let admins: Vec<String> = sqlx::query_scalar(if Self::POSTGRES {
                    "SELECT id FROM users WHERE role = 'admin' AND locked_at IS NULL
                     ORDER BY id FOR UPDATE"
                } else {
                    "SELECT id FROM users WHERE role = 'admin' AND locked_at IS NULL"
                })
                .fetch_all(&mut *self)
                .await?;
                let target: Option<TargetRow> = sqlx::query_as(if Self::POSTGRES {
                    "SELECT role, (locked_at IS NOT NULL) AS locked FROM users
                     WHERE id = $1 AND deleted_at IS NULL
                       AND ($2::bigint IS NULL OR credentials_version = $2) FOR UPDATE"
                } else {
                    "SELECT role, (locked_at IS NOT NULL) AS locked FROM users
                     WHERE id = $1 AND deleted_at IS NULL
                       AND ($2 IS NULL OR credentials_version = $2)"
                })
                .bind(id)
                .bind(version)
                .fetch_optional(&mut *self)
                .await?;
                Ok(target.map(|target| LockedRole {
                    role: stored_role(&target.role),
                    locked: target.locked,
                    admins: admins.len(),
                }))
            }

            async fn revoke_sessions(
                &mut self,
                filter: Filter<'_>,
                reason: Reason,
            ) -> Result<Vec<String>, sqlx::Error> {
                let ([find, spend, stamp], params) = filter.statements();
                let mut finding = sqlx::query_scalar(find);
                if let Filter::Owned {
                    user_id,
                    session_id,
                } = filter
                {
                    finding = finding.bind(now_ms()).bind(session_id).bind(user_id);
                } else {
                    for param in &params {
                        finding = finding.bind(*param);
                    }
                }
                let found: Vec<String> = finding.fetch_all(&mut *self).await?;
                if found.is_empty() {
                    return Ok(found);
                }
                let seq: i64 = sqlx::query_scalar(revoking::NEXT_NUMBER)
                    .fetch_one(&mut *self)
                    .await?;
                let now = now_ms();
                let mut spending = sqlx::query(spend).bind(now);
                for param in &params {
                    spending = spending.bind(*param);
                }
                spending.execute(&mut *self).await?;
                let mut stamping = sqlx::query_scalar(stamp)
                    .bind(now)
                    .bind(reason.as_str())
                    .bind(seq);
                for param in &params {
                    stamping = stamping.bind(*param);
                }
                let mut ended: Vec<String> = stamping.fetch_all(&mut *self).await?;
                // The grants the ended sessions signed apps in with end too.
                sqlx::query(revoking::SPEND_GRANTS)
                    .bind(now)
                    .bind(seq)
                    .execute(&mut *self)
                    .await?;
                let grants: Vec<String> = sqlx::query_scalar(revoking::STAMP_GRANTS)
                    .bind(now)
                    .bind(reason.as_str())
                    .bind(seq)
                    .fetch_all(&mut *self)
                    .await?;
                ended.extend(grants);
                // The apps told of it by a logout token.
                sqlx::query(super::logouts::QUEUE)
                    .bind(now)
                    .bind(seq)
                    .execute(&mut *self)
                    .await?;
                if Self::POSTGRES {
                    sqlx::query(revoking::NOTIFY)
                        .bind(seq.to_string())
                        .execute(&mut *self)
                        .await?;
                }
                Ok(ended)
            }

            async fn revoke_app_tokens(&mut self, sid: &str) -> Result<(), sqlx::Error> {
                let seq: i64 = sqlx::query_scalar(revoking::NEXT_NUMBER)
                    .fetch_one(&mut *self)
                    .await?;
                sqlx::query(
                    "INSERT INTO revoked_app_tokens (sid, revoked_at, revoked_seq)
                     VALUES ($1, $2, $3) ON CONFLICT (sid) DO NOTHING",
                )
                .bind(sid)
                .bind(now_ms())
                .bind(seq)
                .execute(&mut *self)
                .await?;
                if Self::POSTGRES {
                    sqlx::query(revoking::NOTIFY)
                        .bind(seq.to_string())
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn end_credential_flows(&mut self, user_id: &str) -> Result<(), sqlx::Error> {
                for statement in ENDED_BY_NEW_PASSWORD {
                    sqlx::query(statement)
                        .bind(user_id)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn replace_recovery_codes(
                &mut self,
                (user_id, keep): (&str, &str),
                codes: &[Vec<u8>],
                now: i64,
            ) -> Result<Vec<String>, sqlx::Error> {
                let ended = self
                    .revoke_sessions(
                        Filter::signed_in_with(user_id, keep, FactorKind::RecoveryCode),
                        Reason::FactorRemoved,
                    )
                    .await?;
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *self)
                    .await?;
                for code in codes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(user_id)
                    .bind(code.as_slice())
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                }
                Ok(ended)
            }

            async fn lock_ring(&mut self) -> Result<(), sqlx::Error> {
                if Self::POSTGRES {
                    sqlx::query("SELECT pg_advisory_xact_lock(7251839024)")
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }

            async fn active_key_since(&mut self, purpose: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::query_scalar(
                    "SELECT activates_at FROM signing_keys WHERE state = 'active' AND purpose = $1",
                )
                .bind(purpose)
                .fetch_optional(&mut *self)
                .await
            }

            async fn insert_key(&mut self, key: &KeyRow) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO signing_keys
                         (kid, alg, state, created_at, activates_at, ended_at, private_key, public_jwk,
                          purpose)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.state)
                .bind(key.created_at)
                .bind(key.activates_at)
                .bind(key.ended_at)
                .bind(&key.private_key)
                .bind(&key.public_jwk)
                .bind(&key.purpose)
                .execute(&mut *self)
                .await
                .map(drop)
            }

            async fn promote_due_key(&mut self, now: i64) -> Result<bool, sqlx::Error> {
                let due: Vec<(String, String)> = sqlx::query_as(
                    "SELECT kid, purpose FROM signing_keys WHERE state = 'published' AND activates_at <= $1
                     ORDER BY activates_at, kid",
                )
                .bind(now)
                .fetch_all(&mut *self)
                .await?;
                let mut promoted = Vec::new();
                for (kid, purpose) in due {
                    // The earliest due key of each purpose; a later one waits
                    // for the next step.
                    if promoted.contains(&purpose) {
                        continue;
                    }
                    sqlx::query(
                        "UPDATE signing_keys SET state = 'retired', ended_at = $1
                         WHERE state = 'active' AND purpose = $2",
                    )
                    .bind(now)
                    .bind(&purpose)
                    .execute(&mut *self)
                    .await?;
                    sqlx::query("UPDATE signing_keys SET state = 'active' WHERE kid = $1")
                        .bind(&kid)
                        .execute(&mut *self)
                        .await?;
                    promoted.push(purpose);
                }
                Ok(!promoted.is_empty())
            }
        }
    };
}

tx_on!(SqliteConnection, false);
tx_on!(PgConnection, true);

#[cfg(test)]
mod tests {
    use super::*;

    /// A revocation must cost the same with ten sessions or a million: an
    /// unlimited client can ask for one (logout), so none of its statements
    /// may scan a table.
    #[tokio::test]
    async fn every_statement_of_a_revocation_searches_by_key() {
        let (_dir, db) = crate::store::scratch_sqlite().await;
        for statement in [
            revoking::FIND_ONE,
            revoking::FIND_USER,
            revoking::FIND_OWNED,
            revoking::FIND_USER_EXCEPT,
            revoking::FIND_SIGNED_IN_WITH,
            revoking::NEXT_NUMBER,
            revoking::STAMP_ONE,
            revoking::STAMP_USER,
            revoking::STAMP_USER_EXCEPT,
            revoking::STAMP_SIGNED_IN_WITH,
            revoking::SPEND_ONE,
            revoking::SPEND_USER,
            revoking::SPEND_USER_EXCEPT,
            revoking::SPEND_SIGNED_IN_WITH,
            revoking::FIND_APP,
            revoking::SPEND_APP,
            revoking::STAMP_APP,
            revoking::FIND_USER_APP,
            revoking::SPEND_USER_APP,
            revoking::STAMP_USER_APP,
            revoking::SPEND_GRANTS,
            revoking::STAMP_GRANTS,
        ] {
            let plan = crate::store::query_plan(&db.write, statement).await;
            for step in &plan {
                assert!(
                    !step.starts_with("SCAN "),
                    "{step:?} in the plan of {statement}: {plan:#?}"
                );
            }
        }
    }
}
