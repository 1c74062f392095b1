//! Secrets stored encrypted: ChaCha20-Poly1305 under a key derived from the
//! server secret (which every instance is given), a random nonce per
//! value, and associated data that binds each value to what it belongs to
//! (a signing key's kid, a TOTP secret's account), so that a sealed value
//! copied to another row does not open.

use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, Payload},
};
/// Seals and opens values under one derived key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    /// The sealer for one purpose: `label` names it, so each purpose has a
    /// key of its own.
    pub fn derive(secret: &[u8], label: &[u8]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&super::derive_key(secret, label).into()),
        }
    }

    /// `nonce || ciphertext` of `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
            .expect("ChaCha20-Poly1305 encrypts any message this size");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The plain text of `sealed`, if it was sealed for `aad` under this key.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &[u8] = b"a purpose";

    #[test]
    fn a_sealed_value_opens_only_for_its_owner_purpose_and_secret() {
        let sealer = Sealer::derive(b"a server secret of thirty-two bytes!", LABEL);
        let sealed = sealer.seal(b"kid-1", b"private half");
        assert_eq!(
            sealer.open(b"kid-1", &sealed).as_deref(),
            Some(&b"private half"[..])
        );
        assert_eq!(
            sealer.open(b"kid-2", &sealed),
            None,
            "moved to another owner"
        );
        let other = Sealer::derive(b"another server secret, also long enough", LABEL);
        assert_eq!(other.open(b"kid-1", &sealed), None, "another secret");
        let purpose = Sealer::derive(b"a server secret of thirty-two bytes!", b"another purpose");
        assert_eq!(purpose.open(b"kid-1", &sealed), None, "another purpose");
        assert!(
            !sealed.windows(12).any(|w| w == b"private half"),
            "not in clear"
        );
        assert_ne!(
            sealed,
            sealer.seal(b"kid-1", b"private half"),
            "a fresh nonce each time"
        );
    }
}
