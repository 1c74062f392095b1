//! One module per page. A page is a component rendered on the server; the
//! parts of it that change in the browser are `#[island]`s.

pub mod account;
pub mod activity;
pub mod admin;
pub mod admin_apps;
pub mod apps;
pub mod authorize;
pub mod confirm;
pub mod email_tokens;
pub mod grades;
pub mod home;
pub mod login;
pub mod logout;
pub mod new_post;
pub mod not_found;
pub mod passkeys;
pub mod post;
pub mod settings;
pub mod signup;
pub mod two_step;
