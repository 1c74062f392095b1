//! `/api/posts`: everyone reads, members publish, authors and admins delete.

use crate::{
    AppError, Result,
    auth::limits::{self, Key},
    extract::{AppJson, AuthUser, PageQuery},
    state::AppState,
    store::{Db, now_ms, posts},
};
use crate::{error::Failure, extract::Page};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use classboard::{
    api::{NewPost, Post, PostPage, PostResponse, Role},
    validate,
};

/// `POST /api/posts`: at most `POSTS_PER_USER` per user and window.
#[utoipa::path(
    post, path = "/api/posts", tag = "board",
    request_body = classboard::api::NewPost,
    responses(
        (status = 201, description = "Published", body = classboard::api::PostResponse),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<NewPost>,
) -> Result<(StatusCode, Json<PostResponse>)> {
    let limit = state.config.limits.posts_per_user;
    let counter = state.limiter.stored(&Key::posts(&user.id));
    if let Some(exceeded) = state.limiter.known_refused(&counter, limit) {
        return Err(exceeded.into());
    }
    let (title, body) = match (validate::title(&req.title), validate::body(&req.body)) {
        (Ok(t), Ok(b)) => (t, b),
        (t, b) => {
            return Err(AppError::validation([
                ("title", t.err()),
                ("body", b.err()),
            ]));
        }
    };
    let created_at = now_ms();
    let (window_start, retry_after_secs) = limits::window(limit.window);
    let published = posts::publish(
        &state.db,
        &posts::NewPost {
            author_id: &user.id,
            title: &title,
            body: &body,
            now: created_at,
            counter: &counter,
            window_start,
            max: i64::from(limit.max),
        },
    )
    .await?;
    let Some(id) = published else {
        // Over the limit (counted by this request, or by another instance
        // between the two statements).
        state.limiter.remember_refused(&counter, limit);
        return Err(limits::Exceeded { retry_after_secs }.into());
    };
    // Everything the answer needs is at hand: no second read. (Usernames never change.)
    let post = Post::from(posts::PostRow {
        id,
        title,
        body,
        author_id: Some(user.id),
        author_username: Some(user.username),
        created_at,
    });
    Ok((StatusCode::CREATED, Json(PostResponse { post })))
}

/// `GET /api/posts?limit=&before=`: newest first. `next` is the cursor of the
/// following page: the id of the last post shown, passed back as `before`.
#[utoipa::path(
    get, path = "/api/posts", tag = "board",
    params(Page),
    responses(
        (status = 200, description = "Newest first", body = classboard::api::PostPage),
        Failure,
    ),
)]
pub async fn list(State(state): State<AppState>, page_query: PageQuery) -> Result<Json<PostPage>> {
    let before = match page_query.before {
        None => i64::MAX,
        Some(raw) => raw.parse::<i64>().map_err(|_| PageQuery::bad_cursor())?,
    };
    Ok(Json(page(&state.db, page_query.limit, before).await?))
}

/// Up to `limit` posts older than the post with id `before`, newest first,
/// and the cursor of the page after.
async fn page(db: &Db, limit: i64, before: i64) -> Result<PostPage, sqlx::Error> {
    let (rows, more) = posts::page(db, limit, before).await?;
    let next = if more {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(PostPage {
        posts: rows.into_iter().map(Post::from).collect(),
        next,
    })
}

/// `GET /api/posts/{id}`
#[utoipa::path(
    get, path = "/api/posts/{id}", tag = "board",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The post", body = classboard::api::PostResponse),
        Failure,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostResponse>> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
    let post = posts::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(PostResponse { post: post.into() }))
}

/// `DELETE /api/posts/{id}`: the author or an admin.
#[utoipa::path(
    delete, path = "/api/posts/{id}", tag = "board",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
    let author = posts::author_of(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // An app deletes only the person's own posts: the admin's moderation
    // is not what `posts:write` says on the consent page.
    let moderates = user.role == Role::Admin && user.app.is_none();
    if author.as_deref() != Some(user.id.as_str()) && !moderates {
        return Err(AppError::InsufficientScope(
            "Only the author or an admin may delete this post.",
        ));
    }
    posts::delete(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The pages' read access to posts while rendering on the server.
pub struct DbBoard(pub Db);

impl app::board::Board for DbBoard {
    fn page(
        &self,
        before: Option<String>,
    ) -> futures::future::BoxFuture<'static, Result<PostPage, String>> {
        let db = self.0.clone();
        Box::pin(async move {
            let before = match before {
                None => i64::MAX,
                Some(cursor) => cursor
                    .parse()
                    .map_err(|_| "That page of the feed does not exist.".to_owned())?,
            };
            page(&db, PageQuery::DEFAULT_LIMIT, before)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot render the feed");
                    "The feed could not be loaded. Please try again.".to_owned()
                })
        })
    }

    fn post(
        &self,
        id: String,
    ) -> futures::future::BoxFuture<'static, Result<Option<Post>, String>> {
        let db = self.0.clone();
        Box::pin(async move {
            let Ok(id) = id.parse::<i64>() else {
                return Ok(None);
            };
            let found = posts::find(&db, id).await.map_err(|e| {
                tracing::error!(error = %e, "cannot render a post");
                "The post could not be loaded. Please try again.".to_owned()
            })?;
            Ok(found.map(Post::from))
        })
    }
}
