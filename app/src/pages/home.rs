//! `/`: the feed, newest first. The first page is rendered on the server, so
//! it reads without JavaScript; "Load more" fetches older pages by cursor.

use classboard::api::{Post, byline};
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{api, board, forms::use_hydrated, pages::post::PostMeta};

#[component]
pub fn HomePage() -> impl IntoView {
    let source = board::source();
    let first = Resource::new(|| (), move |_| source.clone().feed(None));

    view! {
        <Title text=""/>
        <Intro/>
        <section aria-labelledby="feed-heading">
            <h2 id="feed-heading">"Latest posts"</h2>
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading posts…"</p> }>
                {move || first.get().map(|result| match result {
                    Ok(page) if page.posts.is_empty() => view! {
                        <p class="empty">"No posts yet. Log in and be the first to publish."</p>
                    }.into_any(),
                    Ok(page) => view! {
                        <PostList posts=page.posts/>
                        {page.next.map(|next| view! { <LoadMore next/> })}
                    }.into_any(),
                    Err(why) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The older posts after the first page, and the button that fetches them;
/// `next` is the cursor after the first page.
#[island(lazy)]
fn LoadMore(next: String) -> impl IntoView {
    let hydrated = use_hydrated();
    let older = RwSignal::new(Vec::<Post>::new());
    let next = RwSignal::new(Some(next));
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        loading.set(true);
        error.set(None);
        spawn_local(async move {
            match api::posts(Some(&cursor)).await {
                Ok(page) => {
                    older.update(|posts| posts.extend(page.posts));
                    next.set(page.next);
                }
                Err(e) => error.set(Some(e.message())),
            }
            loading.set(false);
        });
    };

    view! {
        <PostList posts=older/>
        <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
        <Show when=move || next.with(Option::is_some)>
            <button type="button" class="secondary" on:click=load_more
                disabled=move || loading.get() || !hydrated.get()>
                {move || if loading.get() { "Loading…" } else { "Load more" }}
            </button>
        </Show>
    }
}

#[component]
fn PostList(#[prop(into)] posts: Signal<Vec<Post>>) -> impl IntoView {
    view! {
        <ul class="post-list">
            <For each=move || posts.get() key=|post| post.id.clone() let:post>
                <li>
                    <article class="post-summary">
                        <h3><a href=format!("/posts/{}", post.id)>{post.title.clone()}</a></h3>
                        <PostMeta author=byline(post.author.as_ref()) created_at=post.created_at.clone()/>
                        <p>{excerpt(&post.body)}</p>
                    </article>
                </li>
            </For>
        </ul>
    }
}

fn excerpt(body: &str) -> String {
    const MAX: usize = 280;
    if body.chars().count() <= MAX {
        body.to_owned()
    } else {
        format!("{}…", body.chars().take(MAX).collect::<String>().trim_end())
    }
}

/// What the board is, with a disclosure on how signing in works.
#[island]
fn Intro() -> impl IntoView {
    let (open, set_open) = signal(false);
    view! {
        <section class="intro">
            <h1>"Classroom Board"</h1>
            <p>
                "A small board for a class: everyone can read the posts, members publish, "
                "teachers assign grades, and each student sees only their own."
            </p>
            <button
                type="button"
                class="disclosure"
                aria-expanded=move || open.get().to_string()
                aria-controls="how-sign-in-works"
                on:click=move |_| set_open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Hide how sign-in works" } else { "Show how sign-in works" }}
            </button>
            <div id="how-sign-in-works" class="disclosure-panel" hidden=move || !open.get()>
                <p>
                    "Signing in gives this browser a short-lived access token, renewed in the "
                    "background by a refresh token kept in a cookie that page scripts cannot read. "
                    "Each device is a session you can see and end from your account page."
                </p>
            </div>
        </section>
    }
}
