//! The authentication core: passwords, access tokens, sessions and refresh
//! tokens, revocation and abuse limits. Nothing here knows about HTTP.

pub mod blocklist;
pub mod dpop;
pub mod email_tokens;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod mfa;
pub mod normalize;
pub mod passkeys;
pub mod password;
pub mod phones;
pub mod proof;
pub mod refresh_token;
pub mod revocation;
pub mod rs256;
pub mod sealing;
pub mod sessions;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `N` random bytes, written URL-safe: an opaque secret to show once (a
/// mailed link's token, a second step's `mfa_token`, a passkey ceremony,
/// an app's secret at 32 bytes), or an id no one can guess (16).
pub fn random_url_safe<const N: usize>() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut raw = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// `digits` random decimal digits, uniform (leading zeros kept): a code a
/// person types, sent by mail or by text.
pub fn random_digits(digits: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..digits)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A code as typed, read as its `digits` digits: spaces and hyphens, which
/// people add while copying, are dropped. `None` unless exactly that many
/// ASCII digits remain.
pub fn typed_digits(typed: &str, digits: usize) -> Option<String> {
    let kept: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (kept.len() == digits && kept.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

/// A key of its own for one use of the server secret, named by `label`:
/// no two uses (refresh-token tags, counter names, sealing, second-factor
/// hashes) ever share a key.
pub fn derive_key(secret: &[u8], label: &[u8]) -> [u8; 32] {
    hmac_sha256(secret, label)
}
