//! The classroom board's user interface: the HTML shell, the site layout and
//! one module per page. Pages are rendered on the server (`ssr`); only their
//! islands, the parts that change in the browser, are hydrated (`hydrate`).

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

pub mod api;
pub mod board;
pub mod dpop;
mod forms;
mod handoff;
mod idb;
mod layout;
mod pages;
mod storage;
pub mod visitor;
mod webauthn;
mod when;

use layout::{Layout, SITE_NAME};
use pages::{
    account::{AccountPage, AdminPage},
    authorize::AuthorizePage,
    device::DevicePage,
    email_tokens::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage},
    grades::GradesPage,
    home::HomePage,
    login::LoginPage,
    login_code::LoginCodePage,
    logout::LogoutPage,
    new_post::NewPostPage,
    not_found::NotFound,
    post::PostPage,
    signup::SignupPage,
};

/// The name of the `<meta>` that tells the pages the server's public
/// address, which their DPoP proofs name (see `dpop`).
pub const PROOF_BASE_META: &str = "dpop-htu-base";

/// The HTML document around the app, rendered only on the server;
/// `proof_base` is the public address the pages' DPoP proofs name.
pub fn shell(options: LeptosOptions, proof_base: String) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <meta name=PROOF_BASE_META content=proof_base/>
                <link rel="icon" type="image/png" href="/favicon.png"/>
                // The stylesheet under its hashed name, when the build hashed
                // the site's files (see hash.txt beside the server).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: the title, the router and the routes of every page. It
/// runs only on the server: the browser hydrates the islands alone.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    visitor::provide_visitor();

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { SITE_NAME.to_string() } else { format!("{page} · {SITE_NAME}") }
        }/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    // Public pages wait for their data before sending HTML, so
                    // they read completely without JavaScript.
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view=SignupPage/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                    <Route path=(StaticSegment("login"), StaticSegment("code")) view=LoginCodePage/>
                    <Route path=(StaticSegment("posts"), StaticSegment("new")) view=NewPostPage/>
                    <Route path=(StaticSegment("posts"), ParamSegment("id")) view=PostPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("grades") view=GradesPage/>
                    <Route path=StaticSegment("account") view=AccountPage/>
                    <Route path=StaticSegment("admin") view=AdminPage/>
                    <Route path=StaticSegment("authorize") view=AuthorizePage/>
                    <Route path=StaticSegment("device") view=DevicePage/>
                    <Route path=StaticSegment("logout") view=LogoutPage/>
                    <Route path=StaticSegment("forgot-password") view=ForgotPasswordPage/>
                    <Route path=StaticSegment("reset-password") view=ResetPasswordPage/>
                    <Route path=StaticSegment("verify-email") view=VerifyEmailPage/>
                </Routes>
            </Layout>
        </Router>
    }
}
