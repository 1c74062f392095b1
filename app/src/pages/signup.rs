//! `/signup`: the shared rules check every field before any request; the
//! server's answers land next to the field they concern.

use classboard::{
    ErrorCode,
    api::SignupRequest,
    validate::{Email, Password, Username},
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{
    api,
    forms::{Field, FormError, nfc, show_issues, strength_hint, use_hydrated},
    session::{AlreadyLoggedIn, go_to},
};

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <Title text="Sign up"/>
        <h1>"Sign up"</h1>
        <AlreadyLoggedIn/>
        <SignupForm/>
        <p>"Already have an account? " <a href="/login">"Log in"</a></p>
    }
}

#[island(lazy)]
fn SignupForm() -> impl IntoView {
    let hydrated = use_hydrated();
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = [
        RwSignal::new(None::<String>),
        RwSignal::new(None),
        RwSignal::new(None),
    ];
    let [username_error, email_error, password_error] = errors;
    let form_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let hint = Signal::derive(move || strength_hint(&nfc(&password.get())));

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let req = SignupRequest {
            username: username.get_untracked(),
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        let local_part = Email::parse(&req.email)
            .map(|e| e.local_part().to_owned())
            .unwrap_or_default();
        let checks = [
            (
                "username",
                username_error,
                Username::parse(&req.username).err(),
            ),
            ("email", email_error, Email::parse(&req.email).err()),
            (
                "password",
                password_error,
                Password::parse(&nfc(&req.password), &req.username, &local_part).err(),
            ),
        ];
        let mut valid = true;
        for (field, slot, issue) in checks {
            slot.set(issue.map(|i| i.message(field)));
            valid &= issue.is_none();
        }
        if !valid {
            return;
        }
        busy.set(true);
        form_error.set(None);
        spawn_local(async move {
            match api::signup(&req).await {
                // Logged in: the feed reads the session from storage.
                Ok(_) => return go_to("/"),
                Err(e) if e.code() == Some(ErrorCode::ValidationFailed) => {
                    show_issues(
                        &e,
                        &[
                            ("username", username_error),
                            ("email", email_error),
                            ("password", password_error),
                        ],
                    );
                }
                Err(e) if e.code() == Some(ErrorCode::Conflict) => {
                    let slot = if e.message().contains("email") {
                        email_error
                    } else {
                        username_error
                    };
                    slot.set(Some(e.message()));
                }
                Err(e) => form_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            <FormError message=form_error/>
            <Field name="username" label="Username" autocomplete="username" value=username error=username_error
                hint=Signal::derive(|| "3–32 letters, digits, and . _ -".to_string())/>
            <Field name="email" label="Email" kind="email" autocomplete="email" value=email error=email_error/>
            <Field name="password" label="Password" kind="password" autocomplete="new-password" value=password
                error=password_error hint=hint/>
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || if busy.get() { "Signing up…" } else { "Sign up" }}
            </button>
        </form>
    }
}
