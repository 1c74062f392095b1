//! The browser's only way to the API. Every request carries the stored
//! access token; a `401 invalid_token` triggers one refresh, shared by every
//! request of this tab that fails at the same moment (single flight) and by
//! every tab of the site (a Web Lock named `classboard-refresh`: a tab that
//! waited finds the token another tab just stored, in local storage or in
//! `handoff`'s record, and skips its own call), then the request is retried
//! once.
//!
//! The refresh token is the HttpOnly cookie; this module never sees it.

use std::{cell::RefCell, future::Future, rc::Rc};

use classboard::{
    ErrorBody, ErrorCode,
    api::{
        AdminUserPage, AppAccessList, AuthorizationAsked, AuthorizationDecision, AuthorizationStep,
        ClientCreated, ClientPage, ClientSecret, DeviceAsks, DeviceCode, DeviceDecision,
        ENDED_FOR_SAFETY, EmailCodeLogin, EmailCodeRequest, EventPage, GradeList, GradeResponse,
        LoginRequest, LogoutAsked, LogoutStep, MailedToken, MfaLogin, MfaPasskeyOptions,
        MfaRequired, MfaSms, MfaStatus, NewClient, NewGrade, NewPasskey, NewPhone, NewPost,
        PasskeyCeremony, PasskeySignIn, PasswordReset, PasswordResetRequest, Phone,
        PhoneConfirmation, Post, PostPage, PostResponse, Reauth, RecoveryCodes, Role, RoleChange,
        SessionList, SignupRequest, TokenResponse, TotpConfirmation, TotpEnrolment, User,
        UserResponse,
    },
};
use futures::{
    FutureExt,
    future::{LocalBoxFuture, Shared},
};
use gloo_net::http::{Method, RequestBuilder, Response};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    dpop, handoff,
    storage::{self, Ended},
};

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with an error body.
    Status(u16, ErrorBody),
    /// The session is over and could not be renewed.
    SessionEnded(Ended),
    /// No answer (offline, server down) or an unreadable one. It carries
    /// no detail: the person is told the same whatever failed, and turning
    /// the libraries' errors into text would bring their formatting code
    /// (serde's, floats' included) into every page's download.
    Network,
}

impl ApiError {
    /// A sentence for the top of a form or page.
    pub fn message(&self) -> String {
        match self {
            Self::Status(_, body) => body.error_description.clone(),
            Self::SessionEnded(ended) => ended.message().into(),
            Self::Network => {
                "The server could not be reached. Check your connection and try again.".into()
            }
        }
    }

    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Status(_, body) => Some(body.error),
            _ => None,
        }
    }

    /// The issue reported for `field` in a `422`'s details.
    pub fn issue_for(&self, field: &str) -> Option<String> {
        match self {
            Self::Status(_, body) => body
                .details
                .iter()
                .find(|d| d.field == field)
                .map(|d| d.issue.clone()),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

pub async fn signup(req: &SignupRequest) -> Result<User> {
    let tokens: TokenResponse =
        json(call(Method::POST, "/api/auth/signup", Some(req), false).await?).await?;
    storage::save(&tokens.access_token, &tokens.user);
    Ok(tokens.user)
}

/// What a right password led to.
#[derive(Debug, Clone)]
pub enum LoggedIn {
    /// Signed in.
    Done(User),
    /// The account has a second factor: finish with [`login_second_step`].
    SecondStep(MfaRequired),
}

pub async fn login(req: &LoginRequest) -> Result<LoggedIn> {
    first_step("/api/auth/login", &encode(req)?).await
}

/// Signs in with the code a mail gave, instead of the password.
pub async fn login_with_code(req: &EmailCodeLogin) -> Result<LoggedIn> {
    first_step("/api/auth/otp/verify", &encode(req)?).await
}

/// Asks for a sign-in code by mail; the answer is the same for every
/// address.
pub async fn request_sign_in_code(email: &str) -> Result<()> {
    let body = EmailCodeRequest {
        email: email.to_owned(),
    };
    call(Method::POST, "/api/auth/otp/email", Some(&body), false)
        .await
        .map(drop)
}

/// A login's first step (a password, or a mailed code) at `path`: signed
/// in, or the second step to take.
async fn first_step(path: &str, body: &str) -> Result<LoggedIn> {
    let response = send(Method::POST, path, Some(body), None).await?;
    if response.status() == 403 {
        let text = response.text().await.map_err(|_| ApiError::Network)?;
        if let Ok(required) = serde_json::from_str::<MfaRequired>(&text) {
            return Ok(LoggedIn::SecondStep(required));
        }
        return Err(ApiError::Status(
            403,
            serde_json::from_str(&text).unwrap_or_else(|_| {
                ErrorBody::new(ErrorCode::Forbidden, "The server refused to sign you in.")
            }),
        ));
    }
    let tokens: TokenResponse = json(check(response).await?).await?;
    storage::save(&tokens.access_token, &tokens.user);
    Ok(LoggedIn::Done(tokens.user))
}

/// The second step of a login: a TOTP or recovery code for the challenge.
pub async fn login_second_step(req: &MfaLogin) -> Result<User> {
    let tokens: TokenResponse =
        json(call(Method::POST, "/api/auth/mfa", Some(req), false).await?).await?;
    storage::save(&tokens.access_token, &tokens.user);
    Ok(tokens.user)
}

/// Starts a sign-in with a passkey and no password.
pub async fn passkey_options() -> Result<PasskeyCeremony> {
    json(call::<()>(Method::POST, "/api/auth/passkey/options", None, false).await?).await
}

/// Signs in with the browser's answer to [`passkey_options`].
pub async fn passkey_sign_in(req: &PasskeySignIn) -> Result<User> {
    let tokens: TokenResponse =
        json(call(Method::POST, "/api/auth/passkey", Some(req), false).await?).await?;
    storage::save(&tokens.access_token, &tokens.user);
    Ok(tokens.user)
}

/// Starts the passkey step of a login: options for that account's passkeys.
pub async fn mfa_passkey_options(req: &MfaPasskeyOptions) -> Result<PasskeyCeremony> {
    json(
        call(
            Method::POST,
            "/api/auth/mfa/passkey/options",
            Some(req),
            false,
        )
        .await?,
    )
    .await
}

/// Starts adding a passkey (after proof of presence).
pub async fn passkey_register(proof: &Reauth) -> Result<PasskeyCeremony> {
    json(
        call(
            Method::POST,
            "/api/account/passkeys/register",
            Some(proof),
            true,
        )
        .await?,
    )
    .await
}

/// Proves presence: the session then counts as proven for the server's
/// window, and changes within it need no proof of their own.
pub async fn reauth(proof: &Reauth) -> Result<()> {
    call(Method::POST, "/api/account/reauth", Some(proof), true)
        .await
        .map(drop)
}

/// Options for proving presence with one of the account's passkeys.
pub async fn reauth_passkey_options() -> Result<PasskeyCeremony> {
    json(
        call::<()>(
            Method::POST,
            "/api/account/reauth/passkey/options",
            None,
            true,
        )
        .await?,
    )
    .await
}

/// Finishes adding a passkey.
pub async fn passkey_add(new: &NewPasskey) -> Result<()> {
    call(Method::POST, "/api/account/passkeys", Some(new), true)
        .await
        .map(drop)
}

pub async fn passkey_remove(id: &str, proof: &Reauth) -> Result<()> {
    let path = format!("/api/account/passkeys/{id}");
    call(Method::DELETE, &path, Some(proof), true)
        .await
        .map(drop)
}

pub async fn mfa_status() -> Result<MfaStatus> {
    json(call::<()>(Method::GET, "/api/account/mfa", None, true).await?).await
}

/// A new TOTP secret, pending until [`totp_confirm`].
pub async fn totp_begin() -> Result<TotpEnrolment> {
    json(call::<()>(Method::POST, "/api/account/mfa/totp", None, true).await?).await
}

pub async fn totp_confirm(proof: &TotpConfirmation) -> Result<RecoveryCodes> {
    json(
        call(
            Method::POST,
            "/api/account/mfa/totp/confirm",
            Some(proof),
            true,
        )
        .await?,
    )
    .await
}

pub async fn totp_remove(proof: &Reauth) -> Result<()> {
    call(Method::DELETE, "/api/account/mfa/totp", Some(proof), true)
        .await
        .map(drop)
}

/// Texts a code to `phone`, which becomes the account's when
/// [`confirm_phone`] brings the code back.
pub async fn add_phone(phone: &str) -> Result<()> {
    let body = NewPhone {
        phone: phone.to_owned(),
    };
    call(Method::POST, "/api/account/phone", Some(&body), true)
        .await
        .map(drop)
}

pub async fn confirm_phone(code: &str) -> Result<Phone> {
    let body = PhoneConfirmation {
        code: code.to_owned(),
    };
    json(
        call(
            Method::POST,
            "/api/account/phone/confirm",
            Some(&body),
            true,
        )
        .await?,
    )
    .await
}

pub async fn remove_phone(proof: &Reauth) -> Result<()> {
    call(Method::DELETE, "/api/account/phone", Some(proof), true)
        .await
        .map(drop)
}

/// Texts a code to the account's phone, for a proof of presence.
pub async fn text_proof_code() -> Result<()> {
    call::<()>(Method::POST, "/api/account/phone/code", None, true)
        .await
        .map(drop)
}

/// Texts a code for a login's second step.
pub async fn text_login_code(mfa_token: &str) -> Result<()> {
    let body = MfaSms {
        mfa_token: mfa_token.to_owned(),
    };
    call(Method::POST, "/api/auth/mfa/sms", Some(&body), false)
        .await
        .map(drop)
}

pub async fn new_recovery_codes(proof: &Reauth) -> Result<RecoveryCodes> {
    json(
        call(
            Method::POST,
            "/api/account/mfa/recovery-codes",
            Some(proof),
            true,
        )
        .await?,
    )
    .await
}

/// Asks for a password-reset link; the answer is the same for every address.
pub async fn request_password_reset(email: &str) -> Result<()> {
    let body = PasswordResetRequest {
        email: email.to_owned(),
    };
    call(Method::POST, "/api/auth/password-reset", Some(&body), false)
        .await
        .map(drop)
}

/// Sets a new password with a mailed link's token.
pub async fn reset_password(req: &PasswordReset) -> Result<()> {
    call(
        Method::POST,
        "/api/auth/password-reset/confirm",
        Some(req),
        false,
    )
    .await
    .map(drop)
}

/// Proves an address with a mailed link's token.
pub async fn verify_email(token: &str) -> Result<()> {
    let body = MailedToken {
        token: token.to_owned(),
    };
    call(Method::POST, "/api/auth/verify-email", Some(&body), false)
        .await
        .map(drop)
}

/// Mails a fresh link to prove the account's address.
pub async fn resend_verification() -> Result<()> {
    call::<()>(Method::POST, "/api/account/verify-email", None, true)
        .await
        .map(drop)
}

/// A change of the account, made from a session that proved presence (see
/// `pages::confirm`).
#[derive(Serialize)]
pub struct AccountChange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

/// `POST /api/account/password` (with `new_password`) or `POST
/// /api/account/email` (with `email`).
pub async fn change_account(change: &AccountChange<'_>) -> Result<()> {
    let path = match change.new_password {
        Some(_) => "/api/account/password",
        None => "/api/account/email",
    };
    call(Method::POST, path, Some(change), true).await.map(drop)
}

/// `DELETE /api/account`, from a session that proved presence.
pub async fn delete_account() -> Result<()> {
    call(
        Method::DELETE,
        "/api/account",
        Some(&serde_json::json!({})),
        true,
    )
    .await
    .map(drop)
}

/// Ends this session; the token is forgotten even if the server is unreachable.
pub async fn logout() -> Result<()> {
    let result = call::<()>(Method::POST, "/api/auth/logout", None, false)
        .await
        .map(drop);
    storage::clear(None);
    handoff::forget().await;
    result
}

pub async fn logout_all() -> Result<()> {
    let result = call::<()>(Method::POST, "/api/auth/logout-all", None, true)
        .await
        .map(drop);
    storage::clear(None);
    handoff::forget().await;
    result
}

/// What an app's sign-out request `request` says for this browser.
pub async fn logout_step(request: String) -> Result<LogoutStep> {
    let asked = LogoutAsked { request };
    json(call(Method::POST, "/api/oauth/logout", Some(&asked), true).await?).await
}

/// What the device whose code the person typed asks for.
pub async fn device_asks(user_code: String) -> Result<DeviceAsks> {
    let code = DeviceCode { user_code };
    json(call(Method::POST, "/api/oauth/device", Some(&code), true).await?).await
}

/// The person's Allow (`true`) or Deny of a device's request.
pub async fn device_decision(user_code: String, allow: bool) -> Result<()> {
    let decision = DeviceDecision { user_code, allow };
    call::<DeviceDecision>(
        Method::POST,
        "/api/oauth/device/decision",
        Some(&decision),
        true,
    )
    .await?;
    Ok(())
}

/// Where an app's sign-in request `request` goes next (signed in or not).
pub async fn authorization(request: String) -> Result<AuthorizationStep> {
    let asked = AuthorizationAsked { request };
    json(call(Method::POST, "/api/oauth/authorization", Some(&asked), true).await?).await
}

/// The person's Allow (`true`) or Deny on the consent page.
pub async fn authorization_decision(request: String, allow: bool) -> Result<AuthorizationStep> {
    let decision = AuthorizationDecision { request, allow };
    json(
        call(
            Method::POST,
            "/api/oauth/authorization/decision",
            Some(&decision),
            true,
        )
        .await?,
    )
    .await
}

/// The apps the person allowed.
pub async fn apps_with_access() -> Result<AppAccessList> {
    json(call::<()>(Method::GET, "/api/account/apps", None, true).await?).await
}

/// Withdraws what the person allowed the app `client_id`.
pub async fn withdraw_app(client_id: &str) -> Result<()> {
    let path = format!(
        "/api/account/apps/{}",
        js_sys::encode_uri_component(client_id)
    );
    call::<()>(Method::DELETE, &path, None, true).await?;
    Ok(())
}

pub async fn me() -> Result<User> {
    Ok(
        json::<UserResponse>(call::<()>(Method::GET, "/api/me", None, true).await?)
            .await?
            .user,
    )
}

/// A page of the sessions list; `before` is the previous page's `next`.
pub async fn sessions(before: Option<&str>) -> Result<SessionList> {
    json(
        call::<()>(
            Method::GET,
            &paged("/api/auth/sessions", before),
            None,
            true,
        )
        .await?,
    )
    .await
}

pub async fn revoke_session(id: &str) -> Result<()> {
    call::<()>(
        Method::DELETE,
        &format!("/api/auth/sessions/{id}"),
        None,
        true,
    )
    .await
    .map(drop)
}

pub async fn posts(before: Option<&str>) -> Result<PostPage> {
    json(call::<()>(Method::GET, &paged("/api/posts", before), None, false).await?).await
}

/// `path` asking for the page after the cursor `before`, if any.
fn paged(path: &str, before: Option<&str>) -> String {
    match before {
        Some(cursor) => format!("{path}?before={}", js_sys::encode_uri_component(cursor)),
        None => path.into(),
    }
}

pub async fn create_post(new: &NewPost) -> Result<Post> {
    Ok(
        json::<PostResponse>(call(Method::POST, "/api/posts", Some(new), true).await?)
            .await?
            .post,
    )
}

pub async fn delete_post(id: &str) -> Result<()> {
    let path = format!("/api/posts/{}", js_sys::encode_uri_component(id));
    call::<()>(Method::DELETE, &path, None, true)
        .await
        .map(drop)
}

/// A page of grades; `before` is the previous page's `next`.
pub async fn grades(before: Option<&str>) -> Result<GradeList> {
    json(call::<()>(Method::GET, &paged("/api/grades", before), None, true).await?).await
}

pub async fn assign_grade(new: &NewGrade) -> Result<GradeResponse> {
    json(call(Method::POST, "/api/grades", Some(new), true).await?).await
}

/// A page of the caller's security events; `before` is the previous page's
/// `next`.
pub async fn activity(before: Option<&str>) -> Result<EventPage> {
    let mut path = "/api/account/activity".to_owned();
    if let Some(cursor) = before {
        path.push_str(&format!("?before={}", js_sys::encode_uri_component(cursor)));
    }
    json(call::<()>(Method::GET, &path, None, true).await?).await
}

/// A page of the accounts whose username or email starts with `q`.
pub async fn admin_users(q: &str, before: Option<&str>) -> Result<AdminUserPage> {
    let mut path = format!("/api/admin/users?q={}", js_sys::encode_uri_component(q));
    if let Some(cursor) = before {
        path.push_str(&format!("&before={}", js_sys::encode_uri_component(cursor)));
    }
    json(call::<()>(Method::GET, &path, None, true).await?).await
}

/// A page of one account's security events, for an admin.
pub async fn admin_events(user_id: &str, before: Option<&str>) -> Result<EventPage> {
    let mut path = format!(
        "/api/admin/audit?user={}",
        js_sys::encode_uri_component(user_id)
    );
    if let Some(cursor) = before {
        path.push_str(&format!("&before={}", js_sys::encode_uri_component(cursor)));
    }
    json(call::<()>(Method::GET, &path, None, true).await?).await
}

/// A page of the registered apps, for an admin.
pub async fn admin_clients(before: Option<&str>) -> Result<ClientPage> {
    let mut path = "/api/admin/clients?limit=50".to_owned();
    if let Some(cursor) = before {
        path.push_str(&format!("&before={}", js_sys::encode_uri_component(cursor)));
    }
    json(call::<()>(Method::GET, &path, None, true).await?).await
}

/// Registers an app; its secret (for a confidential app) comes this once.
pub async fn admin_client_add(new: &NewClient) -> Result<ClientCreated> {
    json(call(Method::POST, "/api/admin/clients", Some(new), true).await?).await
}

/// Replaces an app's secret; the new one comes this once.
pub async fn admin_client_secret(client_id: &str) -> Result<ClientSecret> {
    let id = js_sys::encode_uri_component(client_id);
    let path = format!("/api/admin/clients/{id}/secret");
    json(call::<()>(Method::POST, &path, None, true).await?).await
}

/// Removes an app: every grant and token of it ends.
pub async fn admin_client_remove(client_id: &str) -> Result<()> {
    let id = js_sys::encode_uri_component(client_id);
    let path = format!("/api/admin/clients/{id}");
    call::<()>(Method::DELETE, &path, None, true)
        .await
        .map(drop)
}

/// What an admin does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    Lock,
    Unlock,
    RemoveSecondFactors,
    Role(Role),
}

pub async fn admin_act(user_id: &str, action: AdminAction) -> Result<()> {
    let id = js_sys::encode_uri_component(user_id);
    match action {
        AdminAction::Lock => {
            call::<()>(
                Method::POST,
                &format!("/api/admin/users/{id}/lock"),
                None,
                true,
            )
            .await
        }
        AdminAction::Unlock => {
            call::<()>(
                Method::POST,
                &format!("/api/admin/users/{id}/unlock"),
                None,
                true,
            )
            .await
        }
        AdminAction::RemoveSecondFactors => {
            call::<()>(
                Method::DELETE,
                &format!("/api/admin/users/{id}/mfa"),
                None,
                true,
            )
            .await
        }
        AdminAction::Role(role) => {
            let body = RoleChange {
                role: role.as_str().into(),
            };
            call(
                Method::PATCH,
                &format!("/api/users/{id}/role"),
                Some(&body),
                true,
            )
            .await
        }
    }
    .map(drop)
}

/// Sends a request with the stored token; on `401 invalid_token`, refreshes
/// once and retries once. Requests made while no token is stored go out
/// without the header and are never retried.
async fn call<B: Serialize>(
    method: Method,
    path: &str,
    body: Option<&B>,
    bearer: bool,
) -> Result<Response> {
    // Serialised here, so that one copy of the request path below serves
    // every body type: each generic copy weighed about 3 KB of WebAssembly.
    let body = body.map(encode).transpose()?;
    call_with(method, path, body.as_deref(), bearer).await
}

fn encode<B: Serialize>(body: &B) -> Result<String> {
    serde_json::to_string(body).map_err(|_| ApiError::Network)
}

async fn call_with(
    method: Method,
    path: &str,
    body: Option<&str>,
    bearer: bool,
) -> Result<Response> {
    let token = if bearer { storage::token() } else { None };
    let response = send(method.clone(), path, body, token.as_deref()).await?;
    if response.status() == 401
        && let Some(failed) = token
    {
        let error = error_body(response).await;
        if error.error != ErrorCode::InvalidToken {
            return Err(ApiError::Status(401, error));
        }
        let fresh = refresh_once(failed).await?;
        return check(send(method, path, body, Some(&fresh)).await?).await;
    }
    check(response).await
}

/// The calls that start or renew a session: their DPoP proof binds it to
/// this browser's key (see `dpop`).
const SESSION_CALLS: [&str; 6] = [
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/otp/verify",
    "/api/auth/mfa",
    "/api/auth/passkey",
    "/api/auth/refresh",
];

/// Sends one request, with a DPoP proof when it carries the access token or
/// starts or renews a session, and the browser has a key: the token then
/// goes as `DPoP`, else as `Bearer`. When the server asks for its newer
/// nonce (`use_dpop_nonce`), or refuses the proof's time (`iat`, a device
/// clock that is off), the request is sent once more with a new proof;
/// every nonce the server gives is kept for the next proof, and its clock's
/// offset from this device's with it.
async fn send(
    method: Method,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<Response> {
    let prove = token.is_some() || SESSION_CALLS.contains(&path);
    let mut retried = false;
    loop {
        let proof = if prove {
            dpop::proof(method.as_str(), path, token).await
        } else {
            None
        };
        let mut request = RequestBuilder::new(path).method(method.clone());
        if let Some(proof) = &proof {
            request = request.header("DPoP", proof);
        }
        if let Some(token) = token {
            let scheme = if proof.is_some() { "DPoP" } else { "Bearer" };
            request = request.header("Authorization", &format!("{scheme} {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request.build(),
        };
        let response = request
            .map_err(|_| ApiError::Network)?
            .send()
            .await
            .map_err(|_| ApiError::Network)?;
        let headers = response.headers();
        if let Some(nonce) = headers.get("dpop-nonce") {
            storage::keep_dpop_nonce(&nonce);
            if let Some(date) = headers.get("date") {
                storage::keep_clock_offset(&date);
            }
        }
        // A proof refused for its nonce, or for its time on a device whose
        // clock is off (the answer's `Date` has corrected it by now), is
        // made again once.
        let remade_would_pass = headers.get("www-authenticate").is_some_and(|challenge| {
            challenge.contains("use_dpop_nonce") || challenge.contains("(iat)")
        });
        if !(remade_would_pass && proof.is_some() && !retried) {
            return Ok(response);
        }
        retried = true;
    }
}

async fn check(response: Response) -> Result<Response> {
    if response.ok() {
        Ok(response)
    } else {
        let status = response.status();
        Err(ApiError::Status(status, error_body(response).await))
    }
}

async fn error_body(response: Response) -> ErrorBody {
    let status = response.status();
    response.json::<ErrorBody>().await.unwrap_or_else(|_| {
        ErrorBody::new(
            ErrorCode::Internal,
            format!("The server answered {status} without an explanation."),
        )
    })
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T> {
    response.json().await.map_err(|_| ApiError::Network)
}

type RefreshFuture = Shared<LocalBoxFuture<'static, std::result::Result<String, RefreshFailure>>>;

#[derive(Debug, Clone, PartialEq)]
enum RefreshFailure {
    Ended(Ended),
    Network,
}

thread_local! {
    /// The refresh in flight in this tab, awaited by every caller.
    static IN_FLIGHT: RefCell<Option<RefreshFuture>> = const { RefCell::new(None) };
}

/// A fresh access token, refreshing at most once however many requests
/// (of this tab, or of other tabs) found `failed` expired at the same time.
async fn refresh_once(failed: String) -> Result<String> {
    let result = single_flight(&IN_FLIGHT, move || {
        with_lock("classboard-refresh", refresh_unless_done(failed))
    })
    .await;
    result.map_err(|e| match e {
        RefreshFailure::Ended(ended) => ApiError::SessionEnded(ended),
        RefreshFailure::Network => ApiError::Network,
    })
}

/// Runs `start()` unless a run is already in flight in `slot`, and awaits it.
async fn single_flight<T: Clone + 'static, F: Future<Output = T> + 'static>(
    slot: &'static std::thread::LocalKey<RefCell<Option<Shared<LocalBoxFuture<'static, T>>>>>,
    start: impl FnOnce() -> F,
) -> T {
    let running = slot.with(|s| s.borrow().clone());
    let shared = match running {
        Some(shared) => shared,
        None => {
            let shared = start().boxed_local().shared();
            slot.with(|s| *s.borrow_mut() = Some(shared.clone()));
            shared
        }
    };
    let result = shared.clone().await;
    // The first to finish clears the slot, unless a newer run replaced it.
    slot.with(|s| {
        let mut s = s.borrow_mut();
        if s.as_ref().is_some_and(|current| current.ptr_eq(&shared)) {
            *s = None;
        }
    });
    result
}

/// Called while holding the cross-tab lock: if another tab already replaced
/// the token that failed, use its token; otherwise refresh.
async fn refresh_unless_done(failed: String) -> std::result::Result<String, RefreshFailure> {
    match storage::token() {
        None => {
            return Err(RefreshFailure::Ended(
                storage::ended().unwrap_or(Ended::Expired),
            ));
        }
        Some(current) if current != failed => return Ok(current),
        Some(_) => {}
    }
    // This tab's local storage can lag behind another tab's refresh.
    if let Some(fresh) = handoff::replacement(&failed).await {
        return Ok(fresh);
    }
    let response = send(Method::POST, "/api/auth/refresh", None, None)
        .await
        .map_err(|_| RefreshFailure::Network)?;
    if response.ok() {
        let tokens: TokenResponse = response.json().await.map_err(|_| RefreshFailure::Network)?;
        storage::save(&tokens.access_token, &tokens.user);
        handoff::record(&failed, &tokens.access_token).await;
        return Ok(tokens.access_token);
    }
    let body = error_body(response).await;
    if body.error == ErrorCode::InvalidGrant || body.error == ErrorCode::Forbidden {
        let ended = if body.error_description == ENDED_FOR_SAFETY {
            Ended::ForSafety
        } else {
            Ended::Expired
        };
        storage::clear(Some(ended));
        return Err(RefreshFailure::Ended(ended));
    }
    Err(RefreshFailure::Network)
}

/// Runs `work` while holding the Web Lock `name`, so only one tab at a time
/// runs it. Where the browser has no Web Locks, runs it directly.
async fn with_lock<T: 'static>(name: &str, work: impl Future<Output = T> + 'static) -> T {
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};

    let locks = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &JsValue::from_str("locks")).ok())
        .filter(|l| !l.is_undefined());
    let request = locks.as_ref().and_then(|l| {
        js_sys::Reflect::get(l, &JsValue::from_str("request"))
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        return work.await;
    };

    let output: Rc<RefCell<Option<T>>> = Rc::default();
    let work = Rc::new(RefCell::new(Some(work.boxed_local())));
    let sink = output.clone();
    let callback = Closure::once(move |_lock: JsValue| -> js_sys::Promise {
        let work = work.borrow_mut().take();
        wasm_bindgen_futures::future_to_promise(async move {
            if let Some(work) = work {
                *sink.borrow_mut() = Some(work.await);
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let promise = request.call2(
        &locks,
        &JsValue::from_str(name),
        callback.as_ref().unchecked_ref(),
    );
    if let Ok(promise) = promise.and_then(|p| p.dyn_into::<js_sys::Promise>()) {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    drop(callback);
    output
        .borrow_mut()
        .take()
        .expect("the lock ran its callback")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        static SLOT: RefCell<Option<Shared<LocalBoxFuture<'static, u32>>>> = const { RefCell::new(None) };
        static STARTED: Cell<u32> = const { Cell::new(0) };
    }

    #[test]
    fn concurrent_callers_share_one_run_and_later_callers_start_a_new_one() {
        futures::executor::block_on(async {
            let (tx, rx) = futures::channel::oneshot::channel::<u32>();
            let start = || {
                STARTED.with(|s| s.set(s.get() + 1));
                async move { rx.await.unwrap_or(0) }
            };
            let first = single_flight(&SLOT, start);
            let second = single_flight(&SLOT, || async {
                unreachable!("a second run while one is in flight")
            });
            let third = single_flight(&SLOT, || async {
                unreachable!("a third run while one is in flight")
            });
            // Joined last, so all three callers are waiting before the answer comes.
            let answer = async move { tx.send(7).unwrap() };
            let (a, b, c, ()) = futures::future::join4(first, second, third, answer).await;
            let results = (a, b, c);
            assert_eq!(results, (7, 7, 7));
            assert_eq!(STARTED.with(Cell::get), 1, "one refresh for three failures");
            assert!(
                SLOT.with(|s| s.borrow().is_none()),
                "the slot is free again"
            );

            let later = single_flight(&SLOT, || async { 8 }).await;
            assert_eq!(
                later, 8,
                "a failure after the refresh finished starts a new one"
            );
        });
    }

    #[test]
    fn session_end_reasons_survive_storage() {
        for ended in [Ended::Expired, Ended::ForSafety] {
            assert_eq!(Ended::from_code(ended.code()), ended);
        }
    }
}
