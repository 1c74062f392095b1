//! `/login`: by username or email, then, for an account with two-step
//! sign-in, a code from the authenticator app, a recovery code or a passkey;
//! or with a passkey alone, where the browser has passkeys. Afterwards
//! the person returns to `?next=` (a same-site path), or to the feed. The
//! second step lives only in the page's memory: a reload starts again at
//! the password.

use classboard::{
    ErrorCode,
    api::{LoginRequest, MfaLogin, MfaMethod, MfaPasskeyOptions, MfaRequired, PasskeySignIn},
};
use leptos::{ev::SubmitEvent, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Field, Form, FormError, Then, use_hydrated},
    storage,
    visitor::{AlreadyLoggedIn, go_to, safe_next, use_visitor},
    webauthn,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = safe_next(use_query_map().with_untracked(|q| q.get("next")));
    let code_page = match next.as_str() {
        "/" => "/login/code".to_owned(),
        next => format!("/login/code?next={}", percent_encoded(next)),
    };
    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        <AlreadyLoggedIn/>
        <LoginForm next/>
        <p><a href=code_page>"Email me a code instead"</a></p>
        <p><a href="/forgot-password">"Forgot your password?"</a></p>
        <p>"New here? " <a href="/signup">"Sign up"</a></p>
    }
}

/// `text` as a query's value: every byte but the unreserved ones (RFC 3986)
/// and `/` percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `next`: the same-site path to go to once logged in.
#[island(lazy)]
fn LoginForm(next: String) -> impl IntoView {
    let visitor = use_visitor();
    let form = Form::new();
    let hydrated = use_hydrated();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login_error = RwSignal::new(None::<String>);
    let password_error = RwSignal::new(None::<String>);
    // Set once the password was right and a second factor is needed; its
    // view arrives then (see `second_step`).
    let second_step = SecondStepState {
        challenge: RwSignal::new(None),
        view: RwSignal::new(None),
    };
    // Why the last session ended, told once.
    Effect::new(move |_| {
        if let Some(ended) = storage::take_ended() {
            visitor.set_notice(Some(ended.message().into()));
        }
    });
    let next = StoredValue::new(next);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (l, p) = (login.get_untracked(), password.get_untracked());
        if l.trim().is_empty() {
            login_error.set(Some("Enter your username or email.".into()));
        }
        if p.is_empty() {
            password_error.set(Some("Enter your password.".into()));
        }
        if !l.trim().is_empty() && !p.is_empty() {
            let request = LoginRequest {
                login: l,
                password: p,
            };
            form.send(sign_in(
                request,
                next.get_value(),
                form,
                second_step,
                password,
            ));
        }
    };
    // Known only in the browser, once hydrated: the server renders no
    // passkey button.
    let passkeys = RwSignal::new(false);
    Effect::new(move |_| passkeys.set(webauthn::supported()));
    let with_passkey = move |_| {
        form.send(async move {
            match passkey(PasskeyUse::SignIn).await {
                Ok(_) => {
                    go_to(&safe_next(Some(next.get_value())));
                    Then::Gone
                }
                Err(why) => {
                    form.error.set(Some(why));
                    Then::Ready
                }
            }
        });
    };
    let waiting = move || second_step.challenge.with(Option::is_some);
    view! {
        {move || waiting().then(|| second_step.view.get().map(|view| view.run()))}
        <form class="form" on:submit=submit novalidate hidden=waiting>
            <FormError message=form.error/>
            <Field name="login" label="Username or email" autocomplete="username" value=login error=login_error/>
            <Field name="password" label="Password" kind="password" autocomplete="current-password"
                value=password error=password_error/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Logging in…" } else { "Log in" }}
            </button>
            <p class="or" hidden=move || !passkeys.get()>
                <button type="button" class="secondary" on:click=with_passkey disabled=move || form.busy.get()>
                    "Sign in with a passkey"
                </button>
            </p>
        </form>
    }
}

/// The second step, once the password was right: the challenge it earned,
/// and the view that asks for the second factor.
#[derive(Clone, Copy)]
pub(crate) struct SecondStepState {
    pub(crate) challenge: RwSignal<Option<MfaRequired>>,
    pub(crate) view: RwSignal<Option<ViewFn>>,
}

/// Sends the username and password; goes on to `next`, or to the second
/// step, or says why not.
async fn sign_in(
    request: LoginRequest,
    next: String,
    form: Form,
    second_step: SecondStepState,
    password: RwSignal<String>,
) -> Then {
    match api::login(&request).await {
        // The next page reads the session from storage; checked again here,
        // against the page's own origin.
        Ok(api::LoggedIn::Done(_)) => {
            go_to(&safe_next(Some(next)));
            return Then::Gone;
        }
        Ok(api::LoggedIn::SecondStep(required)) => {
            password.set(String::new());
            if second_step.view.with_untracked(Option::is_none) {
                let view = second_step_code(second_step.challenge, form.error, next).await;
                second_step.view.set(Some(view));
            }
            second_step.challenge.set(Some(required));
        }
        Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => {
            form.error.set(Some(
                "The username, email or password is not correct.".into(),
            ));
        }
        Err(e) => form.error.set(Some(e.message())),
    }
    Then::Ready
}

/// The second step's view. Its code arrives when a password was right and
/// the account asks for a second factor, not with the page: most sign-ins
/// never need it, and the page's first visit stays within its budget
/// (docs/FRONTEND.md).
#[leptos::lazy]
pub(crate) fn second_step_code(
    challenge: RwSignal<Option<MfaRequired>>,
    form_error: RwSignal<Option<String>>,
    next: String,
) -> ViewFn {
    ViewFn::from(move || view! { <SecondStep challenge form_error next=next.clone()/> })
}

/// The second step: a code, or a passkey, for the challenge the password
/// earned. `form_error` is the password form's: going back to it says why.
#[component]
fn SecondStep(
    challenge: RwSignal<Option<MfaRequired>>,
    form_error: RwSignal<Option<String>>,
    next: String,
) -> impl IntoView {
    let step = Step {
        form: Form::new(),
        challenge,
        form_error,
        code: RwSignal::new(String::new()),
        code_error: RwSignal::new(None),
        method: RwSignal::new(MfaMethod::Totp),
        wrong: RwSignal::new(0),
    };
    step.method.set(step.first_method());
    let hydrated = use_hydrated();
    let next = StoredValue::new(next);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(mfa_token) = challenge.with_untracked(|c| c.as_ref().map(|c| c.mfa_token.clone()))
        else {
            return;
        };
        let method = step.method.get_untracked();
        if method != MfaMethod::Passkey && step.code.with_untracked(|c| c.trim().is_empty()) {
            step.code_error.set(Some("Enter the code.".into()));
            return;
        }
        step.code_error.set(None);
        step.form
            .send(step.answer(mfa_token, method, next.get_value()));
    };
    let busy = step.form.busy;
    view! {
        <form class="form" on:submit=submit novalidate>
            <h2>"Two-step sign-in"</h2>
            {move || method_prompt(step.method.get(), step.code, step.code_error)}
            <Show when=move || step.method.get() == MfaMethod::Sms>
                <p><button type="button" class="secondary" disabled=move || busy.get()
                    on:click=move |_| step.form.send(step.text_me())>"Text me a code"</button></p>
            </Show>
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || match (busy.get(), step.method.get()) {
                    (true, _) => "Checking…",
                    (false, MfaMethod::Passkey) => "Use a passkey",
                    (false, _) => "Continue",
                }}
            </button>
            {move || step.other_methods()}
            <p><button type="button" class="link" on:click=move |_| step.back(None)>"Start over"</button></p>
        </form>
    }
}

/// The second step's state.
#[derive(Clone, Copy)]
struct Step {
    form: Form,
    challenge: RwSignal<Option<MfaRequired>>,
    /// The password form's banner.
    form_error: RwSignal<Option<String>>,
    code: RwSignal<String>,
    code_error: RwSignal<Option<String>>,
    method: RwSignal<MfaMethod>,
    /// Wrong answers so far: the server ends the challenge at the fifth.
    wrong: RwSignal<u8>,
}

impl Step {
    fn offers(self, m: MfaMethod) -> bool {
        let usable = m != MfaMethod::Passkey || webauthn::supported();
        usable
            && self
                .challenge
                .with(|c| c.as_ref().is_some_and(|c| c.methods.contains(&m)))
    }

    /// The app's code first; a passkey where there is no app (and the
    /// browser can use one); then a texted code; a recovery code otherwise.
    fn first_method(self) -> MfaMethod {
        [MfaMethod::Totp, MfaMethod::Passkey, MfaMethod::Sms]
            .into_iter()
            .find(|m| self.offers(*m))
            .unwrap_or(MfaMethod::RecoveryCode)
    }

    /// Back to the password form, saying why.
    fn back(self, why: Option<String>) {
        self.challenge.set(None);
        self.form_error.set(why);
    }

    fn switch(self, to: MfaMethod) {
        self.method.set(to);
        self.code.set(String::new());
        self.code_error.set(None);
    }

    /// Links to the methods the challenge offers besides the current one.
    fn other_methods(self) -> impl IntoView {
        let current = self.method.get();
        [
            (MfaMethod::Totp, "Use the authenticator app instead"),
            (MfaMethod::Passkey, "Use a passkey instead"),
            (MfaMethod::Sms, "Text a code to my phone instead"),
            (MfaMethod::RecoveryCode, "Use a recovery code instead"),
        ]
        .into_iter()
        .filter(move |(m, _)| *m != current && self.offers(*m))
        .map(move |(m, label)| view! {
            <p><button type="button" class="link" on:click=move |_| self.switch(m)>{label}</button></p>
        })
        .collect_view()
    }

    /// Sends the second factor; goes on to `next`, or says why not.
    async fn answer(self, mfa_token: String, method: MfaMethod, next: String) -> Then {
        let request = match method {
            MfaMethod::Passkey => match passkey(PasskeyUse::SecondStep(mfa_token)).await {
                Ok(Some(request)) => request,
                Ok(None) => unreachable!("a second step gives a request"),
                Err(why) => {
                    self.code_error.set(Some(why));
                    return Then::Ready;
                }
            },
            _ => MfaLogin {
                mfa_token,
                method,
                code: self.code.get_untracked(),
                ceremony: None,
                credential: None,
            },
        };
        match api::login_second_step(&request).await {
            Ok(_) => {
                go_to(&safe_next(Some(next)));
                return Then::Gone;
            }
            Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => self.wrong_answer(method),
            Err(e) if e.code() == Some(ErrorCode::InvalidGrant) => {
                self.back(Some("That sign-in step has expired. Sign in again.".into()))
            }
            Err(e) => self.code_error.set(Some(e.message())),
        }
        Then::Ready
    }

    /// Texts a code to the account's phone.
    async fn text_me(self) -> Then {
        let Some(mfa_token) = self
            .challenge
            .with_untracked(|c| c.as_ref().map(|c| c.mfa_token.clone()))
        else {
            return Then::Ready;
        };
        match api::text_login_code(&mfa_token).await {
            Ok(()) => self
                .code_error
                .set(Some("A code is on its way to your phone.".into())),
            Err(e) if e.code() == Some(ErrorCode::InvalidGrant) => {
                self.back(Some("That sign-in step has expired. Sign in again.".into()))
            }
            Err(e) => self.code_error.set(Some(e.message())),
        }
        Then::Ready
    }

    fn wrong_answer(self, method: MfaMethod) {
        self.code.set(String::new());
        self.wrong.update(|n| *n += 1);
        let why = if self.wrong.get_untracked() >= 5 {
            return self.back(Some("Too many wrong tries. Sign in again.".into()));
        } else if method == MfaMethod::Passkey {
            "That passkey was not accepted."
        } else if method == MfaMethod::Sms {
            "That code is not right. Try the newest code we texted you."
        } else {
            "That code is not right. Try the newest code from your app."
        };
        self.code_error.set(Some(why.into()));
    }
}

/// What the second step asks for, by method.
fn method_prompt(
    method: MfaMethod,
    code: RwSignal<String>,
    code_error: RwSignal<Option<String>>,
) -> AnyView {
    match method {
        MfaMethod::Totp => view! {
            <p>"Enter the 6-digit code from your authenticator app."</p>
            <Field name="code" label="Code" autocomplete="one-time-code" inputmode="numeric"
                value=code error=code_error/>
        }
        .into_any(),
        MfaMethod::RecoveryCode => view! {
            <p>"Enter one of the recovery codes you saved. Each works once."</p>
            <Field name="code" label="Recovery code" autocomplete="off" value=code error=code_error/>
        }
        .into_any(),
        MfaMethod::Sms => view! {
            <p>"We text a 6-digit code to your phone. It works once, for 10 minutes."</p>
            <Field name="code" label="Code from the text" autocomplete="one-time-code" inputmode="numeric"
                value=code error=code_error/>
        }
        .into_any(),
        MfaMethod::Passkey => view! {
            <p>"Confirm it is you with a passkey: this device's, or a security key."</p>
            <p class="field-error" role="alert">{move || code_error.get().unwrap_or_default()}</p>
        }
        .into_any(),
    }
}

/// What a passkey is used for on this page.
enum PasskeyUse {
    /// Signing in with no password.
    SignIn,
    /// The second step of the login of this `mfa_token`.
    SecondStep(String),
}

/// Uses a passkey: signs in (`None`), or gives the second step's request
/// (`Some`); or what to tell the person. Its code arrives when the person
/// asks for a passkey (one split point for both uses: each split point
/// divides the code pages share into more, smaller files, which compress
/// worse).
#[leptos::lazy]
async fn passkey(purpose: PasskeyUse) -> Result<Option<MfaLogin>, String> {
    let started = match &purpose {
        PasskeyUse::SignIn => api::passkey_options().await,
        PasskeyUse::SecondStep(mfa_token) => {
            let options = MfaPasskeyOptions {
                mfa_token: mfa_token.clone(),
            };
            api::mfa_passkey_options(&options).await
        }
    }
    .map_err(|e| e.message())?;
    let credential = webauthn::get(&started.options)
        .await
        .map_err(|failure| failure.message(true))?;
    let PasskeyUse::SecondStep(mfa_token) = purpose else {
        let request = PasskeySignIn {
            ceremony: started.ceremony,
            credential: Some(credential),
        };
        return match api::passkey_sign_in(&request).await {
            Ok(_) => Ok(None),
            Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => Err(
                "This passkey was not accepted. It may have been removed from your account.".into(),
            ),
            Err(e) => Err(e.message()),
        };
    };
    Ok(Some(MfaLogin {
        mfa_token,
        method: MfaMethod::Passkey,
        code: String::new(),
        ceremony: Some(started.ceremony),
        credential: Some(credential),
    }))
}
