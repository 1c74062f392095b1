//! The JSON API under `/api`, and the JWKS document.

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{delete, get, patch, post},
};

use crate::{AppError, startup::AppState};

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod grades;
pub mod lifecycle;
pub mod passkeys;
pub mod posts;
pub mod users;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Routes mounted at `/api`. Unknown paths and methods answer with the
/// contract's JSON error body, not an HTML page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/mfa", post(auth::mfa))
        .route(
            "/auth/mfa/passkey/options",
            post(passkeys::second_factor_options),
        )
        .route("/auth/passkey/options", post(passkeys::sign_in_options))
        .route("/auth/passkey", post(passkeys::sign_in))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{id}", delete(auth::revoke_session))
        .route("/auth/verify-email", post(lifecycle::verify_email))
        .route(
            "/auth/password-reset",
            post(lifecycle::request_password_reset),
        )
        .route(
            "/auth/password-reset/confirm",
            post(lifecycle::reset_password),
        )
        .route("/me", get(auth::me))
        .route("/account", delete(lifecycle::delete_account))
        .route(
            "/account/verify-email",
            post(lifecycle::resend_verification),
        )
        .route("/account/password", post(lifecycle::change_password))
        .route("/account/email", post(lifecycle::change_email))
        .route("/account/mfa", get(account::mfa_status))
        .route(
            "/account/mfa/totp",
            post(account::totp_begin).delete(account::totp_remove),
        )
        .route("/account/mfa/totp/confirm", post(account::totp_confirm))
        .route("/account/mfa/recovery-codes", post(account::recovery_codes))
        .route("/account/passkeys", get(passkeys::list).post(passkeys::add))
        .route("/account/passkeys/register", post(passkeys::register))
        .route(
            "/account/reauth/passkey/options",
            post(account::reauth_passkey_options),
        )
        .route("/account/passkeys/{id}", delete(passkeys::remove))
        .route("/posts", post(posts::create).get(posts::list))
        .route("/posts/{id}", get(posts::get).delete(posts::delete))
        .route("/grades", post(grades::create).get(grades::list))
        .route("/account/activity", get(audit::activity))
        .route("/users/{id}/role", patch(users::change_role))
        .route("/admin/users", get(admin::users))
        .route("/admin/users/{id}/lock", post(admin::lock))
        .route("/admin/users/{id}/unlock", post(admin::unlock))
        .route("/admin/users/{id}/mfa", delete(admin::remove_mfa))
        .route("/admin/audit", get(audit::all))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(|request, next| {
            crate::serve::read_body_in_time(BODY_LIMIT, request, next)
        }))
}

/// A `User-Agent` named as people name a device: "Chrome on Linux",
/// "Firefox", "Windows 10"; `None` when it names neither a browser nor a
/// system.
pub fn device_name(user_agent: &str) -> Option<String> {
    let parsed = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match (known(parsed.name), known(parsed.os)) {
        (true, true) => Some(format!("{} on {}", parsed.name, parsed.os)),
        (true, false) => Some(parsed.name.to_owned()),
        (false, true) => Some(parsed.os.to_owned()),
        (false, false) => None,
    }
}
