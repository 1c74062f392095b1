//! Who is logged in, as the pages see it. Server-rendered HTML always shows
//! the logged-out state (the server cannot read local storage); after
//! hydration the browser fills in the stored user, and follows other tabs'
//! logins and logouts through the `storage` event.

use classboard::api::{Role, User};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

use crate::{api::Ended, store};

#[derive(Clone, Copy)]
pub struct Session {
    /// The logged-in user, if any.
    pub user: RwSignal<Option<User>>,
    /// False until the browser has read local storage (always false on the server).
    pub ready: RwSignal<bool>,
    /// A message to show once, such as why the session ended.
    pub notice: RwSignal<Option<String>>,
}

impl Session {
    pub fn role(&self) -> Option<Role> {
        self.user.with(|u| u.as_ref().map(|u| u.role))
    }

    /// Records that the session ended without the person asking.
    pub fn ended(&self, ended: Ended) {
        self.user.set(None);
        self.notice.set(Some(ended.message().into()));
    }
}

thread_local! {
    static HYDRATED: ArcRwSignal<bool> = ArcRwSignal::new(false);
}

/// Whether the server's HTML is hydrated yet (never, on the server). Reactive.
pub fn hydrated() -> bool {
    HYDRATED.with(|done| done.get())
}

/// Tells the session that the server's HTML is hydrated, so it may now show
/// what local storage holds. The browser entry point calls it once.
pub fn hydration_finished() {
    HYDRATED.with(|done| done.set(true));
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Creates the session context; call once, in the root component.
pub fn provide_session() -> Session {
    let session = Session {
        user: RwSignal::new(None),
        ready: RwSignal::new(false),
        notice: RwSignal::new(None),
    };
    provide_context(session);

    // Effects run only in the browser; this one waits until the page is
    // hydrated, which can take more than one turn of the event loop.
    Effect::new(move |_| {
        if !hydrated() {
            return;
        }
        session.user.set(store::user());
        session.ready.set(true);
        follow_other_tabs(session);
    });
    session
}

fn follow_other_tabs(session: Session) {
    use wasm_bindgen::{JsCast, closure::Closure};
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener =
        Closure::<dyn Fn(web_sys::StorageEvent)>::new(move |event: web_sys::StorageEvent| {
            if event.key().as_deref() != Some(store::TOKEN_KEY) {
                return;
            }
            match store::user() {
                Some(user) => session.user.set(Some(user)),
                None => match store::ended() {
                    Some(ended) => session.ended(ended),
                    None => session.user.set(None),
                },
            }
        });
    let _ = window.add_event_listener_with_callback("storage", listener.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    listener.forget();
}

/// `next` as a same-site path, or `/`: never another origin, never `//host`.
pub fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\"))
        .unwrap_or_else(|| "/".into())
}

/// Shows `children` to a logged-in person; sends anyone else to
/// `/login?next=<this page>` once the browser knows nobody is logged in.
#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        // Once the person has left this page (say, for /login after logging
        // out), this guard has nothing left to guard.
        let path = location.pathname.get_untracked();
        if !session.ready.get() || session.user.with(Option::is_some) || path.starts_with("/login")
        {
            return;
        }
        // Storage decides, not the signal: the signal can briefly lag behind
        // a session another tab just stored.
        if let Some(user) = store::user() {
            session.user.set(Some(user));
            return;
        }
        let here = format!("{path}{}", location.search.get_untracked());
        let next = js_sys::encode_uri_component(&here);
        navigate(&format!("/login?next={next}"), Default::default());
    });
    view! {
        <Show
            when=move || session.user.with(Option::is_some)
            fallback=|| view! { <p class="status" role="status">"Loading…"</p> }
        >
            {children()}
        </Show>
    }
}
