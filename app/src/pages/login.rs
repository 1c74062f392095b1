//! `/login`: by username or email. Afterwards the person returns to `?next=`
//! (a same-site path), or to the feed.

use classboard::{ErrorCode, api::LoginRequest};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Field, FormError, use_hydrated},
    session::{go_to, safe_next, use_session},
    store,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = safe_next(use_query_map().with_untracked(|q| q.get("next")));
    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        <LoginForm next/>
        <p>"New here? " <a href="/signup">"Sign up"</a></p>
    }
}

/// `next`: the same-site path to go to once logged in.
#[island]
fn LoginForm(next: String) -> impl IntoView {
    let session = use_session();
    let hydrated = use_hydrated();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login_error = RwSignal::new(None::<String>);
    let password_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Why the last session ended, told once.
    Effect::new(move |_| {
        if let Some(ended) = store::ended() {
            session.set_notice(Some(ended.message().into()));
            store::forget_ended();
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (l, p) = (login.get_untracked(), password.get_untracked());
        if l.trim().is_empty() {
            login_error.set(Some("Enter your username or email.".into()));
        }
        if p.is_empty() {
            password_error.set(Some("Enter your password.".into()));
        }
        if l.trim().is_empty() || p.is_empty() {
            return;
        }
        busy.set(true);
        form_error.set(None);
        let next = next.clone();
        spawn_local(async move {
            match api::login(&LoginRequest {
                login: l,
                password: p,
            })
            .await
            {
                // The next page reads the session from storage; the form
                // stays busy until it is gone.
                // Checked again here, against the page's own origin.
                Ok(_) => return go_to(&safe_next(Some(next))),
                Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => {
                    form_error.set(Some(
                        "The username, email or password is not correct.".into(),
                    ));
                }
                Err(e) => form_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            <FormError message=form_error/>
            <Field name="login" label="Username or email" autocomplete="username" value=login error=login_error/>
            <Field
                name="password"
                label="Password"
                kind="password"
                autocomplete="current-password"
                value=password
                error=password_error
            />
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || if busy.get() { "Logging in…" } else { "Log in" }}
            </button>
        </form>
    }
}
