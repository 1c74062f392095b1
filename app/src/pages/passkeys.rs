//! The "Passkeys" section of `/account`: the account's passkeys, adding one
//! (with a name) and removing one. Both ask for the password, and the code
//! when the account has an authenticator app or recovery codes.

use classboard::{
    ErrorCode,
    api::{MfaStatus, NewPasskey, Passkey, Reauth},
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Field, FormError, nfc, show_issues},
    session::use_session,
    webauthn,
};

#[component]
pub fn Passkeys() -> impl IntoView {
    let session = use_session();
    let status = RwSignal::new(None::<MfaStatus>);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let name_error = RwSignal::new(None::<String>);
    let password = RwSignal::new(String::new());
    let password_error = RwSignal::new(None::<String>);
    let code = RwSignal::new(String::new());
    let code_error = RwSignal::new(None::<String>);
    let supported = webauthn::supported();

    let fail = move |e: api::ApiError| match e {
        api::ApiError::SessionEnded(ended) => session.ended(ended),
        e => {
            show_issues(
                &e,
                &[
                    ("name", name_error),
                    ("password", password_error),
                    ("code", code_error),
                ],
            );
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
    // Presence is proved with a passkey where the account has one (and
    // the browser can use it); else with a code where it has TOTP or
    // recovery codes; else with the password alone.
    let by_passkey =
        move || supported && status.with(|s| s.as_ref().is_some_and(|s| !s.passkeys.is_empty()));
    let needs_code = move || {
        !by_passkey()
            && status.with(|s| {
                s.as_ref()
                    .is_some_and(|s| s.totp.enabled || s.recovery_codes_left > 0)
            })
    };
    let proof = move || Proof {
        password: nfc(&password.get_untracked()),
        code: Some(code.get_untracked()).filter(|c| !c.trim().is_empty()),
        by_passkey: by_passkey(),
    };
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
            let result = match &action {
                Action::Add => add(proof(), name.get_untracked()).await,
                Action::Remove(id) => remove(id, proof()).await,
            };
            match result {
                Ok(()) => {
                    password.set(String::new());
                    code.set(String::new());
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
                <p>{move || if by_passkey() {
                    "To add or remove a passkey, confirm it is you: your password, then one of your passkeys."
                } else {
                    "To add or remove a passkey, confirm it is you."
                }}</p>
                <Field name="password" label="Current password" kind="password" autocomplete="current-password" value=password error=password_error/>
                <Show when=needs_code>
                    <Field name="code" label="Code from your app, or a recovery code" autocomplete="one-time-code" value=code error=code_error/>
                </Show>
                {supported.then(|| view! {
                    <Field name="name" label="Name of the new passkey (for example “Laptop”)" value=name error=name_error/>
                    <button type="submit" disabled=move || busy.get()>"Add a passkey"</button>
                })}
                {(!supported).then(|| view! { <p>"This browser cannot make passkeys."</p> })}
            </form>
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

/// What the person gave to prove it is them.
struct Proof {
    password: String,
    code: Option<String>,
    /// Confirm with one of the account's passkeys.
    by_passkey: bool,
}

impl Proof {
    /// The proof as the API takes it: with a passkey's answer when asked.
    async fn reauth(self) -> Result<Reauth, Failed> {
        let mut reauth = Reauth {
            password: self.password,
            code: self.code,
            ..Reauth::default()
        };
        if self.by_passkey {
            let started = api::reauth_passkey_options().await.map_err(Failed::Api)?;
            let credential = webauthn::get(&started.options)
                .await
                .map_err(|failure| Failed::Browser(failure.message(true)))?;
            reauth.ceremony = Some(started.ceremony);
            reauth.credential = Some(credential);
        }
        Ok(reauth)
    }
}

async fn remove(id: &str, proof: Proof) -> Result<(), Failed> {
    let reauth = proof.reauth().await?;
    api::passkey_remove(id, &reauth).await.map_err(Failed::Api)
}

/// Adds a passkey, step by step: proof of presence and options from the
/// server, the credential from the browser, back to the server.
async fn add(proof: Proof, name: String) -> Result<(), Failed> {
    let reauth = proof.reauth().await?;
    let started = api::passkey_register(&reauth).await.map_err(Failed::Api)?;
    let credential = webauthn::create(&started.options)
        .await
        .map_err(|failure| Failed::Browser(failure.message(false)))?;
    let new = NewPasskey {
        ceremony: started.ceremony,
        credential: Some(credential),
        name,
    };
    api::passkey_add(&new).await.map_err(Failed::Api)
}
