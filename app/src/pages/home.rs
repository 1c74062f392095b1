//! `/`: the feed, newest first. The first page is rendered on the server, so
//! it reads without JavaScript; "Load more" fetches older pages by cursor.

use classboard::api::Post;
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{api, board, pages::post::PostMeta};

#[component]
pub fn HomePage() -> impl IntoView {
    let source = board::source();
    let first = Resource::new(|| (), move |_| source.clone().feed(None));
    let older = RwSignal::new(Vec::<Post>::new());
    // `None` until "Load more" was used; then the cursor after the last page shown.
    let later_cursor = RwSignal::new(None::<Option<String>>);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let next = move || match later_cursor.get() {
        Some(cursor) => cursor,
        None => first.get().and_then(Result::ok).and_then(|page| page.next),
    };
    let load_more = move |_| {
        let Some(cursor) = next() else { return };
        loading.set(true);
        error.set(None);
        spawn_local(async move {
            match api::posts(Some(&cursor)).await {
                Ok(page) => {
                    older.update(|posts| posts.extend(page.posts));
                    later_cursor.set(Some(page.next));
                }
                Err(e) => error.set(Some(e.message())),
            }
            loading.set(false);
        });
    };

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
                    Ok(page) => view! { <PostList posts=page.posts/> }.into_any(),
                    Err(why) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
                })}
                <PostList posts=older/>
                <p class="form-error" role="alert" hidden=move || error.with(Option::is_none)>
                    {move || error.get().unwrap_or_default()}
                </p>
                // Inside the Suspense: whether there is more depends on the
                // first page, so the server must wait for it here too, or its
                // HTML and the hydrated page would disagree about the button.
                <Show when=move || next().is_some()>
                    <button type="button" class="secondary" on:click=load_more disabled=move || loading.get()>
                        {move || if loading.get() { "Loading…" } else { "Load more" }}
                    </button>
                </Show>
            </Suspense>
        </section>
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
                        <PostMeta author=post.author.username.clone() created_at=post.created_at.clone()/>
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
#[component]
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

lazy_page!(HomeRoute => HomePage);
