//! `/login`: by username or email, then, for an account with two-step
//! sign-in, a code from the authenticator app or a recovery code. Afterwards
//! the person returns to `?next=` (a same-site path), or to the feed. The
//! second step lives only in the page's memory: a reload starts again at
//! the password.

use classboard::{
    ErrorCode,
    api::{LoginRequest, MfaLogin, MfaMethod, MfaRequired},
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Field, FormError, use_hydrated},
    session::{go_to, safe_next, use_session},
    store,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = safe_next(use_query_map().with_untracked(|q| q.get("next")));
    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        <LoginForm next/>
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
    // Set once the password was right and a second factor is needed.
    let second_step = RwSignal::new(None::<MfaRequired>);

    // Why the last session ended, told once.
    Effect::new(move |_| {
        if let Some(ended) = store::ended() {
            session.set_notice(Some(ended.message().into()));
            store::forget_ended();
        }
    });

    let second_next = next.clone();
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

    let back_to_password = move |why: Option<String>| {
        second_step.set(None);
        form_error.set(why);
    };

    view! {
        <Show when=move || second_step.with(Option::is_some)>
            <SecondStep
                challenge=second_step
                next=second_next.clone()
                back=back_to_password
            />
        </Show>
        <form class="form" on:submit=submit novalidate hidden=move || second_step.with(Option::is_some)>
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
        </form>
    }
}

/// The second step: a code for the challenge the password earned.
#[component]
fn SecondStep(
    challenge: RwSignal<Option<MfaRequired>>,
    next: String,
    /// Back to the password, with why.
    back: impl Fn(Option<String>) + Copy + 'static,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let method = RwSignal::new(MfaMethod::Totp);
    // The server ends the challenge at the fifth wrong code.
    let wrong = RwSignal::new(0u8);
    let can_recover = move || {
        challenge.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.methods.contains(&MfaMethod::RecoveryCode))
        })
    };
    let switch = move |to: MfaMethod| {
        method.set(to);
        code.set(String::new());
        code_error.set(None);
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
        let typed = code.get_untracked();
        if typed.trim().is_empty() {
            code_error.set(Some("Enter the code.".into()));
            return;
        }
        busy.set(true);
        let next = next.clone();
        spawn_local(async move {
            let request = MfaLogin {
                mfa_token,
                method: method.get_untracked(),
                code: typed,
                ceremony: None,
                credential: None,
            };
            match api::login_second_step(&request).await {
                Ok(_) => return go_to(&safe_next(Some(next))),
                Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => {
                    code.set(String::new());
                    wrong.update(|n| *n += 1);
                    if wrong.get_untracked() >= 5 {
                        back(Some(
                            "Too many wrong codes. Enter your password again.".into(),
                        ));
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
                MfaMethod::RecoveryCode | MfaMethod::Passkey => view! {
                    <p>"Enter one of the recovery codes you saved. Each works once."</p>
                    <Field name="code" label="Recovery code" autocomplete="off" value=code error=code_error/>
                }.into_any(),
            }}
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || if busy.get() { "Checking…" } else { "Continue" }}
            </button>
            <Show when=can_recover>
                <p>
                    {move || match method.get() {
                        MfaMethod::Totp => view! {
                            <button type="button" class="link" on:click=move |_| switch(MfaMethod::RecoveryCode)>
                                "Use a recovery code instead"
                            </button>
                        }.into_any(),
                        MfaMethod::RecoveryCode | MfaMethod::Passkey => view! {
                            <button type="button" class="link" on:click=move |_| switch(MfaMethod::Totp)>
                                "Use the authenticator app instead"
                            </button>
                        }.into_any(),
                    }}
                </p>
            </Show>
            <p><button type="button" class="link" on:click=move |_| back(None)>"Start over"</button></p>
        </form>
    }
}
