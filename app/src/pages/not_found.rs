//! Any path no route matches.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    super::answer_with(404);

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
