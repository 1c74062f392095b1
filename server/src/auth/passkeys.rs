//! Passkeys: WebAuthn credentials, checked by `webauthn-rs`, that sign a
//! person in with no password (a discoverable credential with user
//! verification is two factors) or serve as the second factor after one.
//!
//! A ceremony (registration, sign-in, second factor) is started by one
//! request and finished by another, on any instance: its state lives in the
//! database under a keyed hash of an opaque `ceremony` token, for five
//! minutes, and the request that finishes it deletes it first, so it is used
//! once whatever the outcome.
//!
//! The signature counter is checked twice: by `webauthn-rs` against the
//! stored credential, and by a compare-and-set on the stored counter, so two
//! assertions checked at once cannot both count. A counter that goes
//! backwards is refused and recorded on the passkey, as a possible copy.

use std::{sync::Arc, time::Duration};

use classboard::api::EventKind;
use serde_json::{Value, value::RawValue};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};

pub use crate::store::passkeys::{MAX_PER_ACCOUNT, PasskeyRow};
use crate::store::{
    Db, now_ms,
    passkeys::{self as stored, CredentialRow, Inserted, NewPasskey, Purpose},
    rows::{Event, Origin},
};

/// How long a ceremony waits to be finished.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// Longest passkey name, in characters.
pub const NAME_MAX: usize = 64;

/// A ceremony started: the token that finishes it, and the options for the
/// browser (`PublicKeyCredentialCreationOptionsJSON` or
/// `PublicKeyCredentialRequestOptionsJSON`).
#[derive(Debug)]
pub struct Started {
    pub ceremony: String,
    pub options: Box<RawValue>,
}

/// A credential as the browser sent it (`PublicKeyCredential.toJSON()`),
/// with the attachment it reported, which nothing signs.
#[derive(Debug)]
pub struct Presented<T> {
    pub credential: T,
    pub attachment: Option<String>,
}

impl<T: serde::de::DeserializeOwned> Presented<T> {
    /// Reads a credential from its JSON; `None` when it is not one.
    pub fn parse(raw: &RawValue) -> Option<Self> {
        let json: Value = serde_json::from_str(raw.get()).ok()?;
        let attachment = json
            .get("authenticatorAttachment")
            .and_then(Value::as_str)
            .filter(|a| matches!(*a, "platform" | "cross-platform"))
            .map(str::to_owned);
        let credential = serde_json::from_value(json).ok()?;
        Some(Self {
            credential,
            attachment,
        })
    }
}

/// What finishing a registration did.
#[derive(Debug)]
pub enum Registered {
    /// Added; the sessions that signed in with the password alone ended
    /// (listed).
    Added(PasskeyRow, Vec<String>),
    /// Unknown, expired or used ceremony, or another account's.
    Gone,
    /// The authenticator's answer does not verify.
    Refused,
    /// This credential is registered already.
    Duplicate,
    /// The account has as many passkeys as it may.
    TooMany,
}

/// What finishing a sign-in or a second factor did.
#[derive(Debug)]
pub enum Verified {
    /// The account, the passkey (its id), and the `amr` value of the
    /// authenticator: `hwk` for a roaming one (a security key), `swk`
    /// otherwise.
    Yes {
        user_id: String,
        passkey_id: String,
        amr: &'static str,
    },
    /// Unknown, expired or used ceremony, or one for another login.
    Gone,
    /// The assertion does not verify, or its credential is not the
    /// account's (or anyone's).
    Refused,
    /// The counter went backwards: refused, and recorded.
    CounterWentBack,
}

/// An error of the passkey store.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a stored passkey or ceremony cannot be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("webauthn: {0}")]
    Webauthn(WebauthnError),
}

/// Every account's passkeys, and the relying party that checks them.
#[derive(Clone)]
pub struct Passkeys {
    db: Db,
    webauthn: Arc<Webauthn>,
    /// Keys the hashes of ceremony tokens and of `mfa_token`s (the same
    /// key as the second-factor store's, so that a ceremony can name the
    /// login it belongs to).
    hash_key: [u8; 32],
}

impl Passkeys {
    /// The relying party of `public_url`: its host is the relying party id,
    /// its origin the only one accepted.
    pub fn new(db: Db, public_url: &Url, server_secret: &[u8]) -> Result<Self, PasskeyError> {
        let rp_id = public_url.host_str().unwrap_or("localhost");
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .and_then(|b| b.rp_name(super::mfa::ISSUER).build())
            .map_err(PasskeyError::Webauthn)?;
        Ok(Self {
            db,
            webauthn: Arc::new(webauthn),
            hash_key: super::derive_key(server_secret, super::mfa::HASH_KEY_LABEL),
        })
    }

    /// The account's passkeys.
    pub async fn list(&self, user_id: &str) -> Result<Vec<PasskeyRow>, PasskeyError> {
        Ok(stored::list(&self.db, user_id).await?)
    }

    /// Removes one of the account's passkeys, and ends the sessions that
    /// signed in with it but `keep`'s (see `store::passkeys::remove`);
    /// `None` if it has none by that id.
    pub async fn remove(
        &self,
        (user_id, keep): (&str, &str),
        id: &str,
        event: &Event<'_>,
    ) -> Result<Option<Vec<String>>, PasskeyError> {
        Ok(stored::remove(&self.db, (user_id, keep), id, event).await?)
    }

    /// Whether the account has the passkey `id`.
    pub async fn exists(&self, user_id: &str, id: &str) -> Result<bool, PasskeyError> {
        Ok(stored::exists(&self.db, user_id, id).await?)
    }

    /// How many passkeys the account has.
    pub async fn count(&self, user_id: &str) -> Result<i64, PasskeyError> {
        Ok(stored::count(&self.db, user_id).await?)
    }

    /// Starts registering a passkey for the account: a discoverable
    /// credential (so that it can sign in with no name typed), with user
    /// verification required, attestation `none`, and the account's
    /// existing credentials excluded.
    /// `None` when the account has as many passkeys as it may: refused
    /// before the authenticator makes one that could not be stored.
    pub async fn begin_registration(
        &self,
        user_id: &str,
        username: &str,
    ) -> Result<Option<Started>, PasskeyError> {
        if stored::count(&self.db, user_id).await? >= MAX_PER_ACCOUNT {
            return Ok(None);
        }
        let handle = user_handle(user_id)?;
        let existing = stored::credential_ids(&self.db, user_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let (challenge, state) = self
            .webauthn
            .start_passkey_registration(handle, username, username, Some(existing))
            .map_err(PasskeyError::Webauthn)?;
        let mut options = serde_json::to_value(challenge.public_key)?;
        // webauthn-rs asks for a non-resident key; a passkey that signs in
        // without a name must be resident. Finishing does not depend on it.
        if let Some(selection) = options.get_mut("authenticatorSelection") {
            selection["residentKey"] = "required".into();
            selection["requireResidentKey"] = true.into();
        }
        let ceremony = self
            .store_ceremony(Purpose::Register, Some(user_id), None, &state)
            .await?;
        let options = serde_json::value::to_raw_value(&options)?;
        Ok(Some(Started { ceremony, options }))
    }

    /// Finishes a registration the account started, from its session
    /// `keep` (which stays when the password-only ones end).
    pub async fn finish_registration(
        &self,
        (user_id, keep): (&str, &str),
        ceremony: &str,
        presented: &Presented<RegisterPublicKeyCredential>,
        (name, origin): (&str, &Origin),
    ) -> Result<Registered, PasskeyError> {
        let Some(state) = self
            .take::<PasskeyRegistration>(ceremony, Purpose::Register, Some(user_id), None)
            .await?
        else {
            return Ok(Registered::Gone);
        };
        let passkey = match self
            .webauthn
            .finish_passkey_registration(&presented.credential, &state)
        {
            Ok(passkey) => passkey,
            Err(e) => {
                tracing::info!(user = %user_id, error = %e, "passkey registration refused");
                return Ok(Registered::Refused);
            }
        };
        let id = Uuid::new_v4().to_string();
        let now = now_ms();
        let credential_id: &[u8] = passkey.cred_id().as_ref();
        let new = NewPasskey {
            id: &id,
            user_id,
            credential_id,
            name,
            credential: &serde_json::to_string(&passkey)?,
            sign_count: 0,
            attachment: presented.attachment.as_deref(),
            now,
            event: &Event {
                at: now,
                detail: Some(name),
                ..Event::new(EventKind::PasskeyAdded, user_id, origin)
            },
            keep,
        };
        let ended = match stored::insert(&self.db, &new).await? {
            Inserted::Yes(ended) => ended,
            Inserted::Duplicate => return Ok(Registered::Duplicate),
            Inserted::TooMany => return Ok(Registered::TooMany),
        };
        let row = PasskeyRow {
            id,
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
        };
        Ok(Registered::Added(row, ended))
    }

    /// Starts a sign-in with no name: the browser offers the person's
    /// passkeys for this site (no `allowCredentials`).
    pub async fn begin_sign_in(&self) -> Result<Started, PasskeyError> {
        let (challenge, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(PasskeyError::Webauthn)?;
        let options = serde_json::value::to_raw_value(&challenge.public_key)?;
        let ceremony = self
            .store_ceremony(Purpose::SignIn, None, None, &state)
            .await?;
        Ok(Started { ceremony, options })
    }

    /// Finishes a sign-in with no name: the credential names its account
    /// (its user handle), and must be one of that account's passkeys.
    pub async fn finish_sign_in(
        &self,
        ceremony: &str,
        presented: &Presented<PublicKeyCredential>,
    ) -> Result<Verified, PasskeyError> {
        let Some(state) = self
            .take::<DiscoverableAuthentication>(ceremony, Purpose::SignIn, None, None)
            .await?
        else {
            return Ok(Verified::Gone);
        };
        let Ok((handle, credential_id)) = self
            .webauthn
            .identify_discoverable_authentication(&presented.credential)
        else {
            return Ok(Verified::Refused);
        };
        let user_id = handle.hyphenated().to_string();
        let Some(row) = stored::credential(&self.db, &user_id, credential_id).await? else {
            return Ok(Verified::Refused);
        };
        let passkey = passkey_of(&row)?;
        let result = self.webauthn.finish_discoverable_authentication_v2(
            &presented.credential,
            state,
            &passkey,
        );
        self.record(row, passkey, result).await
    }

    /// Starts an assertion by one of the account's passkeys (the options
    /// name them): the second step of the password login of `mfa_token`
    /// (`Some`), or proof of presence for a sensitive action (`None`).
    /// `None` when the account has no passkey.
    pub async fn begin_assertion(
        &self,
        user_id: &str,
        mfa_token: Option<&str>,
    ) -> Result<Option<Started>, PasskeyError> {
        let passkeys = stored::credentials(&self.db, user_id)
            .await?
            .iter()
            .map(passkey_of)
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Ok(None);
        }
        let (challenge, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(PasskeyError::Webauthn)?;
        let options = serde_json::value::to_raw_value(&challenge.public_key)?;
        let login = mfa_token.map(|token| self.keyed(token.as_bytes()));
        let ceremony = self
            .store_ceremony(
                assertion_purpose(mfa_token),
                Some(user_id),
                login.as_deref(),
                &state,
            )
            .await?;
        Ok(Some(Started { ceremony, options }))
    }

    /// Finishes an assertion [`Self::begin_assertion`] started, for the same
    /// account and the same login (or none).
    pub async fn finish_assertion(
        &self,
        user_id: &str,
        mfa_token: Option<&str>,
        ceremony: &str,
        presented: &Presented<PublicKeyCredential>,
    ) -> Result<Verified, PasskeyError> {
        let login = mfa_token.map(|token| self.keyed(token.as_bytes()));
        let purpose = assertion_purpose(mfa_token);
        let Some(state) = self
            .take::<PasskeyAuthentication>(ceremony, purpose, Some(user_id), login.as_deref())
            .await?
        else {
            return Ok(Verified::Gone);
        };
        let presented_id = presented.credential.get_credential_id();
        let Some(row) = stored::credential(&self.db, user_id, presented_id).await? else {
            return Ok(Verified::Refused);
        };
        let passkey = passkey_of(&row)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&presented.credential, &state);
        self.record(row, passkey, result).await
    }

    /// Records a checked assertion on the credential it was checked
    /// against, if it verified and its counter moved on.
    async fn record(
        &self,
        row: CredentialRow,
        mut passkey: Passkey,
        result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
    ) -> Result<Verified, PasskeyError> {
        let now = now_ms();
        let result = match result {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return self.counter_went_back(&row, now).await;
            }
            Err(e) => {
                tracing::info!(user = %row.user_id, passkey = %row.id, error = %e, "passkey assertion refused");
                return Ok(Verified::Refused);
            }
        };
        let counter = i64::from(result.counter());
        // Counters that stay 0 are authenticators that keep none (synced
        // passkeys); any other must go up.
        if (counter > 0 || row.sign_count > 0) && counter <= row.sign_count {
            return self.counter_went_back(&row, now).await;
        }
        passkey.update_credential(&result);
        let updated = serde_json::to_string(&passkey)?;
        let mut checked = row.sign_count;
        // Another assertion recorded since this one was read moves the
        // stored counter on: this one still counts if its counter is
        // higher, and is a step back otherwise.
        while !stored::record_use(&self.db, &row.id, &updated, counter, checked, now).await? {
            match stored::sign_count(&self.db, &row.id).await? {
                Some(now_stored) if counter == 0 && now_stored == 0 => checked = 0,
                Some(now_stored) if counter > now_stored => checked = now_stored,
                Some(_) => return self.counter_went_back(&row, now).await,
                // Removed meanwhile.
                None => return Ok(Verified::Refused),
            }
        }
        Ok(Verified::Yes {
            amr: match row.attachment.as_deref() {
                Some("cross-platform") => "hwk",
                _ => "swk",
            },
            user_id: row.user_id,
            passkey_id: row.id,
        })
    }

    async fn counter_went_back(
        &self,
        row: &CredentialRow,
        now: i64,
    ) -> Result<Verified, PasskeyError> {
        tracing::warn!(
            user = %row.user_id,
            passkey = %row.id,
            "passkey signature counter did not go up: refused, possibly a cloned authenticator"
        );
        stored::mark_regressed(&self.db, &row.id, now).await?;
        Ok(Verified::CounterWentBack)
    }

    async fn store_ceremony(
        &self,
        purpose: Purpose,
        user_id: Option<&str>,
        login: Option<&[u8]>,
        state: &impl serde::Serialize,
    ) -> Result<String, PasskeyError> {
        let token = super::random_url_safe::<32>();
        let ttl = i64::try_from(CEREMONY_TTL.as_millis()).unwrap_or(i64::MAX);
        stored::create_ceremony(
            &self.db,
            &self.keyed(token.as_bytes()),
            purpose,
            user_id,
            login,
            &serde_json::to_string(state)?,
            now_ms() + ttl,
        )
        .await?;
        Ok(token)
    }

    /// Takes a live ceremony (see `store::passkeys::take_ceremony`) and
    /// reads its state.
    async fn take<State: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        purpose: Purpose,
        user_id: Option<&str>,
        login: Option<&[u8]>,
    ) -> Result<Option<State>, PasskeyError> {
        let state = stored::take_ceremony(
            &self.db,
            &self.keyed(token.as_bytes()),
            purpose,
            user_id,
            login,
            now_ms(),
        )
        .await?;
        Ok(state.map(|json| serde_json::from_str(&json)).transpose()?)
    }

    /// HMAC-SHA256 of `data` under the hash key.
    fn keyed(&self, data: &[u8]) -> Vec<u8> {
        super::hmac_sha256(&self.hash_key, data).to_vec()
    }
}

/// The WebAuthn user handle of an account: its id, a random UUID, which
/// says nothing about the person.
fn user_handle(user_id: &str) -> Result<Uuid, PasskeyError> {
    Uuid::parse_str(user_id).map_err(|_| PasskeyError::Webauthn(WebauthnError::InvalidUserUniqueId))
}

/// The second step of a login, or proof of presence.
fn assertion_purpose(mfa_token: Option<&str>) -> Purpose {
    match mfa_token {
        Some(_) => Purpose::SecondFactor,
        None => Purpose::Reauth,
    }
}

fn passkey_of(row: &CredentialRow) -> Result<Passkey, serde_json::Error> {
    serde_json::from_str(&row.credential)
}
