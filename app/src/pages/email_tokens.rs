//! The pages around mail: `/forgot-password` sends a reset link;
//! `/reset-password?token=…` and `/verify-email?token=…` are where a mail's
//! link lands. Opening a link spends nothing (mail scanners open every
//! link): only the form's submission sends the token. A person who pastes
//! the code from the mail instead of following the link gets a field for
//! it. One island serves the three pages: each island is a split point of
//! its own, and each split point cuts the code the pages share into more,
//! smaller chunks (docs/FRONTEND.md, "Size").

use classboard::{ErrorCode, api::PasswordReset, validate::Password};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    api,
    forms::{Field, FormError, nfc, show_issues, strength_hint, use_hydrated},
    session::{go_to, use_session},
    storage,
};

/// Which of the pages the island is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    Forgot,
    Reset,
    Verify,
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <Title text="Forgot your password"/>
        <h1>"Forgot your password?"</h1>
        <p>"Enter your account's email address. We will send you a link to choose a new password."</p>
        <MailForm purpose=Purpose::Forgot token=String::new()/>
        <p><a href="/login">"Back to log in"</a></p>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = token_in_query();
    view! {
        <Title text="Choose a new password"/>
        // The address holds the token: no page it links to may see it.
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Choose a new password"</h1>
        <p>"Your devices will be signed out. Two-step sign-in, if you use it, stays on."</p>
        <MailForm purpose=Purpose::Reset token/>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = token_in_query();
    view! {
        <Title text="Confirm your email address"/>
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Confirm your email address"</h1>
        <MailForm purpose=Purpose::Verify token/>
    }
}

/// The `token` of the page's address, or empty.
fn token_in_query() -> String {
    use_query_map().with_untracked(|q| q.get("token").unwrap_or_default())
}

/// `token`: the mail's token when the page was opened by its link.
#[island(lazy)]
fn MailForm(purpose: Purpose, token: String) -> impl IntoView {
    let session = use_session();
    let hydrated = use_hydrated();
    let has_link = !token.is_empty();
    let code = RwSignal::new(token);
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = [
        RwSignal::new(None::<String>),
        RwSignal::new(None),
        RwSignal::new(None),
    ];
    let [code_error, email_error, password_error] = errors;
    let form_error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let hint = Signal::derive(move || strength_hint(&nfc(&password.get())));

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let token = code.get_untracked().trim().to_owned();
        let new_password = nfc(&password.get_untracked());
        let address = email.get_untracked();
        code_error.set(
            (purpose != Purpose::Forgot && token.is_empty())
                .then(|| "Paste the code from the mail.".into()),
        );
        email_error.set(
            (purpose == Purpose::Forgot && address.trim().is_empty())
                .then(|| "Enter your email address.".into()),
        );
        // The rules that need no account: the server checks the rest.
        password_error.set(if purpose == Purpose::Reset {
            Password::parse(&new_password, "", "")
                .err()
                .map(|i| i.message("new_password"))
        } else {
            None
        });
        if errors.iter().any(|e| e.with_untracked(Option::is_some)) {
            return;
        }
        busy.set(true);
        form_error.set(None);
        spawn_local(async move {
            let result = match purpose {
                Purpose::Forgot => api::request_password_reset(&address).await,
                Purpose::Reset => {
                    api::reset_password(&PasswordReset {
                        token,
                        new_password,
                    })
                    .await
                }
                Purpose::Verify => api::verify_email(&token).await,
            };
            match result {
                Ok(()) => match purpose {
                    Purpose::Forgot => done.set(Some(format!(
                        "If an account uses {}, a link to choose a new password is on its way. \
                         It works for 30 minutes.",
                        address.trim()
                    ))),
                    Purpose::Reset => {
                        // Every session ended with the reset, this browser's too.
                        if storage::token().is_some() {
                            storage::clear(None);
                            crate::handoff::forget().await;
                        }
                        storage::flash("Your password was changed. Log in with the new one.");
                        return go_to("/login");
                    }
                    Purpose::Verify => {
                        done.set(Some("Your email address is confirmed.".into()));
                        // The header stops asking, in this tab and the others.
                        if session.logged_in()
                            && let Ok(user) = api::me().await
                        {
                            if let Some(token) = storage::token() {
                                storage::save(&token, &user);
                            }
                            session.set_user(user);
                        }
                    }
                },
                Err(e) if e.code() == Some(ErrorCode::ValidationFailed) => show_issues(
                    &e,
                    &[("email", email_error), ("new_password", password_error)],
                ),
                Err(e) => form_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    let (button, busy_label) = match purpose {
        Purpose::Forgot => ("Send the link", "Sending…"),
        Purpose::Reset => ("Set the new password", "Saving…"),
        Purpose::Verify => ("Confirm my address", "Confirming…"),
    };
    view! {
        <p class="success" role="status" hidden=move || done.with(Option::is_none)>
            {move || done.get().unwrap_or_default()}
            " " <a href="/">"Go to the board"</a>
        </p>
        <form class="form" on:submit=submit novalidate hidden=move || done.with(Option::is_some)>
            <FormError message=form_error/>
            {(purpose == Purpose::Forgot).then(|| view! {
                <Field name="email" label="Email" kind="email" autocomplete="email" value=email error=email_error/>
            })}
            {(purpose != Purpose::Forgot && !has_link).then(|| view! {
                <Field name="code" label="Code from the mail" autocomplete="off" value=code error=code_error/>
            })}
            {(purpose == Purpose::Reset).then(|| view! {
                <Field name="new_password" label="New password" kind="password" autocomplete="new-password"
                    value=password error=password_error hint=hint/>
            })}
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || if busy.get() { busy_label } else { button }}
            </button>
        </form>
        {(purpose == Purpose::Reset).then(|| view! {
            <p>"Link expired? " <a href="/forgot-password">"Ask for a new one"</a></p>
        })}
    }
}
