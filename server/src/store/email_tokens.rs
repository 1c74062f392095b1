//! Tokens sent by mail (address verification, address change, password
//! reset), stored only as keyed hashes, and the changes that spend them.
//!
//! Issuing a token deletes the account's others of the same purpose (the
//! newest wins) and queues its mail, in one transaction. Spending one is a
//! `DELETE … RETURNING` that checks purpose and expiry, in the transaction
//! of the change it allows: it is used once, on any instance.

use classboard::api::EventKind;
use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    outbox::Queued,
    rows::{Event, Origin, Reason},
    tx::{Filter, Tx},
};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the account's current address.
    VerifyEmail,
    /// Proves a new address, which then replaces the current one.
    ChangeEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A token to store.
#[derive(Debug)]
pub struct NewToken<'a> {
    pub hash: &'a [u8],
    pub user_id: &'a str,
    pub purpose: Purpose,
    /// The address the mail goes to.
    pub email: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// A live token, as a read finds it.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub user_id: String,
    pub purpose: String,
    pub email: String,
}

/// Stores `token`, ending the account's older ones of its purpose, and
/// queues `mail`, in one transaction that first locks the account: issues
/// for one account take turns, so the newest always wins. Nothing is stored
/// (`false`) when the account was deleted or is locked, when `version` is
/// given and the account's credentials moved on from it (a reset or change
/// committed since the request checked the password), or when a link that
/// proves the account's own address (a reset, a verification) would go to
/// an address that is no longer the account's (it changed since the
/// request read it).
pub async fn issue(
    db: &Db,
    token: &NewToken<'_>,
    version: Option<i64>,
    (mail, event): (&[Queued<'_>], Option<&Event<'_>>),
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(token.user_id).await? else {
            return Ok(false);
        };
        let to_own_address = token.purpose != Purpose::ChangeEmail;
        if live.locked
            || version.is_some_and(|v| v != live.credentials_version)
            || (to_own_address && live.email != token.email)
        {
            return Ok(false);
        }
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
            .bind(token.user_id)
            .bind(token.purpose.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_tokens (hash, user_id, purpose, email, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.hash)
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.email)
        .bind(token.now)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await?;
        for message in mail {
            tx.queue(message).await?;
        }
        if let Some(event) = event {
            tx.record(event).await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// The live token with `hash` and `purpose`, by a read that spends nothing.
pub async fn peek(
    db: &Db,
    hash: &[u8],
    purpose: Purpose,
    now: i64,
) -> Result<Option<TokenRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT user_id, purpose, email FROM email_tokens
         WHERE hash = $1 AND purpose = $2 AND expires_at > $3"
    )
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// What spending a verification token did.
#[derive(Debug)]
pub enum Verified {
    /// The account's address is proven; `changed` when it is a new one.
    Done { user_id: String, changed: bool },
    /// Unknown, expired or used; the address it proves is no longer the
    /// account's; or the account is locked (the token stays).
    Gone,
    /// The new address belongs to another account by now (nothing changed;
    /// the token stays).
    Taken,
}

/// Spends a verification token (of the current address, or of a new one,
/// which then replaces it), and records that, as asked from `origin`.
pub async fn verify(
    db: &Db,
    hash: &[u8],
    now: i64,
    origin: &Origin,
) -> Result<Verified, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        // The account first, then its token (see `Tx::lock_live_account`).
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM email_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(owner) = owner else {
            return Ok(Verified::Gone);
        };
        if tx
            .lock_live_account(&owner)
            .await?
            .is_none_or(|live| live.locked)
        {
            return Ok(Verified::Gone);
        }
        let token: Option<TokenRow> = sqlx::query_as(
            "DELETE FROM email_tokens
             WHERE hash = $1 AND user_id = $2 AND expires_at > $3
               AND purpose IN ('verify_email', 'change_email')
             RETURNING user_id, purpose, email",
        )
        .bind(hash)
        .bind(&owner)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(token) = token else {
            return Ok(Verified::Gone);
        };
        let changed = token.purpose == Purpose::ChangeEmail.as_str();
        let updated = if changed {
            let updated = sqlx::query(
                "UPDATE users SET email = $2, email_verified = TRUE
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(&token.user_id)
            .bind(&token.email)
            .execute(&mut *tx)
            .await;
            match updated {
                Err(e) if super::taken_field(&e) == Some("email") => {
                    return Ok(Verified::Taken);
                }
                other => other?.rows_affected(),
            }
        } else {
            sqlx::query(
                "UPDATE users SET email_verified = TRUE
                 WHERE id = $1 AND email = $2 AND deleted_at IS NULL",
            )
            .bind(&token.user_id)
            .bind(&token.email)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if updated == 0 {
            tx.commit().await?;
            return Ok(Verified::Gone);
        }
        if changed {
            // Reset links and a verification of the old address went to an
            // address that is no longer the account's.
            sqlx::query(
                "DELETE FROM email_tokens
                 WHERE user_id = $1 AND purpose IN ('reset_password', 'verify_email')",
            )
            .bind(&token.user_id)
            .execute(&mut *tx)
            .await?;
        }
        let kind = if changed {
            EventKind::EmailChanged
        } else {
            EventKind::EmailVerified
        };
        let event = Event {
            at: now,
            ..Event::new(kind, &token.user_id, origin)
        };
        tx.record(&event).await?;
        tx.commit().await?;
        Ok(Verified::Done {
            user_id: token.user_id,
            changed,
        })
    })
}

/// A password reset to make.
#[derive(Debug)]
pub struct Reset<'a> {
    pub token_hash: &'a [u8],
    /// The account the token was read for: a token of another is refused.
    pub user_id: &'a str,
    pub password_hash: &'a str,
    pub now: i64,
    /// The notice to the account's address.
    pub notice: &'a Queued<'a>,
    pub event: &'a Event<'a>,
}

/// Spends a reset token and sets the new password, ending every session of
/// the account (returned), the logins waiting for a second factor and the
/// links out to change the address or reset the password again, and
/// queuing the notice, in one transaction. The link proved the mailbox it
/// went to, which must still be the account's address: that address then
/// counts as verified. `None` when the token is no longer live, was mailed
/// to an address the account no longer has, or the account is locked (the
/// token stays).
pub async fn reset_password(
    db: &Db,
    reset: &Reset<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(reset.user_id).await? else {
            return Ok(None);
        };
        if live.locked {
            return Ok(None);
        }
        let email: Option<String> = sqlx::query_scalar(
            "DELETE FROM email_tokens
             WHERE hash = $1 AND purpose = 'reset_password' AND user_id = $2 AND expires_at > $3
             RETURNING email",
        )
        .bind(reset.token_hash)
        .bind(reset.user_id)
        .bind(reset.now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(email) = email.filter(|mailed| *mailed == live.email) else {
            // Rolled back: a link to an old address is not spent by trying.
            return Ok(None);
        };
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $2, password_nfc = TRUE,
                              credentials_version = credentials_version + 1,
                              email_verified = (email_verified OR email = $3)
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(reset.user_id)
        .bind(reset.password_hash)
        .bind(&email)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        tx.end_credential_flows(reset.user_id).await?;
        let ended = tx
            .revoke_sessions(Filter::User(reset.user_id), Reason::PasswordReset)
            .await?;
        tx.queue(reset.notice).await?;
        tx.record(reset.event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Deletes tokens that have expired.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM email_tokens WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
