//! What several handlers do alike, below them all: naming a device,
//! recording an event on its own, mailing a link, reading the caller's
//! account and the proof it presents, counting factor changes, the
//! passkey ceremonies' wire shapes, and an app's scopes in words. A handler imports from here, never from
//! another handler.

use classboard::{
    api::{Passkey, PasskeyCeremony, Reauth, ScopeInWords},
    validate::Issue,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::{
    AppError, Result,
    auth::{
        email_tokens::lifetime,
        jwt::TokenError,
        limits::Key,
        passkeys::{self, PasskeyRow, Started},
        proof,
    },
    extract::AuthUser,
    mail::{Letter, Prepared},
    state::AppState,
    store::{
        audit,
        email_tokens::{self, NewToken, Purpose},
        ms, now_ms, rfc3339,
        rows::Event,
        users::{self, Account},
    },
};

/// A `User-Agent` named as people name a device: "Chrome on Linux",
/// "Firefox", "Windows 10"; `None` when it names neither a browser nor a
/// system.
pub(crate) fn device_name(user_agent: &str) -> Option<String> {
    let parsed = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match (known(parsed.name), known(parsed.os)) {
        (true, true) => Some(format!("{} on {}", parsed.name, parsed.os)),
        (true, false) => Some(parsed.name.to_owned()),
        (false, true) => Some(parsed.os.to_owned()),
        (false, false) => None,
    }
}

/// Records an event that goes with no change of its own (a failed sign-in,
/// a wrong code, a reuse whose revocation has committed). A failure to
/// record it is logged with its cause, and the request is answered as it
/// would have been: the answer (a `401`, the cookie cleared) matters more.
pub(crate) async fn record_alone(state: &AppState, event: &crate::store::rows::Event<'_>) {
    if let Err(e) = audit::record(&state.db, event).await {
        tracing::error!(error = %e, kind = event.kind.as_str(), "cannot record a security event");
    }
}

/// Mails a verification link for the address the account signed up with.
/// A failure is logged, not returned: the account exists, and its owner can
/// ask again.
pub(crate) async fn mail_signup_verification(state: &AppState, account: &Account) {
    if let Err(e) = mail_token(
        state,
        account,
        Purpose::VerifyEmail,
        &account.email,
        None,
        (&[], None),
    )
    .await
    {
        tracing::error!(user = %account.id, error = %e, "cannot queue the verification mail");
    }
}

/// Mints a token of `purpose` for `account`, ending its older ones, and
/// queues the mail that carries it to `to`, with `more` letters, and
/// records `event`, in one
/// transaction; `false` (nothing done) when the account was deleted, or its
/// credentials moved on from `version` (when given).
pub(crate) async fn mail_token(
    state: &AppState,
    account: &Account,
    purpose: Purpose,
    to: &str,
    version: Option<i64>,
    (more, event): (&[Prepared], Option<&Event<'_>>),
) -> Result<bool> {
    let (token, hash) = state.email_tokens.mint();
    let username = &account.username;
    let letter = match purpose {
        Purpose::VerifyEmail => Letter::VerifyEmail {
            username,
            token: &token,
        },
        Purpose::ChangeEmail => Letter::ConfirmNewEmail {
            username,
            token: &token,
        },
        Purpose::ResetPassword => Letter::ResetPassword {
            username,
            token: &token,
        },
    };
    let carrier = prepare(state, to, letter)?;
    let now = now_ms();
    let mail: Vec<_> = std::iter::once(&carrier)
        .chain(more)
        .map(Prepared::queued)
        .collect();
    let issued = email_tokens::issue(
        &state.db,
        &NewToken {
            hash: &hash,
            user_id: &account.id,
            purpose,
            email: to,
            now,
            expires_at: now + ms(lifetime(purpose)),
        },
        version,
        (&mail, event),
    )
    .await?;
    state.mailer.wake();
    Ok(issued)
}

pub(crate) fn prepare(state: &AppState, to: &str, letter: Letter<'_>) -> Result<Prepared> {
    state
        .mailer
        .prepare(to, letter)
        .map_err(|e| AppError::Internal(format!("cannot compose a mail: {e}")))
}

/// Counts a factor change (an enrolment, a registration, a
/// re-authentication ceremony: each writes a row) under `key` against
/// `FACTOR_CHANGES_PER_USER`: the account's for a registration, which needs
/// a proof; the session's for the others, which need only its token.
pub(crate) async fn limit_factor_changes(state: &AppState, key: &Key) -> Result<()> {
    let limit = state.config.limits.factor_changes_per_user;
    state.limit(key, limit).await
}

/// The proof a body presents, with a passkey's answer read as WebAuthn's
/// JSON (`422` when one half of it is missing, or it is not one).
pub(crate) fn presented(proof: Reauth) -> Result<proof::Presented> {
    let passkey = if proof.ceremony.is_some() || proof.credential.is_some() {
        Some(passkey_assertion(
            proof.ceremony.as_deref(),
            proof.credential.as_deref(),
        )?)
    } else {
        None
    };
    Ok(proof::Presented {
        password: proof.password,
        code: proof.code.filter(|c| !c.trim().is_empty()),
        passkey,
    })
}

/// The caller's account; one deleted since the token was issued is `401`.
pub(crate) async fn current(state: &AppState, user: &AuthUser) -> Result<Account> {
    users::by_id(&state.db, &user.id)
        .await?
        .ok_or(AppError::InvalidToken(TokenError::Revoked))
}

/// The ceremony and credential of a passkey assertion, both required, the
/// credential read as WebAuthn's JSON; `422` naming what is missing or not
/// one.
pub(crate) fn passkey_assertion(
    ceremony: Option<&str>,
    credential: Option<&RawValue>,
) -> Result<(String, passkeys::Presented<PublicKeyCredential>)> {
    passkey_answer(ceremony, credential).map_err(AppError::validation)
}

/// A ceremony's answer in a request body: the ceremony and the browser's
/// credential, both required. Otherwise, the issue of each, for a `422`.
pub(crate) fn passkey_answer<T: DeserializeOwned>(
    ceremony: Option<&str>,
    credential: Option<&RawValue>,
) -> std::result::Result<(String, passkeys::Presented<T>), [(&'static str, Option<Issue>); 2]> {
    let ceremony = ceremony.filter(|c| !c.is_empty());
    let presented = credential.map(|json| passkeys::Presented::parse(json).ok_or(Issue::Invalid));
    match (ceremony, presented) {
        (Some(ceremony), Some(Ok(presented))) => Ok((ceremony.to_owned(), presented)),
        (ceremony, presented) => Err([
            ("ceremony", ceremony.is_none().then_some(Issue::Required)),
            (
                "credential",
                match presented {
                    None => Some(Issue::Required),
                    Some(Err(issue)) => Some(issue),
                    Some(Ok(_)) => None,
                },
            ),
        ]),
    }
}

pub(crate) fn passkey_ceremony(started: Started) -> PasskeyCeremony {
    PasskeyCeremony {
        ceremony: started.ceremony,
        options: started.options,
    }
}

/// A passkey as the API shows it.
pub(crate) fn passkey_view(row: PasskeyRow) -> Passkey {
    Passkey {
        id: row.id,
        name: row.name,
        created_at: rfc3339(row.created_at),
        last_used_at: row.last_used_at.map(rfc3339),
    }
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn devices_are_named_as_people_name_them() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                Some("Chrome on Linux"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                Some("Firefox on Windows 10"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                Some("Safari on iPhone"),
            ),
            ("", None),
            ("\u{0}garbage\u{7f}", None),
        ];
        for (agent, named) in cases {
            assert_eq!(device_name(agent).as_deref(), named, "{agent:?}");
        }
    }
}

/// The scopes of `scope`, each with what it lets an app do.
pub(crate) fn in_words(scope: &str) -> Vec<ScopeInWords> {
    crate::provider::scopes::in_order(scope)
        .into_iter()
        .map(|scope| ScopeInWords {
            scope: scope.to_owned(),
            description: crate::provider::scopes::words(scope).to_owned(),
        })
        .collect()
}
