//! A list of security events, a page at a time: the account's "Recent
//! activity", and one account's events in the admin console.

use classboard::api::{Event, EventPage};
use leptos::{prelude::*, task::spawn_local};

use crate::{api, visitor::use_visitor, when::Moment};

/// `/account`'s "Recent activity" section.
#[component]
pub fn RecentActivity() -> impl IntoView {
    view! {
        <section aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Recent activity"</h2>
            <p>"Sign-ins and changes to your account's security, newest first. Something you do not recognise? Change your password and log out everywhere."</p>
            <EventList load=|before| async move { api::activity(before.as_deref()).await }/>
        </section>
    }
}

/// The events `load` gives, page after page (`load` takes the cursor of
/// the page to fetch).
#[component]
pub fn EventList<Load, Loading>(load: Load) -> impl IntoView
where
    Load: Fn(Option<String>) -> Loading + Copy + Send + Sync + 'static,
    Loading: Future<Output = api::Result<EventPage>> + 'static,
{
    let visitor = use_visitor();
    let events = RwSignal::new(None::<Vec<Event>>);
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let fetch = move |before: Option<String>| {
        spawn_local(async move {
            match load(before).await {
                Ok(page) => {
                    events.update(|e| e.get_or_insert_with(Vec::new).extend(page.events));
                    next.set(page.next);
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    Effect::new(move |_| fetch(None));
    view! {
        <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
        {move || match events.get() {
            None => view! { <p class="status" role="status">"Loading activity…"</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p>"Nothing yet."</p> }.into_any(),
            Some(list) => view! {
                <ul class="events">
                    {list.into_iter().map(|e| view! { <EventItem event=e/> }).collect_view()}
                </ul>
            }.into_any(),
        }}
        <Show when=move || next.with(Option::is_some)>
            <button type="button" class="secondary" on:click=move |_| fetch(next.get_untracked())>
                "Show older activity"
            </button>
        </Show>
    }
}

#[component]
fn EventItem(event: Event) -> impl IntoView {
    let what = match &event.detail {
        Some(detail) => format!("{} ({detail})", event.kind.describe()),
        None => event.kind.describe().to_owned(),
    };
    let place = [event.device, event.ip]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <li>
            <span class="what">{what}</span>
            {event.current.then(|| view! { <strong class="this-device">" (this session)"</strong> })}
            {event.actor_id.is_some().then(|| view! { <span class="by-admin">" by an admin"</span> })}
            <span class="meta"><Moment at=event.at/> {(!place.is_empty()).then(|| format!(" · {place}"))}</span>
        </li>
    }
}
