//! The visitor: who is at the page (a logged-in user, or nobody), as the
//! pages' islands see it. (A *session* is the server's: one sign-in's
//! refresh tokens; the visitor holds what the browser knows of it.)
//!
//! Every page is HTML from the server with a few islands hydrated in the
//! browser (see docs/FRONTEND.md). The server cannot read local storage, so
//! its HTML always shows the logged-out state. In the browser, the islands of
//! a page share one visitor read from local storage, and follow other tabs'
//! logins and logouts through the `storage` event. Each island shows what the
//! visitor is only once it is hydrated itself: until then it must match
//! the server's HTML.

use classboard::api::{Role, User};
use leptos::prelude::*;

use crate::storage::{self, Ended};

/// The part every island of a page shares.
#[derive(Clone, Copy)]
struct Shared {
    user: RwSignal<Option<User>>,
    notice: RwSignal<Option<String>>,
}

/// One island's view of the page's visitor.
#[derive(Clone, Copy)]
pub struct Visitor {
    shared: Shared,
    /// False until this island is hydrated (always false on the server).
    mounted: RwSignal<bool>,
}

impl Visitor {
    /// Whether this island is hydrated, so it may act and show the visitor. Reactive.
    pub fn ready(&self) -> bool {
        self.mounted.get()
    }

    /// Reads the logged-in user, if any (nobody until [`Visitor::ready`]). Reactive.
    pub fn with_user<R>(&self, read: impl FnOnce(Option<&User>) -> R) -> R {
        let mounted = self.mounted.get();
        self.shared
            .user
            .with(|user| read(user.as_ref().filter(|_| mounted)))
    }

    pub fn user(&self) -> Option<User> {
        self.with_user(|user| user.cloned())
    }

    pub fn logged_in(&self) -> bool {
        self.with_user(|user| user.is_some())
    }

    pub fn role(&self) -> Option<Role> {
        self.with_user(|user| user.map(|u| u.role))
    }

    /// Records the user as the server now describes them.
    pub fn set_user(&self, user: User) {
        self.shared.user.set(Some(user));
    }

    /// The message to show once, such as why the session ended. Reactive.
    pub fn notice(&self) -> Option<String> {
        let mounted = self.mounted.get();
        self.shared.notice.get().filter(|_| mounted)
    }

    pub fn set_notice(&self, notice: Option<String>) {
        self.shared.notice.set(notice);
    }

    /// Records that the session ended without the person asking.
    pub fn ended(&self, ended: Ended) {
        self.shared.user.set(None);
        self.set_notice(Some(ended.message().into()));
    }
}

/// Whether the island around the caller is hydrated.
#[derive(Clone, Copy)]
struct Mounted(RwSignal<bool>);

/// The visitor as the calling island sees it.
pub fn use_visitor() -> Visitor {
    let shared = use_context::<Shared>().unwrap_or_else(browser_visitor);
    // One flag per island: the first caller in it makes it; what the island
    // renders later (after a `Show` flips, say) is in its context already.
    let mounted = use_context::<Mounted>().map_or_else(
        || {
            let mounted = RwSignal::new(false);
            provide_context(Mounted(mounted));
            // Effects run only in the browser, after the island is hydrated.
            Effect::new(move |_| mounted.set(true));
            mounted
        },
        |Mounted(mounted)| mounted,
    );
    Visitor { shared, mounted }
}

/// Creates the server's (always logged-out) visitor for one rendering of a
/// page; call once, in the root component. The browser never runs it.
pub fn provide_visitor() {
    provide_context(Shared {
        user: RwSignal::new(None),
        notice: RwSignal::new(None),
    });
}

thread_local! {
    /// The browser's visitor: one per page, whichever island asks first.
    static BROWSER: (ArcRwSignal<Option<User>>, ArcRwSignal<Option<String>>) = {
        let user = ArcRwSignal::new(storage::user());
        let notice = ArcRwSignal::new(storage::take_flash());
        follow_other_tabs(user.clone(), notice.clone());
        (user, notice)
    };
}

fn browser_visitor() -> Shared {
    BROWSER.with(|(user, notice)| Shared {
        user: user.clone().into(),
        notice: notice.clone().into(),
    })
}

fn follow_other_tabs(user: ArcRwSignal<Option<User>>, notice: ArcRwSignal<Option<String>>) {
    use wasm_bindgen::{JsCast, closure::Closure};
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener =
        Closure::<dyn Fn(web_sys::StorageEvent)>::new(move |event: web_sys::StorageEvent| {
            if event.key().as_deref() != Some(storage::TOKEN_KEY) {
                return;
            }
            let now = storage::user();
            if now.is_none()
                && let Some(ended) = storage::ended()
            {
                notice.set(Some(ended.message().into()));
            }
            user.set(now);
        });
    let _ = window.add_event_listener_with_callback("storage", listener.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    listener.forget();
}

/// `next` as a path of this site, or `/`.
///
/// `next` is resolved against the site's origin by the WHATWG URL rules, the
/// ones the browser applies when it follows it (tabs and newlines dropped,
/// `\\` read as `/`, …), and kept only if the result is on the same origin.
/// What is kept is the resolved path, query and fragment, so the address
/// that was checked is the one that is followed. The server (the `url`
/// crate) and the browser (its own `URL`) both implement those rules.
pub fn safe_next(next: Option<String>) -> String {
    next.and_then(|next| same_origin_path(&next))
        .unwrap_or_else(|| "/".into())
}

/// On the server, any origin stands in for the site's: a reference that
/// stays on the origin it is resolved against stays on every origin.
#[cfg(feature = "ssr")]
fn same_origin_path(next: &str) -> Option<String> {
    let base = url::Url::parse("https://site.invalid/").ok()?;
    let resolved = base.join(next).ok()?;
    // A path that begins with `//` is another site's address once followed.
    (resolved.origin() == base.origin() && !resolved.path().starts_with("//")).then(|| {
        let mut path = resolved.path().to_owned();
        if let Some(query) = resolved.query() {
            path.push('?');
            path.push_str(query);
        }
        if let Some(fragment) = resolved.fragment() {
            path.push('#');
            path.push_str(fragment);
        }
        path
    })
}

#[cfg(not(feature = "ssr"))]
fn same_origin_path(next: &str) -> Option<String> {
    let origin = web_sys::window()?.location().origin().ok()?;
    let resolved = web_sys::Url::new_with_base(next, &origin).ok()?;
    // A path that begins with `//` is another site's address once followed.
    (resolved.origin() == origin && !resolved.pathname().starts_with("//")).then(|| {
        format!(
            "{}{}{}",
            resolved.pathname(),
            resolved.search(),
            resolved.hash()
        )
    })
}

/// Loads `path` (a same-site path) in this tab. Pages are separate documents,
/// so moving on is a page load; the session lives in local storage.
pub fn go_to(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
}

/// Shows `children` to a logged-in person; sends anyone else to
/// `/login?next=<this page>` once the island knows nobody is logged in.
#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let visitor = use_visitor();
    Effect::new(move |_| {
        if !visitor.ready() || visitor.logged_in() {
            return;
        }
        // Storage decides, not the signal: the signal can briefly lag behind
        // a session another tab just stored.
        if let Some(user) = storage::user() {
            visitor.set_user(user);
            return;
        }
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return;
        };
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        let next = js_sys::encode_uri_component(&here);
        // Replaced, not pushed: going back must not return to this redirect.
        let _ = location.replace(&format!("/login?next={next}"));
    });
    view! {
        <Show
            when=move || visitor.logged_in()
            fallback=|| view! { <p class="status" role="status">"Loading…"</p> }
        >
            {children()}
        </Show>
    }
}

/// On `/login` and `/signup`: tells someone already logged in so, with a
/// way to their account (where they can log out), instead of the page's
/// form. Plain HTML that CSS shows, and the form that CSS hides, when the
/// header's island shows a logged-in account (`style/main.css`): no
/// WebAssembly for it on pages whose download budget is nearly spent.
#[component]
pub fn AlreadyLoggedIn() -> impl IntoView {
    view! {
        <p class="notice already-in">
            "You are logged in. " <a href="/account">"Go to your account"</a>
            " (where you can also log out, to use another account)."
        </p>
    }
}
