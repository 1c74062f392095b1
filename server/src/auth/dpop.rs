//! DPoP (RFC 9449): a token bound to a key works only with a fresh proof
//! signed by that key, for the very request it comes with.
//!
//! A proof is a JWT whose header carries the public key (`jwk`, never a
//! private part) and `typ` `dpop+jwt`, signed with an asymmetric algorithm
//! (never `none`, never an HMAC). Its claims name the request's method
//! (`htm`) and address (`htu`, compared with this server's own public
//! addresses, never with what a `Host` header says, so a proxy in front
//! changes nothing), when it was made (`iat`, within a minute), a `jti`
//! that no proof used before on any instance, a `nonce` this server gave
//! out, and with an access token its hash (`ath`).
//!
//! Nonces are stateless: the five-minute period they were made in, with an
//! HMAC of it under a key derived from the server secret, so that every
//! instance gives out and accepts the same ones, the current period's and
//! the one before.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{Jwk, ThumbprintHash},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::jwt::unix_now;
use crate::store::{self, Db};

/// What a proof may be signed with, as discovery lists them.
pub const ALGORITHMS: [&str; 5] = ["ES256", "EdDSA", "ES384", "RS256", "PS256"];
/// How old a proof's `iat` may be, in seconds.
const WINDOW: u64 = 60;
/// How far ahead of this server's clock a proof's `iat` may be.
const AHEAD: u64 = 5;
/// How long one nonce period lasts, in seconds: a nonce works for one to
/// two of them.
const NONCE_PERIOD: u64 = 300;
/// The longest proof read, in bytes (an RSA key's proof is about 1 KB).
const MAX_PROOF: usize = 4096;
/// The longest `jti`.
const MAX_JTI: usize = 256;
/// Members of a JWK that only a private or symmetric key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/// How long a spent `jti` is kept beyond the end of its proof's window:
/// the clocks of several instances may differ by this much, and one whose
/// clock runs fast must not forget a `jti` another still accepts.
const CLOCK_SPREAD: u64 = 60;

/// A proof that passed: the thumbprint (RFC 7638, SHA-256) of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub jkt: String,
}

/// A proof that passed every check but its `jti`'s: not a `Proven` until
/// `spend` has recorded the `jti` once for every instance.
#[derive(Debug)]
pub struct Unspent {
    jkt: String,
    jti_hash: [u8; 32],
    remembered_until: i64,
}

impl Unspent {
    /// Records the proof's `jti`; refused when it was used before.
    pub async fn spend(self, dpop: &Dpop) -> Result<Proven, DpopError> {
        if !store::dpop::spend(&dpop.db, &self.jti_hash, self.remembered_until).await? {
            return Err(DpopError::Invalid("The proof was used before (jti)."));
        }
        Ok(Proven { jkt: self.jkt })
    }
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// `invalid_dpop_proof`; the text is safe to send back.
    #[error("{0}")]
    Invalid(&'static str),
    /// `use_dpop_nonce`: the proof lacks a current nonce of this server's;
    /// this one is to be used.
    #[error("The proof needs the nonce this server gives in DPoP-Nonce.")]
    UseNonce(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path the server was asked for (no query).
    pub path: &'a str,
    /// The access token sent with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Checks DPoP proofs and gives out nonces.
#[derive(Clone)]
pub struct Dpop {
    db: Db,
    nonce_key: [u8; 32],
    /// This server's public addresses (the issuer, `PUBLIC_URL`): a proof's
    /// `htu` is one of them with the request's path.
    bases: Vec<url::Url>,
}

impl Dpop {
    pub fn new(db: Db, server_secret: &[u8], bases: &[&url::Url]) -> Self {
        Self {
            db,
            nonce_key: super::derive_key(server_secret, b"dpop nonce"),
            bases: bases.iter().map(|base| (*base).clone()).collect(),
        }
    }

    /// The origin the board's own pages name in their proofs' `htu`: the
    /// public address, whatever name the browser reached the server by (a
    /// proxy's, an IP address), so that proofs always match what this
    /// server checks.
    pub fn page_base(&self) -> &str {
        self.bases
            .last()
            .map_or("", |base| base.as_str().trim_end_matches('/'))
    }

    /// The nonce to give out now.
    pub fn nonce(&self) -> String {
        self.nonce_of(unix_now() / NONCE_PERIOD)
    }

    fn nonce_of(&self, period: u64) -> String {
        let mac = super::hmac_sha256(&self.nonce_key, &period.to_be_bytes());
        let mut raw = period.to_be_bytes().to_vec();
        raw.extend_from_slice(&mac[..16]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn nonce_is_current(&self, nonce: &str) -> bool {
        use subtle::ConstantTimeEq;
        let now = unix_now() / NONCE_PERIOD;
        [now, now.saturating_sub(1)]
            .into_iter()
            .any(|period| bool::from(self.nonce_of(period).as_bytes().ct_eq(nonce.as_bytes())))
    }

    /// Checks `proof` for `request`; the key's thumbprint when it passes.
    /// Its `jti` is spent only once everything else holds.
    pub async fn check(&self, proof: &str, request: Request<'_>) -> Result<Proven, DpopError> {
        self.unspent(proof, request)?.spend(self).await
    }

    /// Everything `check` checks but the `jti`, which costs a write to the
    /// database: a caller that still has limits to apply spends it after
    /// them (`Unspent::spend`), so refused requests write nothing.
    pub fn unspent(&self, proof: &str, request: Request<'_>) -> Result<Unspent, DpopError> {
        let (claims, jwk) = self.verified(proof)?;
        if claims.htm != request.method {
            return Err(DpopError::Invalid("The proof is for another method (htm)."));
        }
        if !self.is_own(&claims.htu, request.path) {
            return Err(DpopError::Invalid(
                "The proof is for another address (htu).",
            ));
        }
        let now = unix_now();
        if claims.iat > now + AHEAD || claims.iat + WINDOW < now {
            return Err(DpopError::Invalid(
                "The proof was not made within the last minute (iat).",
            ));
        }
        if let Some(token) = request.access_token {
            let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
            if claims.ath.as_deref() != Some(expected.as_str()) {
                return Err(DpopError::Invalid(
                    "The proof is not for this access token (ath).",
                ));
            }
        }
        if !claims
            .nonce
            .as_deref()
            .is_some_and(|n| self.nonce_is_current(n))
        {
            return Err(DpopError::UseNonce(self.nonce()));
        }
        let jkt = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| DpopError::Invalid("The proof's key cannot be used (jwk)."))?;
        let mut spent = Sha256::new();
        spent.update(jkt.as_bytes());
        spent.update([0]);
        spent.update(claims.jti.as_bytes());
        let remembered_until =
            i64::try_from((claims.iat.max(now) + WINDOW + 1 + CLOCK_SPREAD) * 1000)
                .unwrap_or(i64::MAX);
        Ok(Unspent {
            jkt,
            jti_hash: spent.finalize().into(),
            remembered_until,
        })
    }

    /// The proof's claims and key, when its header is a DPoP proof's and
    /// its signature is the key's.
    fn verified(&self, proof: &str) -> Result<(ProofClaims, Jwk), DpopError> {
        if proof.len() > MAX_PROOF {
            return Err(DpopError::Invalid("The proof is too long."));
        }
        let malformed = || DpopError::Invalid("The proof is not a JWT.");
        let encoded_header = proof.split('.').next().ok_or_else(malformed)?;
        let raw_header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(encoded_header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(malformed)?;
        let is_dpop = raw_header
            .get("typ")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt"));
        if !is_dpop {
            return Err(DpopError::Invalid("The proof's typ is not dpop+jwt."));
        }
        let Some(raw_jwk) = raw_header.get("jwk").and_then(serde_json::Value::as_object) else {
            return Err(DpopError::Invalid("The proof carries no public key (jwk)."));
        };
        if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.contains_key(*m)) {
            return Err(DpopError::Invalid(
                "The proof's jwk holds a private or symmetric key.",
            ));
        }
        let header = jsonwebtoken::decode_header(proof).map_err(|_| malformed())?;
        let allowed = [
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::ES384,
            Algorithm::RS256,
            Algorithm::PS256,
        ];
        if !allowed.contains(&header.alg) {
            return Err(DpopError::Invalid(
                "The proof's alg is not one this server accepts.",
            ));
        }
        if !key_fits(header.alg, raw_jwk) {
            return Err(DpopError::Invalid(
                "The proof's jwk is not a key of its alg (curve, or RSA of 2048 to 4096 bits with e=65537).",
            ));
        }
        let jwk = header
            .jwk
            .ok_or(DpopError::Invalid("The proof carries no public key (jwk)."))?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| DpopError::Invalid("The proof's key cannot be used (jwk)."))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
            .map_err(|_| DpopError::Invalid("The proof's signature or claims are not valid."))?
            .claims;
        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI {
            return Err(DpopError::Invalid(
                "The proof's jti is missing or too long.",
            ));
        }
        Ok((claims, jwk))
    }

    /// Whether `htu` is one of this server's addresses with `path`
    /// (RFC 9449 §4.3): the origin compared normalised (scheme and host in
    /// any case, the default port or none), the path exactly as written
    /// (no dot segment resolved, on either side), query and fragment left
    /// out.
    fn is_own(&self, htu: &str, path: &str) -> bool {
        let Ok(parsed) = url::Url::parse(htu) else {
            return false;
        };
        let Some(written) = written_path(htu) else {
            return false;
        };
        self.bases.iter().any(|base| {
            base.origin() == parsed.origin()
                && written
                    .strip_prefix(base.path().trim_end_matches('/'))
                    .is_some_and(|rest| rest == path)
        })
    }
}

/// The path of an absolute URL as written: from the first `/` after the
/// authority to `?` or `#`.
fn written_path(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let start = rest.find(['/', '?', '#'])?;
    let rest = &rest[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Whether a proof's `jwk` is a key of `alg`: the curve its algorithm
/// signs with, or an RSA key of 2048 to 4096 bits with the usual exponent
/// (RFC 7518 §3.3; a larger exponent costs the server more to verify).
fn key_fits(alg: Algorithm, jwk: &serde_json::Map<String, serde_json::Value>) -> bool {
    let member = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    match alg {
        Algorithm::ES256 => member("kty") == Some("EC") && member("crv") == Some("P-256"),
        Algorithm::ES384 => member("kty") == Some("EC") && member("crv") == Some("P-384"),
        Algorithm::EdDSA => member("kty") == Some("OKP") && member("crv") == Some("Ed25519"),
        Algorithm::RS256 | Algorithm::PS256 => {
            let modulus = member("n")
                .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
                .map(|n| n.len() - n.iter().take_while(|b| **b == 0).count());
            member("kty") == Some("RSA")
                && member("e") == Some("AQAB")
                && modulus.is_some_and(|bytes| (256..=512).contains(&bytes))
        }
        _ => false,
    }
}

/// The thumbprint a `dpop_jkt` parameter may be: SHA-256, base64url.
pub fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn dpop(bases: &[&str]) -> (tempfile::TempDir, Dpop) {
        let bases: Vec<url::Url> = bases.iter().map(|b| url::Url::parse(b).unwrap()).collect();
        let refs: Vec<&url::Url> = bases.iter().collect();
        let (dir, sqlite) = crate::store::scratch_sqlite().await;
        (dir, Dpop::new(Db::Sqlite(sqlite), b"secret", &refs))
    }

    #[tokio::test]
    async fn htu_is_one_of_the_server_s_addresses_with_the_path() {
        let (_dir, dpop) = dpop(&["https://board.example", "https://id.example/auth"]).await;
        assert!(dpop.is_own("https://board.example/api/me", "/api/me"));
        assert!(dpop.is_own("HTTPS://Board.Example:443/api/me?x=1#y", "/api/me"));
        assert!(dpop.is_own("https://id.example/auth/oauth/token", "/oauth/token"));
        assert!(!dpop.is_own("https://board.example/api/me", "/api/posts"));
        assert!(!dpop.is_own("http://board.example/api/me", "/api/me"));
        assert!(!dpop.is_own("https://board.example:8443/api/me", "/api/me"));
        assert!(!dpop.is_own("https://evil.example/api/me", "/api/me"));
        assert!(!dpop.is_own("not a url", "/api/me"));
        assert!(!dpop.is_own("https://board.example/api/posts/..", "/api/"));
        assert!(!dpop.is_own("https://board.example/api/", "/api/posts/%2e%2e"));
        assert!(!dpop.is_own("https://board.example", "/"));
        assert!(dpop.is_own("https://board.example/", "/"));
        assert!(!dpop.is_own("https://id.example/oauth/token", "/oauth/token"));
    }

    #[test]
    fn a_key_must_be_of_its_algorithm() {
        let jwk = |value: serde_json::Value| value.as_object().unwrap().clone();
        let p256 = jwk(serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}));
        assert!(key_fits(Algorithm::ES256, &p256));
        assert!(!key_fits(Algorithm::ES384, &p256));
        assert!(!key_fits(Algorithm::EdDSA, &p256));
        let ed = jwk(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "a"}));
        assert!(key_fits(Algorithm::EdDSA, &ed));
        let rsa = |bytes: usize, e: &str| {
            jwk(
                serde_json::json!({"kty": "RSA", "e": e, "n": URL_SAFE_NO_PAD.encode(vec![0xc5u8; bytes])}),
            )
        };
        assert!(key_fits(Algorithm::RS256, &rsa(256, "AQAB")));
        assert!(key_fits(Algorithm::PS256, &rsa(512, "AQAB")));
        assert!(!key_fits(Algorithm::RS256, &rsa(128, "AQAB")), "1024 bits");
        assert!(!key_fits(Algorithm::RS256, &rsa(513, "AQAB")));
        assert!(
            !key_fits(Algorithm::RS256, &rsa(256, "AQAAAQ")),
            "a large exponent"
        );
    }

    #[tokio::test]
    async fn a_nonce_works_for_its_period_and_the_next_only() {
        let (_dir, dpop) = dpop(&["https://board.example"]).await;
        let now = unix_now() / NONCE_PERIOD;
        assert!(dpop.nonce_is_current(&dpop.nonce()));
        assert!(dpop.nonce_is_current(&dpop.nonce_of(now - 1)));
        assert!(!dpop.nonce_is_current(&dpop.nonce_of(now - 2)));
        assert!(!dpop.nonce_is_current(&dpop.nonce_of(now + 1)));
        let other = Dpop::new(dpop.db.clone(), b"another secret", &[]);
        assert!(!dpop.nonce_is_current(&other.nonce()));
    }

    #[test]
    fn a_thumbprint_is_43_base64url_characters() {
        assert!(is_thumbprint(&"A".repeat(43)));
        assert!(!is_thumbprint(&"A".repeat(42)));
        assert!(!is_thumbprint(&format!("{}=", "A".repeat(42))));
    }
}
