//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): an app
//! authenticates with a JWT signed by a key of the JWKS it registered
//! (`jwks_uri`) instead of a secret.
//!
//! The JWKS is fetched through [`Outbound`] (never an address inside this
//! server's network), kept five minutes per app, and fetched again early
//! at most every ten seconds when an assertion names a key it lacks (a key
//! the app just rotated in). An assertion must be signed with an asymmetric
//! algorithm by the key its `kid` names, have `iss` and `sub` the app,
//! `aud` this server's issuer (one string), an `exp` within ten minutes,
//! and a `jti` never seen before from the app, on any instance.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{Jwk, JwkSet, KeyAlgorithm},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    auth::jwt::unix_now,
    outbound::Outbound,
    store::{
        Db,
        clients::{self, ClientRow},
    },
};

/// `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a fetched JWKS is used.
const JWKS_FRESH: Duration = Duration::from_secs(300);
/// The shortest time between two fetches of one app's JWKS.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// The largest JWKS read.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The furthest an assertion's `exp` may be: its `jti` is remembered until
/// then.
const LONGEST_LIFETIME: u64 = 600;
/// Clock skew allowed between the app and this server, in seconds.
const LEEWAY: u64 = 30;
/// The algorithms an assertion may be signed with: asymmetric only (an
/// HMAC would need a shared secret; `none` signs nothing).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The apps' public keys, as their JWKS last said.
#[derive(Clone)]
pub struct AppKeys {
    db: Db,
    outbound: Outbound,
    fetched: Arc<Mutex<HashMap<String, Fetched>>>,
    /// When each app's JWKS was last asked for, whatever came of it: a
    /// fetch that failed, or many requests at once, cost one call per
    /// [`REFETCH_AFTER`].
    attempted: Arc<Mutex<HashMap<String, Instant>>>,
}

struct Fetched {
    uri: String,
    keys: Arc<JwkSet>,
    at: Instant,
}

#[derive(Deserialize)]
struct AssertionClaims {
    sub: String,
    /// One string: an array would let an assertion made for another
    /// server that lists this one be replayed here.
    #[allow(dead_code)]
    aud: String,
    exp: u64,
    jti: Option<String>,
}

/// The `iss` an assertion claims, read before anything is verified: which
/// app to verify it as, when the request does not say.
pub fn claimed_app(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Iss>(assertion)
        .ok()
        .map(|claims| claims.iss)
}

impl AppKeys {
    pub fn new(db: Db, outbound: Outbound) -> Self {
        Self {
            db,
            outbound,
            fetched: Arc::default(),
            attempted: Arc::default(),
        }
    }

    /// Whether `assertion` authenticates `client` to the provider of
    /// `issuer`; `Err` says why not (for the log, never the app).
    pub async fn verify(
        &self,
        client: &ClientRow,
        assertion: &str,
        issuer: &str,
    ) -> Result<Result<(), String>, sqlx::Error> {
        let Some(uri) = client.jwks_uri.as_deref() else {
            return Ok(Err("the app registered no JWKS".into()));
        };
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return Ok(Err("not a JWT".into()));
        };
        if !ALGORITHMS.contains(&header.alg) {
            return Ok(Err(format!(
                "{:?} is not an asymmetric algorithm",
                header.alg
            )));
        }
        let jwk = match self
            .key(&client.id, uri, header.kid.as_deref(), header.alg)
            .await
        {
            Ok(jwk) => jwk,
            Err(why) => return Ok(Err(why)),
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            return Ok(Err("the JWKS key cannot be used".into()));
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY;
        validation.set_issuer(&[&client.id]);
        // The issuer alone, as RFC 7523bis says: an endpoint's URL could be
        // one another server also presents as its own.
        validation.set_audience(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return Ok(Err(format!("the assertion does not verify: {e}"))),
        };
        if claims.sub != client.id {
            return Ok(Err("sub is not the app".into()));
        }
        if claims.exp > unix_now() + LONGEST_LIFETIME + LEEWAY {
            return Ok(Err(format!("expires more than {LONGEST_LIFETIME} s ahead")));
        }
        let Some(jti) = claims.jti.filter(|jti| (1..=256).contains(&jti.len())) else {
            return Ok(Err("no jti".into()));
        };
        // A second beyond the last moment the library would accept it.
        let remembered_until = i64::try_from(claims.exp.saturating_add(LEEWAY + 1))
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let first = clients::spend_assertion(
            &self.db,
            &client.id,
            &Sha256::digest(jti.as_bytes()),
            remembered_until,
        )
        .await?;
        Ok(if first {
            Ok(())
        } else {
            Err("the assertion's jti was used before".into())
        })
    }

    /// The key of `client_id`'s JWKS (at `uri`) that `kid` names, or the
    /// only one for `alg` when there is no `kid`.
    async fn key(
        &self,
        client_id: &str,
        uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Jwk, String> {
        let (kept, age) = match self.kept(client_id, uri) {
            Some((keys, age)) if age < JWKS_FRESH => (Some(keys), age),
            _ => (None, Duration::MAX),
        };
        if let Some(keys) = &kept
            && let Some(jwk) = pick(keys, kid, alg)
        {
            return Ok(jwk);
        }
        if kept.is_some() && age < REFETCH_AFTER {
            return Err("no such key in the app's JWKS".into());
        }
        {
            let mut attempted = self.attempted.lock().unwrap_or_else(|e| e.into_inner());
            if attempted
                .get(client_id)
                .is_some_and(|at| at.elapsed() < REFETCH_AFTER)
            {
                return Err("the app's JWKS was asked for moments ago".into());
            }
            attempted.insert(client_id.to_owned(), Instant::now());
        }
        let keys = self.fetch(client_id, uri).await?;
        pick(&keys, kid, alg).ok_or_else(|| "no such key in the app's JWKS".into())
    }

    fn kept(&self, client_id: &str, uri: &str) -> Option<(Arc<JwkSet>, Duration)> {
        let fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
        fetched
            .get(client_id)
            .filter(|kept| kept.uri == uri)
            .map(|kept| (kept.keys.clone(), kept.at.elapsed()))
    }

    async fn fetch(&self, client_id: &str, uri: &str) -> Result<Arc<JwkSet>, String> {
        let body = self
            .outbound
            .get(uri, MAX_JWKS_BYTES)
            .await
            .map_err(|e| format!("the app's JWKS: {e}"))?;
        let keys: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("the app's JWKS: {e}"))?;
        let keys = Arc::new(keys);
        let mut fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
        fetched.insert(
            client_id.to_owned(),
            Fetched {
                uri: uri.to_owned(),
                keys: keys.clone(),
                at: Instant::now(),
            },
        );
        Ok(keys)
    }
}

/// The key of `keys` that `kid` names, if it may sign `alg`; without a
/// `kid`, the one key that may.
fn pick(keys: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |jwk: &&Jwk| {
        jwk.common
            .key_algorithm
            .is_none_or(|declared| declared == KeyAlgorithm::from(alg))
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .filter(fits)
            .cloned(),
        None => {
            let mut fitting = keys.keys.iter().filter(fits);
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}
