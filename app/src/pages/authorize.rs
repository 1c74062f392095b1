//! `/authorize`: where an app's sign-in request (`GET /oauth/authorize`)
//! lands. The island asks the server where the request goes next: back to
//! the app, to `/login` (and back here), to "Confirm it's you" when the app
//! asks for a recent sign-in, or to the consent: the app's name, what it
//! asks for in words, Allow and Deny. The answer is sent with the person's
//! access token, never with a cookie alone, so that another site cannot
//! make a browser consent.
//!
//! `?problem=` explains a request that cannot go back to its app (an app or
//! a redirect address this site does not know), with `400`.

use classboard::api::{AuthorizationStep, ScopeInWords};
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::{
    api::{self, ApiError},
    forms::{Form, FormError, Then},
    pages::{
        account::{Section, section},
        confirm::Confirm,
    },
    visitor::{go_to, use_visitor},
};

#[component]
pub fn AuthorizePage() -> impl IntoView {
    let (request, problem) =
        use_query_map().with_untracked(|q| (q.get("request"), q.get("problem")));
    let body = match (request, problem) {
        (Some(request), None) => view! { <Authorize request/> }.into_any(),
        (_, problem) => {
            super::answer_with(400);
            view! { <p class="notice">{explain(problem.as_deref())}</p> }.into_any()
        }
    };
    view! {
        <Title text="Sign in to an app"/>
        // The address holds the request's handle: no page it links to may see it.
        <Meta name="referrer" content="no-referrer"/>
        <h1>"Sign in to an app"</h1>
        {body}
    }
}

/// Why a request is shown here rather than sent back to its app.
fn explain(problem: Option<&str>) -> &'static str {
    match problem {
        Some("unknown_app") => {
            "The app that sent you here is not registered on this site. Nothing was shared with it."
        }
        Some("unknown_redirect_uri") | Some("no_redirect_uri") => {
            "The app that sent you here gave an address to return to that it did not register. \
             For your safety you are not sent there, and nothing was shared."
        }
        _ => "This sign-in request is not complete. Go back to the app and try again.",
    }
}

#[island(lazy)]
fn Authorize(request: String) -> impl IntoView {
    let visitor = use_visitor();
    let form = Form::new();
    let confirm = Confirm::new();
    let request = StoredValue::new(request);
    // The app's name, what it asks for, and whether it registered itself.
    let asked = RwSignal::new(None::<(String, Vec<ScopeInWords>, bool)>);
    let started = StoredValue::new(false);
    // "Confirm it's you", fetched the first time it is needed (an app that
    // asks for a recent sign-in): most sign-ins never show it.
    let proof = RwSignal::new(None::<ViewFn>);
    Effect::new(move |_| {
        if confirm.is_open() && proof.with_untracked(Option::is_none) {
            spawn_local(async move { proof.set(Some(section(Section::Confirm(confirm)).await)) });
        }
    });
    Effect::new(move |_| {
        if !visitor.ready() || started.get_value() {
            return;
        }
        started.set_value(true);
        spawn_local(async move {
            let mut step = confirm
                .proven(|| api::authorization(request.get_value()))
                .await;
            // The session held here has ended: asked again as nobody, the
            // server answers what the app asked for (`prompt=none` goes back
            // with login_required, without showing a page).
            if let Err(ApiError::SessionEnded(ended)) = step {
                crate::storage::clear(Some(ended));
                step = api::authorization(request.get_value()).await.map(Some);
            }
            follow(step, asked, form, &request.get_value());
        });
    });
    let decide = move |allow: bool| {
        form.send(async move {
            let step = confirm
                .proven(|| api::authorization_decision(request.get_value(), allow))
                .await;
            follow(step, asked, form, &request.get_value())
        });
    };
    view! {
        <FormError message=form.error/>
        {move || proof.get().map(|view| view.run())}
        <Show
            when=move || asked.with(Option::is_some)
            fallback=move || view! {
                <p class="status" role="status" hidden=move || form.error.with(Option::is_some)>
                    "Loading…"
                </p>
            }
        >
            <section class="consent">
                <p>
                    <strong>{move || asked.with(|a| a.as_ref().map(|(app, _, _)| app.clone()))}</strong>
                    " would like to:"
                </p>
                <ul>
                    {move || asked.with(|a| a.as_ref().map(|(_, scopes, _)| scopes.iter().map(|s| view! {
                        <li title=s.scope.clone()>{s.description.clone()}</li>
                    }).collect_view()))}
                </ul>
                <Show when=move || asked.with(|a| a.as_ref().is_some_and(|(_, _, itself)| *itself))>
                    <p class="notice">
                        "This app registered itself on this site: nobody at the school has checked it."
                    </p>
                </Show>
                <p class="hint">
                    "Signed in as "
                    {move || visitor.user().map(|u| u.username)}
                    ". You can withdraw this later on your account page."
                </p>
                <div class="actions">
                    <button type="button" on:click=move |_| decide(true) disabled=move || form.busy.get()>
                        "Allow"
                    </button>
                    <button type="button" class="secondary" on:click=move |_| decide(false) disabled=move || form.busy.get()>
                        "Deny"
                    </button>
                </div>
            </section>
        </Show>
    }
}

/// Goes where the server's answer says.
fn follow(
    step: api::Result<Option<AuthorizationStep>>,
    asked: RwSignal<Option<(String, Vec<ScopeInWords>, bool)>>,
    form: Form,
    request: &str,
) -> Then {
    match step {
        Ok(Some(AuthorizationStep::Redirect { to })) => {
            go_to(&to);
            Then::Gone
        }
        Ok(Some(AuthorizationStep::SignIn { .. })) | Err(ApiError::SessionEnded(_)) => {
            let next = js_sys::encode_uri_component(&format!("/authorize?request={request}"));
            go_to(&format!("/login?next={next}"));
            Then::Gone
        }
        Ok(Some(AuthorizationStep::Consent {
            app,
            scopes,
            registered_itself,
        })) => {
            asked.set(Some((app, scopes, registered_itself)));
            Then::Ready
        }
        // The person cancelled "Confirm it's you".
        Ok(None) => {
            form.error.set(Some(
                "The app asks you to confirm it is you before it signs you in.".into(),
            ));
            Then::Ready
        }
        Err(e) => {
            form.fail(e, &[]);
            Then::Ready
        }
    }
}
