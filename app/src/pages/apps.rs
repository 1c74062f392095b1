//! `/account`'s "Apps with access": the apps the person allowed to sign
//! them in (through this site's sign-in), what each may do, and a way to
//! withdraw it. Withdrawing ends the app's tokens of this person at once,
//! and the app asks again next time.

use classboard::api::AppAccess;
use leptos::{prelude::*, task::spawn_local};

use crate::{api, visitor::use_visitor};

#[component]
pub fn AppsWithAccess() -> impl IntoView {
    let visitor = use_visitor();
    let apps = RwSignal::new(None::<Vec<AppAccess>>);
    let error = RwSignal::new(None::<String>);
    let fail = move |e: api::ApiError| match e {
        api::ApiError::SessionEnded(ended) => visitor.ended(ended),
        e => error.set(Some(e.message())),
    };
    let load = move || {
        spawn_local(async move {
            match api::apps_with_access().await {
                Ok(list) => apps.set(Some(list.apps)),
                Err(e) => fail(e),
            }
        });
    };
    Effect::new(move |_| load());
    let withdraw = move |client_id: String| {
        error.set(None);
        spawn_local(async move {
            match api::withdraw_app(&client_id).await {
                Ok(()) => load(),
                Err(e) => fail(e),
            }
        });
    };
    view! {
        <section aria-labelledby="apps-heading">
            <h2 id="apps-heading">"Apps with access"</h2>
            <p>"Apps you allowed to sign you in with this account. Removing one ends its access at once; it will ask again if you use it."</p>
            <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
                {move || error.get().unwrap_or_default()}
            </p>
            {move || match apps.get() {
                None => view! { <p class="status" role="status">"Loading apps…"</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p>"No app has access."</p> }.into_any(),
                Some(list) => view! {
                    <ul class="apps">
                        {list.into_iter().map(|app| {
                            let id = app.client_id.clone();
                            let label = format!("Remove the access of {}", app.name);
                            view! {
                                <li>
                                    <span class="what">{app.name}</span>
                                    <span class="meta">"Allowed " {app.allowed_at.get(..10).unwrap_or_default().to_owned()}</span>
                                    <ul>
                                        {app.scopes.into_iter().map(|s| view! { <li title=s.scope>{s.description}</li> }).collect_view()}
                                    </ul>
                                    <button type="button" class="secondary" aria-label=label on:click=move |_| withdraw(id.clone())>
                                        "Remove access"
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}
