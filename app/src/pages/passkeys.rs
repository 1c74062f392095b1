//! The "Passkeys" section of `/account`: the account's passkeys, adding one
//! (with a name) and removing one. Both go through the confirm step
//! (`pages::confirm`): the password, and the passkey or code the account
//! already has.

use classboard::api::{MfaStatus, NewPasskey, Passkey, Reauth};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Done, Field, Form, FormError, Then},
    pages::confirm::{Confirm, ConfirmStep},
    webauthn,
};

#[component]
pub fn Passkeys() -> impl IntoView {
    let form = Form::new();
    let confirm = Confirm::new();
    let status = RwSignal::new(None::<MfaStatus>);
    let name = RwSignal::new(String::new());
    let name_error = RwSignal::new(None::<String>);
    let supported = webauthn::supported();
    let load = move || {
        spawn_local(async move {
            match api::mfa_status().await {
                Ok(loaded) => status.set(Some(loaded)),
                Err(e) => form.fail(e, &[]),
            }
        });
    };
    Effect::new(move |_| load());
    let run = move |action: Action| {
        if matches!(action, Action::Add) && name.with_untracked(|n| n.trim().is_empty()) {
            name_error.set(Some(
                "Give the passkey a name, to tell it from others.".into(),
            ));
            return;
        }
        form.send(act(action, form, confirm, (name, name_error), load));
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        run(Action::Add);
    };

    view! {
        <section aria-labelledby="passkeys-heading">
            <h2 id="passkeys-heading">"Passkeys"</h2>
            <p>"A passkey signs you in with this device's screen lock or a security key, with no password. After a password, it also serves as the second step."</p>
            <FormError message=form.error/>
            <Done form/>
            {move || match status.get() {
                None => view! { <p class="status" role="status">"Loading…"</p> }.into_any(),
                Some(loaded) if loaded.passkeys.is_empty() => view! { <p class="empty">"You have no passkeys yet."</p> }.into_any(),
                Some(loaded) => view! {
                    <ul class="passkeys">
                        {loaded.passkeys.into_iter().map(|p| passkey_item(p, move |id| run(Action::Remove(id)), form.busy)).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <form class="form" on:submit=submit novalidate>
                {supported.then(|| view! {
                    <Field name="name" label="Name of the new passkey (for example “Laptop”)" value=name error=name_error/>
                    <button type="submit" disabled=move || form.busy.get()>"Add a passkey"</button>
                })}
                {(!supported).then(|| view! { <p>"This browser cannot make passkeys."</p> })}
            </form>
            <ConfirmStep confirm/>
        </section>
    }
}

/// Adds or removes a passkey, says so, and reloads the list.
async fn act(
    action: Action,
    form: Form,
    confirm: Confirm,
    (name, name_error): (RwSignal<String>, RwSignal<Option<String>>),
    reload: impl Fn(),
) -> Then {
    let none = Reauth::default();
    let result = match &action {
        Action::Add => add(confirm, name.get_untracked()).await,
        Action::Remove(id) => confirm
            .proven(|| api::passkey_remove(id, &none))
            .await
            .map_err(Failed::Api),
    };
    match result {
        Ok(None) => {}
        Ok(Some(())) => {
            name.set(String::new());
            form.done.set(Some(match action {
                Action::Add => "Passkey added. You can sign in with it now.".into(),
                Action::Remove(_) => "Passkey removed.".into(),
            }));
            // Whether the account has a second factor may have changed.
            if let Ok(user) = api::me().await {
                form.visitor().set_user(user);
            }
            reload();
        }
        Err(Failed::Api(e)) => form.fail(e, &[("name", name_error)]),
        Err(Failed::Browser(why)) => form.error.set(Some(why)),
    }
    Then::Ready
}

fn passkey_item(
    passkey: Passkey,
    remove: impl Fn(String) + Copy + Send + Sync + 'static,
    busy: RwSignal<bool>,
) -> impl IntoView {
    let label = format!("Remove the passkey {}", passkey.name);
    let id = passkey.id;
    let used = passkey.last_used_at.map_or_else(
        || "never used".to_owned(),
        |at| format!("last used {}", at.get(..10).unwrap_or_default()),
    );
    view! {
        <li>
            <span class="device">{passkey.name}</span>
            <span class="meta">"Added " {passkey.created_at.get(..10).unwrap_or_default().to_owned()} " · " {used}</span>
            <button type="button" class="secondary" aria-label=label disabled=move || busy.get()
                on:click=move |_| remove(id.clone())>"Remove"</button>
        </li>
    }
}

#[derive(Clone)]
enum Action {
    Add,
    Remove(String),
}

/// Why adding or removing did not happen.
enum Failed {
    Api(api::ApiError),
    /// The browser made no passkey; what to tell the person.
    Browser(String),
}

/// Adds a passkey, step by step: options from the server (after the
/// confirm step, when the session has not proved presence lately), the
/// credential from the browser, back to the server. `None` when the
/// person cancelled the confirm step.
async fn add(confirm: Confirm, name: String) -> Result<Option<()>, Failed> {
    let none = Reauth::default();
    let Some(started) = confirm
        .proven(|| api::passkey_register(&none))
        .await
        .map_err(Failed::Api)?
    else {
        return Ok(None);
    };
    let credential = webauthn::create(&started.options)
        .await
        .map_err(|failure| Failed::Browser(failure.message(false)))?;
    let new = NewPasskey {
        ceremony: started.ceremony,
        credential: Some(credential),
        name,
    };
    api::passkey_add(&new).await.map_err(Failed::Api).map(Some)
}
