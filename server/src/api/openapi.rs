//! The OpenAPI 3.1 document: what is said once for the whole API (its
//! title, its two ways to authenticate, the error body), and the bodies that
//! exist only as the union of two wire types. Each operation is described on
//! its handler, and `utoipa_axum` mounts a handler and adds its description
//! in one step, so the document lists exactly the routes that exist.

use classboard::api::{MfaRequired, NewEmail, NewPassword, Reauth};
use serde::Deserialize;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

/// The document's fixed part. `docs/openapi.json` is what the server makes
/// of it; a test fails when the two differ.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Classroom Board API",
        description = "JWT authentication and authorization for a small classroom board. \
                       Every error has the same body (`ErrorBody`); `docs/API.md` is the \
                       human reference, with every rule and decision.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(MfaRequired, PasswordChangeBody, EmailChangeBody)),
    tags(
        (name = "auth", description = "Signing up and in, tokens and sessions"),
        (name = "account", description = "The caller's own account"),
        (name = "board", description = "Posts and grades"),
        (name = "admin", description = "Administration (the `admin` role)"),
        (name = "operations", description = "Health, keys and this document"),
    ),
)]
pub struct ApiDoc;

/// `bearer`: an access token in `Authorization`. `refresh_cookie`: the
/// refresh token's `HttpOnly` cookie, which a refresh or a logout may send
/// instead of a body.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::tokens::COOKIE))),
        );
    }
}

/// `POST /api/account/password`: the proof and the new password, in one
/// object.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PasswordChangeBody {
    #[serde(flatten)]
    proof: Reauth,
    #[serde(flatten)]
    change: NewPassword,
}

/// `POST /api/account/email`: the proof and the new address, in one object.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EmailChangeBody {
    #[serde(flatten)]
    proof: Reauth,
    #[serde(flatten)]
    change: NewEmail,
}
