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
    forms::{Field, Form, FormError, Then},
    pages::confirm::{Confirm, ConfirmStep},
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
    let form = Form::new();
    let confirm = Confirm::new();
    let view_state = RwSignal::new(View::Loading);
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);
    let section = Section {
        form,
        confirm,
        view_state,
        code,
        code_error,
    };
    let load = move || section.load();
    Effect::new(move |_| load());
    let run = move |action: Action| form.send(section.act(action));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        run(Action::Confirm);
    };

    view! {
        <section aria-labelledby="two-step-heading">
            <h2 id="two-step-heading">"Two-step sign-in"</h2>
            <FormError message=form.error/>
            {move || match view_state.get() {
                View::Loading => view! { <p class="status" role="status">"Loading…"</p> }.into_any(),
                View::Status(status) => status_view(status, run, form.busy).into_any(),
                View::Enrolling(enrolment) => enrolling(enrolment, code, code_error, form.busy, submit, load).into_any(),
                View::Codes(codes) => recovery_codes(codes, load).into_any(),
            }}
            <ConfirmStep confirm/>
            <crate::pages::phone::PhoneFactor/>
        </section>
    }
}

/// The section's state, and what its buttons do.
#[derive(Clone, Copy)]
struct Section {
    form: Form,
    confirm: Confirm,
    view_state: RwSignal<View>,
    /// The first code from the app, while enrolling.
    code: RwSignal<String>,
    code_error: RwSignal<Option<String>>,
}

impl Section {
    /// Reads whether TOTP is on, and how many codes are left.
    fn load(self) {
        spawn_local(async move {
            match api::mfa_status().await {
                Ok(status) => self.view_state.set(View::Status(status)),
                Err(e) => self.fail(e),
            }
        });
    }

    /// A wrong code empties the field; a code's problem is said under it.
    fn fail(self, e: api::ApiError) {
        if e.code() == Some(ErrorCode::InvalidCredentials) {
            self.code.set(String::new());
        }
        self.form.fail(e, &[("code", self.code_error)]);
    }

    fn show_codes(self, result: api::Result<Option<RecoveryCodes>>) {
        match result {
            Ok(Some(codes)) => {
                self.code.set(String::new());
                self.view_state.set(View::Codes(codes.recovery_codes));
            }
            Ok(None) => {}
            Err(e) => self.fail(e),
        }
    }

    async fn act(self, action: Action) -> Then {
        let none = Reauth::default();
        let confirm = self.confirm;
        match action {
            Action::Begin => match api::totp_begin().await {
                Ok(enrolment) => {
                    self.code.set(String::new());
                    self.view_state.set(View::Enrolling(enrolment));
                }
                Err(e) => self.fail(e),
            },
            Action::Confirm => {
                let first = TotpConfirmation {
                    code: self.code.get_untracked().trim().to_owned(),
                    ..TotpConfirmation::default()
                };
                self.show_codes(confirm.proven(|| api::totp_confirm(&first)).await);
            }
            Action::TurnOff => match confirm.proven(|| api::totp_remove(&none)).await {
                Ok(Some(())) => self.load(),
                Ok(None) => {}
                Err(e) => self.fail(e),
            },
            Action::NewCodes => {
                self.show_codes(confirm.proven(|| api::new_recovery_codes(&none)).await);
            }
        }
        Then::Ready
    }
}

/// Whether TOTP is on, and the buttons that change it.
fn status_view(
    status: MfaStatus,
    run: impl Fn(Action) + Copy + Send + Sync + 'static,
    busy: RwSignal<bool>,
) -> impl IntoView {
    if !status.totp.enabled {
        let sentence = if status.phone.is_some() {
            "No authenticator app is set up. With one, signing in takes a code from the app instead of a text: safer, since nobody who takes over your number gets it."
        } else {
            "Two-step sign-in is off. With it on, signing in takes your password and a code from an authenticator app on your phone."
        };
        return view! {
            <p>{sentence}</p>
            <button type="button" on:click=move |_| run(Action::Begin) disabled=move || busy.get()>
                "Turn on two-step sign-in"
            </button>
        }
        .into_any();
    }
    view! {
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
    }
    .into_any()
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
