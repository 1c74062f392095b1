//! `/login`: by username or email. Afterwards the person returns to `?next=`
//! (a same-site path), or to the feed.

use classboard::{ErrorCode, api::LoginRequest};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{
    api,
    forms::{Field, FormError, use_hydrated},
    session::{safe_next, use_session},
    store,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
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
            session.notice.set(Some(ended.message().into()));
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
        let next = safe_next(query.with_untracked(|q| q.get("next")));
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::login(&LoginRequest {
                login: l,
                password: p,
            })
            .await
            {
                Ok(user) => {
                    session.notice.set(None);
                    session.user.set(Some(user));
                    navigate(&next, Default::default());
                }
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
        <Title text="Log in"/>
        <h1>"Log in"</h1>
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
        <p>"New here? " <a href="/signup">"Sign up"</a></p>
    }
}

lazy_page!(LoginRoute => LoginPage);
