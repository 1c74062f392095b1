//! Logout, both ways.
//!
//! **RP-initiated** (OpenID Connect RP-Initiated Logout 1.0): an app sends
//! the browser to the end-session endpoint with `id_token_hint`,
//! `post_logout_redirect_uri`, `state`, `client_id`. [`EndSessions::begin`]
//! checks them at once (a hint this server did not sign, or an address the
//! app did not register, is shown on this site's page and never followed)
//! and seals what it found into a handle for the `/logout` page, which
//! [`EndSessions::read`] opens: the page signs the person out at once when
//! the hint names the session its visitor holds, asks first otherwise, and
//! then returns to the app.
//!
//! **Back-channel** (OpenID Connect Back-Channel Logout 1.0): when a
//! person's session ends for any reason, the transaction that ends it
//! queues a delivery for every app that received an ID token in it and
//! registered a back-channel address (`store::logouts`). The
//! [`BackchannelSender`] of any instance signs a logout token for each and
//! posts it, retrying with growing pauses, and records the outcome in the
//! audit log.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::{
    auth::{
        jwt::{Keys, Purpose, unix_now},
        sealing::Sealer,
    },
    outbound::{CallError, Outbound, pause_after},
    store::{
        Db, audit, clients,
        logouts::{self, Claimed},
        now_ms,
        rows::{Event, Origin},
    },
};
use classboard::api::EventKind;

/// How long the `/logout` page's handle opens.
const HANDLE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The longest hint taken, in bytes.
const MAX_PARAM: usize = 4096;
/// The longest `state` carried back, in bytes.
const MAX_STATE: usize = 512;

/// Why an end-session request is shown on this site's page rather than
/// followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogoutProblem {
    #[error("A parameter is given more than once, or is too long.")]
    Malformed,
    #[error("The id_token_hint is not an ID token this server issued.")]
    BadHint,
    #[error("No app with this client_id is registered here.")]
    UnknownApp,
    #[error("The id_token_hint was issued to another app than client_id.")]
    HintOfAnotherApp,
    #[error("A post_logout_redirect_uri needs the app: send client_id or id_token_hint.")]
    RedirectWithoutApp,
    #[error("This post_logout_redirect_uri is not one the app registered.")]
    UnknownRedirect,
}

/// What the `/logout` page's handle holds, sealed: what was checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    /// The app's name, when the request named a registered app.
    app: Option<String>,
    /// Where to return, `state` added; only a registered address.
    then: Option<String>,
    /// The person and session the hint names.
    sub: Option<String>,
    sid: Option<String>,
    /// Seconds since the epoch after which the handle opens no more.
    until: u64,
}

/// What the `/logout` page does for its visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPage {
    /// The app that asked, by name.
    pub app: Option<String>,
    /// Whether to ask before signing out: the hint is missing or names
    /// another session than the visitor's.
    pub ask: bool,
    /// Where to go afterwards, if anywhere.
    pub then: Option<String>,
}

/// The end-session endpoint's side.
#[derive(Clone)]
pub struct EndSessions {
    db: Db,
    keys: Arc<Keys>,
    sealer: Sealer,
}

impl EndSessions {
    pub fn new(db: Db, keys: Arc<Keys>, server_secret: &[u8]) -> Self {
        Self {
            db,
            keys,
            sealer: Sealer::derive(server_secret, b"classboard end-session handle"),
        }
    }

    /// Checks an end-session request's parameters; the `/logout` page's
    /// handle, or why the request is shown on a page.
    pub async fn begin(
        &self,
        params: &[(String, String)],
    ) -> Result<Result<String, LogoutProblem>, sqlx::Error> {
        let mut seen = std::collections::HashSet::new();
        if params.iter().any(|(name, value)| {
            !seen.insert(name.as_str())
                || value.len()
                    > if name == "state" {
                        MAX_STATE
                    } else {
                        MAX_PARAM
                    }
        }) {
            return Ok(Err(LogoutProblem::Malformed));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let hint = match get("id_token_hint") {
            Some(token) => match self.keys.verify_id_token_hint(token) {
                Some(hint) => Some(hint),
                None => return Ok(Err(LogoutProblem::BadHint)),
            },
            None => None,
        };
        let client_id = match (get("client_id"), &hint) {
            (Some(asked), Some(hint)) if asked != hint.aud => {
                return Ok(Err(LogoutProblem::HintOfAnotherApp));
            }
            (Some(asked), _) => Some(asked),
            (None, Some(hint)) => Some(hint.aud.as_str()),
            (None, None) => None,
        };
        let client = match client_id {
            Some(id) if super::clients::usable_id(id) => clients::by_id(&self.db, id).await?,
            Some(_) => None,
            None => None,
        };
        if client_id.is_some() && client.is_none() {
            return Ok(Err(LogoutProblem::UnknownApp));
        }
        let then = match (get("post_logout_redirect_uri"), &client) {
            (None, _) => None,
            (Some(_), None) => return Ok(Err(LogoutProblem::RedirectWithoutApp)),
            (Some(asked), Some(client)) => {
                if !client
                    .post_logout_redirect_uris
                    .split(' ')
                    .any(|registered| registered == asked)
                {
                    return Ok(Err(LogoutProblem::UnknownRedirect));
                }
                Some(with_state(asked, get("state")))
            }
        };
        let sealed = Sealed {
            app: client.map(|client| client.name),
            then,
            sub: hint.as_ref().map(|hint| hint.sub.clone()),
            sid: hint.and_then(|hint| hint.sid),
            until: unix_now() + HANDLE_LIFETIME.as_secs(),
        };
        let plain = serde_json::to_vec(&sealed).expect("plain fields serialize");
        Ok(Ok(
            URL_SAFE_NO_PAD.encode(self.sealer.seal(b"end-session", &plain))
        ))
    }

    /// What the `/logout` page does with `handle` for its visitor, signed
    /// in as `(user_id, session_id)` or not at all; `None` for a handle
    /// this server did not make or that has expired.
    pub fn read(&self, handle: &str, visitor: Option<(&str, &str)>) -> Option<LogoutPage> {
        let sealed = URL_SAFE_NO_PAD.decode(handle).ok()?;
        let plain = self.sealer.open(b"end-session", &sealed)?;
        let sealed: Sealed = serde_json::from_slice(&plain).ok()?;
        if sealed.until < unix_now() {
            return None;
        }
        let named = match visitor {
            Some((user_id, session_id)) => {
                sealed.sub.as_deref() == Some(user_id) && sealed.sid.as_deref() == Some(session_id)
            }
            // Nobody to sign out.
            None => true,
        };
        Some(LogoutPage {
            app: sealed.app,
            ask: !named,
            then: sealed.then,
        })
    }
}

/// `uri` with `state` added to its query, when there is one.
fn with_state(uri: &str, state: Option<&str>) -> String {
    match (url::Url::parse(uri), state) {
        (Ok(mut url), Some(state)) => {
            url.query_pairs_mut().append_pair("state", state);
            url.into()
        }
        _ => uri.to_owned(),
    }
}

/// How long a sender may take to deliver a claimed logout token before
/// another may claim it again: beyond one call's timeout.
const LEASE: Duration = Duration::from_secs(60);
/// Attempts before a delivery is given up (the pauses add up to about an
/// hour and a half).
const MAX_ATTEMPTS: i32 = 11;
/// How often a sender looks for due deliveries.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries one instance makes at once: an app that answers slowly holds
/// up one of them, not every other app's.
const WORKERS: usize = 4;
/// A logout token's lifetime (it is signed when sent).
const LOGOUT_TOKEN_LIFETIME: u64 = 120;
/// The event a logout token carries.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The claims of a logout token (Back-Channel Logout 1.0 §2.4).
#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

/// Delivers the logout tokens owed to apps.
#[derive(Clone)]
pub struct BackchannelSender {
    db: Db,
    keys: Arc<Keys>,
    issuer: String,
    outbound: Outbound,
}

/// How one delivery went. `why` is for the server's log; `reason`, a
/// fixed phrase, for the person's activity (an app's error could name
/// addresses inside its network).
enum Outcome {
    Delivered,
    /// Not worth trying again.
    GiveUp {
        reason: &'static str,
        why: String,
    },
    Retry {
        reason: &'static str,
        why: String,
    },
}

impl Outcome {
    fn give_up(reason: &'static str, why: impl Into<String>) -> Self {
        Self::GiveUp {
            reason,
            why: why.into(),
        }
    }

    fn retry(reason: &'static str, why: impl Into<String>) -> Self {
        Self::Retry {
            reason,
            why: why.into(),
        }
    }
}

impl BackchannelSender {
    pub fn new(db: Db, keys: Arc<Keys>, issuer: &str, outbound: Outbound) -> Self {
        Self {
            db,
            keys,
            issuer: issuer.to_owned(),
            outbound,
        }
    }

    /// Starts this instance's senders: they deliver due logout tokens
    /// until the process ends.
    pub fn spawn(self) {
        for _ in 0..WORKERS {
            let sender = self.clone();
            tokio::spawn(async move {
                loop {
                    while sender.deliver_one().await {}
                    tokio::time::sleep(POLL).await;
                }
            });
        }
    }

    /// Claims and delivers the oldest due logout token; `false` when none
    /// was due (or the queue cannot be read).
    pub async fn deliver_one(&self) -> bool {
        match logouts::any_due(&self.db, now_ms()).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the back-channel logout queue");
                return false;
            }
        }
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let claimed = match logouts::claim(&self.db, now_ms(), lease).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the back-channel logout queue");
                return false;
            }
        };
        let outcome = self.deliver(&claimed).await;
        if let Err(e) = self.settle(&claimed, outcome).await {
            tracing::error!(client_id = %claimed.client_id, error = %e,
                "cannot update the back-channel logout queue");
        }
        true
    }

    async fn deliver(&self, claimed: &Claimed) -> Outcome {
        let client = match clients::by_id(&self.db, &claimed.client_id).await {
            Ok(client) => client,
            Err(e) => return Outcome::retry("this server's database failed", e.to_string()),
        };
        // Removed meanwhile (its rows go with it), or no longer listening.
        let Some((uri, alg)) = client.and_then(|client| {
            Some((
                client.backchannel_logout_uri?,
                client.id_token_signed_response_alg,
            ))
        }) else {
            return Outcome::give_up(
                "the app no longer has a back-channel logout address",
                "no address",
            );
        };
        let iat = unix_now();
        let claims = LogoutClaims {
            iss: &self.issuer,
            aud: &claimed.client_id,
            iat,
            exp: iat + LOGOUT_TOKEN_LIFETIME,
            jti: uuid::Uuid::new_v4().to_string(),
            sub: &claimed.user_id,
            sid: &claimed.sid,
            events: serde_json::json!({ BACKCHANNEL_EVENT: {} }),
        };
        let Ok(token) =
            self.keys
                .sign_with_id_key(Purpose::for_id_tokens(&alg), "logout+jwt", &claims)
        else {
            return Outcome::retry("this server had no signing key", "no ID key is active");
        };
        match self
            .outbound
            .post_form(&uri, &[("logout_token", &token)])
            .await
        {
            Ok(status) if status.is_success() => Outcome::Delivered,
            // Back-Channel Logout 1.0 §2.8: 400 says the app refused the
            // token; sending it again will not change its mind.
            Ok(status) if status.is_client_error() && status != 408 && status != 429 => {
                Outcome::give_up(
                    "the app refused the logout token",
                    format!("the app answered {}", status.as_u16()),
                )
            }
            Ok(status) => Outcome::retry(
                "the app did not accept it in time",
                format!("the app answered {}", status.as_u16()),
            ),
            Err(CallError::Refused(why)) => Outcome::give_up(
                "the app's address is not one this server calls (private or loopback)",
                why,
            ),
            Err(CallError::Failed(why)) => Outcome::retry("the app did not answer in time", why),
        }
    }

    async fn settle(&self, claimed: &Claimed, outcome: Outcome) -> Result<(), sqlx::Error> {
        let (client_id, sid) = (claimed.client_id.as_str(), claimed.sid.as_str());
        let (kind, detail) = match outcome {
            Outcome::Delivered => {
                tracing::info!(
                    client_id,
                    attempts = claimed.attempts,
                    "logout token delivered"
                );
                (EventKind::AppLogoutDelivered, client_id.to_owned())
            }
            Outcome::Retry { why, .. } if claimed.attempts < MAX_ATTEMPTS => {
                let pause = pause_after(claimed.attempts);
                tracing::warn!(client_id, attempts = claimed.attempts, error = %why,
                    retry_in_secs = pause.as_secs(), "logout token not delivered; will try again");
                let at = now_ms() + i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
                return logouts::retry_at(&self.db, claimed, at, &why).await;
            }
            Outcome::GiveUp { reason, why } | Outcome::Retry { reason, why } => {
                tracing::error!(client_id, attempts = claimed.attempts, error = %why,
                    "logout token not delivered; giving up");
                (EventKind::AppLogoutFailed, format!("{client_id}: {reason}"))
            }
        };
        let origin = Origin::default();
        audit::record(
            &self.db,
            &Event {
                session_id: Some(sid),
                detail: Some(&detail),
                ..Event::new(kind, &claimed.user_id, &origin)
            },
        )
        .await?;
        logouts::delete(&self.db, claimed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_added_to_the_return_address() {
        assert_eq!(
            with_state("https://app.example/bye?x=1", Some("a b")),
            "https://app.example/bye?x=1&state=a+b"
        );
        assert_eq!(
            with_state("https://app.example/bye", None),
            "https://app.example/bye"
        );
    }
}
