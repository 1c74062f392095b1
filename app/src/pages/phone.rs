//! The "Phone" part of `/account`'s two-step section: a mobile number,
//! confirmed by a texted code, as a second step; changing and removing it.
//! Adding and removing go through the confirm step (`pages::confirm`). Says
//! plainly that an authenticator app or a passkey is safer: a text can be
//! read by whoever takes over the number.

use classboard::api::{MfaStatus, Reauth};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Field, Form, FormError, Then},
    pages::confirm::{Confirm, ConfirmStep},
};

/// What the part shows.
#[derive(Clone)]
enum View {
    Loading,
    /// Not offered here (`SMS_SECOND_FACTOR=off`): nothing.
    Off,
    /// The confirmed number, if any, and whether a safer factor (an app or
    /// a passkey) leaves it unused.
    Status(Option<String>, bool),
    /// Typing a number.
    Adding,
    /// Typing the code texted to the number.
    Confirming(String),
}

#[component]
pub fn PhoneFactor() -> impl IntoView {
    let part = Part {
        form: Form::new(),
        confirm: Confirm::new(),
        view_state: RwSignal::new(View::Loading),
        number: RwSignal::new(String::new()),
        number_error: RwSignal::new(None),
        code: RwSignal::new(String::new()),
        code_error: RwSignal::new(None),
    };
    Effect::new(move |_| part.load());
    let busy = part.form.busy;
    let send_number = move |ev: SubmitEvent| {
        ev.prevent_default();
        part.form.send(part.send_number());
    };
    let send_code = move |ev: SubmitEvent| {
        ev.prevent_default();
        part.form.send(part.send_code());
    };
    view! {
        <section aria-labelledby="phone-heading" hidden=move || part.view_state.with(|v| matches!(v, View::Off))>
            <h3 id="phone-heading">"Codes by text message"</h3>
            <p class="note">"A code texted to your phone is the weakest second step: whoever takes over your number gets your codes. An authenticator app or a passkey is safer; use a phone only if you cannot use them."</p>
            <FormError message=part.form.error/>
            {move || match part.view_state.get() {
                View::Loading => view! { <p class="status" role="status">"Loading…"</p> }.into_any(),
                View::Off => ().into_any(),
                View::Status(None, _) => view! {
                    <p>"No phone is set up."</p>
                    <button type="button" class="secondary" on:click=move |_| part.view_state.set(View::Adding)>"Add a phone"</button>
                }.into_any(),
                View::Status(Some(number), dormant) => view! {
                    <p>"Codes can be texted to " <strong class="phone-number">{number}</strong> "."</p>
                    {dormant.then(|| view! {
                        <p class="note">"They are not used while you have an authenticator app or a passkey: those are safer, and a phone must not be a way around them."</p>
                    })}
                    <div class="actions">
                        <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| part.view_state.set(View::Adding)>"Use another number"</button>
                        <button type="button" class="danger" disabled=move || busy.get() on:click=move |_| part.form.send(part.remove())>"Remove the phone"</button>
                    </div>
                }.into_any(),
                View::Adding => view! {
                    <form class="form" on:submit=send_number novalidate>
                        <Field name="phone" label="Mobile number, with its country code (+44 7400 123456)" kind="tel"
                            autocomplete="tel" value=part.number error=part.number_error/>
                        <div class="actions">
                            <button type="submit" disabled=move || busy.get()>"Text me a code"</button>
                            <button type="button" class="secondary" on:click=move |_| part.load()>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
                View::Confirming(number) => view! {
                    <form class="form" on:submit=send_code novalidate>
                        <p role="status">"We texted a 6-digit code to " <strong>{number}</strong> ". It works for 10 minutes."</p>
                        <Field name="code" label="Code from the text" autocomplete="one-time-code" inputmode="numeric"
                            value=part.code error=part.code_error/>
                        <div class="actions">
                            <button type="submit" disabled=move || busy.get()>"Confirm the number"</button>
                            <button type="button" class="secondary" on:click=move |_| part.load()>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
            }}
            <ConfirmStep confirm=part.confirm/>
        </section>
    }
}

/// The part's state, and what its buttons do.
#[derive(Clone, Copy)]
struct Part {
    form: Form,
    confirm: Confirm,
    view_state: RwSignal<View>,
    number: RwSignal<String>,
    number_error: RwSignal<Option<String>>,
    code: RwSignal<String>,
    code_error: RwSignal<Option<String>>,
}

impl Part {
    fn load(self) {
        spawn_local(async move {
            match api::mfa_status().await {
                Ok(status) => self.view_state.set(shown(&status)),
                Err(e) => self.form.fail(e, &[]),
            }
        });
    }

    async fn send_number(self) -> Then {
        let number = self.number.get_untracked().trim().to_owned();
        if number.is_empty() {
            self.number_error
                .set(Some("Enter your mobile number.".into()));
            return Then::Ready;
        }
        self.number_error.set(None);
        match self.confirm.proven(|| api::add_phone(&number)).await {
            Ok(Some(())) => {
                self.code.set(String::new());
                self.view_state.set(View::Confirming(number));
            }
            Ok(None) => {}
            Err(e) => self.form.fail(e, &[("phone", self.number_error)]),
        }
        Then::Ready
    }

    async fn send_code(self) -> Then {
        let code = self.code.get_untracked();
        if code.trim().is_empty() {
            self.code_error.set(Some("Enter the code.".into()));
            return Then::Ready;
        }
        self.code_error.set(None);
        match api::confirm_phone(&code).await {
            Ok(_) => {
                self.number.set(String::new());
                self.load();
            }
            Err(e) => {
                self.code.set(String::new());
                self.form.fail(e, &[("code", self.code_error)]);
            }
        }
        Then::Ready
    }

    async fn remove(self) -> Then {
        let none = Reauth::default();
        match self.confirm.proven(|| api::remove_phone(&none)).await {
            Ok(Some(())) => self.load(),
            Ok(None) => {}
            Err(e) => self.form.fail(e, &[]),
        }
        Then::Ready
    }
}

fn shown(status: &MfaStatus) -> View {
    if !status.sms_available {
        return View::Off;
    }
    let safer = status.totp.enabled || !status.passkeys.is_empty();
    View::Status(
        status.phone.as_ref().map(|phone| phone.number.clone()),
        safer,
    )
}
