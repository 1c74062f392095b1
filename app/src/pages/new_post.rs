//! `/posts/new`: publish a post, then see it on its own page.

use classboard::{api::NewPost, validate};
use leptos::{ev::SubmitEvent, prelude::*};
use leptos_meta::Title;

use crate::{
    api,
    forms::{Field, Form, FormError, TextArea, Then, use_hydrated},
    visitor::{RequireLogin, go_to},
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
    let form = Form::new();
    let hydrated = use_hydrated();
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let title_error = RwSignal::new(None::<String>);
    let body_error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
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
        form.send(async move {
            match api::create_post(&new).await {
                Ok(post) => {
                    go_to(&format!("/posts/{}", post.id));
                    return Then::Gone;
                }
                Err(e) => form.fail(e, &[("title", title_error), ("body", body_error)]),
            }
            Then::Ready
        });
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            <FormError message=form.error/>
            <Field name="title" label="Title" value=title error=title_error/>
            <TextArea name="body" label="Body" value=body error=body_error/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Publishing…" } else { "Publish" }}
            </button>
        </form>
    }
}
