//! The provider's state as stored: authorization requests waiting for the
//! person, the codes that answer them, the person's consents, and the
//! grants (an app's sessions) that codes are exchanged for. What these
//! *mean* (who may ask what, when a consent counts) is `provider`; this
//! module only reads and writes, each change in one transaction.

use sqlx::FromRow;

use super::{
    Db, in_tx, now_ms, on,
    rows::{Event, Reason},
    tx::{Filter, Tx},
};

/// An authorization request, checked, waiting for the person.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    /// A hash of the handle the browser holds.
    pub handle_hash: Vec<u8>,
    pub client_id: String,
    pub redirect_uri: String,
    /// Space-separated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// Space-separated `prompt` values (`none`, `login`, `consent`).
    pub prompt: String,
    /// Seconds.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Pushed (RFC 9126) and not yet brought to the authorization endpoint:
    /// only [`claim_pushed`] reads it.
    pub pushed: bool,
    /// The thumbprint of the DPoP key the code must be exchanged with.
    pub dpop_jkt: Option<String>,
}

/// The columns of a [`RequestRow`], in its order (a macro, so that the
/// statements that read them stay literal).
macro_rules! request_columns {
    () => {
        "handle_hash, client_id, redirect_uri, scope, state, nonce, code_challenge, prompt,
         max_age, login_hint, created_at, expires_at, pushed, dpop_jkt"
    };
}

/// An authorization code about to be handed out (only its hash is kept).
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub code_hash: &'a [u8],
    pub user_id: &'a str,
    /// The person's session on this site that answered.
    pub session_id: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// What a code was issued for, read back when it is exchanged.
#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// The DPoP key it is bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
}

/// The person's session a code came from, as it is when the code is
/// exchanged, with the account's name and role then. Its `auth_time` is
/// the last time the person authenticated on it: the sign-in, or a later
/// proof of presence (`POST /api/account/reauth`).
#[derive(Debug, Clone, FromRow)]
pub struct SignedIn {
    /// Milliseconds.
    pub auth_time: i64,
    /// RFC 8176 values, space-separated.
    pub amr: String,
    pub role: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub expires_at: i64,
}

/// The consent an Allow stores with its code: `allowed` (what the person
/// allowed before, `before`, with what they allow now), recorded by
/// `event`.
pub struct NewConsent<'a> {
    pub before: Option<&'a str>,
    pub allowed: &'a str,
    pub event: &'a Event<'a>,
}

/// A grant about to start: an app's session, child of the person's.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    /// The DPoP key its refresh tokens are bound to (a public app's).
    pub dpop_jkt: Option<&'a str>,
}

/// What exchanging a code led to.
#[derive(Debug)]
pub enum Exchange {
    /// The code was live, bound to the app, and `check` accepted it: the
    /// grant started.
    Started(CodeRow, SignedIn),
    /// The code was live, but `check` refused it (a wrong redirect URI or
    /// PKCE verifier): it is spent, and nothing started.
    Refused,
    /// The code was used before: the grant its first use started has ended
    /// (these sessions).
    Reused(Vec<String>),
    /// Unknown, expired, another app's, or the person's session or account
    /// has ended since.
    Invalid,
}

/// Stores a checked request.
pub async fn insert_request(db: &Db, request: &RequestRow) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO authorization_requests
             (handle_hash, client_id, redirect_uri, scope, state, nonce, code_challenge, prompt,
              max_age, login_hint, created_at, expires_at, pushed, dpop_jkt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )
    .bind(&request.handle_hash)
    .bind(&request.client_id)
    .bind(&request.redirect_uri)
    .bind(&request.scope)
    .bind(&request.state)
    .bind(&request.nonce)
    .bind(&request.code_challenge)
    .bind(&request.prompt)
    .bind(request.max_age)
    .bind(&request.login_hint)
    .bind(request.created_at)
    .bind(request.expires_at)
    .bind(request.pushed)
    .bind(&request.dpop_jkt)
    .execute(pool)
    .await
    .map(drop))
}

/// The request a handle names, while it waits (never a pushed one: its
/// `request_uri` is not a handle).
pub async fn request(
    db: &Db,
    handle_hash: &[u8],
    now: i64,
) -> Result<Option<RequestRow>, sqlx::Error> {
    const STATEMENT: &str = concat!(
        "SELECT ",
        request_columns!(),
        " FROM authorization_requests
         WHERE handle_hash = $1 AND expires_at > $2 AND pushed = $3"
    );
    on!(db, read, |pool| sqlx::query_as(STATEMENT)
        .bind(handle_hash)
        .bind(now)
        .bind(false)
        .fetch_optional(pool)
        .await)
}

/// Brings the pushed request whose `request_uri` hashes to `uri_hash`, if
/// it is `client_id`'s and live, to the authorization endpoint, once: it
/// becomes a waiting request under `handle_hash` until `expires_at`. Of two
/// at once, one gets it.
pub async fn claim_pushed(
    db: &Db,
    (uri_hash, client_id): (&[u8], &str),
    handle_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<Option<RequestRow>, sqlx::Error> {
    const STATEMENT: &str = concat!(
        "UPDATE authorization_requests SET handle_hash = $1, expires_at = $2, pushed = $3
         WHERE handle_hash = $4 AND client_id = $5 AND pushed = $6 AND expires_at > $7
         RETURNING ",
        request_columns!()
    );
    on!(db, write, |pool| sqlx::query_as(STATEMENT)
        .bind(handle_hash)
        .bind(expires_at)
        .bind(false)
        .bind(uri_hash)
        .bind(client_id)
        .bind(true)
        .bind(now)
        .fetch_optional(pool)
        .await)
}

/// Ends a request without a code (refused, or answered with an error);
/// `false` when it had ended already.
pub async fn end_request(db: &Db, handle_hash: &[u8]) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM authorization_requests WHERE handle_hash = $1"
    )
    .bind(handle_hash)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// Answers the request with a code, in one step: the request ends, the
/// code is stored with what the request asked, and with `consent` the
/// person's consent to the app becomes that scope, recorded by its event. `false`, and nothing
/// stored, when the request had ended (answered twice at once, or expired).
pub async fn answer_with_code(
    db: &Db,
    handle_hash: &[u8],
    code: &NewCode<'_>,
    consent: Option<&NewConsent<'_>>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let request: Option<RequestRow> = sqlx::query_as(concat!(
            "DELETE FROM authorization_requests
             WHERE handle_hash = $1 AND expires_at > $2 AND pushed = $3
             RETURNING ",
            request_columns!()
        ))
        .bind(handle_hash)
        .bind(code.now)
        .bind(false)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(request) = request else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO authorization_codes
                 (code_hash, client_id, user_id, session_id, redirect_uri, scope, nonce,
                  code_challenge, created_at, expires_at, dpop_jkt)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(code.code_hash)
        .bind(&request.client_id)
        .bind(code.user_id)
        .bind(code.session_id)
        .bind(&request.redirect_uri)
        .bind(&request.scope)
        .bind(&request.nonce)
        .bind(&request.code_challenge)
        .bind(code.now)
        .bind(code.expires_at)
        .bind(&request.dpop_jkt)
        .execute(&mut *tx)
        .await?;
        if let Some(consent) = consent {
            tx.record(consent.event).await?;
            // The consent as it is now, under the lock: if it changed since
            // `before` was read (withdrawn meanwhile, say), only what was
            // just allowed is stored, never a scope taken away since.
            let current: Option<String> = sqlx::query_scalar(if pg {
                "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2 FOR UPDATE"
            } else {
                "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2"
            })
            .bind(code.user_id)
            .bind(&request.client_id)
            .fetch_optional(&mut *tx)
            .await?;
            let scope = if current.as_deref() == consent.before {
                consent.allowed
            } else {
                &request.scope
            };
            sqlx::query(
                "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, client_id)
                 DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            )
            .bind(code.user_id)
            .bind(&request.client_id)
            .bind(scope)
            .bind(code.now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// The scopes the person has allowed the app, if any.
pub async fn consent(
    db: &Db,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2"
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(pool)
    .await)
}

/// An app the person allowed, with what.
#[derive(Debug, Clone, FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    pub granted_at: i64,
}

/// The apps `user_id` allowed, by name: by a consent, or holding a live
/// grant (a trusted app is not asked, so it has no consent). One row per
/// consent and per grant: an app may have several.
pub async fn consents_of(db: &Db, user_id: &str) -> Result<Vec<ConsentRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT c.client_id, a.name, c.scope, c.granted_at
         FROM consents c JOIN clients a ON a.id = c.client_id
         WHERE c.user_id = $1
         UNION ALL
         SELECT s.client_id, a.name, s.scope, s.created_at AS granted_at
         FROM sessions s JOIN clients a ON a.id = s.client_id
         WHERE s.user_id = $1 AND s.parent_id IS NOT NULL AND s.revoked_at IS NULL
           AND s.expires_at > $2
         ORDER BY 2, 1"
    )
    .bind(user_id)
    .bind(now_ms())
    .fetch_all(pool)
    .await)
}

/// Withdraws what `user_id` allowed the app `client_id`, in one
/// transaction recording `event`: the consent goes, the codes not yet
/// exchanged are spent, and every grant of theirs the app holds ends. The
/// sessions ended, or `None` when the app had nothing of theirs.
pub async fn withdraw(
    db: &Db,
    user_id: &str,
    client_id: &str,
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let gone = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE authorization_codes SET used_at = $3
             WHERE user_id = $1 AND client_id = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(event.at)
        .execute(&mut *tx)
        .await?;
        // A device the person allowed that has not polled yet gets nothing.
        sqlx::query(
            "UPDATE device_authorizations SET state = 'denied'
             WHERE user_id = $1 AND client_id = $2 AND state = 'approved'",
        )
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        let ended = tx
            .revoke_sessions(Filter::UserApp { user_id, client_id }, Reason::AppRemoved)
            .await?;
        if gone == 0 && ended.is_empty() {
            return Ok(None);
        }
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Exchanges a code for a grant, in one transaction: the code, if live and
/// `client_id`'s, is spent; `check` judges what it was issued for (redirect
/// URI, PKCE) and the person's consent to the app as it is now (read under
/// a lock a withdrawal must wait for, so that a code cannot outlive it);
/// the person's session and account must still be live, and the grant
/// starts as a child of that session (ending it ends the grant). A code
/// used before ends the grant of its first use.
pub async fn exchange_code(
    db: &Db,
    code_hash: &[u8],
    now: i64,
    grant: &NewGrant<'_>,
    check: impl Fn(&CodeRow, Option<&str>) -> bool,
) -> Result<Exchange, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let spent: Option<CodeRow> = sqlx::query_as(
            "UPDATE authorization_codes SET used_at = $1, grant_id = $2
             WHERE code_hash = $3 AND client_id = $4 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id, session_id, redirect_uri, scope, nonce, code_challenge, dpop_jkt",
        )
        .bind(now)
        .bind(grant.id)
        .bind(code_hash)
        .bind(grant.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(code) = spent else {
            let first_use: Option<Option<String>> = sqlx::query_scalar(
                "SELECT grant_id FROM authorization_codes
                 WHERE code_hash = $1 AND client_id = $2 AND used_at IS NOT NULL",
            )
            .bind(code_hash)
            .bind(grant.client_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(first_grant) = first_use else {
                return Ok(Exchange::Invalid);
            };
            let ended = match first_grant {
                Some(first_grant) => {
                    tx.revoke_sessions(Filter::One(&first_grant), Reason::CodeReuse)
                        .await?
                }
                None => Vec::new(),
            };
            tx.commit().await?;
            return Ok(Exchange::Reused(ended));
        };
        let consent: Option<String> = sqlx::query_scalar(if pg {
            "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2 FOR SHARE"
        } else {
            "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2"
        })
        .bind(&code.user_id)
        .bind(grant.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if !check(&code, consent.as_deref()) {
            // Spent all the same: a code is tried once.
            sqlx::query("UPDATE authorization_codes SET grant_id = NULL WHERE code_hash = $1")
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Exchange::Refused);
        }
        // The session is read under a lock that a revocation's update must
        // wait for: either the revocation sees the grant and ends it too, or
        // this sees the session ended and starts none.
        let signed_in: Option<SignedIn> =
            sqlx::query_as(if pg { SIGNED_IN_POSTGRES } else { SIGNED_IN })
                .bind(&code.session_id)
                .bind(&code.user_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(signed_in) = signed_in else {
            tx.commit().await?;
            return Ok(Exchange::Invalid);
        };
        sqlx::query(START_GRANT)
            .bind(grant.id)
            .bind(now)
            .bind(grant.client_id)
            .bind(&code.scope)
            .bind(&code.session_id)
            .bind(grant.dpop_jkt)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Exchange::Started(code, signed_in))
    })
}

/// Starts grant `$1` at `$2` for app `$3` with scope `$4`, as a child of
/// the person's session `$5` (its sign-in, factors and end), its refresh
/// tokens bound to the DPoP key `$6` when given.
pub(super) const START_GRANT: &str = "INSERT INTO sessions
         (id, user_id, created_at, last_used_at, expires_at, amr, auth_time, factor, factor_id,
          client_id, scope, parent_id, dpop_jkt)
     SELECT $1, user_id, $2, $2, expires_at, amr, auth_time, factor, factor_id, $3, $4, id, $6
     FROM sessions WHERE id = $5";

/// The person's session `$1` of account `$2`, live at `$3`, with the
/// account's name and role, if the account can still sign in.
pub(super) const SIGNED_IN: &str = "SELECT
         CASE WHEN s.proven_at > COALESCE(s.auth_time, s.created_at) THEN s.proven_at
              ELSE COALESCE(s.auth_time, s.created_at) END AS auth_time,
         s.amr, u.role, u.username, u.email, u.email_verified, s.expires_at
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id = $1 AND s.user_id = $2 AND s.client_id IS NULL AND s.revoked_at IS NULL
       AND s.expires_at > $3 AND u.deleted_at IS NULL AND u.locked_at IS NULL";
/// [`SIGNED_IN`] with the session's row locked against a revocation.
pub(super) const SIGNED_IN_POSTGRES: &str = "SELECT
         CASE WHEN s.proven_at > COALESCE(s.auth_time, s.created_at) THEN s.proven_at
              ELSE COALESCE(s.auth_time, s.created_at) END AS auth_time,
         s.amr, u.role, u.username, u.email, u.email_verified, s.expires_at
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id = $1 AND s.user_id = $2 AND s.client_id IS NULL AND s.revoked_at IS NULL
       AND s.expires_at > $3 AND u.deleted_at IS NULL AND u.locked_at IS NULL
     FOR SHARE OF s";

/// Gives the live grant `grant_id` its first refresh token (hash), which
/// expires at `expires_at` or with the grant; `false` when the grant has
/// ended meanwhile.
pub async fn add_refresh_token(
    db: &Db,
    grant_id: &str,
    hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
         SELECT $1, id, $3, CASE WHEN expires_at < $4 THEN expires_at ELSE $4 END
         FROM sessions WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(hash)
    .bind(grant_id)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// A grant: whose app it is, what it may do, and the person's session it
/// came from.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub client_id: String,
    pub scope: String,
    pub parent_id: String,
    /// The DPoP key its refresh tokens are bound to.
    pub dpop_jkt: Option<String>,
}

/// The live grant `grant_id`.
pub async fn grant(db: &Db, grant_id: &str) -> Result<Option<GrantRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT client_id, scope, parent_id, dpop_jkt FROM sessions
         WHERE id = $1 AND client_id IS NOT NULL AND revoked_at IS NULL"
    )
    .bind(grant_id)
    .fetch_optional(pool)
    .await)
}

/// The live grant `grant_id`, with its person's session as [`signed_in`]
/// reads it (`None` when that session or the account no longer signs
/// anything in), in one read: what an app's refresh needs after the
/// rotation.
pub async fn grant_and_signed_in(
    db: &Db,
    grant_id: &str,
    user_id: &str,
) -> Result<Option<(GrantRow, Option<SignedIn>)>, sqlx::Error> {
    let row: Option<GrantAndSignedIn> = on!(db, read, |pool| sqlx::query_as(
        "SELECT g.client_id, g.scope, g.parent_id, g.dpop_jkt,
             CASE WHEN s.proven_at > COALESCE(s.auth_time, s.created_at) THEN s.proven_at
                  ELSE COALESCE(s.auth_time, s.created_at) END AS auth_time,
             s.amr, u.role, u.username, u.email, u.email_verified, s.expires_at
         FROM sessions g
         LEFT JOIN sessions s
             ON s.id = g.parent_id AND s.user_id = $2 AND s.client_id IS NULL
            AND s.revoked_at IS NULL AND s.expires_at > $3
         LEFT JOIN users u
             ON u.id = s.user_id AND u.deleted_at IS NULL AND u.locked_at IS NULL
         WHERE g.id = $1 AND g.client_id IS NOT NULL AND g.revoked_at IS NULL"
    )
    .bind(grant_id)
    .bind(user_id)
    .bind(now_ms())
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(GrantAndSignedIn::split))
}

/// A row of [`grant_and_signed_in`]: the person's columns are `NULL` when
/// the session or the account does not qualify.
#[derive(Debug, FromRow)]
struct GrantAndSignedIn {
    client_id: String,
    scope: String,
    parent_id: String,
    dpop_jkt: Option<String>,
    auth_time: Option<i64>,
    amr: Option<String>,
    role: Option<String>,
    username: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    expires_at: Option<i64>,
}

impl GrantAndSignedIn {
    fn split(self) -> (GrantRow, Option<SignedIn>) {
        let signed_in = match (
            self.auth_time,
            self.amr,
            self.role,
            self.username,
            self.email,
        ) {
            (Some(auth_time), Some(amr), Some(role), Some(username), Some(email)) => {
                Some(SignedIn {
                    auth_time,
                    amr,
                    role,
                    username,
                    email,
                    email_verified: self.email_verified.unwrap_or(false),
                    expires_at: self.expires_at.unwrap_or(0),
                })
            }
            _ => None,
        };
        let grant = GrantRow {
            client_id: self.client_id,
            scope: self.scope,
            parent_id: self.parent_id,
            dpop_jkt: self.dpop_jkt,
        };
        (grant, signed_in)
    }
}

/// Ends the grant `grant_id` for `reason` (its app revoked a token of it,
/// or another app presented its refresh token); returns the sessions ended.
pub async fn end_grant(
    db: &Db,
    grant_id: &str,
    reason: Reason,
) -> Result<Vec<String>, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let ended = tx.revoke_sessions(Filter::One(grant_id), reason).await?;
        tx.commit().await?;
        Ok(ended)
    })
}

/// Deletes requests, codes, and spent assertions' and DPoP proofs' `jti`s past their end (codes after `codes_before`,
/// kept a while after they expire so that a late second use is still
/// caught as reuse). Returns how many rows went.
pub async fn prune(db: &Db, now: i64, codes_before: i64) -> Result<u64, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let requests = sqlx::query("DELETE FROM authorization_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let codes = sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= $1")
            .bind(codes_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let assertions = sqlx::query("DELETE FROM client_assertions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let proofs = sqlx::query("DELETE FROM dpop_proofs WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(requests + codes + assertions + proofs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The locking read is the plain read with its lock, and nothing else.
    #[test]
    fn the_locking_session_read_is_the_plain_one_locked() {
        let words = |statement: &str| statement.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            words(SIGNED_IN_POSTGRES),
            words(&format!("{SIGNED_IN} FOR SHARE OF s"))
        );
    }
}
