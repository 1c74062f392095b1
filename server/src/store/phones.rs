//! Phones: each account's confirmed number (E.164), and the codes texted
//! to it (`sms_codes`): one live code per account and purpose, the newest,
//! kept as a keyed hash (`auth::phones`), used once, ended by its fifth
//! wrong guess.
//!
//! Issuing a code, confirming a number and removing it each lock the
//! account first (`Tx::lock_live_account`): on any instance they take
//! turns, so of codes asked for at once the last one stored is the one
//! that works, and a number is confirmed once.

use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    outbox::Queued,
    rows::{Event, FactorKind, Reason},
    tx::{Filter, SmsAttempt, Tx},
};

/// What a texted code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms the number it went to, which then becomes the account's.
    Confirm,
    /// The second step of a login.
    Login,
    /// A proof of presence (`auth::proof`).
    Proof,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Login => "login",
            Self::Proof => "proof",
        }
    }
}

/// An account's confirmed phone.
#[derive(Debug, Clone, FromRow)]
pub struct PhoneRow {
    /// E.164.
    pub number: String,
    pub confirmed_at: i64,
}

/// A code to store.
#[derive(Debug)]
pub struct NewCode<'a> {
    pub user_id: &'a str,
    pub purpose: Purpose,
    /// Where the text goes: for [`Purpose::Confirm`] the number to confirm,
    /// otherwise the account's confirmed number.
    pub number: &'a str,
    pub hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

/// What issuing a code did.
#[derive(Debug, PartialEq, Eq)]
pub enum Issued {
    /// Stored, and its text queued.
    Sent,
    /// Nothing stored: the account is gone or locked, or (for a login or a
    /// proof) `number` is not its confirmed number any more.
    Not,
}

/// The account's confirmed phone, by a read.
pub async fn phone(db: &Db, user_id: &str) -> Result<Option<PhoneRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT number, confirmed_at FROM phones WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

/// Stores `code`, replacing the account's last one of its purpose, queues
/// `text` and records `event`, in one transaction.
pub async fn issue(
    db: &Db,
    code: &NewCode<'_>,
    text: &Queued<'_>,
    event: Option<&Event<'_>>,
) -> Result<Issued, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(code.user_id).await? else {
            return Ok(Issued::Not);
        };
        if live.locked {
            return Ok(Issued::Not);
        }
        if code.purpose != Purpose::Confirm {
            let confirmed: Option<String> =
                sqlx::query_scalar("SELECT number FROM phones WHERE user_id = $1")
                    .bind(code.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if confirmed.as_deref() != Some(code.number) {
                return Ok(Issued::Not);
            }
        }
        sqlx::query("DELETE FROM sms_codes WHERE user_id = $1 AND purpose = $2")
            .bind(code.user_id)
            .bind(code.purpose.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sms_codes (user_id, purpose, number, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(code.user_id)
        .bind(code.purpose.as_str())
        .bind(code.number)
        .bind(code.hash)
        .bind(code.now)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.queue(text).await?;
        if let Some(event) = event {
            tx.record(event).await?;
        }
        tx.commit().await?;
        Ok(Issued::Sent)
    })
}

/// What confirming a number did.
#[derive(Debug)]
pub enum Confirmed {
    /// The number is the account's: the sessions ended (those that signed
    /// in with the password alone, or with a code texted to the number it
    /// replaced; but the caller's).
    Done { number: String, ended: Vec<String> },
    /// A wrong code; `ended` when that was its last try.
    Wrong { ended: bool },
    /// No code waits: none asked for, expired, used or ended; or the
    /// account is gone or locked.
    Gone,
}

/// The number the account's waiting `confirm` code went to, by a read.
pub async fn pending_number(db: &Db, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT number FROM sms_codes WHERE user_id = $1 AND purpose = 'confirm'"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

/// Confirms the number the account's `confirm` code went to, if `hash` is
/// that code's and the number is `expected` (the one `notice`, to the
/// account's address, names); queues `notice` and records `event` when it
/// does.
pub async fn confirm(
    db: &Db,
    (user_id, keep): (&str, &str),
    (hash, expected): (&[u8], &str),
    (notice, event): (&Queued<'_>, &Event<'_>),
) -> Result<Confirmed, sqlx::Error> {
    let now = event.at;
    in_tx!(db, |tx, pg| {
        let Some(live) = tx.lock_live_account(user_id).await? else {
            return Ok(Confirmed::Gone);
        };
        let attempt = tx
            .try_sms_code((user_id, Purpose::Confirm.as_str()), hash, now)
            .await?;
        let number = match attempt {
            SmsAttempt::Right { number } if !live.locked && number == expected => number,
            SmsAttempt::Right { .. } | SmsAttempt::Gone => {
                tx.commit().await?;
                return Ok(Confirmed::Gone);
            }
            SmsAttempt::Wrong { ended } => {
                tx.commit().await?;
                return Ok(Confirmed::Wrong { ended });
            }
        };
        // Every code of the account goes: those of a number it replaces,
        // and those of this one asked for before it was the account's.
        sqlx::query("DELETE FROM sms_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let replaced = sqlx::query("DELETE FROM phones WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("INSERT INTO phones (user_id, number, confirmed_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(&number)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut ended = tx
            .revoke_sessions(
                Filter::signed_in_with(user_id, keep, FactorKind::Password),
                Reason::SecondFactorOn,
            )
            .await?;
        if replaced {
            ended.extend(
                tx.revoke_sessions(
                    Filter::signed_in_with(user_id, keep, FactorKind::Sms),
                    Reason::FactorRemoved,
                )
                .await?,
            );
        }
        tx.queue(notice).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Confirmed::Done { number, ended })
    })
}

/// Removes the account's phone and its codes, ending the sessions that
/// signed in with a texted code but `keep`; `None` when it had none.
pub async fn remove(
    db: &Db,
    (user_id, keep): (&str, &str),
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        tx.lock_account(user_id).await?;
        sqlx::query("DELETE FROM sms_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let removed = sqlx::query("DELETE FROM phones WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let ended = tx
            .revoke_sessions(
                Filter::signed_in_with(user_id, keep, FactorKind::Sms),
                Reason::FactorRemoved,
            )
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Deletes codes that have expired.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM sms_codes WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
