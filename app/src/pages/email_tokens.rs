//! The pages around mail: `/forgot-password` sends a reset link;
//! `/reset-password?token=…` and `/verify-email?token=…` are where a mail's
//! link lands. Opening a link spends nothing (mail scanners open every
//! link): only the form's submission sends the token. A person who pastes
//! the code from the mail instead of following the link gets a field for
//! it. One island serves the three pages: each island is a split point of
//! its own, and each split point cuts the code the pages share into more,
//! smaller chunks (docs/FRONTEND.md, "Size").

use classboard::{api::PasswordReset, validate::Password};
use leptos::{ev::SubmitEvent, prelude::*};
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    api,
    forms::{Done, Field, Form, FormError, Then, nfc, strength_hint, use_hydrated},
    storage,
    visitor::go_to,
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
    let form = Form::new();
    let hydrated = use_hydrated();
    let has_link = !token.is_empty();
    let typed = Typed {
        code: RwSignal::new(token),
        email: RwSignal::new(String::new()),
        password: RwSignal::new(String::new()),
    };
    let errors = [
        RwSignal::new(None::<String>),
        RwSignal::new(None),
        RwSignal::new(None),
    ];
    let [code_error, email_error, password_error] = errors;
    let hint = Signal::derive(move || strength_hint(&nfc(&typed.password.get())));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let asked = typed.read(purpose);
        code_error.set(
            (purpose != Purpose::Forgot && asked.token.is_empty())
                .then(|| "Paste the code from the mail.".into()),
        );
        email_error.set(
            (purpose == Purpose::Forgot && asked.address.trim().is_empty())
                .then(|| "Enter your email address.".into()),
        );
        // The rules that need no account: the server checks the rest.
        password_error.set((purpose == Purpose::Reset).then_some(()).and_then(|()| {
            Password::parse(&asked.new_password, "", "")
                .err()
                .map(|i| i.message("new_password"))
        }));
        if errors.iter().all(|e| e.with_untracked(Option::is_none)) {
            let fields = [("email", email_error), ("new_password", password_error)];
            form.send(send(purpose, asked, form, fields));
        }
    };
    let (button, busy_label) = match purpose {
        Purpose::Forgot => ("Send the link", "Sending…"),
        Purpose::Reset => ("Set the new password", "Saving…"),
        Purpose::Verify => ("Confirm my address", "Confirming…"),
    };
    view! {
        <Done form>" " <a href="/">"Go to the board"</a></Done>
        <form class="form" on:submit=submit novalidate hidden=move || form.done.with(Option::is_some)>
            <FormError message=form.error/>
            {(purpose == Purpose::Forgot).then(|| view! {
                <Field name="email" label="Email" kind="email" autocomplete="email" value=typed.email error=email_error/>
            })}
            {(purpose != Purpose::Forgot && !has_link).then(|| view! {
                <Field name="code" label="Code from the mail" autocomplete="off" value=typed.code error=code_error/>
            })}
            {(purpose == Purpose::Reset).then(|| view! {
                <Field name="new_password" label="New password" kind="password" autocomplete="new-password"
                    value=typed.password error=password_error hint=hint/>
            })}
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { busy_label } else { button }}
            </button>
        </form>
        {(purpose == Purpose::Reset).then(|| view! {
            <p>"Link expired? " <a href="/forgot-password">"Ask for a new one"</a></p>
        })}
    }
}

/// What the person typed (or the link brought).
#[derive(Clone, Copy)]
struct Typed {
    code: RwSignal<String>,
    email: RwSignal<String>,
    password: RwSignal<String>,
}

/// What a submission sends, as the server compares it.
struct Asked {
    token: String,
    address: String,
    new_password: String,
}

impl Typed {
    fn read(self, purpose: Purpose) -> Asked {
        Asked {
            token: self.code.get_untracked().trim().to_owned(),
            address: self.email.get_untracked(),
            new_password: match purpose {
                Purpose::Reset => nfc(&self.password.get_untracked()),
                _ => String::new(),
            },
        }
    }
}

/// Sends what the page asks for, and says what it did.
async fn send(
    purpose: Purpose,
    asked: Asked,
    form: Form,
    fields: [(&'static str, RwSignal<Option<String>>); 2],
) -> Then {
    let Asked {
        token,
        address,
        new_password,
    } = asked;
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
            Purpose::Forgot => form.done.set(Some(format!(
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
                go_to("/login");
                return Then::Gone;
            }
            Purpose::Verify => {
                form.done
                    .set(Some("Your email address is confirmed.".into()));
                // The header stops asking, in this tab and the others.
                let visitor = form.visitor();
                if visitor.logged_in()
                    && let Ok(user) = api::me().await
                {
                    if let Some(token) = storage::token() {
                        storage::save(&token, &user);
                    }
                    visitor.set_user(user);
                }
            }
        },
        Err(e) => form.fail(e, &fields),
    }
    Then::Ready
}
