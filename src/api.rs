//! Request and response bodies of the HTTP API (see `docs/API.md`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `error_description` of the `invalid_grant` that answers a refresh token of
/// a session ended by reuse detection. The browser tells the person their
/// session was ended for safety when it sees exactly this sentence.
pub const ENDED_FOR_SAFETY: &str = "This session was ended for your safety: one of its refresh tokens was used twice. Please log in again.";

/// What a user may do. Ordered by power, so `role >= Role::Teacher` reads well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Student,
    Teacher,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Student => "student",
            Self::Teacher => "teacher",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "student" => Some(Self::Student),
            "teacher" => Some(Self::Teacher),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Whether signing in takes a second factor.
    #[serde(default)]
    pub mfa: bool,
    /// Whether the address was proven by a link mailed to it.
    #[serde(default)]
    pub email_verified: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignupRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")
    )]
    pub username: String,
    #[cfg_attr(
        feature = "openapi",
        schema(format = Email, min_length = 3, max_length = 254)
    )]
    pub email: String,
    /// 15 to 128 characters; see the contract for what else a password
    /// must pass.
    #[cfg_attr(feature = "openapi", schema(min_length = 15, max_length = 128))]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// A username or an email address.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
        )
    )]
    pub login: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub password: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// RFC 6749 §5.1 field names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    /// Absent for the site's own pages, which get it only as the HttpOnly
    /// cookie; present for other clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserResponse {
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    /// The browser and system as people name them ("Chrome on Linux"), from
    /// the `User-Agent`; `null` when it names none.
    #[serde(default)]
    pub device: Option<String>,
    /// The address it signed in from, an IPv6 one cut to its /64.
    #[serde(default)]
    pub ip: Option<String>,
    /// Whether this is the session of the access token that asked.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<Session>,
    /// Pass as `before` to get the next page; `null` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPost {
    /// 1 to 200 characters once trimmed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000]{0,198}[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
        )
    )]
    pub title: String,
    /// 1 to 20,000 characters once trimmed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000]{0,19998}[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
        )
    )]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Author {
    pub id: String,
    pub username: String,
}

/// How a post or a grade names its author or teacher: the username, or
/// "deleted user" for an account that was deleted (`null` in the API).
pub fn byline(author: Option<&Author>) -> String {
    author.map_or_else(|| "deleted user".into(), |a| a.username.clone())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Post {
    pub id: String,
    pub title: String,
    pub body: String,
    /// `null` when the author deleted their account.
    pub author: Option<Author>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostResponse {
    pub post: Post,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostPage {
    pub posts: Vec<Post>,
    /// Pass as `before` to get the next (older) page; `null` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewGrade {
    /// The student's username.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
        )
    )]
    pub student: String,
    /// 1 to 100 characters once trimmed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000]{0,98}[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
        )
    )]
    pub course: String,
    /// 1 to 16 characters once trimmed (`A-`, `17/20`, `pass`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000]{0,14}[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
        )
    )]
    pub grade: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grade {
    pub id: String,
    pub student: Author,
    /// `null` when the teacher deleted their account.
    pub teacher: Option<Author>,
    pub course: String,
    pub grade: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GradeResponse {
    pub grade: Grade,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GradeList {
    pub grades: Vec<Grade>,
    /// Pass as `before` to get the next (older) page; `null` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleChange {
    #[cfg_attr(feature = "openapi", schema(value_type = Role))]
    pub role: String,
}

/// The body of the `403 mfa_required` that answers a right password when the
/// account has a second factor: no token yet, a challenge to finish with
/// `POST /api/auth/mfa`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaRequired {
    pub error: crate::ErrorCode,
    pub error_description: String,
    pub mfa_token: String,
    /// The methods the account has: `totp`, `recovery_code`, `passkey`.
    pub methods: Vec<MfaMethod>,
    /// Seconds the `mfa_token` lives.
    pub expires_in: u64,
}

/// A second factor a login can finish with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    Totp,
    RecoveryCode,
    Passkey,
    /// A code texted to the account's phone (`POST /api/auth/mfa/sms`
    /// sends it).
    Sms,
}

/// `POST /api/auth/mfa`: a `code` for `totp` and `recovery_code`; a
/// `ceremony` (from `POST /api/auth/mfa/passkey/options`) and the browser's
/// `credential` for `passkey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaLogin {
    pub mfa_token: String,
    pub method: MfaMethod,
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<Box<RawValue>>,
}

// WebAuthn's options and credentials are passed through as raw JSON: the
// server reads them, the browser hands them to `navigator.credentials`, and
// neither side's WebAssembly carries a JSON tree type for them.

/// A WebAuthn ceremony started: the browser answers `options`
/// (`PublicKeyCredentialCreationOptionsJSON` or
/// `PublicKeyCredentialRequestOptionsJSON`), and the answer goes back with
/// `ceremony`, within five minutes, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyCeremony {
    pub ceremony: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: Box<RawValue>,
}

/// `POST /api/account/passkeys`: finishes a registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPasskey {
    /// Missing is the same as empty: `422 required`.
    #[serde(default)]
    pub ceremony: String,
    /// The browser's `RegistrationResponseJSON`; missing is `422 required`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<Box<RawValue>>,
    /// How its owner will recognise it ("Laptop", "Phone").
    #[serde(default)]
    pub name: String,
}

/// `POST /api/auth/passkey`: a sign-in with a passkey and no password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeySignIn {
    /// Missing is the same as empty: `422 required`.
    #[serde(default)]
    pub ceremony: String,
    /// The browser's `AuthenticationResponseJSON`; missing is `422 required`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<Box<RawValue>>,
}

/// `POST /api/auth/mfa/passkey/options`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaPasskeyOptions {
    pub mfa_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyResponse {
    pub passkey: Passkey,
}

/// `GET /api/account/passkeys`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyList {
    pub passkeys: Vec<Passkey>,
}

/// `GET /api/account/mfa`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaStatus {
    pub totp: TotpStatus,
    pub passkeys: Vec<Passkey>,
    pub recovery_codes_left: u32,
    /// The confirmed phone, or `null`.
    #[serde(default)]
    pub phone: Option<Phone>,
    /// Whether a phone may be added and used (`SMS_SECOND_FACTOR`).
    #[serde(default)]
    pub sms_available: bool,
}

/// An account's confirmed phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Phone {
    /// E.164, such as `+447400123456`.
    pub number: String,
    /// RFC 3339.
    pub confirmed_at: String,
}

/// `POST /api/account/phone`: beside the proof of presence ([`Reauth`]'s
/// fields, in the same object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPhone {
    /// A mobile number in international form: `+`, the country's calling
    /// code, the number; spaces, dots, dashes and brackets are ignored.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "+44 7400 123456", min_length = 1, max_length = 40)
    )]
    pub phone: String,
}

/// `POST /api/account/phone/confirm`: the code texted to the new number.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneConfirmation {
    /// 6 digits; spaces and hyphens between them are ignored.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "123456", pattern = r"^[ -]*(?:[0-9][ -]*){6}$")
    )]
    pub code: String,
}

/// `POST /api/auth/mfa/sms`: texts a code for the login's second step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaSms {
    pub mfa_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpStatus {
    pub enabled: bool,
    /// When it was turned on (RFC 3339), or `null`.
    pub created_at: Option<String>,
}

/// `POST /api/account/mfa/totp`: a new secret, pending until confirmed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The `otpauth_uri` as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Proof of presence for a sensitive action (`POST /api/account/reauth`,
/// or beside the change itself): the current password and, when the account
/// has a second factor, one of them: a code (TOTP or recovery), or a
/// passkey's answer. From a session proven within `REAUTH_WINDOW`, an
/// account's own change may leave all of it out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reauth {
    /// Missing is the same as empty: `422 required`.
    #[serde(default)]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Instead of `code`: a passkey's answer to the options of
    /// `POST /api/account/reauth/passkey/options`, with that `ceremony`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<Box<RawValue>>,
}

/// `POST /api/account/mfa/totp/confirm`: the new app's first `code`, and
/// proof of presence: the password and, when the account already has a
/// second factor (a passkey), its answer (`ceremony`, `credential`) or a
/// `recovery_code`. From a proven session, `code` alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpConfirmation {
    /// The code the new authenticator app shows.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<Box<RawValue>>,
}

/// Recovery codes, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// A registered passkey.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Passkey {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// `POST /api/auth/verify-email`: the token of a verification mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailedToken {
    pub token: String,
}

/// `POST /api/auth/password-reset`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(format = Email, min_length = 3, max_length = 254)
    )]
    pub email: String,
}

/// `POST /api/auth/otp/email`: a sign-in code by mail, instead of the
/// password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailCodeRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(format = Email, min_length = 3, max_length = 254)
    )]
    pub email: String,
}

/// `POST /api/auth/otp/verify`: the code a mail gave, for its address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailCodeLogin {
    #[cfg_attr(
        feature = "openapi",
        schema(format = Email, min_length = 3, max_length = 254)
    )]
    pub email: String,
    /// 8 digits; spaces and hyphens between them are ignored.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "12345678", pattern = r"^[ -]*(?:[0-9][ -]*){8}$")
    )]
    pub code: String,
}

/// `POST /api/auth/password-reset/confirm`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 15, max_length = 128))]
    pub new_password: String,
}

/// `POST /api/account/password`: beside the proof of presence ([`Reauth`]'s
/// fields, in the same object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPassword {
    #[cfg_attr(feature = "openapi", schema(min_length = 15, max_length = 128))]
    pub new_password: String,
}

/// `POST /api/account/email`: beside the proof of presence ([`Reauth`]'s
/// fields, in the same object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEmail {
    #[cfg_attr(
        feature = "openapi",
        schema(format = Email, min_length = 3, max_length = 254)
    )]
    pub email: String,
}

/// What a security event records. Stored and sent by [`EventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Signup,
    LoginSucceeded,
    LoginFailed,
    SecondFactorFailed,
    /// A spent refresh token came back: its session was ended.
    RefreshTokenReused,
    Logout,
    LogoutAll,
    SessionRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordResetDone,
    /// A code to sign in instead of the password was mailed.
    SignInCodeRequested,
    /// A link to prove a new address was mailed to it.
    EmailChangeRequested,
    EmailChanged,
    EmailVerified,
    SecondFactorAdded,
    SecondFactorRemoved,
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyUsed,
    RoleChanged,
    AccountLocked,
    AccountUnlocked,
    AccountDeleted,
    /// An app (OAuth client) was registered; `detail` names it.
    ClientAdded,
    ClientRemoved,
    /// An app's secret was replaced: the old one no longer works.
    ClientSecretRotated,
    /// The person allowed an app what it asked; `detail` names the app and
    /// the scopes.
    AppAllowed,
    /// The person withdrew an app's access: its tokens ended.
    AppAccessWithdrawn,
    /// An app was told by a back-channel logout token that the person's
    /// session it signed in through ended; `detail` names the app.
    AppLogoutDelivered,
    /// An app could not be told so: given up after retries, or its address
    /// is one this server does not call; `detail` says why.
    AppLogoutFailed,
}

impl EventKind {
    pub const ALL: [Self; 32] = [
        Self::Signup,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::SecondFactorFailed,
        Self::RefreshTokenReused,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordResetDone,
        Self::SignInCodeRequested,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::SecondFactorAdded,
        Self::SecondFactorRemoved,
        Self::RecoveryCodeUsed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::PasskeyUsed,
        Self::RoleChanged,
        Self::AccountLocked,
        Self::AccountUnlocked,
        Self::AccountDeleted,
        Self::ClientAdded,
        Self::ClientRemoved,
        Self::ClientSecretRotated,
        Self::AppAllowed,
        Self::AppAccessWithdrawn,
        Self::AppLogoutDelivered,
        Self::AppLogoutFailed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::SignInCodeRequested => "sign_in_code_requested",
            Self::PasswordResetDone => "password_reset_done",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::EmailVerified => "email_verified",
            Self::SecondFactorAdded => "second_factor_added",
            Self::SecondFactorRemoved => "second_factor_removed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasskeyUsed => "passkey_used",
            Self::RoleChanged => "role_changed",
            Self::AccountLocked => "account_locked",
            Self::AccountUnlocked => "account_unlocked",
            Self::AccountDeleted => "account_deleted",
            Self::ClientAdded => "client_added",
            Self::ClientRemoved => "client_removed",
            Self::ClientSecretRotated => "client_secret_rotated",
            Self::AppAllowed => "app_allowed",
            Self::AppAccessWithdrawn => "app_access_withdrawn",
            Self::AppLogoutDelivered => "app_logout_delivered",
            Self::AppLogoutFailed => "app_logout_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// How the activity list says it, as a sentence without a subject.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Signup => "Account created",
            Self::LoginSucceeded => "Signed in",
            Self::LoginFailed => "Failed sign-in",
            Self::SecondFactorFailed => "Wrong second-factor code",
            Self::RefreshTokenReused => "Session ended: a refresh token was used twice",
            Self::Logout => "Signed out",
            Self::LogoutAll => "Signed out everywhere",
            Self::SessionRevoked => "Session ended",
            Self::PasswordChanged => "Password changed",
            Self::PasswordResetRequested => "Password reset asked for",
            Self::SignInCodeRequested => "Sign-in code mailed",
            Self::PasswordResetDone => "Password reset",
            Self::EmailChangeRequested => "Address change asked for",
            Self::EmailChanged => "Address changed",
            Self::EmailVerified => "Address confirmed",
            Self::SecondFactorAdded => "Second factor added",
            Self::SecondFactorRemoved => "Second factor removed",
            Self::RecoveryCodeUsed => "Recovery code used",
            Self::PasskeyAdded => "Passkey added",
            Self::PasskeyRemoved => "Passkey removed",
            Self::PasskeyUsed => "Signed in with a passkey",
            Self::RoleChanged => "Role changed",
            Self::AccountLocked => "Account locked",
            Self::AccountUnlocked => "Account unlocked",
            Self::AccountDeleted => "Account deleted",
            Self::ClientAdded => "App registered",
            Self::ClientRemoved => "App removed",
            Self::ClientSecretRotated => "App secret replaced",
            Self::AppAllowed => "App allowed",
            Self::AppAccessWithdrawn => "App's access withdrawn",
            Self::AppLogoutDelivered => "App told of the sign-out",
            Self::AppLogoutFailed => "App could not be told of the sign-out",
        }
    }
}

/// One security event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    /// RFC 3339, UTC.
    pub at: String,
    /// The account it happened to; `null` for a failed sign-in under a name
    /// that matches no account.
    pub user_id: Option<String>,
    /// The admin who did it, when it was not the account's owner.
    pub actor_id: Option<String>,
    /// The address the request came from, an IPv6 one cut to its /64.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// [`Session::device`] of the `User-Agent`.
    pub device: Option<String>,
    /// The session it happened in or to, when there is one.
    pub session_id: Option<String>,
    /// Whether that is the session of the access token that asked.
    pub current: bool,
    /// What changed, in words (a new role, which factor); never a secret.
    pub detail: Option<String>,
}

/// `GET /api/account/activity`, `GET /api/admin/audit`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `before` to get the next (older) page; `null` on the last page.
    pub next: Option<String>,
}

/// An account as the admin console lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
    pub email_verified: bool,
    /// Whether signing in takes a second factor.
    pub mfa: bool,
    pub locked: bool,
    /// RFC 3339, or `null` if it never signed in.
    pub last_login_at: Option<String>,
}

/// An app (OAuth client) registered here, as admins see it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// No secret: a single-page or native app (PKCE only).
    pub public: bool,
    /// Where the app may send a person back to, each compared exactly.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// The grants it may use.
    pub grant_types: Vec<String>,
    /// People are not asked for consent.
    pub trusted: bool,
    pub jwks_uri: Option<String>,
    pub created_at: String,
    pub secret_rotated_at: Option<String>,
    /// What its ID and logout tokens are signed with: `RS256`, `EdDSA` or
    /// `ES256`.
    pub id_token_signed_response_alg: String,
    /// Its authorization requests must be pushed first (PAR, RFC 9126).
    #[serde(default)]
    pub require_par: bool,
    /// It registered itself (dynamic registration, RFC 7591) rather than
    /// being registered by an admin.
    #[serde(default)]
    pub registered_itself: bool,
}

/// `GET /api/admin/clients`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientPage {
    pub clients: Vec<Client>,
    /// Pass as `before` to get the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `POST /api/admin/clients`: an app to register. Only `name` is always
/// needed; an app that signs people in also needs a redirect URI. The
/// rules a schema cannot say (which URIs, scopes and grants) are in the
/// contract's "Apps (OAuth clients)".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A misspelt `public` would register a confidential app unnoticed.
#[serde(deny_unknown_fields)]
pub struct NewClient {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s][^\u0000-\u001f\u007f-\u009f]*$"
        )
    )]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub public: bool,
    /// Default `openid profile email`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 7))]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub trusted: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Default `authorization_code` and `refresh_token`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 4))]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Default `RS256`; `EdDSA` or `ES256` for an app that prefers them.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, pattern = "^(RS256|EdDSA|ES256)$")
    )]
    pub id_token_signed_response_alg: Option<String>,
    /// Its authorization requests must be pushed first (PAR, RFC 9126).
    #[serde(default)]
    pub require_par: bool,
}

/// `201` to `POST /api/admin/clients`: the app, and a confidential app's
/// secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientCreated {
    pub client: Client,
    pub client_secret: Option<String>,
}

/// `POST /api/admin/clients/{id}/secret`: the new secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSecret {
    pub client_secret: String,
}

/// `GET /api/admin/users`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserPage {
    pub users: Vec<AdminUser>,
    /// Pass as `before` to get the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `POST /api/oauth/authorization`: the sign-in request (from an app) the
/// page at `/authorize` goes on with, by the handle in its address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthorizationAsked {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")
    )]
    pub request: String,
}

/// `POST /api/oauth/authorization/decision`: the person's answer on the
/// consent page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDecision {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")
    )]
    pub request: String,
    pub allow: bool,
}

/// Where an app's sign-in request goes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum AuthorizationStep {
    /// Back to the app: the browser goes to `to` (with a code, or an error).
    Redirect { to: String },
    /// The person signs in first (again, when the app asked for a recent
    /// sign-in); `login_hint` is what the app suggested.
    SignIn { login_hint: Option<String> },
    /// The person is asked whether `app` may do what `scopes` say.
    Consent {
        app: String,
        scopes: Vec<ScopeInWords>,
        /// The app registered itself: no one at the school checked it.
        #[serde(default)]
        registered_itself: bool,
    },
}

/// `POST /api/oauth/logout`: the sign-out request (from an app) the page
/// at `/logout` goes on with, by the handle in its address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogoutAsked {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 8192, pattern = "^[A-Za-z0-9_-]+$")
    )]
    pub request: String,
}

/// What the `/logout` page does for the person at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogoutStep {
    /// The app that asked, by name, when the request named one.
    pub app: Option<String>,
    /// Whether to ask the person before signing them out: the app's
    /// request did not name the session this browser holds.
    pub ask: bool,
    /// Where to go afterwards (the app's registered address, with its
    /// `state`); `null`: stay on this site.
    pub then: Option<String>,
}

/// `POST /api/oauth/device`: the code a device shows, as the person typed
/// it (any case, with or without the dash).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceCode {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 32, pattern = "^[^\\u0000]*$")
    )]
    pub user_code: String,
}

/// What a device asks, for the person to allow or deny at `/device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceAsks {
    /// The app's name.
    pub app: String,
    pub scopes: Vec<ScopeInWords>,
    /// The code as the device shows it (`XXXX-XXXX`): the person checks
    /// it matches their device.
    pub user_code: String,
    /// The app registered itself: no one at the school checked it.
    pub registered_itself: bool,
}

/// `POST /api/oauth/device/decision`: the person's answer at `/device`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceDecision {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 32, pattern = "^[^\\u0000]*$")
    )]
    pub user_code: String,
    pub allow: bool,
}

/// A scope, and what it lets an app do, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeInWords {
    pub scope: String,
    pub description: String,
}

/// An app the person allowed, on `/account` ("Apps with access").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppAccess {
    pub client_id: String,
    pub name: String,
    /// What it may do, in words.
    pub scopes: Vec<ScopeInWords>,
    /// RFC 3339, UTC: when the person last allowed it something.
    pub allowed_at: String,
}

/// `GET /api/account/apps`: the apps the person allowed, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppAccessList {
    pub apps: Vec<AppAccess>,
}
