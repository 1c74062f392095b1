//! Refresh tokens as clients hold them: 256 random bits and a 128-bit tag,
//! base64url (64 characters). The tag is an HMAC of the random part under a
//! key derived from the server's secret, so a token this server never minted
//! is recognised in memory and refused without a database query: junk costs
//! no write lock, however much of it is sent. Only a SHA-256 of each token is
//! stored.
//!
//! A token's successor is derived from it (HMAC under a second key): the same
//! token presented twice within the grace window gets the same successor,
//! without any token being kept readable.
//!
//! Tokens minted before tags existed (43 characters, random bits only) are
//! still accepted until they expire; they are checked against the database.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Random bytes of a token.
const BODY: usize = 32;
/// Bytes of its tag.
const TAG: usize = 16;
/// Characters of a tagged token (48 bytes, base64url without padding).
pub const TOKEN_LEN: usize = 64;
/// Characters of an untagged token of earlier versions (32 bytes).
const LEGACY_LEN: usize = 43;

/// What a presented string is, before any database is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Minted by this server (its tag is right); it may still be spent,
    /// expired or revoked.
    Minted,
    /// The untagged form of earlier versions: only the database can tell.
    Legacy,
    /// Not a token this server could have issued.
    Junk,
}

/// The keys refresh tokens are minted with, derived from the server secret.
#[derive(Clone)]
pub struct TokenKeys {
    tag: [u8; 32],
    successor: [u8; 32],
}

impl TokenKeys {
    /// Derives both keys from `secret`, each with its own label, so refresh
    /// tokens never share a key with access tokens.
    pub fn derive(secret: &[u8]) -> Self {
        Self {
            tag: super::derive_key(secret, b"classboard refresh-token tag key"),
            successor: super::derive_key(secret, b"classboard refresh-token successor key"),
        }
    }

    /// The keys of the apps' refresh tokens, each with labels of its own:
    /// an app's token is junk to the board's refresh endpoint, and the
    /// board's to the token endpoint, before any query.
    pub fn derive_for_apps(secret: &[u8]) -> Self {
        Self {
            tag: super::derive_key(secret, b"classboard app refresh-token tag key"),
            successor: super::derive_key(secret, b"classboard app refresh-token successor key"),
        }
    }

    /// A new token: 256 bits from the OS's CSPRNG, then its tag.
    pub fn mint(&self) -> String {
        let mut body = [0u8; BODY];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut body);
        self.seal(body)
    }

    /// The token that replaces `presented` when it is rotated: always the
    /// same for the same token.
    pub fn successor(&self, presented: &str) -> String {
        let mut mac =
            HmacSha256::new_from_slice(&self.successor).expect("HMAC takes any key length");
        mac.update(presented.as_bytes());
        self.seal(mac.finalize().into_bytes().into())
    }

    /// Classifies `presented` without any I/O.
    pub fn check(&self, presented: &str) -> Presented {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
            return Presented::Junk;
        };
        match (presented.len(), bytes.len()) {
            (TOKEN_LEN, 48) => {
                let (body, tag) = bytes.split_at(BODY);
                let mut mac =
                    HmacSha256::new_from_slice(&self.tag).expect("HMAC takes any key length");
                mac.update(body);
                if mac.verify_truncated_left(tag).is_ok() {
                    Presented::Minted
                } else {
                    Presented::Junk
                }
            }
            (LEGACY_LEN, BODY) => Presented::Legacy,
            _ => Presented::Junk,
        }
    }

    fn seal(&self, body: [u8; BODY]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.tag).expect("HMAC takes any key length");
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        let mut token = [0u8; BODY + TAG];
        token[..BODY].copy_from_slice(&body);
        token[BODY..].copy_from_slice(&tag[..TAG]);
        URL_SAFE_NO_PAD.encode(token)
    }
}

/// What the database stores of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::derive(b"a test secret of thirty-two bytes or more")
    }

    #[test]
    fn minted_tokens_and_their_successors_are_recognised() {
        let keys = keys();
        let token = keys.mint();
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(keys.check(&token), Presented::Minted);
        let next = keys.successor(&token);
        assert_eq!(keys.check(&next), Presented::Minted);
        assert_eq!(
            next,
            keys.successor(&token),
            "the same successor every time"
        );
        assert_ne!(next, token);
        assert_ne!(keys.mint(), token);
    }

    #[test]
    fn another_secret_s_tokens_and_altered_tokens_are_junk() {
        let token = keys().mint();
        let other = TokenKeys::derive(b"another secret of thirty-two bytes or more");
        assert_eq!(other.check(&token), Presented::Junk);
        let mut flipped = token.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            keys().check(&String::from_utf8(flipped).unwrap()),
            Presented::Junk
        );
        assert_eq!(keys().check(""), Presented::Junk);
        assert_eq!(keys().check(&token[..63]), Presented::Junk);
        assert_eq!(keys().check(&format!("{token}=")), Presented::Junk);
    }

    #[test]
    fn untagged_tokens_of_earlier_versions_are_left_to_the_database() {
        let legacy = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(keys().check(&legacy), Presented::Legacy);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Nothing typed at random is ever taken for a minted token, and
        /// nothing makes the check panic.
        #[test]
        fn random_input_is_never_a_minted_token(input in "\\PC{0,100}|[A-Za-z0-9_-]{64}") {
            prop_assert_ne!(keys().check(&input), Presented::Minted);
        }
    }
}
