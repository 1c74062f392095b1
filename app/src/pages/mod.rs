//! One module per page. A page is a component rendered on the server; the
//! parts of it that change in the browser are `#[island]`s.

#[cfg(feature = "ssr")]
use leptos::prelude::use_context;

/// Answers the page being rendered on the server with `status` (a page
/// that says "not found" or "this request cannot go on" says it in HTTP
/// too). Nothing in the browser, where the page is already answered.
#[allow(unused_variables)]
pub(crate) fn answer_with(status: u16) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(status)
    {
        response.set_status(status);
    }
}

pub mod account;
pub mod activity;
pub mod admin;
pub mod admin_apps;
pub mod apps;
pub mod authorize;
pub mod confirm;
pub mod device;
pub mod email_tokens;
pub mod grades;
pub mod home;
pub mod login;
pub mod login_code;
pub mod logout;
pub mod new_post;
pub mod not_found;
pub mod passkeys;
pub mod phone;
pub mod post;
pub mod settings;
pub mod signup;
pub mod two_step;
