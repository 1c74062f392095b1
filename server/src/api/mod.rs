//! The JSON API under `/api`, and the JWKS document.

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppError, state::AppState};

pub mod account;
pub mod admin;
pub mod app_requests;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod device;
pub mod email_codes;
pub mod gate;
pub mod grades;
pub mod lifecycle;
pub mod logout;
pub mod oauth;
pub mod openapi;
pub mod passkeys;
pub mod phones;
pub mod posts;
pub mod registration;
pub mod roles;
pub mod shared;
pub mod tokens;

pub use gate::BODY_LIMIT;

/// The API's routes (`/api/*`, the JWKS and the health checks) and their
/// OpenAPI document. A handler is mounted and described in one step
/// ([`routes!`]), so the document cannot list a route that does not exist,
/// or miss one.
///
/// The API's routes carry their whole address rather than being nested
/// under `/api`: a nested router strips and restores the prefix and
/// dispatches twice on every request.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, api_document) = api_routes().split_for_parts();
    let (site, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(crate::health::healthz))
        .routes(routes!(crate::health::readyz))
        .routes(routes!(auth::jwks))
        .routes(routes!(oauth::openid_configuration))
        .routes(routes!(oauth::authorization_server))
        .split_for_parts();
    // The authorization endpoint answers browsers with redirects, not JSON:
    // discovery names it, the OpenAPI document does not.
    // So is the end-session endpoint (RP-initiated logout).
    let site = site
        .route(oauth::AUTHORIZE, axum::routing::get(oauth::authorize))
        .route(
            oauth::END_SESSION,
            axum::routing::get(logout::end_session_get).post(logout::end_session_post),
        );
    let mut document = document.merge_from(api_document);
    openapi::refuse_nul(&mut document);
    (site.merge(finish(api)), document)
}

/// The OpenAPI document, as [`router`] makes it.
pub fn document() -> utoipa::openapi::OpenApi {
    router().1
}

/// `GET /api/openapi.json`: the document, made once per process.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "document",
    responses(
        (status = 200, description = "This document (OpenAPI 3.1)", body = Object),
        crate::error::Failure,
    )
)]
pub async fn serve_document() -> impl axum::response::IntoResponse {
    static JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        JSON.as_str(),
    )
}

/// Routes under `/api`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(serve_document))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::mfa))
        .routes(routes!(phones::login_code))
        .routes(routes!(email_codes::request_code))
        .routes(routes!(email_codes::verify_code))
        .routes(routes!(passkeys::second_factor_options))
        .routes(routes!(passkeys::sign_in_options))
        .routes(routes!(passkeys::sign_in))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(lifecycle::verify_email))
        .routes(routes!(lifecycle::request_password_reset))
        .routes(routes!(lifecycle::reset_password))
        .routes(routes!(auth::me))
        .routes(routes!(lifecycle::delete_account))
        .routes(routes!(lifecycle::resend_verification))
        .routes(routes!(lifecycle::change_password))
        .routes(routes!(lifecycle::change_email))
        .routes(routes!(audit::activity))
        .routes(routes!(account::mfa_status))
        .routes(routes!(account::totp_begin, account::totp_remove))
        .routes(routes!(account::totp_confirm))
        .routes(routes!(account::recovery_codes))
        .routes(routes!(passkeys::list, passkeys::add))
        .routes(routes!(passkeys::register))
        .routes(routes!(account::reauth))
        .routes(routes!(account::reauth_passkey_options))
        .routes(routes!(passkeys::remove))
        .routes(routes!(phones::add, phones::remove))
        .routes(routes!(phones::confirm))
        .routes(routes!(phones::proof_code))
        .routes(routes!(posts::create, posts::list))
        .routes(routes!(posts::get, posts::delete))
        .routes(routes!(grades::create, grades::list))
        .routes(routes!(roles::change_role))
        .routes(routes!(admin::users))
        .routes(routes!(admin::lock))
        .routes(routes!(admin::unlock))
        .routes(routes!(admin::remove_mfa))
        .routes(routes!(clients::list, clients::add))
        .routes(routes!(clients::remove))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(audit::all))
        .routes(routes!(oauth::authorization))
        .routes(routes!(oauth::decide))
        .routes(routes!(oauth::apps_with_access))
        .routes(routes!(oauth::withdraw_app))
        .routes(routes!(logout::logout_step))
        // Outside `/api`, but read through the same gate.
        .routes(routes!(oauth::token))
        .routes(routes!(oauth::userinfo, oauth::userinfo_post))
        .routes(routes!(oauth::revoke))
        .routes(routes!(oauth::introspect))
        .routes(routes!(oauth::par))
        .routes(routes!(device::device_authorization))
        .routes(routes!(device::asks))
        .routes(routes!(device::decide))
        .routes(routes!(registration::register))
        .routes(routes!(registration::read, registration::remove))
}

/// What every route under `/api` shares: unknown addresses and methods
/// answer with the contract's JSON error body, not an HTML page; the
/// [`gate`] refuses NUL in addresses, reads bodies within a size and a
/// time, and compresses the lists.
fn finish(router: Router<AppState>) -> Router<AppState> {
    let unknown = || async { AppError::NotFound };
    router
        .route("/api", axum::routing::any(unknown))
        .route("/api/", axum::routing::any(unknown))
        .route("/api/{*rest}", axum::routing::any(unknown))
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(gate::GateLayer::default())
}
