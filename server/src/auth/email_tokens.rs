//! Tokens sent by mail: 256 random bits, shown once in the mail, stored only
//! as an HMAC-SHA256 under a key of their own derived from the server
//! secret, so a copy of the database holds no usable link.

use std::time::Duration;

use crate::store::email_tokens::Purpose;

/// How long a password-reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a link proving an address works.
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Mints and hashes mailed tokens.
#[derive(Clone)]
pub struct EmailTokens {
    key: [u8; 32],
}

impl EmailTokens {
    pub fn new(server_secret: &[u8]) -> Self {
        Self {
            key: super::derive_key(server_secret, b"classboard mailed token hash key"),
        }
    }

    /// A new token, and the hash to store.
    pub fn mint(&self) -> (String, [u8; 32]) {
        let token = super::random_url_safe::<32>();
        let hash = self.hash(&token);
        (token, hash)
    }

    /// The stored form of a presented token.
    pub fn hash(&self, token: &str) -> [u8; 32] {
        super::hmac_sha256(&self.key, token.trim().as_bytes())
    }
}

/// How long a token of `purpose` works.
pub fn lifetime(purpose: Purpose) -> Duration {
    match purpose {
        Purpose::ResetPassword => RESET_TTL,
        Purpose::VerifyEmail | Purpose::ChangeEmail => VERIFY_TTL,
    }
}
