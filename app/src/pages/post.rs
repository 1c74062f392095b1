//! `/posts/{id}`: one post. Its author, or an admin, may delete it.

use classboard::api::{Role, byline};
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api, board, storage,
    visitor::{go_to, use_visitor},
};

#[component]
pub fn PostPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let source = board::source();
    let post = Resource::new(id, move |id| source.clone().post(id));

    view! {
        <Suspense fallback=|| view! { <p class="status" role="status">"Loading the post…"</p> }>
            {move || post.get().map(|result| match result {
                Ok(Some(post)) => view! {
                    <Title text=post.title.clone()/>
                    <article class="post">
                        <h1>{post.title.clone()}</h1>
                        <PostMeta author=byline(post.author.as_ref()) created_at=post.created_at.clone()/>
                        <div class="post-body">{post.body.clone()}</div>
                        <DeleteButton post_id=post.id.clone() author_id=post.author.as_ref().map(|a| a.id.clone()).unwrap_or_default()/>
                    </article>
                }.into_any(),
                Ok(None) => view! {
                    <Title text="Post not found"/>
                    <h1>"Post not found"</h1>
                    <p>"This post does not exist, or it was deleted. " <a href="/">"Back to the feed"</a></p>
                }.into_any(),
                Err(why) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// "by ada · 22 Nov 2026, 21:58" with a machine-readable time.
#[component]
pub fn PostMeta(author: String, created_at: String) -> impl IntoView {
    let shown = created_at
        .get(..16)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| created_at.clone());
    view! {
        <p class="meta">"by " <strong>{author}</strong> " · " <time datetime=created_at>{shown} " UTC"</time></p>
    }
}

/// Shown to the post's author and to admins, once the browser knows who
/// is logged in.
#[island(lazy)]
fn DeleteButton(post_id: String, author_id: String) -> impl IntoView {
    let visitor = use_visitor();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let allowed = move || {
        visitor.with_user(|u| u.is_some_and(|u| u.id == author_id || u.role == Role::Admin))
    };
    let delete = move |_| {
        let id = post_id.clone();
        busy.set(true);
        spawn_local(async move {
            match api::delete_post(&id).await {
                // The button stays busy while the feed loads in its place.
                Ok(()) => {
                    storage::flash("The post was deleted.");
                    return go_to("/");
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    view! {
        <Show when=allowed>
            <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
                {move || error.get().unwrap_or_default()}
            </p>
            <button type="button" class="danger" on:click=delete.clone() disabled=move || busy.get()>
                {move || if busy.get() { "Deleting…" } else { "Delete" }}
            </button>
        </Show>
    }
}
