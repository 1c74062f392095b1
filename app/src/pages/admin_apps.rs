//! "Apps" in the admin console: the apps (OAuth clients) that sign people
//! in through this site. An admin lists them, registers one (its secret is
//! shown this once), replaces an app's secret, and removes an app (every
//! grant and token of it ends). Every change asks for confirmation, and for
//! a proof of presence when the session has none lately, as the API does.

use classboard::api::{Client, NewClient};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api,
    forms::{Form, FormError, Then},
    pages::confirm::{Confirm, ConfirmStep},
    visitor::use_visitor,
};

/// The scopes an app may be registered for, with what each lets it do.
const SCOPES: [(&str, &str); 7] = [
    ("openid", "sign people in"),
    ("profile", "see their username"),
    ("email", "see their address"),
    ("roles", "see their role"),
    ("offline_access", "stay signed in (refresh tokens)"),
    ("grades:read", "read grades"),
    ("posts:write", "publish posts"),
];
/// The grants an app may use.
const GRANTS: [(&str, &str); 3] = [
    ("authorization_code", "signs people in"),
    ("refresh_token", "refreshes their tokens"),
    ("client_credentials", "acts for itself (a backend)"),
];

/// A secret to show once: whose, and the secret.
#[derive(Clone)]
struct ShownOnce {
    client_id: String,
    name: String,
    secret: Option<String>,
}

/// What an admin confirms about one app.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AppChange {
    ReplaceSecret,
    Remove,
}

#[component]
pub fn AdminApps() -> impl IntoView {
    let visitor = use_visitor();
    let apps = RwSignal::new(None::<Vec<Client>>);
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let shown = RwSignal::new(None::<ShownOnce>);
    let outcome = RwSignal::new(None::<String>);
    let load = move |before: Option<String>| {
        spawn_local(async move {
            match api::admin_clients(before.as_deref()).await {
                Ok(page) => {
                    error.set(None);
                    apps.update(|a| {
                        let list = a.get_or_insert_with(Vec::new);
                        if before.is_none() {
                            list.clear();
                        }
                        list.extend(page.clients);
                    });
                    next.set(page.next);
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    Effect::new(move |_| load(None));
    view! {
        <section class="apps-admin" aria-labelledby="apps-heading">
            <h2 id="apps-heading">"Apps"</h2>
            <p class="hint">
                "Apps that sign people in through this site (a library, a timetable, a phone app) \
                 or read grades for themselves."
            </p>
            <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
                {move || error.get().unwrap_or_default()}
            </p>
            {move || shown.get().map(|once| view! { <Secret once shown/> })}
            {move || outcome.get().map(|said| view! { <p class="notice" role="status">{said}</p> })}
            {move || match apps.get() {
                None => view! { <p class="status" role="status">"Loading apps…"</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p>"No app is registered yet."</p> }.into_any(),
                Some(list) => view! {
                    <ul class="registered-apps">
                        {list.into_iter().map(|app| view! {
                            <AppItem app shown outcome on_change=move || load(None)/>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <Show when=move || next.with(Option::is_some)>
                <button type="button" class="secondary" on:click=move |_| load(next.get_untracked())>
                    "Show more apps"
                </button>
            </Show>
            <Register shown on_change=move || load(None)/>
        </section>
    }
}

/// A secret shown this once, with how to keep it.
#[component]
fn Secret(once: ShownOnce, shown: RwSignal<Option<ShownOnce>>) -> impl IntoView {
    view! {
        <div class="secret-once" role="status">
            <p><strong>{once.name}</strong>" is ready. Give its developers:"</p>
            <dl>
                <dt>"client_id"</dt>
                <dd><code>{once.client_id}</code></dd>
                {once.secret.map(|secret| view! {
                    <dt>"client_secret"</dt>
                    <dd><code class="secret">{secret}</code></dd>
                })}
            </dl>
            <p class="hint">
                "Copy the secret now: it is stored only as a hash and is not shown again. \
                 Lost, it can only be replaced."
            </p>
            <button type="button" class="secondary" on:click=move |_| shown.set(None)>"Done"</button>
        </div>
    }
}

/// One registered app, with its changes.
#[component]
fn AppItem(
    app: Client,
    shown: RwSignal<Option<ShownOnce>>,
    outcome: RwSignal<Option<String>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let visitor = use_visitor();
    let proof = Confirm::new();
    let id = StoredValue::new(app.client_id.clone());
    let name = StoredValue::new(app.name.clone());
    let pending = RwSignal::new(None::<AppChange>);
    let busy = RwSignal::new(false);
    let confirm = move |_| {
        let Some(change) = pending.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let target = id.get_value();
            let result = match change {
                AppChange::ReplaceSecret => proof
                    .proven(|| api::admin_client_secret(&target))
                    .await
                    .map(|secret| secret.map(Some)),
                AppChange::Remove => proof
                    .proven(|| api::admin_client_remove(&target))
                    .await
                    .map(|done| done.map(|()| None)),
            };
            busy.set(false);
            pending.set(None);
            match result {
                Ok(None) => {}
                Ok(Some(Some(secret))) => shown.set(Some(ShownOnce {
                    client_id: target,
                    name: name.get_value(),
                    secret: Some(secret.client_secret),
                })),
                Ok(Some(None)) => {
                    outcome.set(Some(format!("{} is removed.", name.get_value())));
                    on_change();
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => outcome.set(Some(e.message())),
            }
        });
    };
    let kind = if app.public {
        "public (no secret)"
    } else {
        "confidential"
    };
    let public = app.public;
    view! {
        <li>
            <p>
                <strong>{app.name.clone()}</strong>
                " · " {kind}
                {app.trusted.then_some(" · trusted (not asked for consent)")}
                {app.require_par.then_some(" · pushed requests only (PAR)")}
                {app.registered_itself.then_some(" · registered itself (dynamic registration)")}
            </p>
            <p class="meta"><code>{app.client_id.clone()}</code></p>
            <dl class="app-facts">
                <dt>"May ask for"</dt>
                <dd>{app.scopes.join(" ")}</dd>
                <dt>"Grants"</dt>
                <dd>{app.grant_types.join(" ")}</dd>
                <dt>"ID tokens"</dt>
                <dd>{app.id_token_signed_response_alg.clone()}</dd>
                {(!app.redirect_uris.is_empty()).then(|| view! {
                    <dt>"Returns people to"</dt>
                    <dd>{app.redirect_uris.iter().map(|u| view! { <span class="uri">{u.clone()}</span> }).collect_view()}</dd>
                })}
                {(!app.post_logout_redirect_uris.is_empty()).then(|| view! {
                    <dt>"After sign-out"</dt>
                    <dd>{app.post_logout_redirect_uris.iter().map(|u| view! { <span class="uri">{u.clone()}</span> }).collect_view()}</dd>
                })}
                {app.backchannel_logout_uri.clone().map(|u| view! {
                    <dt>"Told of sign-outs at"</dt>
                    <dd><span class="uri">{u}</span></dd>
                })}
                {app.jwks_uri.clone().map(|u| view! {
                    <dt>"Keys (JWKS)"</dt>
                    <dd><span class="uri">{u}</span></dd>
                })}
            </dl>
            <div class="actions">
                {(!public).then(|| view! {
                    <button type="button" class="secondary"
                        on:click=move |_| pending.set(Some(AppChange::ReplaceSecret))>
                        "Replace secret"
                    </button>
                })}
                <button type="button" class="danger" on:click=move |_| pending.set(Some(AppChange::Remove))>
                    "Remove"
                </button>
            </div>
            {move || pending.get().map(|change| view! {
                <div class="confirm" role="alertdialog">
                    <p>{asking(change, &name.get_value())}</p>
                    <button type="button" class="danger" on:click=confirm disabled=move || busy.get()>"Confirm"</button>
                    <button type="button" class="secondary" on:click=move |_| pending.set(None)>"Cancel"</button>
                </div>
            })}
            <ConfirmStep confirm=proof/>
        </li>
    }
}

fn asking(change: AppChange, app: &str) -> String {
    match change {
        AppChange::ReplaceSecret => format!(
            "Replace {app}'s secret? The old one stops working at once, and so do the tokens \
             it got for itself; its developers need the new one."
        ),
        AppChange::Remove => format!(
            "Remove {app}? Everyone signed in to it through this site is signed out of it, and \
             it can no longer sign anyone in."
        ),
    }
}

/// The form that registers an app.
#[component]
fn Register(
    shown: RwSignal<Option<ShownOnce>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let form = Form::new();
    let proof = Confirm::new();
    let name = RwSignal::new(String::new());
    let redirects = RwSignal::new(String::new());
    let post_logout = RwSignal::new(String::new());
    let backchannel = RwSignal::new(String::new());
    let jwks = RwSignal::new(String::new());
    let public = RwSignal::new(false);
    let trusted = RwSignal::new(false);
    let require_par = RwSignal::new(false);
    let id_token_alg = RwSignal::new("RS256".to_owned());
    let scopes = RwSignal::new(vec!["openid".to_owned(), "profile".into(), "email".into()]);
    let grants = RwSignal::new(vec![
        "authorization_code".to_owned(),
        "refresh_token".into(),
    ]);
    let toggle = |list: RwSignal<Vec<String>>, item: &'static str| {
        move |_| {
            list.update(|l| match l.iter().position(|s| s == item) {
                Some(at) => {
                    l.remove(at);
                }
                None => l.push(item.to_owned()),
            })
        }
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let lines =
            |text: String| -> Vec<String> { text.split_whitespace().map(str::to_owned).collect() };
        let optional = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        let new = NewClient {
            name: name.get_untracked().trim().to_owned(),
            redirect_uris: lines(redirects.get_untracked()),
            public: public.get_untracked(),
            scopes: scopes.get_untracked(),
            trusted: trusted.get_untracked(),
            post_logout_redirect_uris: lines(post_logout.get_untracked()),
            backchannel_logout_uri: optional(backchannel.get_untracked()),
            grant_types: grants.get_untracked(),
            jwks_uri: optional(jwks.get_untracked()),
            id_token_signed_response_alg: Some(id_token_alg.get_untracked()),
            require_par: require_par.get_untracked(),
        };
        form.send(async move {
            match proof.proven(|| api::admin_client_add(&new)).await {
                Ok(None) => {}
                Ok(Some(created)) => {
                    shown.set(Some(ShownOnce {
                        client_id: created.client.client_id,
                        name: created.client.name,
                        secret: created.client_secret,
                    }));
                    for field in [name, redirects, post_logout, backchannel, jwks] {
                        field.set(String::new());
                    }
                    on_change();
                }
                Err(e) => form.fail(e, &[]),
            }
            Then::Ready
        });
    };
    view! {
        <details class="register-app">
            <summary>"Register an app"</summary>
            <form class="form" on:submit=submit>
                <div class="field">
                    <label for="app-name">"Name, as people will see it on the consent page"</label>
                    <input id="app-name" required maxlength="100" bind:value=name/>
                </div>
                <div class="field">
                    <label for="app-redirects">"Addresses it returns people to, one per line (exact)"</label>
                    <textarea id="app-redirects" rows="2" bind:value=redirects
                        placeholder="https://library.example/callback"></textarea>
                </div>
                <fieldset>
                    <legend>"Kind"</legend>
                    <label class="check">
                        <input type="radio" name="app-kind" checked=move || !public.get()
                            on:change=move |_| public.set(false)/>
                        " Confidential: a server that keeps a secret"
                    </label>
                    <label class="check">
                        <input type="radio" name="app-kind" checked=move || public.get()
                            on:change=move |_| public.set(true)/>
                        " Public: a single-page or phone app, no secret"
                    </label>
                </fieldset>
                <fieldset>
                    <legend>"May ask for"</legend>
                    {SCOPES.into_iter().map(|(scope, what)| view! {
                        <label class="check">
                            <input type="checkbox" checked=move || scopes.with(|s| s.iter().any(|x| x == scope))
                                on:change=toggle(scopes, scope)/>
                            " "<code>{scope}</code>": "{what}
                        </label>
                    }).collect_view()}
                </fieldset>
                <fieldset>
                    <legend>"Grants"</legend>
                    {GRANTS.into_iter().map(|(grant, what)| view! {
                        <label class="check">
                            <input type="checkbox" checked=move || grants.with(|g| g.iter().any(|x| x == grant))
                                on:change=toggle(grants, grant)/>
                            " "<code>{grant}</code>": "{what}
                        </label>
                    }).collect_view()}
                </fieldset>
                <label class="check">
                    <input type="checkbox" bind:checked=trusted/>
                    " Trusted: the school's own app, people are not asked for consent"
                </label>
                <label class="check">
                    <input type="checkbox" bind:checked=require_par/>
                    " Pushed requests only: the app sends each sign-in request to this server first (PAR)"
                </label>
                <div class="field">
                    <label for="app-id-alg">"ID tokens signed with"</label>
                    <select id="app-id-alg" on:change=move |ev| id_token_alg.set(event_target_value(&ev))>
                        <option value="RS256" selected>"RS256 (every library reads it)"</option>
                        <option value="EdDSA">"EdDSA"</option>
                        <option value="ES256">"ES256"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="app-post-logout">"Addresses to return to after sign-out, one per line (optional)"</label>
                    <textarea id="app-post-logout" rows="1" bind:value=post_logout></textarea>
                </div>
                <div class="field">
                    <label for="app-backchannel">"Back-channel logout address (optional)"</label>
                    <input id="app-backchannel" type="url" bind:value=backchannel/>
                </div>
                <div class="field">
                    <label for="app-jwks">"Its keys for private_key_jwt: JWKS address (optional)"</label>
                    <input id="app-jwks" type="url" bind:value=jwks/>
                </div>
                <FormError message=form.error/>
                <button type="submit" disabled=move || form.busy.get()>"Register"</button>
            </form>
            <ConfirmStep confirm=proof/>
        </details>
    }
}
