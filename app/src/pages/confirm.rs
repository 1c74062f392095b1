//! "Confirm it's you": the one step that `/account` and `/admin` show when a
//! change needs proof of presence and the session has not given it within
//! the server's window (`REAUTH_WINDOW`). It offers what the account has:
//! the password, plus a code from the authenticator app, a recovery code or
//! a passkey. The server remembers the proof on the session, so the next
//! changes within the window go through without asking again.
//!
//! A section runs each change through [`Confirm::proven`]: the change is
//! tried as is; only when the server answers that it needs proof (a
//! `403 reauth_required`, or a `422` asking for the password) does the step
//! appear, and the change is tried once more after it. A refused change
//! spends nothing on the server, so trying first costs nothing.

use classboard::{
    ErrorCode,
    api::{MfaStatus, Reauth},
};
use futures::channel::oneshot;
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Field, Form, FormError, Then, nfc},
    webauthn,
};

/// The confirm step of one section: [`Confirm::proven`] opens it,
/// [`ConfirmStep`] shows it.
#[derive(Clone, Copy)]
pub struct Confirm {
    /// Set while the step is open: where its outcome goes (`true`: proven).
    asking: RwSignal<Option<oneshot::Sender<bool>>, LocalStorage>,
}

impl Confirm {
    pub fn new() -> Self {
        Self {
            asking: RwSignal::new_local(None),
        }
    }

    /// Runs `change`; when the server says it needs proof of presence, asks
    /// for it, then runs `change` once more. `Ok(None)` when the person
    /// cancelled the step.
    pub async fn proven<T, Change, Fut>(self, change: Change) -> api::Result<Option<T>>
    where
        Change: Fn() -> Fut,
        Fut: Future<Output = api::Result<T>>,
    {
        match change().await {
            Err(e) if needs_proof(&e) => {
                let (tx, rx) = oneshot::channel();
                self.asking.set(Some(tx));
                if rx.await.unwrap_or(false) {
                    change().await.map(Some)
                } else {
                    Ok(None)
                }
            }
            other => other.map(Some),
        }
    }

    fn open(self) -> bool {
        self.asking.with(Option::is_some)
    }

    /// Whether the step is asking now. Reactive.
    pub fn is_open(self) -> bool {
        self.open()
    }

    fn close(self, proven: bool) {
        if let Some(tx) = self.asking.try_update(Option::take).flatten() {
            let _ = tx.send(proven);
        }
    }
}

impl Default for Confirm {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the server refused `e` for want of a proof of presence.
fn needs_proof(e: &api::ApiError) -> bool {
    e.code() == Some(ErrorCode::ReauthRequired)
        || e.issue_for("password").as_deref() == Some("required")
}

/// The step itself, shown while [`Confirm::proven`] waits on it.
#[component]
pub fn ConfirmStep(confirm: Confirm) -> impl IntoView {
    view! {
        <Show when=move || confirm.open()>
            <ProofForm confirm/>
        </Show>
    }
}

/// The password, and the second factor the account has.
#[component]
fn ProofForm(confirm: Confirm) -> impl IntoView {
    let form = Form::new();
    let factors = RwSignal::new(None::<MfaStatus>);
    let password = RwSignal::new(String::new());
    let password_error = RwSignal::new(None::<String>);
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);
    spawn_local(async move {
        match api::mfa_status().await {
            Ok(status) => factors.set(Some(status)),
            Err(e) => form.fail(e, &[]),
        }
    });
    let has = move |f: fn(&MfaStatus) -> bool| factors.with(|s| s.as_ref().is_some_and(f));
    let totp = move || has(|s| s.totp.enabled);
    let codes = move || has(|s| s.recovery_codes_left > 0);
    // Texted codes count only where no safer factor is (as the server says).
    let sms = move || {
        has(|s| s.sms_available && s.phone.is_some() && !s.totp.enabled && s.passkeys.is_empty())
    };
    let passkey = move || webauthn::supported() && has(|s| !s.passkeys.is_empty());
    let code_label = move || match (totp(), codes(), sms()) {
        (true, true, _) => "Code from your authenticator app, or a recovery code",
        (true, false, _) => "Code from your authenticator app",
        (false, _, true) => "Code we text you",
        _ => "Recovery code",
    };
    let text_me = move |_| {
        form.send(async move {
            match api::text_proof_code().await {
                Ok(()) => code_error.set(Some("A code is on its way to your phone.".into())),
                Err(e) => form.fail(e, &[]),
            }
            Then::Ready
        })
    };
    let prove = move |by_passkey: bool| {
        let typed = nfc(&password.get_untracked());
        if typed.is_empty() {
            password_error.set(Some("Enter your current password.".into()));
            return;
        }
        let proof = Reauth {
            password: typed,
            code: Some(code.get_untracked().trim().to_owned()).filter(|c| !c.is_empty()),
            ..Reauth::default()
        };
        form.send(send_proof(
            proof,
            by_passkey,
            confirm,
            form,
            (code, password_error),
        ));
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        prove(false);
    };
    view! {
        <form class="form confirm" role="dialog" aria-labelledby="confirm-heading" on:submit=submit novalidate>
            <h3 id="confirm-heading">"Confirm it's you"</h3>
            <p>"This change needs your password, and your second step if you have one. You will not be asked again for a few minutes."</p>
            <FormError message=form.error/>
            <Field name="password" id="confirm-password" label="Current password" kind="password"
                autocomplete="current-password" value=password error=password_error/>
            <Show when=move || totp() || codes() || sms()>
                <Field name="code" id="confirm-code" label=code_label() autocomplete="one-time-code"
                    value=code error=code_error/>
            </Show>
            <div class="actions">
                <button type="submit" disabled=move || form.busy.get()>"Confirm"</button>
                <Show when=sms>
                    <button type="button" class="secondary" disabled=move || form.busy.get() on:click=text_me>
                        "Text me a code"
                    </button>
                </Show>
                <Show when=passkey>
                    <button type="button" class="secondary" disabled=move || form.busy.get() on:click=move |_| prove(true)>
                        "Confirm with a passkey"
                    </button>
                </Show>
                <button type="button" class="secondary" on:click=move |_| confirm.close(false)>"Cancel"</button>
            </div>
        </form>
    }
}

/// Sends the proof; closes the step when it was taken, or says why not.
async fn send_proof(
    proof: Reauth,
    by_passkey: bool,
    confirm: Confirm,
    form: Form,
    (code, password_error): (RwSignal<String>, RwSignal<Option<String>>),
) -> Then {
    match prove_with(proof, by_passkey).await {
        Ok(()) => {
            // The step closes: free the form first.
            form.busy.set(false);
            confirm.close(true);
            return Then::Gone;
        }
        Err(Failed::Api(e)) if e.code() == Some(ErrorCode::ValidationFailed) => {
            password_error.set(
                e.issue_for("password")
                    .map(|_| "Enter your current password.".into()),
            );
            // Said above the form: the account may have no code to type (a
            // passkey is its only second factor).
            form.error.set(
                e.issue_for("code")
                    .map(|_| "Enter a code, or use a passkey.".into()),
            );
        }
        Err(Failed::Api(e)) => {
            if !matches!(e, api::ApiError::SessionEnded(_)) {
                code.set(String::new());
            }
            form.fail(e, &[]);
        }
        Err(Failed::Browser(why)) => form.error.set(Some(why)),
    }
    Then::Ready
}

/// Why the proof was not given.
enum Failed {
    Api(api::ApiError),
    /// The browser gave no passkey answer; what to tell the person.
    Browser(String),
}

/// `POST /api/account/reauth` with `proof`, and a passkey's answer when
/// asked for one.
async fn prove_with(mut proof: Reauth, by_passkey: bool) -> Result<(), Failed> {
    if by_passkey {
        let started = api::reauth_passkey_options().await.map_err(Failed::Api)?;
        let credential = webauthn::get(&started.options)
            .await
            .map_err(|failure| Failed::Browser(failure.message(true)))?;
        proof.code = None;
        proof.ceremony = Some(started.ceremony);
        proof.credential = Some(credential);
    }
    api::reauth(&proof).await.map_err(Failed::Api)
}
