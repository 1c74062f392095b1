//! Apps (OAuth clients) as stored: registering one, listing, reading one by
//! its `client_id`, replacing its secret, removing it. What an app *may* be
//! (its redirect URIs, scopes and grants) is checked in `provider::clients`;
//! this module only reads and writes.

use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    rows::{Event, Reason},
    tx::{Filter, Tx},
};

/// A registered app.
#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    /// The `client_id`.
    pub id: String,
    pub name: String,
    /// The keyed hash of a confidential app's secret; `None` for a public app.
    pub secret_hash: Option<Vec<u8>>,
    /// Space-separated, each compared whole.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    /// The scopes it may ask for, space-separated.
    pub scopes: String,
    /// The grants it may use, space-separated.
    pub grant_types: String,
    /// A trusted app is not asked for consent.
    pub trusted: bool,
    pub jwks_uri: Option<String>,
    pub created_at: i64,
    pub secret_rotated_at: Option<i64>,
    /// What its ID and logout tokens are signed with: `RS256` (the
    /// default), `EdDSA` or `ES256`.
    pub id_token_signed_response_alg: String,
    /// Its authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
    /// The keyed hash of the registration access token of an app that
    /// registered itself (RFC 7592); `None` for an app an admin registered.
    pub registration_access_hash: Option<Vec<u8>>,
}

/// The columns of a [`ClientRow`], in its order.
macro_rules! client_columns {
    () => {
        "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri,
         scopes, grant_types, trusted, jwks_uri, created_at, secret_rotated_at,
         id_token_signed_response_alg, require_par, registration_access_hash"
    };
}

/// Registers `client`, recording `event` with it. With `initial` (an
/// initial access token's hash, and the time), the app registers itself:
/// the token must be live and unused, and is spent in the same
/// transaction; `false`, and nothing stored, when it is not.
pub async fn insert(
    db: &Db,
    client: &ClientRow,
    event: &Event<'_>,
    initial: Option<(&[u8], i64)>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        if let Some((token_hash, now)) = initial {
            let spent = sqlx::query(
                "UPDATE registration_tokens SET used_at = $1, client_id = $2
                 WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(&client.id)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() != 1 {
                return Ok(false);
            }
        }
        sqlx::query(concat!(
            "INSERT INTO clients (",
            client_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(&client.redirect_uris)
        .bind(&client.post_logout_redirect_uris)
        .bind(&client.backchannel_logout_uri)
        .bind(&client.scopes)
        .bind(&client.grant_types)
        .bind(client.trusted)
        .bind(&client.jwks_uri)
        .bind(client.created_at)
        .bind(client.secret_rotated_at)
        .bind(&client.id_token_signed_response_alg)
        .bind(client.require_par)
        .bind(&client.registration_access_hash)
        .execute(&mut *tx)
        .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Stores a new initial access token's hash, live until `expires_at`.
pub async fn insert_registration_token(
    db: &Db,
    token_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO registration_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)"
    )
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(drop))
}

/// Whether the initial access token hashing to `token_hash` is live and
/// unused at `now`.
pub async fn registration_token_live(
    db: &Db,
    token_hash: &[u8],
    now: i64,
) -> Result<bool, sqlx::Error> {
    // `1` is an INT4 on PostgreSQL.
    on!(db, read, |pool| sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM registration_tokens
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
    .map(|found| found.is_some()))
}

/// The app with `client_id` `id`, if any.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// Up to `limit` apps by `client_id`, after `after`, and whether there are more.
pub async fn page(
    db: &Db,
    limit: i64,
    after: Option<&str>,
) -> Result<(Vec<ClientRow>, bool), sqlx::Error> {
    let rows = on!(db, read, |pool| sqlx::query_as(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE $1 IS NULL OR id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await)?;
    Ok(super::one_page(rows, limit))
}

/// Replaces app `id`'s secret hash `old` with `new`, ending the tokens the
/// app got for itself with the old one (`old_sid`); `false` when the app is
/// gone or its hash is no longer `old` (replaced meanwhile).
pub async fn set_secret(
    db: &Db,
    id: &str,
    (old, new): (&[u8], &[u8]),
    old_sid: &str,
    event: &Event<'_>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let done = sqlx::query(
            "UPDATE clients SET secret_hash = $1, secret_rotated_at = $2
             WHERE id = $3 AND secret_hash = $4",
        )
        .bind(new)
        .bind(event.at)
        .bind(id)
        .bind(old)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        tx.revoke_app_tokens(old_sid).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Removes the app, ending every grant it holds and the tokens it got for
/// itself (its codes and consents go with its row). The grants ended, or
/// `None` when there was no such app.
pub async fn remove(
    db: &Db,
    id: &str,
    own_sid: &str,
    event: &Event<'_>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let ended = tx
            .revoke_sessions(Filter::App(id), Reason::AppRemoved)
            .await?;
        tx.revoke_app_tokens(own_sid).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// Forgets apps' own tokens ended before `before` (ms), and initial access
/// tokens that expired then: they can no longer be used.
pub async fn prune_removed(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        let tokens = sqlx::query("DELETE FROM revoked_app_tokens WHERE revoked_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let initial = sqlx::query("DELETE FROM registration_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(tokens + initial)
    })
}

/// Records that `client_id` authenticated with an assertion whose `jti`
/// hashes to `jti_hash`, valid until `expires_at`; `false` when it already
/// did (a replay), on this instance or another.
pub async fn spend_assertion(
    db: &Db,
    client_id: &str,
    jti_hash: &[u8],
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO client_assertions (client_id, jti_hash, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (client_id, jti_hash) DO NOTHING"
    )
    .bind(client_id)
    .bind(jti_hash)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rows::Origin;

    /// A replacement is made only over the hash it read: of two at once,
    /// the second finds the first's and is refused, rather than both
    /// being shown a secret of which only the last works.
    #[tokio::test]
    async fn a_secret_is_replaced_only_over_the_one_read() {
        let (_dir, sqlite) = crate::store::scratch_sqlite().await;
        let db = Db::Sqlite(sqlite);
        let origin = Origin::default();
        let event = Event {
            kind: classboard::api::EventKind::ClientAdded,
            at: 1,
            user_id: None,
            actor_id: None,
            session_id: None,
            detail: None,
            origin: &origin,
        };
        let client = ClientRow {
            id: "app".into(),
            name: "Library".into(),
            secret_hash: Some(vec![1; 32]),
            redirect_uris: "https://library.example/cb".into(),
            post_logout_redirect_uris: String::new(),
            backchannel_logout_uri: None,
            scopes: "openid".into(),
            grant_types: "authorization_code".into(),
            trusted: false,
            jwks_uri: None,
            created_at: 1,
            secret_rotated_at: None,
            id_token_signed_response_alg: "RS256".into(),
            require_par: false,
            registration_access_hash: None,
        };
        assert!(insert(&db, &client, &event, None).await.unwrap());
        assert!(
            set_secret(&db, "app", (&[1; 32], &[2; 32]), "app:app:1", &event)
                .await
                .unwrap()
        );
        assert!(
            !set_secret(&db, "app", (&[1; 32], &[3; 32]), "app:app:1", &event)
                .await
                .unwrap(),
            "over a hash that is gone"
        );
        let stored = by_id(&db, "app").await.unwrap().unwrap();
        assert_eq!(stored.secret_hash, Some(vec![2; 32]));
        assert!(
            !set_secret(&db, "none", (&[2; 32], &[4; 32]), "app:none:1", &event)
                .await
                .unwrap()
        );
    }
}
