//! The device authorization grant (RFC 8628): an app on a device without a
//! keyboard (a classroom display, a printer, a command line) asks for a
//! pair of codes, shows the person a short user code and an address, and
//! polls the token endpoint while the person signs in on their phone or
//! laptop at `/device`, types the code, sees which app asks for what, and
//! allows or denies it.
//!
//! - The **user code** is eight letters from twenty consonants (no vowels,
//!   so it spells no word; no letter that looks like a digit or another
//!   letter), shown as `XXXX-XXXX`: about 34.6 bits. It is typed in any
//!   case, with or without the dash and spaces. It is stored as a keyed
//!   hash (its space is small enough to search offline otherwise), and a
//!   wrong code counts against the person and their network.
//! - The **device code** is 256 random bits, stored as a hash.
//! - Both live [`LIFETIME`]. The device polls every [`INTERVAL`] seconds;
//!   sooner is `slow_down`, and the interval grows by five seconds.
//! - The person always sees the page: a device code is a request anyone
//!   can make and show to anyone (RFC 8628 §5.4), so no earlier consent
//!   answers it.

use std::time::Duration;

use classboard::api::EventKind;

pub use super::clients::DEVICE_GRANT;
use super::{
    authorization::{Person, hash},
    scopes,
    tokens::{IdTokenFor, ProviderError, TokenError, TokenIssuer, Tokens, may_use},
};
use crate::{
    auth::dpop::Proven,
    store::{
        Db,
        clients::ClientRow,
        devices::{self, NewDevice, Poll, WaitingDevice},
        grants::NewGrant,
        ms, now_ms,
        rows::{Event, Origin},
    },
};

/// How long the codes live.
pub const LIFETIME: Duration = Duration::from_secs(600);
/// The seconds a device waits between polls, at first.
pub const INTERVAL: i64 = 5;
/// The letters of a user code (RFC 8628 §6.1's example alphabet).
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;

/// What the device authorization endpoint answers (RFC 8628 §3.2).
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub device_code: String,
    /// `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: i64,
}

/// The device grant's side of the provider: requests and the person's
/// answers. (The token endpoint's side is [`TokenIssuer::device_code`].)
#[derive(Clone)]
pub struct Devices {
    db: Db,
    issuer: String,
    user_code_key: [u8; 32],
}

impl Devices {
    pub fn new(db: Db, issuer: &str, server_secret: &[u8]) -> Self {
        Self {
            db,
            issuer: issuer.to_owned(),
            user_code_key: crate::auth::derive_key(server_secret, b"device user code"),
        }
    }

    /// A device's request (RFC 8628 §3.1) from `client`, authenticated,
    /// for `scope`.
    pub async fn start(
        &self,
        client: &ClientRow,
        scope: Option<&str>,
    ) -> Result<Result<Started, TokenError>, sqlx::Error> {
        if !may_use(client, DEVICE_GRANT) {
            return Ok(Err(TokenError::new(
                "unauthorized_client",
                "This app may not use the device grant.",
            )));
        }
        let Some(asked) = scope else {
            return Ok(Err(TokenError::new("invalid_scope", "scope is missing.")));
        };
        let Ok(scope) = scopes::granted(asked, &client.scopes) else {
            return Ok(Err(TokenError::new(
                "invalid_scope",
                "The scope names something this app is not registered for.",
            )));
        };
        let device_code = crate::auth::random_url_safe::<32>();
        let now = now_ms();
        // A user code already waiting (one in a few billion): draw again.
        for _ in 0..3 {
            let user_code = new_user_code();
            let stored = devices::insert(
                &self.db,
                &NewDevice {
                    device_code_hash: &hash(&device_code),
                    user_code_hash: &self.hash_user_code(&user_code),
                    client_id: &client.id,
                    scope: &scope,
                    now,
                    expires_at: now + ms(LIFETIME),
                    interval_secs: INTERVAL,
                },
            )
            .await?;
            if stored {
                let shown = shown(&user_code);
                let verification_uri = format!("{}/device", self.issuer);
                return Ok(Ok(Started {
                    verification_uri_complete: format!("{verification_uri}?code={shown}"),
                    verification_uri,
                    device_code,
                    user_code: shown,
                    expires_in: LIFETIME.as_secs(),
                    interval: INTERVAL,
                }));
            }
        }
        Err(sqlx::Error::Protocol(
            "no free user code after three draws".into(),
        ))
    }

    /// The request `user_code` names (as typed), while it waits, with the
    /// code as the device shows it.
    pub async fn waiting(
        &self,
        user_code: &str,
    ) -> Result<Option<(WaitingDevice, String)>, sqlx::Error> {
        let Some(code) = normalize(user_code) else {
            return Ok(None);
        };
        let waiting = devices::waiting(&self.db, &self.hash_user_code(&code), now_ms()).await?;
        Ok(waiting.map(|waiting| (waiting, shown(&code))))
    }

    /// The person's answer to the request `user_code` names; `false` when
    /// it no longer waits.
    pub async fn answer(
        &self,
        user_code: &str,
        person: Person<'_>,
        allow: bool,
        origin: &Origin,
    ) -> Result<bool, sqlx::Error> {
        let Some(code) = normalize(user_code) else {
            return Ok(false);
        };
        let code_hash = self.hash_user_code(&code);
        let Some(waiting) = devices::waiting(&self.db, &code_hash, now_ms()).await? else {
            return Ok(false);
        };
        let detail = format!("{} {} (device)", waiting.client_id, waiting.scope);
        let event = Event {
            detail: Some(&detail),
            ..Event::new(EventKind::AppAllowed, person.user_id, origin).session(person.session_id)
        };
        devices::answer(
            &self.db,
            &code_hash,
            (person.user_id, person.session_id),
            allow,
            &event,
        )
        .await
    }

    fn hash_user_code(&self, normalized: &str) -> [u8; 32] {
        crate::auth::hmac_sha256(&self.user_code_key, normalized.as_bytes())
    }
}

/// A new user code: eight letters of [`ALPHABET`], drawn without bias.
fn new_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..USER_CODE_LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A user code as a device shows it: `XXXX-XXXX`.
fn shown(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

/// A user code as typed, in the stored form: upper case, without dashes
/// and spaces; `None` when it cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

impl TokenIssuer {
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code`: a
    /// device's poll (RFC 8628 §3.4, §3.5).
    pub async fn device_code(
        &self,
        client: &ClientRow,
        device_code: &str,
        proven: Option<&Proven>,
    ) -> Result<Result<Tokens, TokenError>, ProviderError> {
        if !may_use(client, DEVICE_GRANT) {
            return Ok(Err(TokenError::new(
                "unauthorized_client",
                "This app may not use the device grant.",
            )));
        }
        if !self.keys_ready() {
            return Err(ProviderError::NoSigningKey);
        }
        let grant_id = uuid::Uuid::new_v4().to_string();
        let polled = devices::poll(
            &self.db,
            &hash(device_code),
            &NewGrant {
                id: &grant_id,
                client_id: &client.id,
                dpop_jkt: proven
                    .filter(|_| client.secret_hash.is_none())
                    .map(|proven| proven.jkt.as_str()),
            },
            now_ms(),
        )
        .await?;
        let refusal = |error: &'static str, why: &str| Ok(Err(TokenError::new(error, why)));
        let (user_id, session_id, scope, signed_in) = match polled {
            Poll::Started {
                user_id,
                session_id,
                scope,
                signed_in,
            } => (user_id, session_id, scope, signed_in),
            Poll::Pending => {
                return refusal("authorization_pending", "The person has not answered yet.");
            }
            Poll::SlowDown => {
                return refusal(
                    "slow_down",
                    "Polled sooner than the interval: wait five seconds longer between polls.",
                );
            }
            Poll::Denied => return refusal("access_denied", "The person did not allow it."),
            Poll::Expired => {
                return refusal("expired_token", "The device code has expired: start again.");
            }
            Poll::Invalid => {
                return refusal(
                    "invalid_grant",
                    "The device code is unknown, another app's, used, or its sign-in has ended.",
                );
            }
        };
        let refresh = if scopes::has(&scope, "offline_access") && may_use(client, "refresh_token") {
            self.first_refresh_token(&grant_id).await?
        } else {
            None
        };
        let tokens = self
            .tokens(
                client,
                &grant_id,
                (&user_id, &scope),
                &signed_in,
                Some(IdTokenFor {
                    sid: &session_id,
                    nonce: None,
                }),
                (refresh, proven),
            )
            .await?;
        Ok(Ok(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_code_is_eight_consonants_typed_in_any_form() {
        for _ in 0..100 {
            let code = new_user_code();
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
            assert!(
                !code.bytes().any(|b| b"AEIOUY0123456789".contains(&b)),
                "{code}"
            );
        }
        assert_eq!(normalize("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize("BCDF-GHJ"), None);
        assert_eq!(normalize("BCDF-GHJA"), None, "a vowel");
        assert_eq!(normalize("BCDF-GHJ0"), None, "a digit");
        assert_eq!(normalize("BCDF-GHJKL"), None);
    }
}
