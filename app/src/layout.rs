//! The frame every page shares: header with navigation, main area, footer.
//! The navigation and the notice depend on who is logged in, so they are
//! islands; the rest is HTML from the server.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::visitor::use_visitor;

/// The site's name, shown in the header and in page titles.
pub const SITE_NAME: &str = "Classroom Board";

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <SiteNav path/>
        </header>
        <main id="main" class="site-main">
            <Notice/>
            {children()}
        </main>
        <footer class="site-footer">
            <p>{SITE_NAME} " · posts for everyone, grades only for whom they concern."</p>
        </footer>
    }
}

/// The header's links; `path` is the page's, marked as the current one.
#[island]
fn SiteNav(path: String) -> impl IntoView {
    let visitor = use_visitor();
    let logged_in = move || visitor.logged_in();
    let path = StoredValue::new(path);
    let current = move |href: &str| path.with_value(|p| p == href).then_some("page");
    let link = move |href: &'static str, label: &'static str| {
        view! { <a href=href aria-current=current(href)>{label}</a> }
    };
    view! {
        <nav class="site-nav" aria-label="Main">
            <a href="/" class="site-name">{SITE_NAME}</a>
            <ul class="nav-links">
                <li>{link("/", "Feed")}</li>
                <Show when=logged_in>
                    <li>{link("/posts/new", "New post")}</li>
                    <li>{link("/grades", "Grades")}</li>
                </Show>
            </ul>
            <ul class="nav-links nav-account">
                <Show
                    when=logged_in
                    fallback=move || view! {
                        <li>{link("/login", "Log in")}</li>
                        <li>{link("/signup", "Sign up")}</li>
                    }
                >
                    <li>
                        <a href="/account" aria-current=current("/account")>
                            {move || visitor.with_user(|u| u.map(|u| u.username.clone()).unwrap_or_default())}
                        </a>
                    </li>
                </Show>
            </ul>
        </nav>
    }
}

/// A message shown once: why a session ended, or what the last page did.
/// And, quietly, while the account's address is not confirmed, a reminder.
#[island]
fn Notice() -> impl IntoView {
    let visitor = use_visitor();
    let unconfirmed = move || visitor.with_user(|u| u.is_some_and(|u| !u.email_verified));
    view! {
        <Show when=unconfirmed>
            // No live region: it would be read out on every page.
            <p class="notice quiet">
                "Please confirm your email address with the link we mailed you. "
                <a href="/account">"Send a new link"</a>
            </p>
        </Show>
        <Show when=move || visitor.notice().is_some()>
            <p class="notice" role="status">
                {move || visitor.notice().unwrap_or_default()}
                <button type="button" class="link" on:click=move |_| visitor.set_notice(None)>"Dismiss"</button>
            </p>
        </Show>
    }
}
