//! The ring of signing keys as stored. What a key *is* (generating one,
//! encrypting its private half, signing with it) is `auth::keys`; this
//! module keeps the rows and moves keys through their states, each change
//! of the ring in one transaction that no other instance can interleave.

use super::{Db, in_tx, on, rows::KeyRow, tx::Tx};

/// Every key, newest first (revoked ones included, for `keys list`).
pub async fn all(db: &Db) -> Result<Vec<KeyRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT kid, alg, state, created_at, activates_at, ended_at, private_key, public_jwk,
                purpose
         FROM signing_keys ORDER BY created_at DESC, kid"
    )
    .fetch_all(pool)
    .await)
}

/// The first key of a purpose (for access tokens, the key an earlier
/// version signed with), active at once; does nothing when the ring has any
/// key of its purpose, revoked ones included. Returns whether it was stored.
pub async fn seed(db: &Db, key: &KeyRow) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        tx.lock_ring().await?;
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE purpose = $1")
            .bind(&key.purpose)
            .fetch_one(&mut *tx)
            .await?;
        if keys > 0 {
            return Ok(false);
        }
        tx.insert_key(key).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Adds `key` as published, to start signing at its `activates_at`; when
/// that is now or past, it is made the active key at once (the one active
/// before is retired). With `unless_pending`, nothing is added when a
/// published key is already waiting (an automatic rotation that another
/// instance made first). Each purpose rotates on its own: only keys of
/// `key`'s purpose count. Returns whether the key was added.
pub async fn publish(
    db: &Db,
    key: &KeyRow,
    now: i64,
    unless_pending: bool,
) -> Result<bool, sqlx::Error> {
    publish_unless(db, key, now, unless_pending, None).await
}

/// [`publish`] for a scheduled rotation: nothing is added either when the
/// active key, read again under the ring's lock, is younger than `every_ms`
/// (another instance rotated first).
pub async fn publish_scheduled(
    db: &Db,
    key: &KeyRow,
    now: i64,
    every_ms: i64,
) -> Result<bool, sqlx::Error> {
    publish_unless(db, key, now, true, Some(every_ms)).await
}

async fn publish_unless(
    db: &Db,
    key: &KeyRow,
    now: i64,
    unless_pending: bool,
    unless_younger_than: Option<i64>,
) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        tx.lock_ring().await?;
        if unless_pending {
            let pending: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM signing_keys WHERE state = 'published' AND purpose = $1",
            )
            .bind(&key.purpose)
            .fetch_one(&mut *tx)
            .await?;
            if pending > 0 {
                return Ok(false);
            }
        }
        if let Some(every) = unless_younger_than
            && tx
                .active_key_since(&key.purpose)
                .await?
                .is_some_and(|since| now - since < every)
        {
            return Ok(false);
        }
        tx.insert_key(key).await?;
        tx.promote_due_key(now).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Makes due published keys active (retiring the active one), and deletes
/// retired keys whose every token has expired (retired before
/// `ended_before`). Revoked keys stay. Returns whether the ring changed.
pub async fn maintain(db: &Db, now: i64, ended_before: i64) -> Result<bool, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        tx.lock_ring().await?;
        let promoted = tx.promote_due_key(now).await?;
        // Revoked keys are kept: a ring that lost all its rows would be
        // seeded again with the first key, which may be the one revoked.
        let deleted =
            sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND ended_at < $1")
                .bind(ended_before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(promoted || deleted > 0)
    })
}

/// Revokes the key `kid` at once: it neither signs nor verifies any more.
/// When it was the active key, `replacement` becomes active in the same
/// transaction, so there is never a moment without a signing key. Returns
/// its state before, if there is such a key.
pub async fn revoke(
    db: &Db,
    kid: &str,
    now: i64,
    replacement: &KeyRow,
) -> Result<Option<String>, sqlx::Error> {
    in_tx!(db, |tx, _pg| {
        tx.lock_ring().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT state FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE signing_keys SET state = 'revoked', ended_at = $1
             WHERE kid = $2 AND state <> 'revoked'",
        )
        .bind(now)
        .bind(kid)
        .execute(&mut *tx)
        .await?;
        if before.as_deref() == Some("active") {
            tx.insert_key(replacement).await?;
            tx.promote_due_key(now).await?;
        }
        tx.commit().await?;
        Ok(before)
    })
}
