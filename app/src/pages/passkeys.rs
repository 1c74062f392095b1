//! The "Passkeys" section of `/account`: the account's passkeys, adding one
//! (with a name) and removing one. Both go through the confirm step
//! (`pages::confirm`): the password, and the passkey or code the account
//! already has.

use classboard::{
    ErrorCode,
    api::{MfaStatus, NewPasskey, Passkey, Reauth},
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Field, FormError, show_issues},
    pages::confirm::{Confirm, ConfirmStep},
    session::use_session,
    webauthn,
};

#[component]
pub fn Passkeys() -> impl IntoView {
    let session = use_session();
    let confirm = Confirm::new();
    let status = RwSignal::new(None::<MfaStatus>);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let name_error = RwSignal::new(None::<String>);
    let supported = webauthn::supported();

    let fail = move |e: api::ApiError| match e {
        api::ApiError::SessionEnded(ended) => session.ended(ended),
        e => {
            show_issues(&e, &[("name", name_error)]);
            if e.code() != Some(ErrorCode::ValidationFailed) {
                error.set(Some(e.message()));
            }
        }
    };
    let load = move || {
        spawn_local(async move {
            match api::mfa_status().await {
                Ok(loaded) => status.set(Some(loaded)),
                Err(e) => fail(e),
            }
        });
    };
    Effect::new(move |_| load());
    // Runs `action` with the section busy; reloads the list when it is done.
    let run = move |action: Action| {
        if busy.get_untracked() {
            return;
        }
        if matches!(action, Action::Add) && name.with_untracked(|n| n.trim().is_empty()) {
            name_error.set(Some(
                "Give the passkey a name, to tell it from others.".into(),
            ));
            return;
        }
        busy.set(true);
        error.set(None);
        done.set(None);
        spawn_local(async move {
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
                    done.set(Some(match action {
                        Action::Add => "Passkey added. You can sign in with it now.".into(),
                        Action::Remove(_) => "Passkey removed.".into(),
                    }));
                    // Whether the account has a second factor may have changed.
                    if let Ok(user) = api::me().await {
                        session.set_user(user);
                    }
                    load();
                }
                Err(Failed::Api(e)) => fail(e),
                Err(Failed::Browser(why)) => error.set(Some(why)),
            }
            busy.set(false);
        });
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        run(Action::Add);
    };

    view! {
        <section aria-labelledby="passkeys-heading">
            <h2 id="passkeys-heading">"Passkeys"</h2>
            <p>"A passkey signs you in with this device's screen lock or a security key, with no password. After a password, it also serves as the second step."</p>
            <FormError message=error/>
            <p class="success" role="status" hidden=move || done.with(Option::is_none)>{move || done.get().unwrap_or_default()}</p>
            {move || match status.get() {
                None => view! { <p class="status" role="status">"Loading…"</p> }.into_any(),
                Some(loaded) if loaded.passkeys.is_empty() => view! { <p class="empty">"You have no passkeys yet."</p> }.into_any(),
                Some(loaded) => view! {
                    <ul class="passkeys">
                        {loaded.passkeys.into_iter().map(|p| passkey_item(p, move |id| run(Action::Remove(id)), busy)).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <form class="form" on:submit=submit novalidate>
                {supported.then(|| view! {
                    <Field name="name" label="Name of the new passkey (for example “Laptop”)" value=name error=name_error/>
                    <button type="submit" disabled=move || busy.get()>"Add a passkey"</button>
                })}
                {(!supported).then(|| view! { <p>"This browser cannot make passkeys."</p> })}
            </form>
            <ConfirmStep confirm/>
        </section>
    }
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
