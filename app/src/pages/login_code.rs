//! `/login/code`: signing in with a code sent by mail instead of the
//! password. First the address (a code is mailed to it if an account has
//! it; the answer is the same either way), then the code. The mail's link
//! opens this page with the address and the code in its fragment
//! (`#email=…&code=…`), which the browser never sends to the server: the
//! page fills them in and signs in only when the person presses the
//! button, so a mail scanner that opens links signs nobody in. An account
//! with two-step sign-in takes its second step here, as after a password.

use classboard::{ErrorCode, api::EmailCodeLogin};
use leptos::{ev::SubmitEvent, prelude::*};
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Field, Form, FormError, Then, use_hydrated},
    pages::login::{SecondStepState, second_step_code},
    visitor::{AlreadyLoggedIn, go_to, safe_next},
};

#[component]
pub fn LoginCodePage() -> impl IntoView {
    let next = safe_next(use_query_map().with_untracked(|q| q.get("next")));
    view! {
        <Title text="Sign in with a code"/>
        // The address may hold the code: no page it links to may see it.
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Sign in with a code"</h1>
        <AlreadyLoggedIn/>
        <CodeForm next/>
        <p><a href="/login">"Log in with your password instead"</a></p>
    }
}

/// `next`: the same-site path to go to once signed in.
#[island(lazy)]
fn CodeForm(next: String) -> impl IntoView {
    let form = Form::new();
    let hydrated = use_hydrated();
    let email = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let email_error = RwSignal::new(None::<String>);
    let code_error = RwSignal::new(None::<String>);
    // A code was asked for, or came with the mail's link: the code's form.
    let sent = RwSignal::new(false);
    // The address and the code came with a link: the page says whose
    // account the button signs in to (a link may be anyone's).
    let from_mail = RwSignal::new(false);
    let second_step = SecondStepState {
        challenge: RwSignal::new(None),
        view: RwSignal::new(None),
    };
    Effect::new(move |_| {
        if let Some((address, typed)) = from_link() {
            email.set(address);
            code.set(typed);
            sent.set(true);
            from_mail.set(true);
        }
    });
    let next = StoredValue::new(next);
    let ask = move |ev: SubmitEvent| {
        ev.prevent_default();
        let address = email.get_untracked();
        if address.trim().is_empty() {
            email_error.set(Some("Enter your email address.".into()));
            return;
        }
        form.send(async move {
            match api::request_sign_in_code(&address).await {
                Ok(()) => {
                    code.set(String::new());
                    sent.set(true);
                }
                Err(e) => form.fail(e, &[("email", email_error)]),
            }
            Then::Ready
        });
    };
    let verify = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = code.get_untracked();
        if typed.trim().is_empty() {
            code_error.set(Some("Enter the code from the mail.".into()));
            return;
        }
        let request = EmailCodeLogin {
            email: email.get_untracked(),
            code: typed,
        };
        form.send(sign_in(request, next.get_value(), form, second_step, code));
    };
    let waiting = move || second_step.challenge.with(Option::is_some);
    view! {
        {move || waiting().then(|| second_step.view.get().map(|view| view.run()))}
        <form class="form" on:submit=ask novalidate hidden=move || sent.get() || waiting()>
            <FormError message=form.error/>
            <p>"If your address is confirmed, we mail you a code that signs you in instead of your password. It works once, for 10 minutes."</p>
            <Field name="email" label="Email" kind="email" autocomplete="email" value=email error=email_error/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Sending…" } else { "Email me a code" }}
            </button>
        </form>
        <form class="form" on:submit=verify novalidate hidden=move || !sent.get() || waiting()>
            <FormError message=form.error/>
            <p role="status" hidden=move || from_mail.get()>
                "If an account has the address " <strong>{move || email.get()}</strong>
                ", a code is on its way to it."
            </p>
            <p hidden=move || !from_mail.get()>
                "Sign in to the account of " <strong>{move || email.get()}</strong>
                " with the code from the mail. Not yours? Do not sign in."
            </p>
            <Field name="code" label="Code from the mail" autocomplete="one-time-code" inputmode="numeric"
                value=code error=code_error/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
            <p>
                <button type="button" class="link" on:click=move |_| { sent.set(false); from_mail.set(false); form.error.set(None); }>
                    "Use another address, or ask for a new code"
                </button>
            </p>
        </form>
    }
}

/// Sends the address and the code; goes on to `next`, or to the second
/// step, or says why not.
async fn sign_in(
    request: EmailCodeLogin,
    next: String,
    form: Form,
    second_step: SecondStepState,
    code: RwSignal<String>,
) -> Then {
    match api::login_with_code(&request).await {
        Ok(api::LoggedIn::Done(_)) => {
            go_to(&safe_next(Some(next)));
            return Then::Gone;
        }
        Ok(api::LoggedIn::SecondStep(required)) => {
            code.set(String::new());
            if second_step.view.with_untracked(Option::is_none) {
                let view = second_step_code(second_step.challenge, form.error, next).await;
                second_step.view.set(Some(view));
            }
            second_step.challenge.set(Some(required));
        }
        Err(e) if e.code() == Some(ErrorCode::InvalidCredentials) => {
            code.set(String::new());
            form.error.set(Some(e.message()));
        }
        Err(e) => form.error.set(Some(e.message())),
    }
    Then::Ready
}

/// The address and the code the mail's link carries in its fragment,
/// which is then taken out of the address bar (and of the history).
fn from_link() -> Option<(String, String)> {
    let window = web_sys::window()?;
    let location = window.location();
    let fragment = location.hash().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(fragment.strip_prefix('#')?).ok()?;
    let found = (params.get("email")?, params.get("code")?);
    let bare = format!("{}{}", location.pathname().ok()?, location.search().ok()?);
    let _ = window.history().ok()?.replace_state_with_url(
        &wasm_bindgen::JsValue::NULL,
        "",
        Some(&bare),
    );
    Some(found)
}
