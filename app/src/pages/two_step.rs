//! The "Two-step sign-in" section of `/account`: turning TOTP on (QR code,
//! the key as text, a first code), the recovery codes shown once, turning it
//! off and replacing the codes. Every change goes through the confirm step
//! (`pages::confirm`): the password, and the passkey or code the account
//! already has.

use classboard::{
    ErrorCode,
    api::{MfaStatus, Reauth, RecoveryCodes, TotpConfirmation, TotpEnrolment},
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Field, FormError},
    pages::confirm::{Confirm, ConfirmStep},
    session::use_session,
};

/// What the section shows.
#[derive(Clone)]
enum View {
    Loading,
    Status(MfaStatus),
    /// Scanning the QR code and typing the first code.
    Enrolling(TotpEnrolment),
    /// The codes, shown once, until the person says they stored them.
    Codes(Vec<String>),
}

#[component]
pub fn TwoStepSignIn() -> impl IntoView {
    let session = use_session();
    let confirm = Confirm::new();
    let view_state = RwSignal::new(View::Loading);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);

    let fail = move |e: api::ApiError| match e {
        api::ApiError::SessionEnded(ended) => session.ended(ended),
        e if e.code() == Some(ErrorCode::InvalidCredentials) => {
            code.set(String::new());
            error.set(Some(e.message()));
        }
        e => {
            if let Some(issue) = e.issue_for("code") {
                code_error.set(Some(crate::forms::issue_message("code", &issue)));
            }
            if e.code() != Some(ErrorCode::ValidationFailed) {
                error.set(Some(e.message()));
            }
        }
    };
    let load = move || {
        spawn_local(async move {
            match api::mfa_status().await {
                Ok(status) => view_state.set(View::Status(status)),
                Err(e) => fail(e),
            }
        });
    };
    Effect::new(move |_| load());

    let show_codes = move |result: api::Result<Option<RecoveryCodes>>| match result {
        Ok(Some(codes)) => {
            code.set(String::new());
            view_state.set(View::Codes(codes.recovery_codes));
        }
        Ok(None) => {}
        Err(e) => fail(e),
    };
    // Runs `action` with the section busy.
    let run = move |action: Action| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let none = Reauth::default();
            match action {
                Action::Begin => match api::totp_begin().await {
                    Ok(enrolment) => {
                        code.set(String::new());
                        view_state.set(View::Enrolling(enrolment));
                    }
                    Err(e) => fail(e),
                },
                Action::Confirm => {
                    let first = TotpConfirmation {
                        code: code.get_untracked().trim().to_owned(),
                        ..TotpConfirmation::default()
                    };
                    show_codes(confirm.proven(|| api::totp_confirm(&first)).await);
                }
                Action::TurnOff => match confirm.proven(|| api::totp_remove(&none)).await {
                    Ok(Some(())) => load(),
                    Ok(None) => {}
                    Err(e) => fail(e),
                },
                Action::NewCodes => {
                    show_codes(confirm.proven(|| api::new_recovery_codes(&none)).await);
                }
            }
            busy.set(false);
        });
    };
    let submit = move |action: Action| {
        move |ev: SubmitEvent| {
            ev.prevent_default();
            run(action);
        }
    };

    view! {
        <section aria-labelledby="two-step-heading">
            <h2 id="two-step-heading">"Two-step sign-in"</h2>
            <FormError message=error/>
            {move || match view_state.get() {
                View::Loading => view! { <p class="status" role="status">"Loading…"</p> }.into_any(),
                View::Status(status) if !status.totp.enabled => view! {
                    <p>"Two-step sign-in is off. With it on, signing in takes your password and a code from an authenticator app on your phone."</p>
                    <button type="button" on:click=move |_| run(Action::Begin) disabled=move || busy.get()>
                        "Turn on two-step sign-in"
                    </button>
                }.into_any(),
                View::Status(status) => view! {
                    <p>
                        "Two-step sign-in is on"
                        {status.totp.created_at.map(|at| format!(" since {}", at.get(..10).unwrap_or_default()))}
                        ". Recovery codes left: " <strong>{status.recovery_codes_left}</strong> "."
                    </p>
                    <div class="actions">
                        <button type="button" class="danger" disabled=move || busy.get() on:click=move |_| run(Action::TurnOff)>
                            "Turn off two-step sign-in"
                        </button>
                        <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| run(Action::NewCodes)>
                            "Get new recovery codes"
                        </button>
                    </div>
                }.into_any(),
                View::Enrolling(enrolment) => enrolling(enrolment, code, code_error, busy, submit(Action::Confirm), load).into_any(),
                View::Codes(codes) => recovery_codes(codes, load).into_any(),
            }}
            <ConfirmStep confirm/>
        </section>
    }
}

/// Scanning the QR code (or typing the key) and typing the first code.
fn enrolling(
    enrolment: TotpEnrolment,
    code: RwSignal<String>,
    code_error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    submit: impl Fn(SubmitEvent) + 'static,
    cancel: impl Fn() + 'static,
) -> impl IntoView {
    let qr = format!(
        "data:image/svg+xml,{}",
        String::from(js_sys::encode_uri_component(&enrolment.qr_svg))
    );
    let key = grouped(&enrolment.secret);
    view! {
        <ol class="steps">
            <li>"Scan this code with an authenticator app (for example Google Authenticator, Aegis or 1Password)."
                <img class="qr" src=qr alt="QR code to add this account to an authenticator app" width="200" height="200"/>
            </li>
            <li>"Can't scan it? Type this key into the app instead: "
                <code class="secret" data-secret=enrolment.secret.clone()>{key}</code>
            </li>
            <li>"Enter the 6-digit code the app shows."</li>
        </ol>
        <form class="form" on:submit=submit novalidate>
            <Field name="code" label="Code from your app" autocomplete="one-time-code"
                inputmode="numeric" value=code error=code_error/>
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>"Turn on"</button>
                <button type="button" class="secondary" on:click=move |_| cancel()>"Cancel"</button>
            </div>
        </form>
    }
}

/// The recovery codes, shown once, until the person says they stored them.
fn recovery_codes(codes: Vec<String>, done: impl Fn() + 'static) -> impl IntoView {
    let text = codes.join("\n");
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(&format!(
            "Classboard recovery codes\n\n{text}\n"
        )))
    );
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let text = text.clone();
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
    };
    view! {
        <div class="recovery-codes" role="region" aria-labelledby="codes-heading">
            <h3 id="codes-heading">"Store these recovery codes now"</h3>
            <p>"Each code signs you in once if you lose your phone. They are shown only this once: save them somewhere safe, away from your phone."</p>
            <ul class="codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
            <div class="actions">
                <button type="button" class="secondary" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy codes" }}
                </button>
                <a class="button secondary" href=download download="classboard-recovery-codes.txt">"Download codes"</a>
                <button type="button" on:click=move |_| done()>"I have stored them"</button>
            </div>
        </div>
    }
}

#[derive(Clone, Copy)]
enum Action {
    Begin,
    Confirm,
    TurnOff,
    NewCodes,
}

/// The key in groups of four, as people type it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
