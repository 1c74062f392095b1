//! DPoP proofs (RFC 9449) as stored: each accepted proof's `jti`, so that
//! no proof works twice, on any instance. What a proof must say is
//! `auth::dpop`; this module only reads and writes.

use super::{Db, on};

/// Records the proof whose `jti` (with its key) hashes to `jti_hash`,
/// remembered until `expires_at` (ms); `false` when it was recorded before
/// (a replay), on this instance or another.
pub async fn spend(db: &Db, jti_hash: &[u8], expires_at: i64) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT (jti_hash) DO NOTHING"
    )
    .bind(jti_hash)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}
