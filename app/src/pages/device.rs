//! `/device`: where a person allows an app on a device without a keyboard
//! (the device grant, RFC 8628). The device shows a short code and this
//! address; the person signs in here (sent to `/login` and back), types the
//! code (or arrives with it in the address, from a QR code), sees which app
//! asks and what for, in words, and allows or denies it. The answers go
//! with the person's access token, never with a cookie alone.

use classboard::api::ScopeInWords;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Form, FormError, Then},
    visitor::{go_to, use_visitor},
};

#[component]
pub fn DevicePage() -> impl IntoView {
    let code = use_query_map().with_untracked(|q| q.get("code"));
    view! {
        <Title text="Sign in on a device"/>
        // The address may hold the device's code: no page it links to may see it.
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Sign in on a device"</h1>
        <Device code=code.unwrap_or_default()/>
    }
}

/// What the device asked, once the person typed its code.
#[derive(Clone)]
struct Asked {
    /// As the device shows it.
    code: String,
    app: String,
    scopes: Vec<ScopeInWords>,
    registered_itself: bool,
}

#[island(lazy)]
fn Device(code: String) -> impl IntoView {
    let visitor = use_visitor();
    let form = Form::new();
    let typed = RwSignal::new(code);
    let asked = RwSignal::new(None::<Asked>);
    let answered = RwSignal::new(None::<String>);
    // Nobody signed in here: sign in first, and come back with the code.
    Effect::new(move |_| {
        if visitor.ready() && !visitor.logged_in() {
            let back = match typed.get_untracked().trim() {
                "" => "/device".to_owned(),
                code => format!("/device?code={}", js_sys::encode_uri_component(code)),
            };
            let next = js_sys::encode_uri_component(&back);
            go_to(&format!("/login?next={next}"));
        }
    });
    let look_up = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let code = typed.get_untracked().trim().to_owned();
        form.send(async move {
            match api::device_asks(code).await {
                Ok(asks) => asked.set(Some(Asked {
                    code: asks.user_code,
                    app: asks.app,
                    scopes: asks.scopes,
                    registered_itself: asks.registered_itself,
                })),
                Err(e) => form.fail(e, &[]),
            }
            Then::Ready
        });
    };
    let decide = move |allow: bool| {
        let Some(Asked { code, app, .. }) = asked.get_untracked() else {
            return;
        };
        form.send(async move {
            match api::device_decision(code, allow).await {
                Ok(()) => {
                    asked.set(None);
                    answered.set(Some(if allow {
                        format!("Done: {app} is signed in on your device. You can close this page.")
                    } else {
                        format!("{app} was not allowed. You can close this page.")
                    }));
                }
                Err(e) => form.fail(e, &[]),
            }
            Then::Ready
        });
    };
    view! {
        <FormError message=form.error/>
        <Show when=move || answered.with(Option::is_some)>
            <p class="notice" role="status">{move || answered.get()}</p>
        </Show>
        <Show when=move || asked.with(Option::is_none) && answered.with(Option::is_none)>
            <form class="device-code" on:submit=look_up>
                <p>"Type the code your device shows."</p>
                <div class="field">
                    <label for="device-code">"Code"</label>
                    <input id="device-code" name="code" required maxlength="32" autocomplete="off"
                        autocapitalize="characters" spellcheck="false" placeholder="XXXX-XXXX"
                        bind:value=typed/>
                </div>
                // Enabled once the page can send it (and the visitor is known).
                <button type="submit" disabled=move || form.busy.get() || !visitor.ready()>
                    "Continue"
                </button>
            </form>
        </Show>
        <Show when=move || asked.with(Option::is_some)>
            <section class="consent">
                <p>
                    <strong>{move || asked.with(|a| a.as_ref().map(|a| a.app.clone()))}</strong>
                    " on your device would like to:"
                </p>
                <ul>
                    {move || asked.with(|a| a.as_ref().map(|a| a.scopes.iter().map(|s| view! {
                        <li title=s.scope.clone()>{s.description.clone()}</li>
                    }).collect_view()))}
                </ul>
                <p>
                    "Check that your device shows "
                    <strong class="user-code">{move || asked.with(|a| a.as_ref().map(|a| a.code.clone()))}</strong>
                    ". If it does not, or you did not start this yourself just now, choose Deny: \
                     someone may be trying to sign in as you."
                </p>
                <Show when=move || asked.with(|a| a.as_ref().is_some_and(|a| a.registered_itself))>
                    <p class="notice">
                        "This app registered itself on this site: nobody at the school has checked it."
                    </p>
                </Show>
                <p class="hint">
                    "Signed in as "
                    {move || visitor.user().map(|u| u.username)}
                    ". You can withdraw it later on your account page."
                </p>
                <div class="actions">
                    <button type="button" on:click=move |_| decide(true) disabled=move || form.busy.get()>
                        "Allow"
                    </button>
                    <button type="button" class="secondary" on:click=move |_| decide(false) disabled=move || form.busy.get()>
                        "Deny"
                    </button>
                </div>
            </section>
        </Show>
    }
}
