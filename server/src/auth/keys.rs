//! The ring of signing keys, shared by every instance through the database.
//!
//! A key is *published* (in JWKS, so verifiers fetch it before it signs
//! anything), then *active* (it signs), then *retired* (it only verifies the
//! tokens it signed, until they have expired), then deleted. A *revoked* key
//! neither signs nor verifies, at once. Rotation never logs anyone out: the
//! key that signed a token keeps verifying it until it expires.
//!
//! The private halves are stored encrypted with ChaCha20-Poly1305, under a
//! key derived from the server secret (which every instance is given), with
//! the kid as associated data: a row cannot be moved to another kid.
//!
//! Each instance re-reads the ring every [`RELOAD_INTERVAL`] and, in the same
//! step, moves it along: it activates published keys that are due, deletes
//! keys whose tokens have all expired, and rotates when the active key is
//! older than `KEY_ROTATION_INTERVAL`. Each of those changes is one
//! transaction that takes the ring's lock, so instances doing it at once
//! take turns and do it once.

use std::{sync::Arc, time::Duration};

use crate::{
    auth::jwt::{Key, KeyError, KeyState, Keys, LEEWAY_SECS, Purpose, new_ed25519_pem},
    auth::revocation::CLOCK_SKEW_MARGIN,
    auth::sealing::Sealer,
    config::JwtAlg,
    store::{
        Db,
        keys::{self as stored},
        ms, now_ms,
        rows::KeyRow,
    },
};

/// What the private halves' encryption key is derived for (unchanged since
/// the ring began: keys sealed under it must keep opening).
const SEALING_LABEL: &[u8] = b"classboard signing-key encryption key";

/// How often each instance re-reads the ring: every instance sees a change
/// within this (the contract allows five seconds).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// How keys are made and moved along.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// The algorithm of new keys (`JWT_ALG`).
    pub alg: JwtAlg,
    /// How long a new asymmetric key is published before it signs
    /// (`KEY_PUBLISH_LEAD`). HS256 keys are never published, so they sign
    /// at once.
    pub lead: Duration,
    /// Rotate when the active key is this old (`KEY_ROTATION_INTERVAL`).
    pub rotation: Option<Duration>,
    /// The access-token lifetime: how long a retired key must verify.
    pub access_ttl: Duration,
}

impl KeyPolicy {
    /// The algorithm of new keys of `purpose`: `JWT_ALG` for access
    /// tokens, the purpose's own for ID tokens.
    fn alg_for(&self, purpose: Purpose) -> JwtAlg {
        match purpose {
            Purpose::Access => self.alg,
            Purpose::Id => JwtAlg::RS256,
            Purpose::IdEdDsa => JwtAlg::EdDSA,
            Purpose::IdEs256 => JwtAlg::ES256,
        }
    }

    fn lead_for(&self, alg: JwtAlg) -> Duration {
        match alg {
            JwtAlg::HS256 => Duration::ZERO,
            JwtAlg::EdDSA | JwtAlg::RS256 | JwtAlg::ES256 => self.lead,
        }
    }

    /// How long after it stops signing a key's tokens may still be valid.
    fn verifies_for(&self) -> Duration {
        self.access_ttl + Duration::from_secs(LEEWAY_SECS) + CLOCK_SKEW_MARGIN
    }
}

/// Why the ring could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "cannot decrypt signing key {0}: is the server secret (JWT_SECRET) the same on every instance?"
    )]
    Decrypt(String),
    #[error("signing key {0} is stored as {1:?}, which this server does not know")]
    UnknownAlgorithm(String, String),
    #[error("no signing key has the id {0:?}")]
    NoSuchKey(String),
    #[error("cannot generate a key: {0}")]
    Generate(String),
}

/// The ring: this instance's view ([`Keys`]) and the means to change it.
pub struct KeyRing {
    db: Db,
    sealer: Sealer,
    policy: KeyPolicy,
    keys: Arc<Keys>,
    /// The rows last loaded, by kid and state, to tell a change.
    loaded: std::sync::Mutex<Vec<(String, String)>>,
}

/// What revoking a key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The key was revoked; it did not sign.
    Key,
    /// The key was the active one; this new key signs from now on.
    Replaced(String),
    /// It was revoked already.
    Already,
}

impl KeyRing {
    /// Opens the ring, seeding an empty one with `first` (the key an earlier
    /// version signed with, so its tokens keep verifying), and loads it.
    pub async fn open(
        db: Db,
        secret: &[u8],
        policy: KeyPolicy,
        first: FirstKey,
    ) -> Result<Self, RingError> {
        let ring = Self {
            sealer: Sealer::derive(secret, SEALING_LABEL),
            keys: Arc::new(Keys::new(policy.access_ttl)),
            db,
            policy,
            loaded: std::sync::Mutex::default(),
        };
        if stored::all(&ring.db).await?.is_empty() {
            let (key, alg, private) = first.into_key()?;
            let now = now_ms();
            let row = ring.row(&key, (alg, Purpose::Access), &private, "active", now, now);
            if stored::seed(&ring.db, &row).await? {
                tracing::info!(kid = key.kid(), alg = %alg, "signing keys: the ring begins with the current key");
            }
        }
        // At start, a key that cannot be opened stops the instance: with
        // another server secret it would open none and sign nothing.
        ring.load_ring(true).await?;
        Ok(ring)
    }

    /// The keys this instance signs and verifies with.
    pub fn keys(&self) -> Arc<Keys> {
        self.keys.clone()
    }

    /// Every key, newest first, as stored (for `keys list`).
    pub async fn list(&self) -> Result<Vec<KeyRow>, RingError> {
        Ok(stored::all(&self.db).await?)
    }

    /// Re-reads the ring and, if it changed, swaps it in. Returns whether it changed.
    pub async fn reload(&self) -> Result<bool, RingError> {
        self.load_ring(false).await
    }

    /// [`Self::reload`]; with `strict`, a key that cannot be loaded is an
    /// error rather than a line in the log.
    async fn load_ring(&self, strict: bool) -> Result<bool, RingError> {
        let rows = stored::all(&self.db).await?;
        self.keys.mark_current();
        let now: Vec<(String, String)> = rows
            .iter()
            .map(|row| (row.kid.clone(), row.state.clone()))
            .collect();
        if *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) == now {
            return Ok(false);
        }
        let mut keys = Vec::new();
        for row in &rows {
            let state = match row.state.as_str() {
                "published" => KeyState::Published,
                "active" => KeyState::Active,
                "retired" => KeyState::Retired,
                _ => continue,
            };
            let Some(purpose) = Purpose::parse(&row.purpose) else {
                tracing::error!(kid = %row.kid, purpose = %row.purpose, "signing keys: a key has an unknown purpose");
                continue;
            };
            match self.load(row) {
                Ok(key) => keys.push((key, state, purpose)),
                Err(e) if strict => return Err(e),
                // One unreadable key must not take the others down with it.
                Err(e) => tracing::error!(error = %e, "signing keys: a key cannot be loaded"),
            }
        }
        self.keys.replace(keys);
        *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(true)
    }

    /// Moves the ring along (see the module's comment), then re-reads it.
    /// The re-read happens even when moving along failed: a write that
    /// cannot be made (a full pool, another process holding SQLite's lock)
    /// must not keep this instance from seeing a key revoked elsewhere.
    pub async fn maintain(&self) -> Result<(), RingError> {
        let moved = self.move_along().await;
        self.reload().await?;
        moved
    }

    async fn move_along(&self) -> Result<(), RingError> {
        let now = now_ms();
        let ended_before = now - ms(self.policy.verifies_for());
        stored::maintain(&self.db, now, ended_before).await?;
        let rows = stored::all(&self.db).await?;
        for purpose in Purpose::ID {
            if !rows.iter().any(|row| row.purpose == purpose.as_str()) {
                self.seed_id_key(purpose, now).await?;
            }
        }
        if let Some(every) = self.policy.rotation {
            for purpose in Purpose::ALL {
                let mine = || rows.iter().filter(|row| row.purpose == purpose.as_str());
                let active_since = mine()
                    .find(|row| row.state == "active")
                    .map(|row| row.activates_at);
                let pending = mine().any(|row| row.state == "published");
                if !pending && active_since.is_none_or(|since| now - since >= ms(every)) {
                    let kid = self.publish(purpose, now, Some(ms(every))).await?;
                    if let Some(kid) = kid {
                        tracing::info!(%kid, purpose = purpose.as_str(), "signing keys: rotated on schedule");
                    }
                }
            }
        }
        Ok(())
    }

    /// The ring's first ID key of `purpose`, active at once: no app can
    /// hold an ID token of it before it, so there is nothing to publish it
    /// ahead of. Generating an RSA key takes a while, off the runtime's
    /// threads.
    async fn seed_id_key(&self, purpose: Purpose, now: i64) -> Result<(), RingError> {
        let alg = self.policy.alg_for(purpose);
        let (key, private) = tokio::task::spawn_blocking(move || generate(alg))
            .await
            .map_err(|e| RingError::Generate(e.to_string()))??;
        let row = self.row(&key, (alg, purpose), &private, "active", now, now);
        if stored::seed(&self.db, &row).await? {
            tracing::info!(
                kid = key.kid(),
                purpose = purpose.as_str(),
                "signing keys: the first key for ID tokens"
            );
        }
        Ok(())
    }

    /// Publishes a new key of the configured algorithm, to sign after the
    /// publish lead (at once for HS256). Returns its kid.
    pub async fn rotate(&self) -> Result<String, RingError> {
        let kid = self.publish(Purpose::Access, now_ms(), None).await?;
        self.reload().await?;
        kid.ok_or_else(|| RingError::Generate("a rotation was refused".into()))
    }

    /// Revokes `kid` at once. When it was the active key, a new key signs
    /// from now on, so the instances keep issuing tokens.
    pub async fn revoke(&self, kid: &str) -> Result<Revoked, RingError> {
        // The replacement is made first, so that revoking the active key and
        // activating the next are one transaction: no moment without a key.
        let purpose = stored::all(&self.db)
            .await?
            .iter()
            .find(|row| row.kid == kid)
            .and_then(|row| Purpose::parse(&row.purpose))
            .ok_or_else(|| RingError::NoSuchKey(kid.to_owned()))?;
        let alg = self.policy.alg_for(purpose);
        let (key, private) = generate(alg)?;
        let now = now_ms();
        let replacement = self.row(&key, (alg, purpose), &private, "published", now, now);
        let outcome = match stored::revoke(&self.db, kid, now, &replacement)
            .await?
            .as_deref()
        {
            None => return Err(RingError::NoSuchKey(kid.to_owned())),
            Some("revoked") => Revoked::Already,
            Some("active") => Revoked::Replaced(key.kid().to_owned()),
            Some(_) => Revoked::Key,
        };
        self.reload().await?;
        Ok(outcome)
    }

    /// Re-reads and moves the ring along every [`RELOAD_INTERVAL`] until the
    /// process ends.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RELOAD_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.maintain().await {
                    tracing::error!(error = %e, "signing keys: cannot maintain the ring");
                }
            }
        });
    }

    /// Generates and publishes a key of `purpose` to sign at `now` + the
    /// lead. A scheduled rotation (`every`: its interval, ms) adds none when
    /// it finds a key of that purpose already waiting, or an active one
    /// younger than the interval, under the ring's lock: another instance
    /// rotated first.
    async fn publish(
        &self,
        purpose: Purpose,
        now: i64,
        every: Option<i64>,
    ) -> Result<Option<String>, RingError> {
        let alg = self.policy.alg_for(purpose);
        let (key, private) = tokio::task::spawn_blocking(move || generate(alg))
            .await
            .map_err(|e| RingError::Generate(e.to_string()))??;
        let activates_at = now + ms(self.policy.lead_for(alg));
        let row = self.row(
            &key,
            (alg, purpose),
            &private,
            "published",
            now,
            activates_at,
        );
        let added = match every {
            Some(every) => stored::publish_scheduled(&self.db, &row, now, every).await?,
            None => stored::publish(&self.db, &row, now, false).await?,
        };
        Ok(added.then(|| key.kid().to_owned()))
    }

    /// The row that stores `key`.
    fn row(
        &self,
        key: &Key,
        (alg, purpose): (JwtAlg, Purpose),
        private: &[u8],
        state: &str,
        now: i64,
        activates_at: i64,
    ) -> KeyRow {
        KeyRow {
            kid: key.kid().to_owned(),
            alg: alg.to_string(),
            state: state.to_owned(),
            created_at: now,
            activates_at,
            ended_at: None,
            private_key: self.sealer.seal(key.kid().as_bytes(), private),
            public_jwk: key
                .public_jwk()
                .and_then(|jwk| serde_json::to_string(jwk).ok()),
            purpose: purpose.as_str().to_owned(),
        }
    }

    /// The key a row stores, decrypted.
    fn load(&self, row: &KeyRow) -> Result<Key, RingError> {
        let alg = parse_alg(&row.alg)
            .ok_or_else(|| RingError::UnknownAlgorithm(row.kid.clone(), row.alg.clone()))?;
        let private = self
            .sealer
            .open(row.kid.as_bytes(), &row.private_key)
            .ok_or_else(|| RingError::Decrypt(row.kid.clone()))?;
        let key = decode(alg, &private, &row.kid)?;
        if key.kid() != row.kid {
            // The sealed key was made for another kid: refuse to use it.
            return Err(RingError::Decrypt(row.kid.clone()));
        }
        Ok(key)
    }
}

/// A new key of `alg`, and its private half.
fn generate(alg: JwtAlg) -> Result<(Key, Vec<u8>), RingError> {
    let private = match alg {
        JwtAlg::HS256 => {
            let mut secret = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
            secret
        }
        JwtAlg::EdDSA => new_ed25519_pem(),
        JwtAlg::RS256 => new_rsa_pem()?,
        JwtAlg::ES256 => new_p256_der()?,
    };
    Ok((decode(alg, &private, "a new key")?, private))
}

/// The key the ring begins with when it is empty: the one this server
/// signed with before the ring existed, or a new one.
pub enum FirstKey {
    /// HS256 with the server secret itself (as earlier versions signed).
    Secret(Vec<u8>),
    /// A PEM private key (an earlier version's `jwt_ed25519.pem`, or
    /// `JWT_PRIVATE_KEY_FILE`).
    Pem(JwtAlg, Vec<u8>),
    /// Nothing to carry over: a new key of this algorithm.
    New(JwtAlg),
}

impl FirstKey {
    fn into_key(self) -> Result<(Key, JwtAlg, Vec<u8>), RingError> {
        let (alg, private) = match self {
            Self::Secret(secret) => (JwtAlg::HS256, secret),
            Self::Pem(alg, pem) => (alg, pem),
            Self::New(alg) => {
                let (key, private) = generate(alg)?;
                return Ok((key, alg, private));
            }
        };
        Ok((decode(alg, &private, "the first key")?, alg, private))
    }
}

/// A key from its private half.
fn decode(alg: JwtAlg, private: &[u8], source: &str) -> Result<Key, KeyError> {
    Ok(match alg {
        JwtAlg::HS256 => Key::hs256(private),
        JwtAlg::EdDSA => Key::eddsa(private, source)?,
        JwtAlg::RS256 => Key::rs256(private, source)?,
        JwtAlg::ES256 => Key::es256(private, source)?,
    })
}

fn parse_alg(alg: &str) -> Option<JwtAlg> {
    match alg {
        "HS256" => Some(JwtAlg::HS256),
        "EdDSA" => Some(JwtAlg::EdDSA),
        "RS256" => Some(JwtAlg::RS256),
        "ES256" => Some(JwtAlg::ES256),
        _ => None,
    }
}

/// A new 2048-bit RSA private key, PKCS#8 PEM.
fn new_rsa_pem() -> Result<Vec<u8>, RingError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| RingError::Generate(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| RingError::Generate(e.to_string()))?;
    Ok(pem.as_bytes().to_vec())
}

/// A new P-256 private key, PKCS#8 DER.
fn new_p256_der() -> Result<Vec<u8>, RingError> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .map(|der| der.as_ref().to_vec())
    .map_err(|e| RingError::Generate(e.to_string()))
}
