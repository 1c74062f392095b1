//! Passkeys (WebAuthn credentials) and the ceremonies in flight.
//!
//! The rules that must hold across instances are single statements: a
//! ceremony is taken by deleting it (whoever deletes it finishes it, once),
//! a credential id belongs to one account (a unique column), and an
//! assertion is recorded only over the counter it was checked against (a
//! compare-and-set on `sign_count`), so two assertions checked at once
//! against the same stored counter cannot both count.

use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    rows::{Event, FactorKind, Reason},
    tx::{Filter, Tx},
};

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey to the account that started it.
    Register,
    /// Signing in with a passkey and no password (any account).
    SignIn,
    /// The second step of a password login, for its `mfa_token`.
    SecondFactor,
    /// Proof of presence for a sensitive action of the account.
    Reauth,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
            Self::Reauth => "reauth",
        }
    }
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A passkey as a sign-in checks it.
#[derive(Debug, Clone, FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: Vec<u8>,
    /// webauthn-rs's `Passkey`, as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub attachment: Option<String>,
}

/// A new passkey.
#[derive(Debug)]
pub struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a [u8],
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
    pub attachment: Option<&'a str>,
    pub now: i64,
    /// Recorded with it.
    pub event: &'a Event<'a>,
    /// The session adding it, which stays when the others that signed in
    /// with the password alone end.
    pub keep: &'a str,
}

/// The account's passkeys, oldest first.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM passkeys
         WHERE user_id = $1 ORDER BY created_at, id"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// The account's passkeys, as a sign-in checks them.
pub async fn credentials(db: &Db, user_id: &str) -> Result<Vec<CredentialRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT id, user_id, credential_id, credential, sign_count, attachment FROM passkeys
         WHERE user_id = $1 ORDER BY created_at, id"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// The account's passkey whose credential id is `credential_id`, if it has
/// that one.
pub async fn credential(
    db: &Db,
    user_id: &str,
    credential_id: &[u8],
) -> Result<Option<CredentialRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT id, user_id, credential_id, credential, sign_count, attachment FROM passkeys
         WHERE user_id = $1 AND credential_id = $2"
    )
    .bind(user_id)
    .bind(credential_id)
    .fetch_optional(pool)
    .await)
}

/// The credential ids of the account's passkeys (not to be registered twice).
pub async fn credential_ids(db: &Db, user_id: &str) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT credential_id FROM passkeys WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Most passkeys an account may have: each one weighs on every sign-in's
/// options and state.
pub const MAX_PER_ACCOUNT: i64 = 20;

/// What storing a passkey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored; the sessions that signed in with the password alone ended.
    Yes(Vec<String>),
    /// Its credential id is registered already, to this account or another.
    Duplicate,
    /// The account has [`MAX_PER_ACCOUNT`] already.
    TooMany,
}

/// Counts account `$1`'s passkeys.
pub(super) const COUNT: &str = "SELECT COUNT(*) FROM passkeys WHERE user_id = $1";

/// How many passkeys the account has.
pub async fn count(db: &Db, user_id: &str) -> Result<i64, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(COUNT)
        .bind(user_id)
        .fetch_one(pool)
        .await)
}

/// Stores a passkey, unless its credential id is registered already or the
/// account has as many as it may (counted under the account's lock), and
/// ends the account's sessions that signed in with the password alone but
/// `new.keep`: a password-only login starting at the same moment either
/// commits first and ends here, or sees the passkey (see `sessions::start`).
pub async fn insert(db: &Db, new: &NewPasskey<'_>) -> Result<Inserted, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        tx.lock_account(new.user_id).await?;
        let count: i64 = sqlx::query_scalar(COUNT)
            .bind(new.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_PER_ACCOUNT {
            tx.rollback().await?;
            return Ok(Inserted::TooMany);
        }
        let stored = sqlx::query(
            "INSERT INTO passkeys
                 (id, user_id, credential_id, name, credential, sign_count, attachment, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.credential_id)
        .bind(new.name)
        .bind(new.credential)
        .bind(new.sign_count)
        .bind(new.attachment)
        .bind(new.now)
        .execute(&mut *tx)
        .await?;
        if stored.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Inserted::Duplicate);
        }
        let ended = tx
            .revoke_sessions(
                Filter::SignedInWith {
                    user_id: new.user_id,
                    keep: Some(new.keep),
                    kind: FactorKind::Password,
                    id: None,
                },
                Reason::SecondFactorOn,
            )
            .await?;
        tx.record(new.event).await?;
        tx.commit().await?;
        Ok(Inserted::Yes(ended))
    })
}

/// The counter of the passkey's last accepted assertion.
pub async fn sign_count(db: &Db, id: &str) -> Result<Option<i64>, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_scalar(
        "SELECT sign_count FROM passkeys WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// Records an accepted assertion: the updated credential, its counter, the
/// time. Only over `checked_count`, the counter the assertion was checked
/// against; `false` when another assertion was recorded meanwhile.
pub async fn record_use(
    db: &Db,
    id: &str,
    credential: &str,
    sign_count: i64,
    checked_count: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let recorded = on!(db, write, |pool| sqlx::query(
        "UPDATE passkeys SET credential = $1, sign_count = $2, last_used_at = $3
         WHERE id = $4 AND sign_count = $5"
    )
    .bind(credential)
    .bind(sign_count)
    .bind(now)
    .bind(id)
    .bind(checked_count)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(recorded == 1)
}

/// Records that an assertion's counter went backwards: the passkey may have
/// been copied.
pub async fn mark_regressed(db: &Db, id: &str, now: i64) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE passkeys SET counter_regressed_at = $1 WHERE id = $2"
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Removes the account's passkey `id` and ends the sessions that signed in
/// with it but `keep` (the caller's); `None` when the account has none by
/// that id. Removing the last second factor removes the recovery codes with
/// it, and the sessions that signed in with one of them.
pub async fn remove(
    db: &Db,
    (user_id, keep): (&str, &str),
    id: &str,
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        tx.lock_account(user_id).await?;
        let removed = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let codes_gone = sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = $1
               AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)
               AND NOT EXISTS (SELECT 1 FROM totp_secrets
                               WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let mut ended = tx
            .revoke_sessions(
                Filter::SignedInWith {
                    user_id,
                    keep: Some(keep),
                    kind: FactorKind::Passkey,
                    id: Some(id),
                },
                Reason::FactorRemoved,
            )
            .await?;
        if codes_gone {
            ended.extend(
                tx.revoke_sessions(
                    Filter::SignedInWith {
                        user_id,
                        keep: Some(keep),
                        kind: FactorKind::RecoveryCode,
                        id: None,
                    },
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

/// Whether the account has a passkey with this id (a read).
pub async fn exists(db: &Db, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = on!(db, read, |pool| sqlx::query_scalar(
        "SELECT 1 FROM passkeys WHERE id = $1 AND user_id = $2"
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await)?;
    Ok(found.is_some())
}

/// Stores a ceremony until `expires_at`.
pub async fn create_ceremony(
    db: &Db,
    token_hash: &[u8],
    purpose: Purpose,
    user_id: Option<&str>,
    mfa_token_hash: Option<&[u8]>,
    state: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO webauthn_ceremonies
             (token_hash, purpose, user_id, mfa_token_hash, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(mfa_token_hash)
    .bind(state)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Takes (deletes) a live ceremony for `purpose`, started by `user_id` and
/// for `mfa_token_hash` where those are given, and returns its state
/// (webauthn-rs's, as JSON). Of any number of requests presenting one
/// ceremony, one takes it.
pub async fn take_ceremony(
    db: &Db,
    token_hash: &[u8],
    purpose: Purpose,
    user_id: Option<&str>,
    mfa_token_hash: Option<&[u8]>,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_scalar(
        "DELETE FROM webauthn_ceremonies
         WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3
           AND ($4 IS NULL OR user_id = $4)
           AND ($5 IS NULL OR mfa_token_hash = $5)
         RETURNING state"
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .bind(user_id)
    .bind(mfa_token_hash)
    .fetch_optional(pool)
    .await)
}

/// Deletes ceremonies past their expiry.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
