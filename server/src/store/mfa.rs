//! Second factors: each account's TOTP secret (sealed), its recovery codes
//! (hashed), and the challenges of logins waiting for a second factor
//! (hashed `mfa_token`s).
//!
//! Every rule that must hold across instances is one conditional statement
//! (or one transaction of them): a time step is used once (`last_step <
//! step`), a recovery code once (`used_at IS NULL`), a challenge once (it is
//! deleted by the request that redeems it).

use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    outbox::Queued,
    phones::Purpose,
    rows::{Event, FactorKind, Reason},
    tx::{Filter, SmsAttempt, Tx},
};

/// How long an unconfirmed secret waits for its first code.
pub const PENDING_FOR_MS: i64 = 10 * 60 * 1000;
/// Wrong codes a challenge survives; the next one ends it.
pub const CHALLENGE_FAILURES: i64 = 5;

/// An account's TOTP secret, as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TotpRow {
    /// The secret, sealed (see `auth::sealing`).
    pub secret: Vec<u8>,
    pub created_at: i64,
    /// `None` while the secret waits for its first code.
    pub confirmed_at: Option<i64>,
}

/// What an account has as second factors.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct Factors {
    /// When TOTP was turned on, if it is.
    pub totp_since: Option<i64>,
    pub recovery_codes_left: i64,
    pub passkeys: i64,
    /// When the account's phone was confirmed, if it has one (and SMS is a
    /// second factor: `auth::mfa::SecondFactors::factors` blanks it when
    /// `SMS_SECOND_FACTOR` is off).
    pub phone_since: Option<i64>,
}

impl Factors {
    /// Whether a password sign-in needs a second factor.
    pub fn any(&self) -> bool {
        self.totp_since.is_some() || self.passkeys > 0 || self.phone_since.is_some()
    }

    /// Whether a texted code is accepted: the account has a phone and no
    /// stronger factor (TOTP or a passkey), so that a phone never weakens
    /// an account that has one (whoever takes over the number would get
    /// around it).
    pub fn sms_usable(&self) -> bool {
        self.phone_since.is_some() && self.totp_since.is_none() && self.passkeys == 0
    }
}

/// A login waiting for its second factor.
#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    pub user_id: String,
    pub user_agent: Option<String>,
    /// When the password was checked (ms): the session's `auth_time`.
    pub created_at: i64,
    /// The account's credentials version the password step saw: the
    /// session starts only if it is still the account's.
    pub credentials_version: i64,
    /// What the first step checked (`First::as_str`): `pwd`, or `email`
    /// for a code by mail.
    pub first_factor: String,
}

/// The second factor a redemption presents, already checked against what
/// could be checked without the database.
#[derive(Debug, Clone)]
pub enum Presented {
    /// A TOTP code that matches this time step of the account's secret.
    TotpStep(i64),
    /// A recovery code, hashed.
    RecoveryCode(Vec<u8>),
    /// A passkey assertion, checked and recorded already.
    Passkey,
    /// A texted code of this purpose (`phones::Purpose`), hashed.
    SmsCode(Purpose, Vec<u8>),
    /// A code that matches nothing.
    Wrong,
}

/// What redeeming a challenge did.
#[derive(Debug)]
pub enum Redeemed {
    /// The factor was right: the challenge is spent, and so is the factor.
    /// For a recovery code, `recovery_set` is its set (the time its codes
    /// were made).
    Done {
        challenge: ChallengeRow,
        recovery_set: Option<i64>,
        /// For a texted code, when the phone it went to was confirmed.
        phone_since: Option<i64>,
    },
    /// The factor was wrong (or its step or code was used already); the
    /// challenge lives on, unless this was its last allowed failure.
    Wrong { ended: bool },
    /// No such live challenge (unknown, expired, redeemed, or ended).
    Gone,
}

/// The account's factors, by one read.
pub async fn factors(db: &Db, user_id: &str) -> Result<Factors, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT (SELECT confirmed_at FROM totp_secrets
                 WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS totp_since,
                (SELECT COUNT(*) FROM recovery_codes
                 WHERE user_id = $1 AND used_at IS NULL) AS recovery_codes_left,
                (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS passkeys,
                (SELECT confirmed_at FROM phones WHERE user_id = $1) AS phone_since"
    )
    .bind(user_id)
    .fetch_one(pool)
    .await)
}

/// The account's TOTP secret, confirmed or pending.
pub async fn totp(db: &Db, user_id: &str) -> Result<Option<TotpRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT secret, created_at, confirmed_at FROM totp_secrets WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

/// Stores a new pending secret, replacing a pending one; `false` (and
/// nothing stored) when TOTP is already on.
pub async fn begin_totp(
    db: &Db,
    user_id: &str,
    sealed: &[u8],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let stored = on!(db, write, |pool| sqlx::query(
        "INSERT INTO totp_secrets (user_id, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE
         SET secret = excluded.secret, created_at = excluded.created_at, last_step = NULL
         WHERE totp_secrets.confirmed_at IS NULL"
    )
    .bind(user_id)
    .bind(sealed)
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(stored == 1)
}

/// Turns TOTP on with the pending secret made at `created_at` (the one the
/// code was checked against), marks the confirming code's `step` used,
/// replaces the recovery codes with `codes` (hashed), and ends the sessions
/// that signed in with the password alone but `keep` (the caller's), in one
/// transaction under the account's lock: a password-only login starting at
/// the same moment either commits first and ends here, or sees TOTP on.
/// Returns the sessions ended; `None` when that secret is no longer pending
/// (confirmed meanwhile, replaced, or past its ten minutes).
pub async fn confirm_totp(
    db: &Db,
    (user_id, keep): (&str, &str),
    created_at: i64,
    step: i64,
    codes: &[Vec<u8>],
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let now = event.at;
    in_tx!(db, |tx, pg| {
        tx.lock_account(user_id).await?;
        let confirmed = sqlx::query(
            "UPDATE totp_secrets SET confirmed_at = $1, last_step = $2
             WHERE user_id = $3 AND created_at = $4 AND confirmed_at IS NULL AND created_at > $5",
        )
        .bind(now)
        .bind(step)
        .bind(user_id)
        .bind(created_at)
        .bind(now - PENDING_FOR_MS)
        .execute(&mut *tx)
        .await?;
        if confirmed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut ended = tx
            .replace_recovery_codes((user_id, keep), codes, now)
            .await?;
        ended.extend(
            tx.revoke_sessions(
                Filter::signed_in_with(user_id, keep, FactorKind::Password),
                Reason::SecondFactorOn,
            )
            .await?,
        );
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Replaces the account's recovery codes with `codes` (hashed), if it has a
/// second factor (TOTP on, or a passkey), ending the sessions that signed
/// in with a code of the old set but `keep`; `None` without a second factor.
pub async fn replace_recovery_codes(
    db: &Db,
    (user_id, keep): (&str, &str),
    codes: &[Vec<u8>],
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let now = event.at;
    in_tx!(db, |tx, pg| {
        // Two replacements, or a replacement and the removal of the last
        // second factor, take turns rather than leave two sets or orphans.
        tx.lock_account(user_id).await?;
        let on: Option<i64> = sqlx::query_scalar(
            "SELECT confirmed_at FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let passkeys: i64 = sqlx::query_scalar(super::passkeys::COUNT)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if on.is_none() && passkeys == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let ended = tx
            .replace_recovery_codes((user_id, keep), codes, now)
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Turns TOTP off and removes the recovery codes, unless a passkey remains
/// as a second factor, and ends the sessions that signed in with what went
/// but `keep` (the caller's); `None` if it was not on.
pub async fn remove_totp(
    db: &Db,
    (user_id, keep): (&str, &str),
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        tx.lock_account(user_id).await?;
        let removed =
            sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NOT NULL")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let codes_gone = sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = $1
               AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let mut ended = tx
            .revoke_sessions(
                Filter::signed_in_with(user_id, keep, FactorKind::Totp),
                Reason::FactorRemoved,
            )
            .await?;
        if codes_gone {
            ended.extend(
                tx.revoke_sessions(
                    Filter::signed_in_with(user_id, keep, FactorKind::RecoveryCode),
                    Reason::FactorRemoved,
                )
                .await?,
            );
        }
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Uses a factor outside a login (re-authentication): marks the TOTP
/// `step` used, or spends the recovery code. `false` when it was used
/// already, or is not the account's.
pub async fn use_factor(
    db: &Db,
    user_id: &str,
    presented: &Presented,
    now: i64,
) -> Result<bool, sqlx::Error> {
    match presented {
        Presented::Wrong => Ok(false),
        Presented::Passkey => Ok(true),
        &Presented::TotpStep(step) => {
            let used = on!(db, write, |pool| sqlx::query(USE_STEP)
                .bind(step)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
            Ok(used == 1)
        }
        Presented::SmsCode(purpose, hash) => in_tx!(db, |tx, pg| {
            let attempt = tx
                .try_sms_code((user_id, purpose.as_str()), hash, now)
                .await?;
            tx.commit().await?;
            Ok(matches!(attempt, SmsAttempt::Right { .. }))
        }),
        Presented::RecoveryCode(hash) => {
            let set: Option<i64> = on!(db, write, |pool| sqlx::query_scalar(USE_CODE)
                .bind(now)
                .bind(user_id)
                .bind(hash)
                .fetch_optional(pool)
                .await)?;
            Ok(set.is_some())
        }
    }
}

/// Marks time step `$1` used for account `$2`, unless it or a later one was.
const USE_STEP: &str = "UPDATE totp_secrets SET last_step = $1
     WHERE user_id = $2 AND confirmed_at IS NOT NULL
       AND (last_step IS NULL OR last_step < $1)";
/// Spends recovery code `$3` of account `$2` at `$1`, unless spent; returns
/// its set (the time its codes were made).
const USE_CODE: &str = "UPDATE recovery_codes SET used_at = $1
     WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL
     RETURNING created_at";

/// Stores a challenge for `user_id`, to be redeemed within `ttl_ms`, if
/// the account's credentials are still at `version` (the one its password
/// step checked); whether it did. A reset committed in between leaves no
/// challenge behind it.
pub async fn create_challenge(
    db: &Db,
    token_hash: &[u8],
    (user_id, version, first_factor): (&str, i64, &str),
    user_agent: Option<&str>,
    now: i64,
    ttl_ms: i64,
) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO mfa_challenges
             (token_hash, user_id, user_agent, created_at, expires_at, credentials_version,
              first_factor)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE EXISTS (SELECT 1 FROM users
                       WHERE id = $2 AND credentials_version = $6 AND deleted_at IS NULL)"
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(user_agent)
    .bind(now)
    .bind(now + ttl_ms)
    .bind(version)
    .bind(first_factor)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// The account a live challenge belongs to, by a read.
pub async fn challenge(
    db: &Db,
    token_hash: &[u8],
    now: i64,
) -> Result<Option<ChallengeRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT user_id, user_agent, created_at, credentials_version, first_factor
         FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// Redeems a challenge with a second factor, in one transaction that
/// first counts the attempt on the challenge's row (which locks it: on
/// SQLite the write lock, on PostgreSQL the row), then uses the factor, then
/// deletes the challenge if the factor was right or this was its fifth
/// failure. However many redemptions of one challenge arrive at once, they
/// take turns: at most one is `Done`, and at most five are checked at all.
pub async fn redeem(
    db: &Db,
    token_hash: &[u8],
    presented: &Presented,
    now: i64,
) -> Result<Redeemed, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let counted: Option<CountedChallenge> = sqlx::query_as(
            "UPDATE mfa_challenges SET failures = failures + 1
             WHERE token_hash = $1 AND expires_at > $2 AND failures < $3
             RETURNING user_id, user_agent, created_at, credentials_version, first_factor,
                       failures",
        )
        .bind(token_hash)
        .bind(now)
        .bind(CHALLENGE_FAILURES)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(counted) = counted else {
            tx.rollback().await?;
            return Ok(Redeemed::Gone);
        };
        let mut recovery_set = None;
        let mut phone_since = None;
        let right = match presented {
            Presented::Wrong => false,
            Presented::Passkey => true,
            &Presented::TotpStep(step) => {
                sqlx::query(USE_STEP)
                    .bind(step)
                    .bind(&counted.user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1
            }
            Presented::SmsCode(purpose, hash) => {
                let attempt = tx
                    .try_sms_code((&counted.user_id, purpose.as_str()), hash, now)
                    .await?;
                if matches!(attempt, SmsAttempt::Right { .. }) {
                    // The phone the code went to (it still is the account's):
                    // the session is of that phone, not of one that replaces it.
                    phone_since =
                        sqlx::query_scalar("SELECT confirmed_at FROM phones WHERE user_id = $1")
                            .bind(&counted.user_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                }
                phone_since.is_some()
            }
            Presented::RecoveryCode(hash) => {
                recovery_set = sqlx::query_scalar(USE_CODE)
                    .bind(now)
                    .bind(&counted.user_id)
                    .bind(hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                recovery_set.is_some()
            }
        };
        let ended = !right && counted.failures >= CHALLENGE_FAILURES;
        if right || ended {
            sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(if right {
            Redeemed::Done {
                challenge: ChallengeRow {
                    user_id: counted.user_id,
                    user_agent: counted.user_agent,
                    created_at: counted.created_at,
                    credentials_version: counted.credentials_version,
                    first_factor: counted.first_factor,
                },
                recovery_set,
                phone_since,
            }
        } else {
            Redeemed::Wrong { ended }
        })
    })
}

/// A challenge as counting an attempt on it returns it.
#[derive(FromRow)]
struct CountedChallenge {
    user_id: String,
    user_agent: Option<String>,
    created_at: i64,
    credentials_version: i64,
    first_factor: String,
    /// Attempts so far, this one included (a right one is deleted anyway).
    failures: i64,
}

/// Deletes challenges past their expiry, and pending secrets past theirs.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let challenges = on!(db, write, |pool| sqlx::query(
        "DELETE FROM mfa_challenges WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    let pending = on!(db, write, |pool| sqlx::query(
        "DELETE FROM totp_secrets WHERE confirmed_at IS NULL AND created_at <= $1"
    )
    .bind(now - PENDING_FOR_MS)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(challenges + pending)
}

/// Removes every second factor of the account `user_id` (TOTP, pending or
/// on, recovery codes, passkeys, the phone and its codes) and the sign-ins waiting for one, ends the
/// sessions that signed in with any of them, records `event` and queues
/// `notice`, in one transaction. Returns the sessions ended; `None` when it
/// had none or does not exist.
pub async fn remove_all(
    db: &Db,
    user_id: &str,
    (notice, event): (&Queued<'_>, &Event<'_>),
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        tx.lock_account(user_id).await?;
        // Challenges before the factors: the order a second step locks them.
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let mut removed = 0;
        for statement in [
            "DELETE FROM totp_secrets WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM passkeys WHERE user_id = $1",
            "DELETE FROM phones WHERE user_id = $1",
            "DELETE FROM sms_codes WHERE user_id = $1",
        ] {
            let done = sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            removed += done.rows_affected();
        }
        if removed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut ended = Vec::new();
        for kind in [
            FactorKind::Totp,
            FactorKind::RecoveryCode,
            FactorKind::Passkey,
            FactorKind::Sms,
        ] {
            ended.extend(
                tx.revoke_sessions(
                    Filter::signed_in_with(user_id, "", kind),
                    Reason::FactorRemoved,
                )
                .await?,
            );
        }
        tx.queue(notice).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}
