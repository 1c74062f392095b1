//! Any path no route matches.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }

    view! {
        <Title text="Page not found"/>
        {nothing_here()}
    }
}

/// The page's text, also `/admin`'s to anyone but an admin.
pub fn nothing_here() -> impl IntoView {
    view! {
        <section>
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the feed"</a> "."</p>
        </section>
    }
}
