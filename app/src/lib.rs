//! The classroom board's user interface: the HTML shell, the site layout and
//! one module per page. Rendered on the server (`ssr`) and hydrated in the
//! browser (`hydrate`).

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    Lazy, ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

pub mod api;
pub mod board;
mod forms;
mod handoff;
mod layout;
mod pages;
pub mod session;
mod store;

use layout::Layout;
use pages::{
    account::AccountRoute, grades::GradesRoute, home::HomeRoute, login::LoginRoute,
    new_post::NewPostRoute, not_found::NotFound, post::PostRoute, signup::SignupRoute,
};

/// The site's name, shown in the header and in page titles.
pub const SITE_NAME: &str = "Classroom Board";

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/png" href="/favicon.png"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: stylesheet, router and the routes of every page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();

    view! {
        <Stylesheet id="leptos" href="/pkg/classboard.css"/>
        <Title formatter=|page: String| {
            if page.is_empty() { SITE_NAME.to_string() } else { format!("{page} · {SITE_NAME}") }
        }/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    // Public pages wait for their data before sending HTML, so
                    // they read completely without JavaScript.
                    <Route path=StaticSegment("") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view={Lazy::<SignupRoute>::new()}/>
                    <Route path=StaticSegment("login") view={Lazy::<LoginRoute>::new()}/>
                    <Route path=(StaticSegment("posts"), StaticSegment("new")) view={Lazy::<NewPostRoute>::new()}/>
                    <Route path=(StaticSegment("posts"), ParamSegment("id")) view={Lazy::<PostRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("grades") view={Lazy::<GradesRoute>::new()}/>
                    <Route path=StaticSegment("account") view={Lazy::<AccountRoute>::new()}/>
                </Routes>
            </Layout>
        </Router>
    }
}
