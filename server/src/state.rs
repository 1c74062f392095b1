//! What every handler shares: the database, the configuration, the keys and
//! the auth core's services, built once by `startup` and cloned (one `Arc`)
//! into every request.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    AppError, Config,
    auth::{
        dpop::Dpop,
        email_tokens::EmailTokens,
        jwt::Keys,
        limits::{Attempt, Key, Limiter, RequesterNet},
        mfa::SecondFactors,
        passkeys::Passkeys,
        password::{Hasher, Reserved},
        proof::Prover,
        revocation::Revocations,
        sessions::Sessions,
    },
    config::RateLimit,
    mail::Mailer,
    profiles,
    provider::{
        authorization::Authorizations, clients::Registry, device::Devices, logout::EndSessions,
        tokens::TokenIssuer,
    },
    store,
};

/// Shared state of every handler: one `Arc`, because axum and Leptos clone
/// it for every request (a profile showed the field-by-field clone of the
/// whole struct at 3.5 % of a `/healthz` load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub db: store::Db,
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub hasher: Hasher,
    pub sessions: Sessions,
    pub revocations: Revocations,
    pub limiter: Limiter,
    pub profiles: profiles::Profiles,
    pub second_factors: SecondFactors,
    pub passkeys: Passkeys,
    /// The proof-of-presence policy every sensitive handler asks.
    pub proof: Prover,
    pub mailer: Mailer,
    pub texter: crate::sms::Texter,
    pub email_tokens: EmailTokens,
    /// The apps (OAuth clients) registered here.
    pub clients: Registry,
    /// The authorization endpoint's requests and codes.
    pub authorizations: Authorizations,
    /// The token endpoint.
    pub tokens: TokenIssuer,
    /// The end-session endpoint (RP-initiated logout).
    pub end_sessions: EndSessions,
    /// DPoP proofs (RFC 9449) and the nonces they must carry.
    pub dpop: Dpop,
    /// The device grant's requests and the person's answers (RFC 8628).
    pub devices: Devices,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// Counts one event under `key`; over `limit`, the request is refused.
    pub async fn limit(&self, key: &Key, limit: RateLimit) -> Result<(), AppError> {
        Ok(self.limiter.hit(key, limit).await??)
    }

    /// Counts one sign-in request (login, second step, passkey ceremony)
    /// from `net` against its budget, `AUTH_REQUESTS_PER_IP`.
    pub async fn limit_auth_request(&self, net: RequesterNet) -> Result<(), AppError> {
        let limit = self.config.limits.auth_requests_per_ip;
        self.limit(&Key::auth_requests(net), limit).await
    }

    /// A hashing slot for a counted sign-in attempt. A full queue answers
    /// `503` and gives the attempt back, so that load can never cost an
    /// account its attempts.
    pub async fn reserve_hash(&self, attempt: Attempt) -> Result<(Reserved, Attempt), AppError> {
        match self.hasher.reserve() {
            Ok(reserved) => Ok((reserved, attempt)),
            Err(busy) => {
                self.limiter.abandoned(attempt).await?;
                Err(busy.into())
            }
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for store::Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}
