//! The "Email, password and deletion" section of `/account`: the address and
//! whether it is confirmed (with a fresh link on request), changing the
//! address or the password, and deleting the account. Each change goes
//! through the confirm step (`pages::confirm`): the password, and the second
//! factor when the account has one, asked once for the server's window.

use classboard::ErrorCode;
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api::{self, AccountChange},
    forms::{Field, FormError, nfc, show_issues, strength_hint},
    pages::confirm::{Confirm, ConfirmStep},
    session::{go_to, use_session},
    storage,
};

/// What a form of the section changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Email,
    Password,
    Delete,
}

#[component]
pub fn AccountSettings() -> impl IntoView {
    let session = use_session();
    let email = move || session.with_user(|u| u.map(|u| u.email.clone()).unwrap_or_default());
    let unverified = move || session.with_user(|u| u.is_some_and(|u| !u.email_verified));
    view! {
        <section aria-labelledby="email-heading" id="email">
            <h2 id="email-heading">"Email address"</h2>
            <p>
                {email} " · "
                {move || if unverified() { "not confirmed yet" } else { "confirmed" }}
            </p>
            <Show when=unverified>
                <ResendLink/>
            </Show>
            <ChangeForm change=Change::Email/>
        </section>
        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <ChangeForm change=Change::Password/>
        </section>
        <section aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete your account"</h2>
            <p>
                "Deleting your account signs you out on every device and removes your account, "
                "your two-step sign-in, your passkeys and recovery codes, and your grades. "
                "Your posts stay, shown as by a deleted user. This cannot be undone."
            </p>
            <ChangeForm change=Change::Delete/>
        </section>
    }
}

/// Mails a fresh link to confirm the address.
#[component]
fn ResendLink() -> impl IntoView {
    let session = use_session();
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let resend = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::resend_verification().await {
                Ok(()) => message.set(Some(
                    "We sent a new link. The links sent before no longer work.".into(),
                )),
                Err(api::ApiError::SessionEnded(ended)) => session.ended(ended),
                Err(e) => message.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    view! {
        <p role="status">{move || message.get().unwrap_or_default()}</p>
        <button type="button" class="secondary" on:click=resend disabled=move || busy.get()>
            "Send the confirmation link again"
        </button>
    }
}

/// One change; the proof it takes is the confirm step's.
#[component]
fn ChangeForm(change: Change) -> impl IntoView {
    let session = use_session();
    let confirm = Confirm::new();
    // Deletion asks twice: the first button only opens the form.
    let armed = RwSignal::new(change != Change::Delete);
    let value = RwSignal::new(String::new());
    let value_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let (field, label) = match change {
        Change::Email => ("email", "New email address"),
        _ => ("new_password", "New password"),
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let new_value = match change {
            Change::Password => nfc(&value.get_untracked()),
            _ => value.get_untracked().trim().to_owned(),
        };
        value_error.set(match change {
            Change::Email if new_value.is_empty() => Some("Enter the new address.".into()),
            Change::Password if new_value.is_empty() => Some("Enter the new password.".into()),
            _ => None,
        });
        if value_error.with_untracked(Option::is_some) {
            return;
        }
        busy.set(true);
        form_error.set(None);
        done.set(None);
        spawn_local(async move {
            let body = AccountChange {
                new_password: (change == Change::Password).then_some(new_value.as_str()),
                email: (change == Change::Email).then_some(new_value.as_str()),
            };
            let result = match change {
                Change::Delete => confirm.proven(api::delete_account).await,
                _ => confirm.proven(|| api::change_account(&body)).await,
            };
            match result {
                Ok(None) => {}
                Ok(Some(())) => {
                    value.set(String::new());
                    match change {
                        Change::Email => done.set(Some(format!(
                            "We sent a link to {new_value}. Your address changes when you \
                             follow it; until then, it stays as it is."
                        ))),
                        Change::Password => done.set(Some(
                            "Your password was changed. Your other devices were signed out.".into(),
                        )),
                        Change::Delete => {
                            storage::clear(None);
                            crate::handoff::forget().await;
                            storage::flash("Your account was deleted.");
                            return go_to("/");
                        }
                    }
                }
                Err(api::ApiError::SessionEnded(ended)) => session.ended(ended),
                Err(e) if e.code() == Some(ErrorCode::ValidationFailed) => {
                    show_issues(&e, &[(field, value_error)]);
                }
                Err(e) if e.code() == Some(ErrorCode::Conflict) && change == Change::Email => {
                    value_error.set(Some(e.message()));
                }
                Err(e) => form_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    let button = match change {
        Change::Email => "Change my address",
        Change::Password => "Change my password",
        Change::Delete => "Delete my account for good",
    };
    let hint = Signal::derive(move || strength_hint(&nfc(&value.get())));
    view! {
        <p class="success" role="status" hidden=move || done.with(Option::is_none)>
            {move || done.get().unwrap_or_default()}
        </p>
        <button type="button" class="danger" hidden=move || armed.get() on:click=move |_| armed.set(true)>
            "Delete my account…"
        </button>
        <form class="form" on:submit=submit novalidate hidden=move || !armed.get()>
            <FormError message=form_error/>
            {match change {
                // Not `email`: that is the section's id.
                Change::Email => Some(view! {
                    <Field name=field id="new-email" label kind="email" autocomplete="email" value error=value_error/>
                }.into_any()),
                Change::Password => Some(view! {
                    <Field name=field label kind="password" autocomplete="new-password" value error=value_error hint/>
                }.into_any()),
                Change::Delete => None,
            }}
            <button type="submit" class=move || (change == Change::Delete).then_some("danger")
                disabled=move || busy.get()>
                {move || if busy.get() { "Saving…" } else { button }}
            </button>
        </form>
        <ConfirmStep confirm/>
    }
}
