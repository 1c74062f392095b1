//! Sign-in codes by mail: one live code per account (the newest), kept as a
//! keyed hash of the account and the code (`auth::email_tokens`), used once,
//! ended by its fifth wrong guess or by a new password, and good only while
//! the address it went to is still the account's. Only a confirmed address
//! gets one (see [`issue`]).
//!
//! Issuing a code and checking one each lock the account first
//! (`Tx::lock_live_account`): on any instance they take turns, so of codes
//! asked for at once the last one stored is the one that works, and two
//! guesses at once count as two.

use sqlx::FromRow;
use subtle::ConstantTimeEq;

use super::{Db, in_tx, on, outbox::Queued, rows::Event, tx::Tx};

/// The wrong guesses that end a code.
pub const MAX_FAILURES: i64 = 5;

/// A code to store.
#[derive(Debug)]
pub struct NewCode<'a> {
    pub user_id: &'a str,
    /// The address the mail goes to.
    pub email: &'a str,
    pub hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

/// Stores `code`, replacing the account's last one, queues `mail` and
/// records `event`, in one transaction. Nothing is stored (`false`) when
/// the account is gone or locked, its address is no longer `code.email`, or
/// that address is not confirmed: a code for an unconfirmed address would
/// let whoever signed up with someone else's address, and chose the
/// password, share the account with its owner once the owner signed in by
/// code (the owner takes it back with a password reset, which ends every
/// session, or confirms the address first).
pub async fn issue(
    db: &Db,
    code: &NewCode<'_>,
    mail: &Queued<'_>,
    event: &Event<'_>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(code.user_id).await? else {
            return Ok(false);
        };
        if live.locked || live.email != code.email {
            return Ok(false);
        }
        let confirmed: bool = sqlx::query_scalar("SELECT email_verified FROM users WHERE id = $1")
            .bind(code.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if !confirmed {
            return Ok(false);
        }
        sqlx::query("DELETE FROM email_codes WHERE user_id = $1")
            .bind(code.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_codes (user_id, email, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code.user_id)
        .bind(code.email)
        .bind(code.hash)
        .bind(code.now)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.queue(mail).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(true)
    })
}

#[derive(Debug, FromRow)]
struct CodeRow {
    email: String,
    hash: Vec<u8>,
    expires_at: i64,
    failures: i64,
}

/// What checking a code found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// The code was right, and is spent. The account's credentials were at
    /// `credentials_version`.
    Right { credentials_version: i64 },
    /// Wrong; `ended` when that was the last try.
    Wrong { ended: bool },
    /// No live code: none asked for, expired, used, ended, sent to an
    /// address that is no longer the account's; or the account is gone or
    /// locked.
    Gone,
}

/// Checks the code whose hash is `hash` against the account's live one,
/// spending it when it is right, counting a failure when it is not.
pub async fn check(db: &Db, user_id: &str, hash: &[u8], now: i64) -> Result<Checked, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(user_id).await? else {
            return Ok(Checked::Gone);
        };
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT email, hash, expires_at, failures FROM email_codes WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Checked::Gone);
        };
        let delete = sqlx::query("DELETE FROM email_codes WHERE user_id = $1").bind(user_id);
        if live.locked || row.expires_at <= now || row.email != live.email {
            delete.execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok(Checked::Gone);
        }
        if !bool::from(row.hash.as_slice().ct_eq(hash)) {
            let failures = row.failures + 1;
            let ended = failures >= MAX_FAILURES;
            if ended {
                delete.execute(&mut *tx).await?;
            } else {
                sqlx::query("UPDATE email_codes SET failures = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(failures)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(Checked::Wrong { ended });
        }
        delete.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Checked::Right {
            credentials_version: live.credentials_version,
        })
    })
}

/// Deletes codes that have expired.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM email_codes WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
