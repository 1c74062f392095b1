//! Pieces every form uses: a labelled field with its error, and the banner
//! at the top of a form.

use classboard::validate::{Issue, len};
use leptos::prelude::*;

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

/// Shows under each field what the server's `422` says of it, or nothing.
pub fn show_issues(error: &crate::api::ApiError, fields: &[(&str, RwSignal<Option<String>>)]) {
    for &(field, slot) in fields {
        slot.set(
            error
                .issue_for(field)
                .map(|issue| issue_message(field, &issue)),
        );
    }
}

/// The sentence for `issue` (a wire code) on `field`.
pub fn issue_message(field: &str, issue: &str) -> String {
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
    let session = crate::session::use_session();
    Signal::derive(move || session.ready())
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
