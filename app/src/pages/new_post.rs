//! `/posts/new`: publish a post, then see it on its own page.

use classboard::{ErrorCode, api::NewPost, validate};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{
    api,
    forms::{Field, FormError, TextArea, show_issues, use_hydrated},
    visitor::{RequireLogin, go_to, use_visitor},
};

#[component]
pub fn NewPostPage() -> impl IntoView {
    view! {
        <Title text="New post"/>
        <h1>"New post"</h1>
        <NewPost/>
    }
}

#[island(lazy)]
fn NewPost() -> impl IntoView {
    view! {
        <RequireLogin>
            <NewPostForm/>
        </RequireLogin>
    }
}

#[component]
fn NewPostForm() -> impl IntoView {
    let visitor = use_visitor();
    let hydrated = use_hydrated();
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let title_error = RwSignal::new(None::<String>);
    let body_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let new = NewPost {
            title: title.get_untracked(),
            body: body.get_untracked(),
        };
        let t = validate::title(&new.title).err();
        let b = validate::body(&new.body).err();
        title_error.set(t.map(|i| i.message("title")));
        body_error.set(b.map(|i| i.message("body")));
        if t.is_some() || b.is_some() {
            return;
        }
        busy.set(true);
        form_error.set(None);
        spawn_local(async move {
            match api::create_post(&new).await {
                Ok(post) => return go_to(&format!("/posts/{}", post.id)),
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) if e.code() == Some(ErrorCode::ValidationFailed) => {
                    show_issues(&e, &[("title", title_error), ("body", body_error)]);
                }
                Err(e) => form_error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            <FormError message=form_error/>
            <Field name="title" label="Title" value=title error=title_error/>
            <TextArea name="body" label="Body" value=body error=body_error/>
            <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                {move || if busy.get() { "Publishing…" } else { "Publish" }}
            </button>
        </form>
    }
}
