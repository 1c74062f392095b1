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
//!   minute.
//! - A stale set is fetched again in the background, by one task at a time
//!   (a single flight), at most once per [`REFETCH_AT_MOST_EVERY`] while
//!   fetches fail; meanwhile every token is checked against the keys known,
//!   at once, for [`STALE_KEYS_GRACE`] more. After that, tokens are refused
//!   until a fetch works (one request waits on it; while fetches keep
//!   failing, the others are refused at once).
//! - A token that cannot be one of the server's (not a JWT, no key id, not
//!   an access token, an algorithm the server never uses) is refused before
//!   anything else: junk never makes the verifier call the server.
//! - It needs a Tokio runtime: the background fetch is a task.
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
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;

/// The server's `iss`.
pub const ISSUER: &str = "classboard";
/// The API's `aud`.
pub const AUDIENCE: &str = "classboard-api";
/// The shortest time between two fetches made for an unknown key id, or
/// between two failed fetches of a stale set.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// How long a fetched key set is used before it is fetched again: the
/// `Cache-Control: max-age` the server sends with it.
pub const KEYS_FRESH_FOR: Duration = Duration::from_secs(60);
/// How long past [`KEYS_FRESH_FOR`] the known keys are still used while the
/// server's JWKS cannot be fetched.
pub const STALE_KEYS_GRACE: Duration = Duration::from_secs(300);

/// The verifier's clock: how long keys are fresh, how long stale keys are
/// still used, and how often a fetch may be tried again. The defaults are
/// the constants above; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub fresh_for: Duration,
    pub stale_grace: Duration,
    pub refetch_at_most_every: Duration,
    /// How long one fetch of the JWKS may take.
    pub fetch_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            fresh_for: KEYS_FRESH_FOR,
            stale_grace: STALE_KEYS_GRACE,
            refetch_at_most_every: REFETCH_AT_MOST_EVERY,
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

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
    /// The known keys are past their grace, and no fetch may be tried yet.
    #[error("the keys are too old to use, and the server's JWKS could not be fetched")]
    KeysStale,
}

struct Known {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    /// When a fetch for an unknown key id last happened.
    refetched_at: Option<Instant>,
    /// When the keys were last fetched successfully.
    fetched_at: Instant,
    /// When a fetch of a stale set was last tried, and whether it failed.
    stale_tried_at: Option<Instant>,
    fetches: u64,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    timing: Timing,
    known: Mutex<Known>,
    /// Held by the one fetch of a stale set under way.
    flight: Arc<tokio::sync::Mutex<()>>,
}

/// Verifies access tokens against one server's JWKS.
pub struct Verifier {
    inner: Arc<Inner>,
}

impl Verifier {
    /// Fetches the keys at `jwks_url`.
    pub async fn new(jwks_url: &str) -> Result<Self, VerifyError> {
        Self::with_timing(jwks_url, Timing::default()).await
    }

    /// Fetches the keys at `jwks_url`, and keeps them by `timing`.
    pub async fn with_timing(jwks_url: &str, timing: Timing) -> Result<Self, VerifyError> {
        let verifier = Self {
            inner: Arc::new(Inner {
                url: jwks_url.to_owned(),
                http: reqwest::Client::builder()
                    .timeout(timing.fetch_timeout)
                    .build()?,
                timing,
                known: Mutex::new(Known {
                    keys: HashMap::new(),
                    refetched_at: None,
                    fetched_at: Instant::now(),
                    stale_tried_at: None,
                    fetches: 0,
                }),
                flight: Arc::default(),
            }),
        };
        verifier.inner.fetch().await?;
        Ok(verifier)
    }

    /// How many times the keys were fetched (tried, whether or not the
    /// fetch worked).
    pub fn fetches(&self) -> u64 {
        self.inner.lock().fetches
    }

    /// Verifies `token`; see the crate's documentation for what is checked.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        if !header
            .typ
            .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(VerifyError::WrongType);
        }
        // The server signs with these only; nothing else can verify.
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::RS256) {
            return Err(VerifyError::Invalid(
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into(),
            ));
        }
        self.inner.keep_fresh().await?;
        // Checked and recorded under one lock: of many tokens with unknown
        // key ids at once, one fetches.
        let refetch = {
            let mut known = self.inner.lock();
            let unknown = !known.keys.contains_key(&kid);
            let may = known
                .refetched_at
                .is_none_or(|at| at.elapsed() >= self.inner.timing.refetch_at_most_every);
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
            // In the one flight, so that a fetch for a stale set finishing
            // later cannot put older keys back over these.
            let _flight = self.inner.flight.lock().await;
            if !self.inner.lock().keys.contains_key(&kid) {
                self.inner.fetch().await?;
            }
        }
        let (alg, key) = self
            .inner
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
}

/// What to do about the age of the known keys.
#[derive(Debug, PartialEq, Eq)]
enum Freshness {
    Fresh,
    /// Stale but within grace: use them, and refetch in the background if
    /// no fetch is under way or was tried too recently.
    Stale {
        refetch: bool,
    },
    /// Past grace: wait for a fetch, or refuse at once when one was tried
    /// too recently.
    Expired {
        refetch: bool,
    },
}

/// Decides what the keys' age means: keys fetched `age` ago, a stale
/// fetch last tried `tried` ago.
fn freshness(timing: &Timing, age: Duration, tried: Option<Duration>) -> Freshness {
    let may = tried.is_none_or(|ago| ago >= timing.refetch_at_most_every);
    if age < timing.fresh_for {
        Freshness::Fresh
    } else if age < timing.fresh_for + timing.stale_grace {
        Freshness::Stale { refetch: may }
    } else {
        Freshness::Expired { refetch: may }
    }
}

impl Inner {
    /// Refreshes stale keys by [`freshness`]'s rule: in the background,
    /// one flight at a time, while they are usable; with this request
    /// waiting, once they are not.
    async fn keep_fresh(self: &Arc<Self>) -> Result<(), VerifyError> {
        let decide = |known: &Known| {
            freshness(
                &self.timing,
                known.fetched_at.elapsed(),
                known.stale_tried_at.map(|at| at.elapsed()),
            )
        };
        let now = decide(&self.lock());
        match now {
            Freshness::Fresh | Freshness::Stale { refetch: false } => Ok(()),
            Freshness::Stale { refetch: true } => {
                if let Ok(flight) = self.flight.clone().try_lock_owned() {
                    // Decided again under the flight's lock: another flight
                    // may have just ended.
                    if decide(&self.lock()) == now {
                        self.lock().stale_tried_at = Some(Instant::now());
                        let inner = self.clone();
                        tokio::spawn(async move {
                            let _ = inner.fetch().await;
                            drop(flight);
                        });
                    }
                }
                Ok(())
            }
            Freshness::Expired { refetch: false } => Err(VerifyError::KeysStale),
            Freshness::Expired { refetch: true } => {
                let _flight = self.flight.lock().await;
                match decide(&self.lock()) {
                    Freshness::Fresh => return Ok(()),
                    Freshness::Expired { refetch: true } => {}
                    // A flight ended while this one waited, and failed.
                    _ => return Err(VerifyError::KeysStale),
                }
                self.lock().stale_tried_at = Some(Instant::now());
                self.fetch().await
            }
        }
    }

    /// Replaces the known keys with the server's current ones.
    async fn fetch(&self) -> Result<(), VerifyError> {
        self.lock().fetches += 1;
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
        known.stale_tried_at = None;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timing = Timing {
        fresh_for: Duration::from_secs(60),
        stale_grace: Duration::from_secs(300),
        refetch_at_most_every: Duration::from_secs(30),
        fetch_timeout: Duration::from_secs(10),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn fresh_keys_are_used_as_they_are() {
        assert_eq!(freshness(&T, secs(59), None), Freshness::Fresh);
    }

    #[test]
    fn stale_keys_are_used_while_one_refetch_per_interval_is_tried() {
        assert_eq!(
            freshness(&T, secs(60), None),
            Freshness::Stale { refetch: true }
        );
        assert_eq!(
            freshness(&T, secs(200), Some(secs(29))),
            Freshness::Stale { refetch: false }
        );
        assert_eq!(
            freshness(&T, secs(200), Some(secs(30))),
            Freshness::Stale { refetch: true }
        );
    }

    #[test]
    fn keys_past_their_grace_wait_for_a_fetch_or_are_refused_at_once() {
        assert_eq!(
            freshness(&T, secs(360), None),
            Freshness::Expired { refetch: true }
        );
        assert_eq!(
            freshness(&T, secs(400), Some(secs(5))),
            Freshness::Expired { refetch: false }
        );
    }
}
