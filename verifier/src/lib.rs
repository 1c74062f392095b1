//! Verifies the classroom board's access tokens the way another backend
//! should: from the server's JWKS alone, with no call to the server per
//! token and no database.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), verifier::VerifyError> {
//! let verifier = verifier::Verifier::new("https://board.example/.well-known/jwks.json").await?;
//! let claims = verifier.verify(token).await?;
//! println!("{} ({})", claims.sub, claims.role);
//! # Ok(()) }
//! ```
//!
//! - Keys are fetched at start, again when a token names a key id the
//!   verifier does not know (the server rotated its keys), at most once per
//!   [`REFETCH_AT_MOST_EVERY`] (a flood of tokens with made-up key ids costs
//!   the server one JWKS request per 30 s, not one per token), and again
//!   once the set is older than [`KEYS_FRESH_FOR`], the server's
//!   `max-age`: a key the server revoked stops verifying here within a
//!   minute. If that fetch fails, the known keys are used for
//!   [`STALE_KEYS_GRACE`] more, then tokens are refused until a fetch works.
//! - The algorithm comes from the key, never from the token: `none`, and
//!   an HMAC "signed" with a public key, are refused.
//! - Checked: signature, `typ: at+jwt`, `iss`, `aud`, `exp` and `nbf` (with
//!   5 s of leeway). A token whose session the server revoked still
//!   verifies here until it expires (at most the access-token lifetime):
//!   only the server knows about revocations.
//! - Only asymmetric keys (EdDSA, RS256) can be verified this way; a server
//!   that signs with HS256 publishes no keys.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;

/// The server's `iss`.
pub const ISSUER: &str = "classboard";
/// The API's `aud`.
pub const AUDIENCE: &str = "classboard-api";
/// The shortest time between two fetches made for an unknown key id.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// How long a fetched key set is used before it is fetched again: the
/// `Cache-Control: max-age` the server sends with it.
pub const KEYS_FRESH_FOR: Duration = Duration::from_secs(60);
/// How long past [`KEYS_FRESH_FOR`] the known keys are still used while the
/// server's JWKS cannot be fetched.
pub const STALE_KEYS_GRACE: Duration = Duration::from_secs(300);

/// What a verified access token says.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub role: String,
    pub username: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
}

/// Why a token was refused, or the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token names a key this server does not publish")]
    UnknownKey,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token is not valid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("cannot fetch the keys: {0}")]
    Fetch(#[from] reqwest::Error),
}

struct Known {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    /// When a fetch for an unknown key id last happened.
    refetched_at: Option<Instant>,
    /// When the keys were last fetched successfully.
    fetched_at: Instant,
    fetches: u64,
}

/// Verifies access tokens against one server's JWKS.
pub struct Verifier {
    url: String,
    http: reqwest::Client,
    known: Mutex<Known>,
}

impl Verifier {
    /// Fetches the keys at `jwks_url`.
    pub async fn new(jwks_url: &str) -> Result<Self, VerifyError> {
        let verifier = Self {
            url: jwks_url.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            known: Mutex::new(Known {
                keys: HashMap::new(),
                refetched_at: None,
                fetched_at: Instant::now(),
                fetches: 0,
            }),
        };
        verifier.fetch().await?;
        Ok(verifier)
    }

    /// How many times the keys were fetched.
    pub fn fetches(&self) -> u64 {
        self.lock().fetches
    }

    /// Verifies `token`; see the crate's documentation for what is checked.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let age = self.lock().fetched_at.elapsed();
        if age >= KEYS_FRESH_FOR {
            // A key revoked since the last fetch must stop verifying.
            if let Err(e) = self.fetch().await
                && age >= KEYS_FRESH_FOR + STALE_KEYS_GRACE
            {
                return Err(e);
            }
        }
        // Checked and recorded under one lock: of many tokens with unknown
        // key ids at once, one fetches.
        let refetch = {
            let mut known = self.lock();
            let unknown = !known.keys.contains_key(&kid);
            let may = known
                .refetched_at
                .is_none_or(|at| at.elapsed() >= REFETCH_AT_MOST_EVERY);
            if unknown && may {
                known.refetched_at = Some(Instant::now());
            }
            match (unknown, may) {
                (false, _) => false,
                (true, true) => true,
                (true, false) => return Err(VerifyError::UnknownKey),
            }
        };
        if refetch {
            self.fetch().await?;
        }
        let (alg, key) = self
            .lock()
            .keys
            .get(&kid)
            .cloned()
            .ok_or(VerifyError::UnknownKey)?;
        if header.alg != alg {
            return Err(VerifyError::Invalid(
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into(),
            ));
        }
        if !header
            .typ
            .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(VerifyError::WrongType);
        }
        let mut validation = Validation::new(alg);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(VerifyError::Invalid)
    }

    /// Replaces the known keys with the server's current ones.
    async fn fetch(&self) -> Result<(), VerifyError> {
        let set: JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = match jwk.common.key_algorithm? {
                    jsonwebtoken::jwk::KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                    jsonwebtoken::jwk::KeyAlgorithm::RS256 => Algorithm::RS256,
                    // Nothing else is published, and nothing symmetric ever should be.
                    _ => return None,
                };
                Some((kid, (alg, DecodingKey::from_jwk(jwk).ok()?)))
            })
            .collect();
        let mut known = self.lock();
        known.keys = keys;
        known.fetched_at = Instant::now();
        known.fetches += 1;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}
