//! Secrets sent by mail. Links carry a token of 256 random bits, shown once
//! in the mail, stored only as an HMAC-SHA256 under a key of their own
//! derived from the server secret, so a copy of the database holds no
//! usable link. A sign-in code is 8 digits, to type: it is stored as an
//! HMAC of the account's id and the code under another key, so a copy of
//! the database does not let anyone try the 10^8 codes offline, and a code
//! is worth nothing for another account.

use std::time::Duration;

use crate::store::email_tokens::Purpose;

/// How long a password-reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a link proving an address works.
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a sign-in code works.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// A sign-in code's digits.
pub const CODE_DIGITS: usize = 8;

/// Mints and hashes mailed tokens and sign-in codes.
#[derive(Clone)]
pub struct EmailTokens {
    key: [u8; 32],
    code_key: [u8; 32],
}

impl EmailTokens {
    pub fn new(server_secret: &[u8]) -> Self {
        Self {
            key: super::derive_key(server_secret, b"classboard mailed token hash key"),
            code_key: super::derive_key(server_secret, b"classboard mailed sign-in code key"),
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

    /// A new sign-in code for `user_id`, uniform over its 10^8 values, and
    /// the hash to store.
    pub fn mint_code(&self, user_id: &str) -> (String, [u8; 32]) {
        let code = super::random_digits(CODE_DIGITS);
        let hash = self.code_hash(user_id, &code);
        (code, hash)
    }

    /// The stored form of `code` (as [`code`] reads it) for `user_id`.
    pub fn code_hash(&self, user_id: &str, code: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(user_id.len() + 1 + code.len());
        data.extend_from_slice(user_id.as_bytes());
        data.push(0);
        data.extend_from_slice(code.as_bytes());
        super::hmac_sha256(&self.code_key, &data)
    }
}

/// A sign-in code as typed, read as its digits: spaces and hyphens, which
/// people add while copying, are dropped. `None` unless 8 ASCII digits
/// remain.
pub fn code(typed: &str) -> Option<String> {
    super::typed_digits(typed, CODE_DIGITS)
}

/// How long a token of `purpose` works.
pub fn lifetime(purpose: Purpose) -> Duration {
    match purpose {
        Purpose::ResetPassword => RESET_TTL,
        Purpose::VerifyEmail | Purpose::ChangeEmail => VERIFY_TTL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits_and_belong_to_one_account() {
        let tokens = EmailTokens::new(b"secret");
        let (code_a, hash_a) = tokens.mint_code("a");
        assert_eq!(code_a.len(), CODE_DIGITS);
        assert!(code_a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(tokens.code_hash("a", &code_a), hash_a);
        assert_ne!(tokens.code_hash("b", &code_a), hash_a);
        // Not the link tokens' key.
        assert_ne!(tokens.hash(&code_a), hash_a);
    }

    #[test]
    fn typed_codes_are_read_as_their_digits() {
        assert_eq!(code("1234 5678").as_deref(), Some("12345678"));
        assert_eq!(code(" 1234-5678 ").as_deref(), Some("12345678"));
        assert_eq!(code("1234567"), None);
        assert_eq!(code("123456789"), None);
        assert_eq!(code("1234567a"), None);
        // Other scripts' digits are not ASCII digits.
        assert_eq!(code("１２３４５６７８"), None);
    }
}
