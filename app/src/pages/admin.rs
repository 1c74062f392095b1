//! The console where admins find accounts and act on them, shown at
//! `/admin` (the page is `account::AdminPage`). To anyone else that page is
//! the not-found page: the server cannot tell who asks (the session lives
//! in the browser), so every visitor gets it, and the island shows the
//! console only to an admin. The API refuses everyone else whatever the
//! page shows.

use classboard::api::{AdminUser, Role};
use std::time::Duration;

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use crate::{
    api::{self, AdminAction},
    pages::{
        activity::EventList,
        admin_apps::AdminApps,
        confirm::{Confirm, ConfirmStep},
    },
    visitor::use_visitor,
    when::Moment,
};

/// How long typing pauses before the console searches.
const TYPING_PAUSE: Duration = Duration::from_millis(300);

/// The not-found text, or for an admin the console. In the on-demand
/// sections' chunk, loaded by `/admin`'s island (see `account::Account`,
/// which also holds `/admin`'s page).
#[component]
pub fn AdminGate() -> impl IntoView {
    let visitor = use_visitor();
    let admin = move || visitor.role() == Some(Role::Admin);
    Effect::new(move |_| {
        if admin()
            && let Some(document) = web_sys::window().and_then(|w| w.document())
        {
            document.set_title(&format!("Admin · {}", crate::layout::SITE_NAME));
        }
    });
    view! {
        <Show
            when=admin
            fallback=crate::pages::not_found::nothing_here
        >
            <div class="console">
                <h1>"Admin"</h1>
                <Console/>
                <AdminApps/>
            </div>
        </Show>
    }
}

/// The console: finds accounts and manages one at a time.
#[component]
pub fn Console() -> impl IntoView {
    let visitor = use_visitor();
    let query = RwSignal::new(String::new());
    let users = RwSignal::new(None::<Vec<AdminUser>>);
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    // The account being managed, by id.
    let selected = RwSignal::new(None::<String>);
    // What the last action did, or why it failed: kept here, because the
    // account's section is drawn again from the reloaded list.
    let outcome = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| {
        let managing = selected.with(Option::is_some);
        outcome.set(None);
        // The account's section opens below the list: brought into view,
        // or on a phone it would open out of sight, under every card.
        if managing {
            request_animation_frame(|| {
                if let Some(heading) = document().get_element_by_id("manage-heading") {
                    heading.scroll_into_view();
                }
            });
        }
    });
    // Searches overlap when the person types: only the newest one's answer
    // is shown, whatever order the answers arrive in. The list shown keeps
    // the query it answers: "Show more" and the reload after an action go
    // on with it, whatever the box holds now. (`try_` reads: an answer may
    // arrive after the console has gone, the visitor signed out.)
    let newest = StoredValue::new(0_u32);
    let shown_query = StoredValue::new(String::new());
    let load = move |q: String, before: Option<String>| {
        let Some(asked) = newest.try_get_value().map(|n| n.wrapping_add(1)) else {
            return;
        };
        newest.set_value(asked);
        spawn_local(async move {
            let answer = api::admin_users(&q, before.as_deref()).await;
            if newest.try_get_value() != Some(asked) {
                return;
            }
            match answer {
                Ok(page) => {
                    error.set(None);
                    users.update(|u| {
                        let list = u.get_or_insert_with(Vec::new);
                        if before.is_none() {
                            list.clear();
                        }
                        list.extend(page.users);
                    });
                    shown_query.set_value(q);
                    next.set(page.next);
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    // A new search: "Show more" of the list shown goes until it answers.
    let search = move || {
        if let Some(q) = query.try_get_untracked() {
            next.set(None);
            selected.set(None);
            load(q.trim().to_owned(), None);
        }
    };
    let more = move || {
        if let (Some(q), Some(Some(before))) =
            (shown_query.try_get_value(), next.try_get_untracked())
        {
            load(q, Some(before));
        }
    };
    let reload = move || {
        if let Some(q) = shown_query.try_get_value() {
            load(q, None);
        }
    };
    Effect::new(move |_| search());
    // Typing searches once the typist pauses; Enter searches at once.
    let waiting = StoredValue::new(None::<TimeoutHandle>);
    let stop_waiting = move || {
        if let Some(handle) = waiting.try_get_value().flatten() {
            handle.clear();
        }
        waiting.set_value(None);
    };
    on_cleanup(stop_waiting);
    let typed = move |ev: leptos::ev::Event| {
        query.set(event_target_value(&ev));
        stop_waiting();
        let handle = set_timeout_with_handle(
            move || {
                waiting.set_value(None);
                search();
            },
            TYPING_PAUSE,
        );
        waiting.set_value(handle.ok());
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        stop_waiting();
        search();
    };
    let chosen = move || {
        let id = selected.get()?;
        users.with(|u| u.as_ref()?.iter().find(|u| u.id == id).cloned())
    };
    view! {
        <form class="search" on:submit=submit role="search">
            <label for="user-search">"Find accounts by the start of their username or email"</label>
            <input id="user-search" type="search" prop:value=query on:input=typed autocomplete="off"/>
            <button type="submit">"Search"</button>
        </form>
        <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
        {move || match users.get() {
            None => view! { <p class="status" role="status">"Loading accounts…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p>"No account matches."</p> }.into_any(),
            Some(list) => view! { <UserTable list selected/> }.into_any(),
        }}
        <Show when=move || next.with(Option::is_some)>
            <button type="button" class="secondary" on:click=move |_| more()>
                "Show more accounts"
            </button>
        </Show>
        {move || outcome.get().map(|o| match o {
            Ok(said) => view! { <p class="notice" role="status">{said}</p> }.into_any(),
            Err(why) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
        })}
        {move || chosen().map(|user| view! {
            <Manage user outcome on_change=reload/>
        })}
    }
}

/// The accounts found: a table on a wide screen, one card per account on a
/// narrow one (the CSS reads each cell's `data-label`).
#[component]
fn UserTable(list: Vec<AdminUser>, selected: RwSignal<Option<String>>) -> impl IntoView {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    view! {
        <div class="table-wrap">
        <table class="users">
            <thead>
                <tr>
                    <th scope="col">"Account"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Email confirmed"</th>
                    <th scope="col">"Second factor"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th scope="col" aria-label="Actions"></th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|u| {
                    let id = u.id.clone();
                    let label = format!("Manage {}", u.username);
                    view! {
                        <tr>
                            <td class="who"><strong>{u.username}</strong><span class="meta">{u.email}</span></td>
                            <td data-label="Role">{u.role.as_str()}</td>
                            <td data-label="State">{if u.locked { "locked" } else { "active" }}</td>
                            <td data-label="Email confirmed">{yes_no(u.email_verified)}</td>
                            <td data-label="Second factor">{yes_no(u.mfa)}</td>
                            <td data-label="Last sign-in">{match u.last_login_at {
                                Some(at) => view! { <Moment at/> }.into_any(),
                                None => "never".into_any(),
                            }}</td>
                            <td class="act">
                                <button type="button" class="secondary" aria-label=label
                                    on:click=move |_| selected.set(Some(id.clone()))>
                                    "Manage"
                                </button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// One account's actions and events. Every action asks to be confirmed
/// first, and says what it did or why it failed. The server takes admin
/// actions only from a session that proved presence lately: the confirm
/// step asks for the proof when it has run out.
#[component]
fn Manage(
    user: AdminUser,
    outcome: RwSignal<Option<Result<String, String>>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let visitor = use_visitor();
    let proof = Confirm::new();
    let id = StoredValue::new(user.id.clone());
    let name = StoredValue::new(user.username.clone());
    let role = RwSignal::new(user.role);
    // The action waiting for its confirmation.
    let pending = RwSignal::new(None::<AdminAction>);
    let busy = RwSignal::new(false);
    let describe = move |action: AdminAction| asking(action, &name.get_value());
    let confirm = move |_| {
        let Some(action) = pending.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let target = id.get_value();
            let result = proof.proven(|| api::admin_act(&target, action)).await;
            busy.set(false);
            pending.set(None);
            match result {
                Ok(None) => {}
                Ok(Some(())) => {
                    outcome.set(Some(Ok(did(action, &name.get_value()))));
                    on_change();
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => outcome.set(Some(Err(e.message()))),
            }
        });
    };
    let ask = move |action: AdminAction| {
        outcome.set(None);
        pending.set(Some(action));
    };
    view! {
        <section class="manage" aria-labelledby="manage-heading">
            <h2 id="manage-heading">{format!("Manage {}", user.username)}</h2>
            <p class="meta">{user.email.clone()}</p>
            <div class="actions">
                <label for="new-role">"Role"</label>
                <select id="new-role" on:change=move |ev| {
                    if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }
                }>
                    {[Role::Student, Role::Teacher, Role::Admin].into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == user.role>{r.as_str()}</option>
                    }).collect_view()}
                </select>
                <button type="button" class="secondary" on:click=move |_| ask(AdminAction::Role(role.get_untracked()))>
                    "Change role"
                </button>
                {if user.locked {
                    view! { <button type="button" class="secondary" on:click=move |_| ask(AdminAction::Unlock)>"Unlock account"</button> }.into_any()
                } else {
                    view! { <button type="button" class="danger" on:click=move |_| ask(AdminAction::Lock)>"Lock account"</button> }.into_any()
                }}
                {user.mfa.then(|| view! {
                    <button type="button" class="danger" on:click=move |_| ask(AdminAction::RemoveSecondFactors)>
                        "Remove second factors"
                    </button>
                })}
            </div>
            {move || pending.get().map(|action| view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
                    <p id="confirm-text">{describe(action)}</p>
                    <button type="button" class="danger" on:click=confirm disabled=move || busy.get()>"Confirm"</button>
                    <button type="button" class="secondary" on:click=move |_| pending.set(None)>"Cancel"</button>
                </div>
            })}
            <ConfirmStep confirm=proof/>
            <h3>"Events"</h3>
            <EventList load=move |before| async move { api::admin_events(&id.get_value(), before.as_deref()).await }/>
        </section>
    }
}

/// What confirming `action` on `who`'s account does, as a question.
fn asking(action: AdminAction, who: &str) -> String {
    match action {
        AdminAction::Lock => format!(
            "Lock {who}'s account? They are signed out everywhere at once and cannot sign in until it is unlocked."
        ),
        AdminAction::Unlock => format!("Unlock {who}'s account? They can sign in again."),
        AdminAction::RemoveSecondFactors => format!(
            "Remove every second factor of {who} (authenticator app, passkeys, recovery codes)? They are told by mail, and sign in with their password alone until they add new ones."
        ),
        AdminAction::Role(r) => format!(
            "Make {who} a {}? They are signed out everywhere, and the new role applies from their next sign-in.",
            r.as_str()
        ),
    }
}

/// What `action` on `who`'s account did.
fn did(action: AdminAction, who: &str) -> String {
    match action {
        AdminAction::Lock => format!("{who}'s account is locked."),
        AdminAction::Unlock => format!("{who}'s account is unlocked."),
        AdminAction::RemoveSecondFactors => format!("{who}'s second factors are removed."),
        AdminAction::Role(r) => format!("{who} is now a {}.", r.as_str()),
    }
}
