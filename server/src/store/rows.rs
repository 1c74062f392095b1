//! Rows and words that several storage files share: an audit event to
//! record and where its request came from, why a session ended, the kinds
//! of sign-in factor, a signing key's row, a role as stored. Each
//! concern's own rows stay in its file; these live here because the
//! transaction's helpers (`tx`) take them too.

use classboard::api::{EventKind, Role};
use sqlx::FromRow;

/// Why a session ended (stored, and shown in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Logout,
    LogoutAll,
    Revoked,
    Reuse,
    RoleChange,
    /// A second factor was added: sessions signed in with the password
    /// alone end.
    SecondFactorOn,
    /// The factor the session signed in with was removed (a passkey, TOTP,
    /// the recovery codes' set).
    FactorRemoved,
    /// The password was reset by a mailed link: every session ends.
    PasswordReset,
    /// The password was changed: every other session ends.
    PasswordChange,
    AccountDeleted,
    /// An admin locked the account.
    Locked,
    /// The app was removed, or the person withdrew its access.
    AppRemoved,
    /// An authorization code was used a second time: the grant of its
    /// first use ends (RFC 6749 §4.1.2).
    CodeReuse,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::Reuse => "reuse",
            Self::RoleChange => "role_change",
            Self::SecondFactorOn => "second_factor_on",
            Self::FactorRemoved => "factor_removed",
            Self::PasswordReset => "password_reset",
            Self::PasswordChange => "password_change",
            Self::AccountDeleted => "account_deleted",
            Self::Locked => "locked",
            Self::AppRemoved => "app_removed",
            Self::CodeReuse => "code_reuse",
        }
    }
}

/// The kinds of `sessions::Factor`, as the `factor` column stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    Password,
    Totp,
    RecoveryCode,
    Passkey,
    /// A code texted to the account's phone.
    Sms,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
            Self::Sms => "sms",
        }
    }
}

/// A key of the ring.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub kid: String,
    /// `HS256`, `EdDSA` or `RS256`.
    pub alg: String,
    /// `published`, `active`, `retired` or `revoked`.
    pub state: String,
    pub created_at: i64,
    /// When a published key starts signing.
    pub activates_at: i64,
    /// When it was retired or revoked.
    pub ended_at: Option<i64>,
    /// The private half, encrypted (see `auth::keys`).
    pub private_key: Vec<u8>,
    /// The public half as a JWK, for asymmetric keys.
    pub public_jwk: Option<String>,
    /// `access` or `id` (see `auth::jwt::Purpose`).
    pub purpose: String,
}

/// A role as stored (the CHECK constraint admits only the three roles).
pub fn stored_role(stored: &str) -> Role {
    Role::parse(stored).unwrap_or(Role::Student)
}

/// Where a request came from: its address (an IPv6 one cut to its /64) and
/// its `User-Agent`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub at: i64,
    pub user_id: Option<&'a str>,
    /// The admin who acted, when not the account's owner.
    pub actor_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    /// What changed, in words; never a secret.
    pub detail: Option<&'a str>,
    pub origin: &'a Origin,
}

impl<'a> Event<'a> {
    /// `kind` happening to `user_id` now, by a request from `origin`.
    pub fn new(kind: EventKind, user_id: &'a str, origin: &'a Origin) -> Self {
        Self {
            kind,
            at: super::now_ms(),
            user_id: Some(user_id),
            actor_id: None,
            session_id: None,
            detail: None,
            origin,
        }
    }

    pub fn session(self, session_id: &'a str) -> Self {
        Self {
            session_id: Some(session_id),
            ..self
        }
    }

    pub fn detail(self, detail: &'a str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }

    /// Done by the admin `actor_id` to someone else's account.
    pub fn by(self, actor_id: &'a str) -> Self {
        Self {
            actor_id: Some(actor_id),
            ..self
        }
    }

    /// The same event about another kind (a sign-in that also used a
    /// recovery code, say).
    pub fn also(self, kind: EventKind) -> Self {
        Self { kind, ..self }
    }
}
