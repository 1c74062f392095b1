//! The "Email, password and deletion" section of `/account`: the address and
//! whether it is confirmed (with a fresh link on request), changing the
//! address or the password, and deleting the account. Each change goes
//! through the confirm step (`pages::confirm`): the password, and the second
//! factor when the account has one, asked once for the server's window.

use classboard::ErrorCode;
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api::{self, AccountChange},
    forms::{Done, Field, Form, FormError, Then, nfc, strength_hint},
    pages::confirm::{Confirm, ConfirmStep},
    storage,
    visitor::{go_to, use_visitor},
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
    let visitor = use_visitor();
    let email = move || visitor.with_user(|u| u.map(|u| u.email.clone()).unwrap_or_default());
    let unverified = move || visitor.with_user(|u| u.is_some_and(|u| !u.email_verified));
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
    let visitor = use_visitor();
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let resend = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::resend_verification().await {
                Ok(()) => message.set(Some(
                    "We sent a new link. The links sent before no longer work.".into(),
                )),
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
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
    let form = Form::new();
    let confirm = Confirm::new();
    // Deletion asks twice: the first button only opens the form.
    let armed = RwSignal::new(change != Change::Delete);
    let value = RwSignal::new(String::new());
    let value_error = RwSignal::new(None::<String>);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new_value = match change {
            Change::Password => nfc(&value.get_untracked()),
            _ => value.get_untracked().trim().to_owned(),
        };
        value_error.set(match change {
            Change::Email if new_value.is_empty() => Some("Enter the new address.".into()),
            Change::Password if new_value.is_empty() => Some("Enter the new password.".into()),
            _ => None,
        });
        if value_error.with_untracked(Option::is_none) {
            form.send(send_change(
                change,
                new_value,
                confirm,
                form,
                (value, value_error),
            ));
        }
    };
    let button = match change {
        Change::Email => "Change my address",
        Change::Password => "Change my password",
        Change::Delete => "Delete my account for good",
    };
    view! {
        <Done form/>
        <button type="button" class="danger" hidden=move || armed.get() on:click=move |_| armed.set(true)>
            "Delete my account…"
        </button>
        <form class="form" on:submit=submit novalidate hidden=move || !armed.get()>
            <FormError message=form.error/>
            {new_value_field(change, value, value_error)}
            <button type="submit" class=move || (change == Change::Delete).then_some("danger")
                disabled=move || form.busy.get()>
                {move || if form.busy.get() { "Saving…" } else { button }}
            </button>
        </form>
        <ConfirmStep confirm/>
    }
}

/// The field of the new address or password; none for a deletion.
fn new_value_field(
    change: Change,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
) -> Option<AnyView> {
    let hint = Signal::derive(move || strength_hint(&nfc(&value.get())));
    match change {
        // Not `email`: that is the section's id.
        Change::Email => Some(view! {
            <Field name="email" id="new-email" label="New email address" kind="email" autocomplete="email" value error/>
        }.into_any()),
        Change::Password => Some(view! {
            <Field name="new_password" label="New password" kind="password" autocomplete="new-password" value error hint/>
        }.into_any()),
        Change::Delete => None,
    }
}

/// Sends the change, with the proof the confirm step takes, and says what
/// it did.
async fn send_change(
    change: Change,
    new_value: String,
    confirm: Confirm,
    form: Form,
    (value, value_error): (RwSignal<String>, RwSignal<Option<String>>),
) -> Then {
    let body = AccountChange {
        new_password: (change == Change::Password).then_some(new_value.as_str()),
        email: (change == Change::Email).then_some(new_value.as_str()),
    };
    let result = match change {
        Change::Delete => confirm.proven(api::delete_account).await,
        _ => confirm.proven(|| api::change_account(&body)).await,
    };
    let field = match change {
        Change::Email => "email",
        _ => "new_password",
    };
    match result {
        Ok(None) => {}
        Ok(Some(())) => {
            value.set(String::new());
            form.done.set(Some(match change {
                Change::Email => format!(
                    "We sent a link to {new_value}. Your address changes when you \
                     follow it; until then, it stays as it is."
                ),
                Change::Password => {
                    "Your password was changed. Your other devices were signed out.".into()
                }
                Change::Delete => {
                    storage::clear(None);
                    crate::handoff::forget().await;
                    storage::flash("Your account was deleted.");
                    go_to("/");
                    return Then::Gone;
                }
            }));
        }
        Err(e) if e.code() == Some(ErrorCode::Conflict) && change == Change::Email => {
            value_error.set(Some(e.message()));
        }
        Err(e) => form.fail(e, &[(field, value_error)]),
    }
    Then::Ready
}
