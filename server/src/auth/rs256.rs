//! RS256 signatures for jsonwebtoken, by ring. jsonwebtoken's RustCrypto
//! provider parses an RSA private key anew for every signature (and checks
//! it, and computes its CRT values), which made an ID token cost most of a
//! code exchange. This provider is RustCrypto's for everything but RS256
//! signing, where ring signs with the key parsed once and kept. Installed
//! once per process, before the first token ([`install`]).

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, Once},
};

use jsonwebtoken::{
    Algorithm, EncodingKey,
    crypto::{CryptoProvider, JwtSigner, rust_crypto},
    errors::Result,
};
use ring::{
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};

/// RustCrypto's provider but for RS256 signing.
static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: signer,
    ..rust_crypto::DEFAULT_PROVIDER.clone()
});

/// Makes this module's provider jsonwebtoken's, once per process.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Refused only when another provider was installed first, which
        // nothing in this process does.
        let _ = CryptoProvider::install_default(&PROVIDER);
    });
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match alg {
        // A key ring will not take (shorter than 2048 bits, say, from
        // JWT_PRIVATE_KEY_FILE) is signed with as before.
        Algorithm::RS256 => match parsed(key.as_bytes()) {
            Some(pair) => Ok(Box::new(Rs256(pair))),
            None => {
                static TOLD: Once = Once::new();
                TOLD.call_once(|| {
                    tracing::warn!(
                        "an RS256 key that ring refuses is signed with RustCrypto (slower)"
                    );
                });
                (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key)
            }
        },
        _ => (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key),
    }
}

/// The key pair of a PKCS#1 DER private key, parsed once: the ring holds a
/// handful of keys at most.
fn parsed(der: &[u8]) -> Option<Arc<RsaKeyPair>> {
    static KEPT: LazyLock<Mutex<HashMap<Vec<u8>, Arc<RsaKeyPair>>>> = LazyLock::new(Mutex::default);
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pair) = kept.get(der) {
        return Some(pair.clone());
    }
    let pair = Arc::new(RsaKeyPair::from_der(der).ok()?);
    if kept.len() >= 64 {
        kept.clear();
    }
    kept.insert(der.to_vec(), pair.clone());
    Some(pair)
}

struct Rs256(Arc<RsaKeyPair>);

impl signature::Signer<Vec<u8>> for Rs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| signature::Error::new())?;
        Ok(signature)
    }
}

impl JwtSigner for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Header, Validation};

    /// ring's signature is RustCrypto's: what one signs, the other (and
    /// jsonwebtoken's verification) accepts.
    #[test]
    fn ring_signs_what_rustcrypto_verifies() {
        install();
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        assert!(
            parsed(encoding.as_bytes()).is_some(),
            "ring takes the key: it signs"
        );
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let claims = serde_json::json!({"sub": "a", "exp": 4_000_000_000u64});
        for _ in 0..2 {
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &encoding).unwrap();
            let mut validation = Validation::new(Algorithm::RS256);
            validation.required_spec_claims.clear();
            let read =
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(read.claims["sub"], "a");
        }
    }
}
