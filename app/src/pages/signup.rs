//! `/signup`: the shared rules check every field before any request; the
//! server's answers land next to the field they concern.

use classboard::{
    ErrorCode,
    api::SignupRequest,
    validate::{Email, Password, Username},
};
use leptos::{ev::SubmitEvent, prelude::*};
use leptos_meta::Title;

use crate::{
    api,
    forms::{Field, Form, FormError, Then, nfc, strength_hint, use_hydrated},
    visitor::{AlreadyLoggedIn, go_to},
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
    let form = Form::new();
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
    let hint = Signal::derive(move || strength_hint(&nfc(&password.get())));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = SignupRequest {
            username: username.get_untracked(),
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        if check(&request, errors) {
            form.send(sign_up(request, form, errors));
        }
    };
    view! {
        <form class="form" on:submit=submit novalidate>
            <FormError message=form.error/>
            <Field name="username" label="Username" autocomplete="username" value=username error=username_error
                hint=Signal::derive(|| "3–32 letters, digits, and . _ -".to_string())/>
            <Field name="email" label="Email" kind="email" autocomplete="email" value=email error=email_error/>
            <Field name="password" label="Password" kind="password" autocomplete="new-password" value=password
                error=password_error hint=hint/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Signing up…" } else { "Sign up" }}
            </button>
        </form>
    }
}

/// The username's, the address's and the password's error slots.
type Errors = [RwSignal<Option<String>>; 3];

/// Checks every field by the shared rules, saying under each what is wrong;
/// whether all are right.
fn check(request: &SignupRequest, [username_error, email_error, password_error]: Errors) -> bool {
    let local_part = Email::parse(&request.email)
        .map(|e| e.local_part().to_owned())
        .unwrap_or_default();
    let checks = [
        (
            "username",
            username_error,
            Username::parse(&request.username).err(),
        ),
        ("email", email_error, Email::parse(&request.email).err()),
        (
            "password",
            password_error,
            Password::parse(&nfc(&request.password), &request.username, &local_part).err(),
        ),
    ];
    let mut valid = true;
    for (field, slot, issue) in checks {
        slot.set(issue.map(|i| i.message(field)));
        valid &= issue.is_none();
    }
    valid
}

/// Signs up, and goes to the feed logged in; or says why not.
async fn sign_up(request: SignupRequest, form: Form, errors: Errors) -> Then {
    let [username_error, email_error, password_error] = errors;
    match api::signup(&request).await {
        // Logged in: the feed reads the session from storage.
        Ok(_) => {
            go_to("/");
            return Then::Gone;
        }
        Err(e) if e.code() == Some(ErrorCode::Conflict) => {
            let slot = if e.message().contains("email") {
                email_error
            } else {
                username_error
            };
            slot.set(Some(e.message()));
        }
        Err(e) => form.fail(
            e,
            &[
                ("username", username_error),
                ("email", email_error),
                ("password", password_error),
            ],
        ),
    }
    Then::Ready
}
