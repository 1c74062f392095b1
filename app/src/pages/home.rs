//! `/`: the board's front page.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    // Server-rendered collapsed; only hydrated code can open it, so the
    // end-to-end test uses it to prove that hydration ran.
    let (open, set_open) = signal(false);

    view! {
        <Title text=""/>
        <section class="intro">
            <h1>"Classroom Board"</h1>
            <p>
                "A small board for a class: everyone can read the posts, members publish, "
                "teachers assign grades, and each student sees only their own."
            </p>
            <button
                type="button"
                class="disclosure"
                aria-expanded=move || open.get().to_string()
                aria-controls="how-sign-in-works"
                on:click=move |_| set_open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Hide how sign-in works" } else { "Show how sign-in works" }}
            </button>
            <div id="how-sign-in-works" class="disclosure-panel" hidden=move || !open.get()>
                <p>
                    "Signing in gives this browser a short-lived access token, renewed in the "
                    "background by a refresh token kept in a cookie that page scripts cannot read. "
                    "Each device is a session you can see and end from your account page."
                </p>
            </div>
        </section>
    }
}
