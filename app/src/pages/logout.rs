//! `/logout`: where an app's sign-out request (`/oauth/logout`, OpenID
//! Connect RP-Initiated Logout) lands. The island asks the server what the
//! request says for this browser: when it names the session held here, the
//! person is signed out at once; otherwise (no hint, or another session)
//! they are asked first. Then the browser goes back to the app, when it
//! gave an address it registered.
//!
//! `?problem=` explains a request that cannot be followed (an address the
//! app did not register, a hint this site did not issue), with `400`.

use classboard::api::LogoutStep;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::{
    api,
    forms::{Form, FormError, Then},
    visitor::{go_to, use_visitor},
};

#[component]
pub fn LogoutPage() -> impl IntoView {
    let (request, problem) =
        use_query_map().with_untracked(|q| (q.get("request"), q.get("problem")));
    let body = match (request, problem) {
        (Some(request), None) => view! { <Logout request/> }.into_any(),
        (_, problem) => {
            super::answer_with(400);
            view! { <p class="notice">{explain(problem.as_deref())}</p> }.into_any()
        }
    };
    view! {
        <Title text="Sign out"/>
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Sign out"</h1>
        {body}
    }
}

/// Why a request is shown here rather than followed.
fn explain(problem: Option<&str>) -> &'static str {
    match problem {
        Some("unknown_post_logout_redirect_uri") | Some("redirect_without_app") => {
            "The app that sent you here gave an address to return to that it did not register. \
             For your safety you are not sent there. You are still signed in here; sign out \
             from your account page if you wish."
        }
        Some("unknown_app") | Some("hint_of_another_app") | Some("bad_id_token_hint") => {
            "This sign-out request did not come from an app registered on this site, so it was \
             not followed. You are still signed in here; sign out from your account page if \
             you wish."
        }
        _ => "This sign-out request is not complete. Go back to the app and try again.",
    }
}

#[island(lazy)]
fn Logout(request: String) -> impl IntoView {
    let visitor = use_visitor();
    let form = Form::new();
    let step = RwSignal::new(None::<LogoutStep>);
    let signed_out = RwSignal::new(false);
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        if !visitor.ready() || started.get_value() {
            return;
        }
        started.set_value(true);
        let request = request.clone();
        form.send(async move {
            match api::logout_step(request).await {
                Ok(asked) if asked.ask && visitor.logged_in() => {
                    step.set(Some(asked));
                    Then::Ready
                }
                Ok(asked) => finish(asked.then, visitor.logged_in(), signed_out).await,
                Err(e) => {
                    form.fail(e, &[]);
                    Then::Ready
                }
            }
        });
    });
    let answer = move |sign_out: bool| {
        let then = step.with_untracked(|s| s.as_ref().and_then(|s| s.then.clone()));
        form.send(async move {
            if sign_out {
                finish(then, true, signed_out).await
            } else {
                go_to(then.as_deref().unwrap_or("/"));
                Then::Gone
            }
        });
    };
    view! {
        <FormError message=form.error/>
        <Show when=move || signed_out.get()>
            <p class="status" role="status">"You are signed out."</p>
            <p><a href="/">"Back to the board"</a></p>
        </Show>
        <Show
            when=move || step.with(Option::is_some) && !signed_out.get()
            fallback=move || view! {
                <p class="status" role="status"
                    hidden=move || form.error.with(Option::is_some) || signed_out.get()>
                    "Signing out…"
                </p>
            }
        >
            <section class="consent">
                <p>
                    {move || step.with(|s| match s.as_ref().and_then(|s| s.app.clone()) {
                        Some(app) => view! { <strong>{app}</strong>" asks to sign you out of this site." }.into_any(),
                        None => view! { "Sign out of this site?" }.into_any(),
                    })}
                </p>
                <p class="hint">
                    "Signed in as "
                    {move || visitor.user().map(|u| u.username)}
                    "."
                </p>
                <div class="actions">
                    <button type="button" on:click=move |_| answer(true) disabled=move || form.busy.get()>
                        "Sign out"
                    </button>
                    <button type="button" class="secondary" on:click=move |_| answer(false) disabled=move || form.busy.get()>
                        "Stay signed in"
                    </button>
                </div>
            </section>
        </Show>
    }
}

/// Signs out here (when signed in), then goes back to the app at `then`,
/// or says so on this page.
async fn finish(then: Option<String>, signed_in: bool, signed_out: RwSignal<bool>) -> Then {
    if signed_in && let Err(e) = api::logout().await {
        // Signed out locally either way; the log says if the server did not hear it.
        leptos::logging::warn!("logout: {}", e.message());
    }
    match then {
        Some(then) => {
            go_to(&then);
            Then::Gone
        }
        None => {
            signed_out.set(true);
            Then::Ready
        }
    }
}
