//! The frame every page shares: header with navigation, main area, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{SITE_NAME, session::use_session};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let session = use_session();
    let logged_in = move || session.user.with(Option::is_some);
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <nav class="site-nav" aria-label="Main">
                <A href="/" attr:class="site-name">{SITE_NAME}</A>
                <ul class="nav-links">
                    <li><A href="/">"Feed"</A></li>
                    <Show when=logged_in>
                        <li><A href="/posts/new">"New post"</A></li>
                        <li><A href="/grades">"Grades"</A></li>
                    </Show>
                </ul>
                <ul class="nav-links nav-account">
                    <Show
                        when=logged_in
                        fallback=|| view! {
                            <li><A href="/login">"Log in"</A></li>
                            <li><A href="/signup">"Sign up"</A></li>
                        }
                    >
                        <li>
                            <A href="/account">
                                {move || session.user.with(|u| u.as_ref().map(|u| u.username.clone()).unwrap_or_default())}
                            </A>
                        </li>
                    </Show>
                </ul>
            </nav>
        </header>
        <main id="main" class="site-main">
            <Show when=move || session.notice.with(Option::is_some)>
                <p class="notice" role="status">
                    {move || session.notice.get().unwrap_or_default()}
                    <button type="button" class="link" on:click=move |_| session.notice.set(None)>"Dismiss"</button>
                </p>
            </Show>
            {children()}
        </main>
        <footer class="site-footer">
            <p>{SITE_NAME} " · posts for everyone, grades only for whom they concern."</p>
        </footer>
    }
}
