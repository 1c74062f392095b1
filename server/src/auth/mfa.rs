//! Second factors: TOTP (RFC 6238, through `totp-rs`) whose time steps are
//! never accepted twice for an account, recovery codes stored only as keyed
//! hashes, and the challenges (`mfa_token`s) of logins that wait for a
//! second factor.
//!
//! The TOTP secret is sealed at rest with a key derived from the server
//! secret, bound to its account; recovery codes and `mfa_token`s are stored
//! as HMAC-SHA256 under keys derived from it, so a copy of the database
//! yields neither a code generator nor a usable code.

use std::time::Duration;

use classboard::api::EventKind;
use rand::{Rng, RngCore};
use totp_rs::{Algorithm, Secret, TOTP};

use super::phones;
pub use crate::store::mfa::Factors;
use crate::{
    auth::sealing::Sealer,
    store::{
        Db,
        mfa::{self as stored, ChallengeRow, Presented, Redeemed},
        now_ms,
        rows::{Event, Origin},
    },
};

/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "classboard";
/// What the key of second-factor hashes is derived under.
pub const HASH_KEY_LABEL: &[u8] = b"classboard second-factor hash key";
/// How long a login waits for its second factor.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Seconds of a TOTP time step.
const STEP_SECS: u64 = 30;
/// Digits of a TOTP code.
const DIGITS: usize = 6;
/// Characters of a recovery code: 12 of Crockford's base32, 60 bits.
const RECOVERY_CODE_CHARS: usize = 12;
/// Crockford's base32 alphabet: no I, L, O or U to misread.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new TOTP secret, as shown to its owner once.
#[derive(Debug)]
pub struct Enrolment {
    /// The secret in base32, for people who type it.
    pub secret: String,
    pub otpauth_uri: String,
}

/// What a first code says of the account's pending secret.
#[derive(Debug)]
pub enum Pending {
    /// It matches: the secret made at `created_at`, at time step `step`.
    Matches { created_at: i64, step: i64 },
    /// The code does not match the pending secret.
    WrongCode,
    /// No secret is pending (none started, replaced, confirmed, or older
    /// than ten minutes).
    Nothing,
}

/// TOTP turned on: the recovery codes, shown once, and the sessions that
/// signed in with the password alone, which ended.
#[derive(Debug)]
pub struct TurnedOn {
    pub recovery_codes: Vec<String>,
    pub ended: Vec<String>,
}

/// The second factor a login's second step presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
    /// A code texted to the account's phone.
    Sms,
}

/// What the second step of a login did.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the account, the login's user agent and when the password
    /// was checked; for a recovery code, its set.
    Done {
        challenge: ChallengeRow,
        recovery_set: Option<i64>,
        /// For a texted code, when the phone it went to was confirmed.
        phone_since: Option<i64>,
    },
    /// A wrong code; `ended` when it was the challenge's last allowed one.
    Wrong { ended: bool },
    /// Unknown, expired, used or ended `mfa_token`.
    Gone,
}

/// An error of the second-factor store.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a stored TOTP secret cannot be opened (was the server secret changed?)")]
    Unsealable,
}

/// Second factors of every account.
#[derive(Clone)]
pub struct SecondFactors {
    db: Db,
    sealer: Sealer,
    /// Keys the hashes of recovery codes, of `mfa_token`s and of texted
    /// codes.
    hash_key: [u8; 32],
    /// Whether a confirmed phone is a second factor (`SMS_SECOND_FACTOR`).
    sms: bool,
}

impl SecondFactors {
    pub fn new(db: Db, server_secret: &[u8], sms: bool) -> Self {
        Self {
            db,
            sealer: Sealer::derive(server_secret, b"classboard totp secret encryption key"),
            hash_key: super::derive_key(server_secret, HASH_KEY_LABEL),
            sms,
        }
    }

    /// What `user_id` has as second factors; a phone only while SMS is one.
    pub async fn factors(&self, user_id: &str) -> Result<Factors, MfaError> {
        let mut factors = stored::factors(&self.db, user_id).await?;
        if !self.sms {
            factors.phone_since = None;
        }
        Ok(factors)
    }

    /// Whether a confirmed phone is a second factor.
    pub fn sms(&self) -> bool {
        self.sms
    }

    /// A new code to text for `purpose` of `user_id`, and its stored hash.
    pub fn sms_code(&self, user_id: &str, purpose: phones::Purpose) -> (String, [u8; 32]) {
        phones::mint(&self.hash_key, user_id, purpose)
    }

    /// The stored hash of a texted code as typed; `None` when it cannot be
    /// one.
    pub fn sms_hash(
        &self,
        user_id: &str,
        purpose: phones::Purpose,
        typed: &str,
    ) -> Option<Vec<u8>> {
        phones::code(typed)
            .map(|code| phones::hash(&self.hash_key, user_id, purpose, &code).to_vec())
    }

    /// Makes a new pending secret for `user_id`, replacing a pending one.
    /// `None` when TOTP is already on.
    pub async fn begin(
        &self,
        user_id: &str,
        username: &str,
    ) -> Result<Option<Enrolment>, MfaError> {
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut secret);
        let sealed = self.sealer.seal(&aad(user_id), &secret);
        if !stored::begin_totp(&self.db, user_id, &sealed, now_ms()).await? {
            return Ok(None);
        }
        let encoded = match Secret::Raw(secret).to_encoded() {
            Secret::Encoded(encoded) => encoded,
            Secret::Raw(_) => unreachable!("to_encoded encodes"),
        };
        Ok(Some(Enrolment {
            otpauth_uri: otpauth_uri(&encoded, username),
            secret: encoded,
        }))
    }

    /// Whether `code` matches the account's pending secret, without using
    /// anything: a check that runs before the proof of presence is taken.
    pub async fn pending(&self, user_id: &str, code: &str) -> Result<Pending, MfaError> {
        let Some(row) = stored::totp(&self.db, user_id).await? else {
            return Ok(Pending::Nothing);
        };
        let now = now_ms();
        if row.confirmed_at.is_some() || row.created_at <= now - stored::PENDING_FOR_MS {
            return Ok(Pending::Nothing);
        }
        let secret = self.open(user_id, &row.secret)?;
        Ok(match matching_step(&secret, code, now) {
            Some(step) => Pending::Matches {
                created_at: row.created_at,
                step,
            },
            None => Pending::WrongCode,
        })
    }

    /// Turns TOTP on with the pending secret made at `created_at`, whose
    /// code matched time step `step` (which counts as used), and ends the
    /// sessions that signed in with the password alone but `keep` (the
    /// caller's). `None` when that secret is no longer pending.
    pub async fn turn_on(
        &self,
        (user_id, keep): (&str, &str),
        (created_at, step): (i64, i64),
        origin: &Origin,
    ) -> Result<Option<TurnedOn>, MfaError> {
        let (codes, hashes) = self.recovery_codes();
        let event = Event::new(EventKind::SecondFactorAdded, user_id, origin).detail("TOTP");
        let ended =
            stored::confirm_totp(&self.db, (user_id, keep), created_at, step, &hashes, &event)
                .await?;
        Ok(ended.map(|ended| TurnedOn {
            recovery_codes: codes,
            ended,
        }))
    }

    /// Turns TOTP off and removes the recovery codes (unless a passkey
    /// remains), ending the sessions that signed in with them but `keep`;
    /// `None` if it was off.
    pub async fn turn_off(
        &self,
        (user_id, keep): (&str, &str),
        origin: &Origin,
    ) -> Result<Option<Vec<String>>, MfaError> {
        let event = Event::new(EventKind::SecondFactorRemoved, user_id, origin).detail("TOTP");
        Ok(stored::remove_totp(&self.db, (user_id, keep), &event).await?)
    }

    /// A new set of recovery codes, replacing the old (whose sessions but
    /// `keep` end), and the sessions ended; `None` without a second factor.
    pub async fn new_recovery_codes(
        &self,
        (user_id, keep): (&str, &str),
        origin: &Origin,
    ) -> Result<Option<(Vec<String>, Vec<String>)>, MfaError> {
        let (codes, hashes) = self.recovery_codes();
        let event =
            Event::new(EventKind::SecondFactorAdded, user_id, origin).detail("new recovery codes");
        let replaced =
            stored::replace_recovery_codes(&self.db, (user_id, keep), &hashes, &event).await?;
        Ok(replaced.map(|ended| (codes, ended)))
    }

    /// Checks and uses `code` (a TOTP code, a recovery code, or a code
    /// texted for a proof) for `user_id` outside a login:
    /// re-authentication. A code is used once.
    pub async fn check(&self, user_id: &str, code: &str) -> Result<bool, MfaError> {
        let now = now_ms();
        let method = if looks_like_totp(code) {
            Method::Totp
        } else {
            Method::RecoveryCode
        };
        let presented = self.presented(user_id, method, code, now).await?;
        if stored::use_factor(&self.db, user_id, &presented, now).await? {
            return Ok(true);
        }
        // A code that is no TOTP code of the account's may be the code
        // texted for this proof, if the account takes texted codes.
        if phones::code(code).is_some() && self.factors(user_id).await?.sms_usable() {
            let purpose = phones::Purpose::Proof;
            if let Some(hash) = self.sms_hash(user_id, purpose, code) {
                let texted = Presented::SmsCode(purpose, hash);
                return Ok(stored::use_factor(&self.db, user_id, &texted, now).await?);
            }
        }
        Ok(false)
    }

    /// Starts the second step of a login whose first step (`first`: the
    /// password, or a code by mail) saw the account's credentials at
    /// `version`: a new `mfa_token`, single use.
    /// `None` when they have moved on since (a reset or change committed).
    pub async fn challenge(
        &self,
        (user_id, version, first): (&str, i64, super::sessions::First),
        user_agent: Option<&str>,
    ) -> Result<Option<String>, MfaError> {
        let token = super::random_url_safe::<32>();
        let ttl = i64::try_from(CHALLENGE_TTL.as_millis()).unwrap_or(i64::MAX);
        let created = stored::create_challenge(
            &self.db,
            &self.keyed(token.as_bytes()),
            (user_id, version, first.as_str()),
            user_agent,
            now_ms(),
            ttl,
        )
        .await?;
        Ok(created.then_some(token))
    }

    /// The account a live `mfa_token` belongs to, by a read.
    pub async fn challenged(&self, token: &str) -> Result<Option<ChallengeRow>, MfaError> {
        Ok(stored::challenge(&self.db, &self.keyed(token.as_bytes()), now_ms()).await?)
    }

    /// The second step of a login: redeems `token` with `code`.
    pub async fn redeem(
        &self,
        token: &str,
        user_id: &str,
        method: Method,
        code: &str,
    ) -> Result<Outcome, MfaError> {
        let now = now_ms();
        let presented = self.presented(user_id, method, code, now).await?;
        let redeemed =
            stored::redeem(&self.db, &self.keyed(token.as_bytes()), &presented, now).await?;
        Ok(outcome(redeemed))
    }

    /// The second step of a login with a passkey, whose assertion was
    /// checked (`verified`) or refused: redeems `token`, or counts a failure
    /// on it.
    pub async fn redeem_passkey(&self, token: &str, verified: bool) -> Result<Outcome, MfaError> {
        let presented = if verified {
            Presented::Passkey
        } else {
            Presented::Wrong
        };
        let redeemed = stored::redeem(
            &self.db,
            &self.keyed(token.as_bytes()),
            &presented,
            now_ms(),
        )
        .await?;
        Ok(outcome(redeemed))
    }

    /// What `code`, presented as `method`, is for `user_id`, as far as can
    /// be told without using it: the time step it matches, or the recovery
    /// code's hash.
    async fn presented(
        &self,
        user_id: &str,
        method: Method,
        code: &str,
        now: i64,
    ) -> Result<Presented, MfaError> {
        Ok(match method {
            Method::Totp => self.totp_step(user_id, code, now).await?,
            Method::RecoveryCode => self
                .recovery_hash(code)
                .map_or(Presented::Wrong, Presented::RecoveryCode),
            Method::Sms => {
                let purpose = phones::Purpose::Login;
                match self.sms_hash(user_id, purpose, code) {
                    Some(hash) if self.factors(user_id).await?.sms_usable() => {
                        Presented::SmsCode(purpose, hash)
                    }
                    _ => Presented::Wrong,
                }
            }
        })
    }

    /// The time step `code` matches on the account's confirmed secret.
    async fn totp_step(&self, user_id: &str, code: &str, now: i64) -> Result<Presented, MfaError> {
        let Some(row) = stored::totp(&self.db, user_id).await? else {
            return Ok(Presented::Wrong);
        };
        if row.confirmed_at.is_none() {
            return Ok(Presented::Wrong);
        }
        let secret = self.open(user_id, &row.secret)?;
        Ok(matching_step(&secret, code, now).map_or(Presented::Wrong, Presented::TotpStep))
    }

    fn open(&self, user_id: &str, sealed: &[u8]) -> Result<Vec<u8>, MfaError> {
        self.sealer
            .open(&aad(user_id), sealed)
            .ok_or(MfaError::Unsealable)
    }

    /// Ten new recovery codes, and their hashes.
    fn recovery_codes(&self) -> (Vec<String>, Vec<Vec<u8>>) {
        let mut rng = rand::rng();
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| {
                let chars: String = (0..RECOVERY_CODE_CHARS)
                    .map(|_| char::from(CROCKFORD[rng.random_range(0..CROCKFORD.len())]))
                    .collect();
                format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
            })
            .collect();
        let hashes = codes
            .iter()
            .map(|code| {
                self.recovery_hash(code)
                    .expect("a code this server made reads back")
            })
            .collect();
        (codes, hashes)
    }

    /// The stored hash of a recovery code as typed: any case, with or
    /// without spaces and dashes. `None` when it cannot be one.
    fn recovery_hash(&self, typed: &str) -> Option<Vec<u8>> {
        normalise_recovery_code(typed).map(|code| self.keyed(code.as_bytes()))
    }

    /// HMAC-SHA256 of `data` under the hash key.
    fn keyed(&self, data: &[u8]) -> Vec<u8> {
        super::hmac_sha256(&self.hash_key, data).to_vec()
    }
}

fn outcome(redeemed: Redeemed) -> Outcome {
    match redeemed {
        Redeemed::Done {
            challenge,
            recovery_set,
            phone_since,
        } => Outcome::Done {
            challenge,
            recovery_set,
            phone_since,
        },
        Redeemed::Wrong { ended } => Outcome::Wrong { ended },
        Redeemed::Gone => Outcome::Gone,
    }
}

/// A recovery code as stored: lower case, no spaces or dashes, the letters
/// Crockford's base32 reads as digits (`o`, `i`, `l`) read so.
fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        })
        .collect();
    (code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| CROCKFORD.contains(&b)))
        .then_some(code)
}

/// Whether `code` is shaped like a TOTP code (six digits, spaces allowed).
pub fn looks_like_totp(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS && digits.iter().all(char::is_ascii_digit)
}

/// The time step, among the current one and one either side, whose code
/// `code` is; compared in constant time by `totp-rs`.
fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !looks_like_totp(&code) {
        return None;
    }
    // Skew 0: each candidate step is checked on its own, to know which one
    // matched (the one then marked used).
    let totp = TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECS, secret.to_vec());
    let now = u64::try_from(now_ms / 1000).ok()?;
    let current = now / STEP_SECS;
    [current + 1, current, current.saturating_sub(1)]
        .into_iter()
        .find(|step| totp.check(&code, step * STEP_SECS))
        .and_then(|step| i64::try_from(step).ok())
}

/// The `otpauth://` URI of a secret, with every parameter spelled out
/// (authenticator apps differ in what they assume when one is missing).
fn otpauth_uri(encoded_secret: &str, username: &str) -> String {
    let mut uri = url::Url::parse("otpauth://totp/").expect("a valid base");
    uri.set_path(&format!("{ISSUER}:{username}"));
    uri.query_pairs_mut()
        .append_pair("secret", encoded_secret)
        .append_pair("issuer", ISSUER)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", "6")
        .append_pair("period", "30");
    uri.to_string()
}

/// What a sealed TOTP secret is bound to: its account.
fn aad(user_id: &str) -> Vec<u8> {
    [b"totp:".as_slice(), user_id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at
    /// 59 s gives 94287082 (8 digits); its last six are the 6-digit code.
    #[test]
    fn codes_match_the_rfc_test_vector_and_one_step_either_side() {
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59_000), Some(1));
        // 59 s is step 1: step 0's code and step 2's are accepted too, a
        // code three steps away is not.
        let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, secret.to_vec());
        assert_eq!(matching_step(secret, &totp.generate(0), 59_000), Some(0));
        assert_eq!(matching_step(secret, &totp.generate(60), 59_000), Some(2));
        assert_eq!(matching_step(secret, &totp.generate(120), 59_000), None);
        assert_eq!(matching_step(secret, "287 082", 59_000), Some(1));
        assert_eq!(matching_step(secret, "28708", 59_000), None);
        assert_eq!(matching_step(secret, "2870820", 59_000), None);
        assert_eq!(matching_step(secret, "２８７０８２", 59_000), None);
    }

    #[test]
    fn recovery_codes_are_read_in_any_case_with_or_without_separators() {
        let stored = normalise_recovery_code("k7m2-9qpx-3h4d").unwrap();
        for typed in [
            "K7M2-9QPX-3H4D",
            "k7m2 9qpx 3h4d",
            "k7m29qpx3h4d",
            " k7m2-9qpx-3h4d\n",
        ] {
            assert_eq!(
                normalise_recovery_code(typed).as_deref(),
                Some(stored.as_str())
            );
        }
        // Letters Crockford's base32 reads as digits.
        assert_eq!(
            normalise_recovery_code("oooo-iiii-llll").as_deref(),
            Some("000011111111")
        );
        for wrong in [
            "",
            "k7m2-9qpx",
            "k7m2-9qpx-3h4d-0",
            "k7m2-9qpx-3h4u",
            "k7m2-9qpx-3h4é",
        ] {
            assert_eq!(normalise_recovery_code(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn the_otpauth_uri_spells_out_every_parameter() {
        assert_eq!(
            otpauth_uri("JBSWY3DPEHPK3PXP", "ada"),
            "otpauth://totp/classboard:ada?secret=JBSWY3DPEHPK3PXP&issuer=classboard&algorithm=SHA1&digits=6&period=30"
        );
    }
}
