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
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Field, FormError, use_hydrated},
    session::{AlreadyLoggedIn, go_to, safe_next, use_session},
    storage, webauthn,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = safe_next(use_query_map().with_untracked(|q| q.get("next")));
    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        <AlreadyLoggedIn/>
        <LoginForm next/>
        <p><a href="/forgot-password">"Forgot your password?"</a></p>
        <p>"New here? " <a href="/signup">"Sign up"</a></p>
    }
}

/// `next`: the same-site path to go to once logged in.
#[island(lazy)]
fn LoginForm(next: String) -> impl IntoView {
    let session = use_session();
    let hydrated = use_hydrated();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login_error = RwSignal::new(None::<String>);
    let password_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Set once the password was right and a second factor is needed; its
    // view arrives then (see `second_step`).
    let second_step = RwSignal::new(None::<MfaRequired>);
    let second_step_view = RwSignal::new(None::<ViewFn>);

    // Why the last session ended, told once.
    Effect::new(move |_| {
        if let Some(ended) = storage::ended() {
            session.set_notice(Some(ended.message().into()));
            storage::forget_ended();
        }
    });

    let passkey_next = next.clone();
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
        let next = next.clone();
        spawn_local(async move {
            match api::login(&LoginRequest {
                login: l,
                password: p,
            })
            .await
            {
                // The next page reads the session from storage; the form
                // stays busy until it is gone.
                // Checked again here, against the page's own origin.
                Ok(api::LoggedIn::Done(_)) => return go_to(&safe_next(Some(next))),
                Ok(api::LoggedIn::SecondStep(required)) => {
                    password.set(String::new());
                    if second_step_view.with_untracked(Option::is_none) {
                        let view = second_step_code(second_step, form_error, next).await;
                        second_step_view.set(Some(view));
                    }
                    second_step.set(Some(required));
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

    // Known only in the browser, once hydrated: the server renders no
    // passkey button.
    let passkeys = RwSignal::new(false);
    Effect::new(move |_| passkeys.set(webauthn::supported()));
    let with_passkey = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        form_error.set(None);
        let next = passkey_next.clone();
        spawn_local(async move {
            match passkey(PasskeyUse::SignIn).await {
                Ok(_) => return go_to(&safe_next(Some(next))),
                Err(why) => form_error.set(Some(why)),
            }
            busy.set(false);
        });
    };

    view! {
        {move || {
            second_step.with(Option::is_some).then(|| second_step_view.get().map(|view| view.run()))
        }}
        <form class="form" on:submit=submit novalidate
            hidden=move || second_step.with(Option::is_some)>
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
            <p class="or" hidden=move || !passkeys.get()>
                <button type="button" class="secondary" on:click=with_passkey disabled=move || busy.get()>
                    "Sign in with a passkey"
                </button>
            </p>
        </form>
    }
}

/// The second step's view. Its code arrives when a password was right and
/// the account asks for a second factor, not with the page: most sign-ins
/// never need it, and the page's first visit stays within its budget
/// (docs/FRONTEND.md).
#[leptos::lazy]
fn second_step_code(
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
    let back = move |why: Option<String>| {
        challenge.set(None);
        form_error.set(why);
    };
    let hydrated = use_hydrated();
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let offers =
        move |m: MfaMethod| challenge.with(|c| c.as_ref().is_some_and(|c| c.methods.contains(&m)));
    // The app's code first; a passkey where there is no app (and the
    // browser can use one); a recovery code otherwise.
    let first = if offers(MfaMethod::Totp) {
        MfaMethod::Totp
    } else if offers(MfaMethod::Passkey) && webauthn::supported() {
        MfaMethod::Passkey
    } else {
        MfaMethod::RecoveryCode
    };
    let method = RwSignal::new(first);
    // The server ends the challenge at the fifth wrong code.
    let wrong = RwSignal::new(0u8);
    let switch = move |to: MfaMethod| {
        method.set(to);
        code.set(String::new());
        code_error.set(None);
    };
    let other_methods = move || {
        let current = method.get();
        [
            (MfaMethod::Totp, "Use the authenticator app instead"),
            (MfaMethod::Passkey, "Use a passkey instead"),
            (MfaMethod::RecoveryCode, "Use a recovery code instead"),
        ]
        .into_iter()
        .filter(move |(m, _)| {
            *m != current && offers(*m) && (*m != MfaMethod::Passkey || webauthn::supported())
        })
        .map(move |(m, label)| view! {
            <p><button type="button" class="link" on:click=move |_| switch(m)>{label}</button></p>
        })
        .collect_view()
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(mfa_token) = challenge.with_untracked(|c| c.as_ref().map(|c| c.mfa_token.clone()))
        else {
            return;
        };
        let method = method.get_untracked();
        let typed = code.get_untracked();
        if method != MfaMethod::Passkey && typed.trim().is_empty() {
            code_error.set(Some("Enter the code.".into()));
            return;
        }
        busy.set(true);
        code_error.set(None);
        let next = next.clone();
        spawn_local(async move {
            let request = match method {
                MfaMethod::Passkey => match passkey(PasskeyUse::SecondStep(mfa_token)).await {
                    Ok(Some(request)) => request,
                    Ok(None) => unreachable!("a second step gives a request"),
                    Err(why) => {
                        code_error.set(Some(why));
                        busy.set(false);
                        return;
                    }
                },
                _ => MfaLogin {
                    mfa_token,
                    method,
                    code: typed,
                    ceremony: None,
                    credential: None,
                },
            };
            match api::login_second_step(&request).await {
                Ok(_) => return go_to(&safe_next(Some(next))),
                Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => {
                    code.set(String::new());
                    wrong.update(|n| *n += 1);
                    if wrong.get_untracked() >= 5 {
                        back(Some(
                            "Too many wrong tries. Enter your password again.".into(),
                        ));
                    } else if method == MfaMethod::Passkey {
                        code_error.set(Some("That passkey was not accepted.".into()));
                    } else {
                        code_error.set(Some(
                            "That code is not right. Try the newest code from your app.".into(),
                        ));
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidGrant) => {
                    back(Some(
                        "That sign-in step has expired. Enter your password again.".into(),
                    ));
                }
                Err(e) => code_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            <h2>"Two-step sign-in"</h2>
            {move || match method.get() {
                MfaMethod::Totp => view! {
                    <p>"Enter the 6-digit code from your authenticator app."</p>
                    <Field
                        name="code"
                        label="Code"
                        autocomplete="one-time-code"
                        inputmode="numeric"
                        value=code
                        error=code_error
                    />
                }.into_any(),
                MfaMethod::RecoveryCode => view! {
                    <p>"Enter one of the recovery codes you saved. Each works once."</p>
                    <Field name="code" label="Recovery code" autocomplete="off" value=code error=code_error/>
                }.into_any(),
                MfaMethod::Passkey => view! {
                    <p>"Confirm it is you with a passkey: this device's, or a security key."</p>
                    <p class="field-error" role="alert">{move || code_error.get().unwrap_or_default()}</p>
                }.into_any(),
            }}
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || match (busy.get(), method.get()) {
                    (true, _) => "Checking…",
                    (false, MfaMethod::Passkey) => "Use a passkey",
                    (false, _) => "Continue",
                }}
            </button>
            {other_methods}
            <p><button type="button" class="link" on:click=move |_| back(None)>"Start over"</button></p>
        </form>
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
