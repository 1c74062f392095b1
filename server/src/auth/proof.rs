//! Proof of presence: the one policy that decides what every sensitive
//! request must prove, so that no combination of factors opens a way around
//! another.
//!
//! - **What counts as proof** for an account *now*: its password and, when
//!   it has any second factor (TOTP, a passkey, or a confirmed phone while
//!   SMS is a second factor), one of them: a current TOTP code, an unused
//!   recovery code, a passkey's answer, or a code texted for the proof.
//! - **What each action needs** ([`Action::needs`]): an account's own change
//!   takes that proof in its body or a session proven within
//!   `REAUTH_WINDOW`; an admin action only a proven session; proving
//!   presence itself (`POST /api/account/reauth`) only the proof.
//! - **Nothing is spent for nothing.** [`Prover::demand`] checks the
//!   password first (which spends nothing, and keeps whoever lacks it from
//!   probing), then runs the handler's own checks (limits, counts,
//!   conflicts, existence), and only when they pass takes the second factor
//!   (a TOTP step, a recovery code, a passkey ceremony). A refused request
//!   spends none of them. (A body with no password at all is answered at
//!   once, with every part of the proof it lacks.)
//!
//! Handlers name their [`Action`]; `docs/API.md` lists the actions from
//! [`Action::table`], and a test keeps the two equal.

use std::time::Duration;

use classboard::validate::Issue;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{
    limits::{Attempt, Exceeded, FailureLimits, Limiter, RequesterNet, Subject},
    mfa::SecondFactors,
    normalize::PasswordForms,
    passkeys::{self, Passkeys, Verified},
    password::{HashError, Hasher, Verdict},
};
use crate::store::{
    Db, ms, now_ms, sessions,
    users::{self, Account},
};

/// A sensitive action: anything that adds, removes or changes a credential
/// or factor, the address, an app's access to the account, or deletes the
/// account; and every admin action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Proving presence, so that the session counts as proven.
    Reauthenticate,
    ChangePassword,
    ChangeEmail,
    DeleteAccount,
    TurnOnTotp,
    TurnOffTotp,
    NewRecoveryCodes,
    AddPasskey,
    RemovePasskey,
    AddPhone,
    RemovePhone,
    ChangeRole,
    LockAccount,
    UnlockAccount,
    RemoveSecondFactors,
    AddClient,
    RotateClientSecret,
    RemoveClient,
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The proof, in the request's body.
    Proof,
    /// The proof in the body, or a session proven within the window.
    ProofOrProvenSession,
    /// A session proven within the window.
    ProvenSession,
}

impl Action {
    pub const ALL: [Self; 18] = [
        Self::Reauthenticate,
        Self::ChangePassword,
        Self::ChangeEmail,
        Self::DeleteAccount,
        Self::TurnOnTotp,
        Self::TurnOffTotp,
        Self::NewRecoveryCodes,
        Self::AddPasskey,
        Self::RemovePasskey,
        Self::AddPhone,
        Self::RemovePhone,
        Self::ChangeRole,
        Self::LockAccount,
        Self::UnlockAccount,
        Self::RemoveSecondFactors,
        Self::AddClient,
        Self::RotateClientSecret,
        Self::RemoveClient,
    ];

    pub const fn needs(self) -> Needs {
        match self {
            Self::Reauthenticate => Needs::Proof,
            Self::ChangePassword
            | Self::ChangeEmail
            | Self::DeleteAccount
            | Self::TurnOnTotp
            | Self::TurnOffTotp
            | Self::NewRecoveryCodes
            | Self::AddPasskey
            | Self::RemovePasskey
            | Self::AddPhone
            | Self::RemovePhone => Needs::ProofOrProvenSession,
            Self::ChangeRole
            | Self::LockAccount
            | Self::UnlockAccount
            | Self::RemoveSecondFactors
            | Self::AddClient
            | Self::RotateClientSecret
            | Self::RemoveClient => Needs::ProvenSession,
        }
    }

    /// The request that asks for it.
    pub const fn route(self) -> (&'static str, &'static str) {
        match self {
            Self::Reauthenticate => ("POST", "/api/account/reauth"),
            Self::ChangePassword => ("POST", "/api/account/password"),
            Self::ChangeEmail => ("POST", "/api/account/email"),
            Self::DeleteAccount => ("DELETE", "/api/account"),
            Self::TurnOnTotp => ("POST", "/api/account/mfa/totp/confirm"),
            Self::TurnOffTotp => ("DELETE", "/api/account/mfa/totp"),
            Self::NewRecoveryCodes => ("POST", "/api/account/mfa/recovery-codes"),
            Self::AddPasskey => ("POST", "/api/account/passkeys/register"),
            Self::RemovePasskey => ("DELETE", "/api/account/passkeys/{id}"),
            Self::AddPhone => ("POST", "/api/account/phone"),
            Self::RemovePhone => ("DELETE", "/api/account/phone"),
            Self::ChangeRole => ("PATCH", "/api/users/{id}/role"),
            Self::LockAccount => ("POST", "/api/admin/users/{id}/lock"),
            Self::UnlockAccount => ("POST", "/api/admin/users/{id}/unlock"),
            Self::RemoveSecondFactors => ("DELETE", "/api/admin/users/{id}/mfa"),
            Self::AddClient => ("POST", "/api/admin/clients"),
            Self::RotateClientSecret => ("POST", "/api/admin/clients/{id}/secret"),
            Self::RemoveClient => ("DELETE", "/api/admin/clients/{id}"),
        }
    }

    /// The action in words.
    pub const fn what(self) -> &'static str {
        match self {
            Self::Reauthenticate => "prove presence (the session counts as proven for the window)",
            Self::ChangePassword => "change the password",
            Self::ChangeEmail => "change the address",
            Self::DeleteAccount => "delete the account",
            Self::TurnOnTotp => "turn TOTP on (also the new app's first code)",
            Self::TurnOffTotp => "turn TOTP off",
            Self::NewRecoveryCodes => "replace the recovery codes",
            Self::AddPasskey => "start adding a passkey (its ceremony finishes it)",
            Self::RemovePasskey => "remove a passkey",
            Self::AddPhone => "add or replace the phone (its texted code confirms it)",
            Self::RemovePhone => "remove the phone",
            Self::ChangeRole => "change an account's role (admin)",
            Self::LockAccount => "lock an account (admin)",
            Self::UnlockAccount => "unlock an account (admin)",
            Self::RemoveSecondFactors => {
                "remove an account's second factors (admin; never one's own)"
            }
            Self::AddClient => "register an app (admin)",
            Self::RotateClientSecret => "replace an app's secret (admin)",
            Self::RemoveClient => "remove an app (admin)",
        }
    }

    /// The table of every action and what it needs, as `docs/API.md`
    /// shows it (a test keeps them equal).
    pub fn table() -> String {
        let mut table = String::from("| request | action | needs |\n|---|---|---|\n");
        for action in Self::ALL {
            let (method, path) = action.route();
            let needs = match action.needs() {
                Needs::Proof => "the proof, in the body",
                Needs::ProofOrProvenSession => "the proof in the body, or a proven session",
                Needs::ProvenSession => "a proven session, else `403 reauth_required`",
            };
            table.push_str(&format!(
                "| `{method} {path}` | {} | {needs} |\n",
                action.what()
            ));
        }
        table
    }
}

/// A passkey's answer, as a request presents it.
pub type PasskeyAnswer = passkeys::Presented<PublicKeyCredential>;

/// What a request presents as proof; all empty when it presents none.
#[derive(Debug, Default)]
pub struct Presented {
    pub password: String,
    /// A TOTP code, a recovery code, or a code texted for the proof.
    pub code: Option<String>,
    /// A passkey's answer to a re-authentication ceremony, with its token.
    pub passkey: Option<(String, PasskeyAnswer)>,
}

impl Presented {
    /// Whether the request presents any part of a proof.
    fn any(&self) -> bool {
        !self.password.is_empty() || self.code.is_some() || self.passkey.is_some()
    }
}

/// Who asks: the account and the session of the bearer token.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub net: RequesterNet,
}

/// Why a demand was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// Parts of the proof are missing: the password, or the second factor
    /// the account has (`422`, each listed).
    #[error("proof of presence is incomplete")]
    Missing(Vec<(&'static str, Issue)>),
    /// The password or the second factor is wrong (`401`).
    #[error("wrong proof: {0}")]
    Wrong(&'static str),
    /// The action takes a proven session, and this one is not (`403`).
    #[error("a recently proven session is required")]
    ReauthRequired,
    /// The passkey ceremony is unknown, expired or used (`400`).
    #[error("passkey ceremony gone")]
    CeremonyGone,
    /// The caller's account or session is gone: deleted, or ended since
    /// its token was checked (`401`).
    #[error("the account or session is gone")]
    SessionEnded,
    #[error("rate limited")]
    Limited(Exceeded),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Factors(#[from] super::mfa::MfaError),
    #[error(transparent)]
    Passkeys(#[from] super::passkeys::PasskeyError),
}

/// Checks proofs of presence and proven sessions.
#[derive(Clone)]
pub struct Prover {
    db: Db,
    second_factors: SecondFactors,
    passkeys: Passkeys,
    limiter: Limiter,
    hasher: Hasher,
    failures: FailureLimits,
    /// How long a proven session counts as proven (`REAUTH_WINDOW`).
    window: Duration,
}

/// What [`Prover::demand`] found: the caller's account, as read when the
/// proof was checked, and what the handler's checks returned.
#[derive(Debug)]
pub struct Granted<T> {
    pub account: Account,
    pub checked: T,
    /// The proof was given in the request (not a proven session's).
    pub by_proof: bool,
}

impl Prover {
    pub fn new(
        db: Db,
        (second_factors, passkeys): (SecondFactors, Passkeys),
        (limiter, hasher): (Limiter, Hasher),
        failures: FailureLimits,
        window: Duration,
    ) -> Self {
        Self {
            db,
            second_factors,
            passkeys,
            limiter,
            hasher,
            failures,
            window,
        }
    }

    /// How long a proven session counts as proven.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Demands what `action` needs of `caller`, with what the request
    /// `presented`, and runs `checks` (every check of the handler's that can
    /// refuse the request) after the password and before the second factor
    /// is taken: a refused request spends no recovery code, TOTP step or
    /// ceremony. `checks` gets the caller's account.
    ///
    /// Attempts with a password count against the account's failure budgets
    /// like a login, before the password is hashed; a success, or a refusal
    /// by `checks` after a right password, gives them back.
    pub async fn demand<T, E>(
        &self,
        caller: Caller<'_>,
        action: Action,
        presented: Presented,
        checks: impl AsyncFnOnce(&Account) -> Result<T, E>,
    ) -> Result<Granted<T>, E>
    where
        E: From<ProofError>,
    {
        let account = users::by_id(&self.db, caller.user_id)
            .await
            .map_err(ProofError::from)?
            .ok_or(ProofError::SessionEnded)?;
        let from_session = match action.needs() {
            Needs::Proof => false,
            Needs::ProofOrProvenSession => !presented.any() && self.is_proven(caller).await?,
            Needs::ProvenSession if self.is_proven(caller).await? => true,
            Needs::ProvenSession => return Err(ProofError::ReauthRequired.into()),
        };
        if from_session {
            let checked = checks(&account).await?;
            return Ok(Granted {
                account,
                checked,
                by_proof: false,
            });
        }
        let factors = self
            .second_factors
            .factors(&account.id)
            .await
            .map_err(ProofError::from)?;
        // A passkey's answer is checked whenever one is given (it can only
        // be the account's if the account has that passkey); a code only
        // when the account has something to check it against.
        let second = factors.any() || presented.passkey.is_some();
        if presented.password.is_empty() {
            return Err(require(&presented, factors.any())
                .err()
                .unwrap_or(ProofError::Missing(vec![("password", Issue::Required)]))
                .into());
        }
        let attempt = self
            .password(caller.net, &account, &presented.password, second)
            .await?;
        // A right password: what follows refuses without a failed attempt.
        let checked = match checks(&account).await {
            Ok(checked) => checked,
            Err(refused) => {
                self.limiter
                    .abandoned(attempt)
                    .await
                    .map_err(ProofError::from)?;
                return Err(refused);
            }
        };
        if let Err(missing) = require(&presented, factors.any()) {
            self.limiter
                .abandoned(attempt)
                .await
                .map_err(ProofError::from)?;
            return Err(missing.into());
        }
        // The session may have ended while the password was hashed (a
        // revocation on another instance that this one has not heard of
        // yet, a factor added meanwhile that ended password-only
        // sessions): nothing is taken for a session that is over.
        let live = sessions::proven_at(&self.db, caller.user_id, caller.session_id)
            .await
            .map_err(ProofError::from)?
            .is_some();
        if !live {
            self.limiter
                .abandoned(attempt)
                .await
                .map_err(ProofError::from)?;
            return Err(ProofError::SessionEnded.into());
        }
        if second {
            self.second_factor(&account, presented, attempt).await?;
        } else {
            self.limiter
                .succeeded(attempt)
                .await
                .map_err(ProofError::from)?;
        }
        Ok(Granted {
            account,
            checked,
            by_proof: true,
        })
    }

    /// For an action that takes a proven session (an admin's): refuses with
    /// [`ProofError::ReauthRequired`] unless the caller's session proved
    /// presence within the window.
    pub async fn require_proven(
        &self,
        caller: Caller<'_>,
        action: Action,
    ) -> Result<(), ProofError> {
        debug_assert_eq!(action.needs(), Needs::ProvenSession, "{action:?}");
        self.demand(caller, action, Presented::default(), async |_| {
            Ok::<_, ProofError>(())
        })
        .await
        .map(drop)
    }

    /// Records that the caller's session proved presence now: it counts as
    /// proven for the window. `false` when the session is no longer live.
    pub async fn mark_proven(&self, caller: Caller<'_>) -> Result<bool, ProofError> {
        Ok(sessions::mark_proven(&self.db, caller.user_id, caller.session_id, now_ms()).await?)
    }

    /// Whether the caller's session proved presence within the window; a
    /// session that ended since its token was checked is
    /// [`ProofError::SessionEnded`].
    pub async fn is_proven(&self, caller: Caller<'_>) -> Result<bool, ProofError> {
        let proven_at = sessions::proven_at(&self.db, caller.user_id, caller.session_id)
            .await?
            .ok_or(ProofError::SessionEnded)?;
        Ok(proven_at.is_some_and(|at| within(at, now_ms(), self.window)))
    }

    /// Counts the attempt (against the code budget too when a second factor
    /// follows), then checks the password. A wrong one is `401` and stays
    /// counted.
    async fn password(
        &self,
        net: RequesterNet,
        account: &Account,
        password: &str,
        with_code: bool,
    ) -> Result<Attempt, ProofError> {
        let attempt = if with_code {
            self.limiter
                .attempt_code(&account.id, net, self.failures)
                .await?
        } else {
            self.limiter
                .attempt(Subject::Account(&account.id), net, self.failures)
                .await?
        }
        .map_err(ProofError::Limited)?;
        let reserved = match self.hasher.reserve() {
            Ok(reserved) => reserved,
            Err(busy) => {
                self.limiter.abandoned(attempt).await?;
                return Err(busy.into());
            }
        };
        let forms = PasswordForms::of(password);
        match reserved
            .verify(
                &forms.against(account.password_nfc),
                Some(&account.password_hash),
            )
            .await?
        {
            Verdict::Match | Verdict::MatchNeedsRehash => Ok(attempt),
            Verdict::Mismatch => Err(ProofError::Wrong("The password or code is not correct.")),
        }
    }

    /// Takes the second factor presented: a passkey's answer, or a code
    /// (a TOTP code's time step, or a recovery code), used once.
    async fn second_factor(
        &self,
        account: &Account,
        presented: Presented,
        attempt: Attempt,
    ) -> Result<(), ProofError> {
        if let Some((ceremony, answer)) = presented.passkey {
            match self
                .passkeys
                .finish_assertion(&account.id, None, &ceremony, &answer)
                .await?
            {
                Verified::Yes { .. } => {}
                Verified::Gone => {
                    self.limiter.abandoned(attempt).await?;
                    return Err(ProofError::CeremonyGone);
                }
                Verified::Refused | Verified::CounterWentBack => {
                    return Err(ProofError::Wrong("The password or passkey is not correct."));
                }
            }
        } else {
            let code = presented.code.unwrap_or_default();
            if !self.second_factors.check(&account.id, code.trim()).await? {
                return Err(ProofError::Wrong("The password or code is not correct."));
            }
        }
        self.limiter.succeeded(attempt).await?;
        Ok(())
    }
}

/// `422` for every missing part of a proof: the password, and a second
/// factor (a code, or a passkey's answer) when the account has one.
fn require(presented: &Presented, second: bool) -> Result<(), ProofError> {
    let mut missing = Vec::new();
    if presented.password.is_empty() {
        missing.push(("password", Issue::Required));
    }
    let code = presented.code.as_deref().map(str::trim).unwrap_or_default();
    if second && presented.passkey.is_none() && code.is_empty() {
        missing.push(("code", Issue::Required));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProofError::Missing(missing))
    }
}

/// How far ahead of this instance's clock another instance's may have
/// stamped a proof (clocks kept by NTP agree far better): the same leeway
/// as an access token's.
const CLOCK_SKEW_MS: i64 = 5_000;

/// Whether a proof made at `at` still counts at `now` (all in ms): for the
/// window from `at`, never longer, and a proof stamped a little in the
/// future (another instance's clock, a moment ahead) counts at once.
fn within(at: i64, now: i64, window: Duration) -> bool {
    at <= now + CLOCK_SKEW_MS && now - at < ms(window)
}

impl From<Exceeded> for ProofError {
    fn from(e: Exceeded) -> Self {
        Self::Limited(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_counts_for_the_window_and_little_skew() {
        let window = Duration::from_secs(600);
        let now = 1_000_000_000;
        assert!(within(now, now, window));
        assert!(within(now - 599_999, now, window));
        assert!(!within(now - 600_000, now, window));
        assert!(
            within(now + 2_000, now, window),
            "another instance, a moment ahead"
        );
        assert!(
            !within(now + 60_000, now, window),
            "a proof from far in the future"
        );
    }

    #[test]
    fn a_proof_needs_the_password_and_the_second_factor_the_account_has() {
        let missing = |presented: &Presented, second| match require(presented, second) {
            Ok(()) => Vec::new(),
            Err(ProofError::Missing(fields)) => fields.into_iter().map(|(f, _)| f).collect(),
            Err(e) => panic!("{e}"),
        };
        let none = Presented::default();
        assert_eq!(missing(&none, false), ["password"]);
        assert_eq!(missing(&none, true), ["password", "code"]);
        let password = Presented {
            password: "pw".into(),
            ..Presented::default()
        };
        assert!(missing(&password, false).is_empty());
        assert_eq!(missing(&password, true), ["code"]);
        let blank_code = Presented {
            password: "pw".into(),
            code: Some("  ".into()),
            ..Presented::default()
        };
        assert_eq!(missing(&blank_code, true), ["code"]);
    }

    #[test]
    fn every_admin_action_takes_a_proven_session_and_no_other_action_does() {
        for action in Action::ALL {
            let admin = action.route().1.starts_with("/api/admin/")
                || action.route().1.starts_with("/api/users/");
            assert_eq!(action.needs() == Needs::ProvenSession, admin, "{action:?}");
        }
    }

    /// The table in docs/API.md is this module's: neither can change alone.
    #[test]
    fn the_documented_table_is_the_policy() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md"))
            .expect("docs/API.md");
        assert!(
            docs.contains(&Action::table()),
            "docs/API.md must hold this table of the proof policy as is:\n\n{}",
            Action::table()
        );
    }
}
