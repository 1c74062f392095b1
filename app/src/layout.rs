//! The frame every page shares: header with navigation, main area, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::SITE_NAME;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <nav class="site-nav" aria-label="Main">
                <A href="/" attr:class="site-name">{SITE_NAME}</A>
                <ul class="nav-links">
                    <li><A href="/">"Feed"</A></li>
                </ul>
            </nav>
        </header>
        <main id="main" class="site-main">{children()}</main>
        <footer class="site-footer">
            <p>{SITE_NAME} " · posts for everyone, grades only for whom they concern."</p>
        </footer>
    }
}
