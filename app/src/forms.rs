//! Pieces every form uses: [`Form`] (a request in flight, the banner at the
//! top, where an error goes), a labelled field with its error, and the
//! banner itself.

use std::future::Future;

use classboard::{
    ErrorCode,
    validate::{Issue, len},
};
use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::ApiError,
    visitor::{Visitor, use_visitor},
};

/// What every form and section that sends requests shares: whether one is
/// in flight (`busy`, which also keeps a second click from sending
/// another), the banner for what belongs to no one field (`error`), and the
/// line that says what was done (`done`).
#[derive(Clone, Copy)]
pub struct Form {
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    pub done: RwSignal<Option<String>>,
    visitor: Visitor,
}

/// What a form's request left it to do.
pub enum Then {
    /// Take the next request.
    Ready,
    /// The form is going (the page is left with `go_to`, or the step it
    /// belongs to closed): it stays as it is until it is gone.
    Gone,
}

impl Form {
    pub fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
            done: RwSignal::new(None),
            visitor: use_visitor(),
        }
    }

    /// The visitor of the island the form is in.
    pub fn visitor(self) -> Visitor {
        self.visitor
    }

    /// Sends `request` unless one is in flight: busy meanwhile, with the
    /// banner and the done line cleared first.
    pub fn send(self, request: impl Future<Output = Then> + 'static) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        self.done.set(None);
        spawn_local(async move {
            if let Then::Ready = request.await {
                self.busy.set(false);
            }
        });
    }

    /// Where an error goes: the end of the session to the visitor; a `422`'s
    /// problems under `fields` (and to the banner when none of them is
    /// named); anything else to the banner.
    pub fn fail(self, error: ApiError, fields: &[(&str, RwSignal<Option<String>>)]) {
        match error {
            ApiError::SessionEnded(ended) => self.visitor.ended(ended),
            e if e.code() == Some(ErrorCode::ValidationFailed)
                && fields.iter().any(|(field, _)| e.issue_for(field).is_some()) =>
            {
                show_issues(&e, fields);
            }
            e => self.error.set(Some(e.message())),
        }
    }
}

/// A labelled input whose problem, if any, is shown beneath it and tied to
/// it with `aria-describedby`, so assistive tools read both.
#[component]
pub fn Field(
    /// The API field name; also the input's name, and its id unless `id`
    /// is given (a page with two forms asking for the same field).
    name: &'static str,
    #[prop(optional)] id: Option<&'static str>,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    /// The keyboard a phone shows (`numeric` for codes).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
    /// Shown under the field when there is no error.
    #[prop(optional, into)]
    hint: Option<Signal<String>>,
) -> impl IntoView {
    let id = id.unwrap_or(name);
    let message_id = format!("{id}-message");
    let described = message_id.clone();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    error.set(None);
                }
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=described
            />
            <p id=message_id class=move || if error.with(Option::is_some) { "field-error" } else { "field-hint" }>
                {move || error.get().or_else(|| hint.map(|h| h.get())).unwrap_or_default()}
            </p>
        </div>
    }
}

/// A multi-line variant of [`Field`].
#[component]
pub fn TextArea(
    name: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let message_id = format!("{name}-message");
    let described = message_id.clone();
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <textarea
                id=name
                name=name
                rows="8"
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    error.set(None);
                }
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=described
            ></textarea>
            <p id=message_id class="field-error">{move || error.get().unwrap_or_default()}</p>
        </div>
    }
}

/// The form-level message (server errors that belong to no one field).
#[component]
pub fn FormError(message: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || message.with(Option::is_some)>
            <p class="form-error" role="alert">{move || message.get().unwrap_or_default()}</p>
        </Show>
    }
}

/// The line that says what a form did, when it did something.
#[component]
pub fn Done(form: Form, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <p class="success" role="status" hidden=move || form.done.with(Option::is_none)>
            {move || form.done.get().unwrap_or_default()}
            {children.map(|children| children())}
        </p>
    }
}

/// Shows under each field what the server's `422` says of it, or nothing.
fn show_issues(error: &crate::api::ApiError, fields: &[(&str, RwSignal<Option<String>>)]) {
    for &(field, slot) in fields {
        slot.set(
            error
                .issue_for(field)
                .map(|issue| issue_message(field, &issue)),
        );
    }
}

/// The sentence for `issue` (a wire code) on `field`.
fn issue_message(field: &str, issue: &str) -> String {
    Issue::from_code(issue).map_or_else(
        || format!("This {field} is not valid."),
        |i| i.message(field),
    )
}

/// `text` in Unicode Normalization Form C, as the server compares passwords,
/// so that both sides count the same characters. The browser's own
/// `String.prototype.normalize` does it: no tables in the bundle.
pub fn nfc(text: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    return js_sys::JsString::from(text).normalize("NFC").into();
    // The server renders forms empty; only the browser ever has text here.
    #[cfg(not(target_arch = "wasm32"))]
    text.to_owned()
}

/// True once the island is hydrated: buttons stay disabled before, so a form
/// is never submitted natively (which would put its fields in the URL).
pub fn use_hydrated() -> Signal<bool> {
    let visitor = crate::visitor::use_visitor();
    Signal::derive(move || visitor.ready())
}

/// A hint that needs no dictionary (which would bloat the bundle): length
/// is what makes a password strong; the server checks the common-password list.
pub fn strength_hint(password: &str) -> String {
    let n = password.chars().count();
    let (min, max) = len::PASSWORD;
    match n {
        0 => format!("At least {min} characters. A few unrelated words make a strong password."),
        n if n < min => format!("Too short: {n} of at least {min} characters."),
        n if n > max => format!("Too long: {n} of at most {max} characters."),
        n if n < 20 => "Long enough. A few more characters make it stronger.".into(),
        _ => "Strong length.".into(),
    }
}
