//! `/api/posts`: everyone reads, members publish, authors and admins delete.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use classboard::{
    api::{Author, NewPost, Post, PostPage, PostResponse, Role},
    validate,
};
use futures::TryStreamExt;
use sqlx::{Executor, FromRow, Row, SqlitePool, sqlite::SqliteRow};

use crate::{
    AppError, Result,
    auth::limits::{self, Key},
    db::{now_ms, rfc3339},
    extract::{AppJson, AuthUser, PageQuery},
    startup::AppState,
};

#[derive(FromRow)]
struct PostRow {
    id: i64,
    title: String,
    body: String,
    author_id: String,
    author_username: String,
    created_at: i64,
}

impl From<PostRow> for Post {
    fn from(r: PostRow) -> Self {
        Post {
            id: r.id.to_string(),
            title: r.title,
            body: r.body,
            author: Author {
                id: r.author_id,
                username: r.author_username,
            },
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A post query: the columns of [`PostRow`] followed by `$tail`.
macro_rules! select_posts {
    ($tail:literal) => {
        concat!(
            "SELECT p.id, p.title, p.body, p.author_id, u.username AS author_username, p.created_at
             FROM posts p JOIN users u ON u.id = p.author_id ",
            $tail
        )
    };
}

/// Counts a post under its author's counter and window, then inserts it only
/// if that count is within the limit: two statements sent in one trip to the
/// writing connection, each committed on its own (as `rotations` sends its
/// pairs). Its rows: the count, then the new post's id when it was inserted.
/// A count per author and window costs the same however many posts the
/// limit allows.
const PUBLISH: &str = concat!(
    limits::count_event!(),
    ";
     INSERT INTO posts (author_id, title, body, created_at)
     SELECT ?, ?, ?, ?
     WHERE (SELECT count FROM rate_counters WHERE key = ? AND window_start = ?) <= ?
     RETURNING id"
);

/// `POST /api/posts`: at most `POSTS_PER_USER` per user and window.
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
    let rows: Vec<SqliteRow> = state
        .db
        .write
        .fetch_many(
            sqlx::query(PUBLISH)
                .bind(&counter)
                .bind(window_start)
                .bind(&user.id)
                .bind(&title)
                .bind(&body)
                .bind(created_at)
                .bind(&counter)
                .bind(window_start)
                .bind(i64::from(limit.max)),
        )
        .try_filter_map(|step| async move { Ok(step.right()) })
        .try_collect()
        .await?;
    let id: Option<i64> = match rows.as_slice() {
        [_counted] => None,
        [_counted, inserted] => Some(inserted.try_get(0)?),
        _ => return Err(AppError::Internal("publishing returned no count".into())),
    };
    let Some(id) = id else {
        // Over the limit (counted by this request, or by another instance
        // between the two statements).
        state.limiter.remember_refused(&counter, limit);
        return Err(limits::Exceeded { retry_after_secs }.into());
    };
    // Everything the answer needs is at hand: no second read. (Usernames never change.)
    let post = Post::from(PostRow {
        id,
        title,
        body,
        author_id: user.id,
        author_username: user.username,
        created_at,
    });
    Ok((StatusCode::CREATED, Json(PostResponse { post })))
}

/// `GET /api/posts?limit=&before=`: newest first. `next` is the cursor of the
/// following page: the id of the last post shown, passed back as `before`.
pub async fn list(State(state): State<AppState>, page_query: PageQuery) -> Result<Json<PostPage>> {
    let before = match page_query.before {
        None => i64::MAX,
        Some(raw) => raw.parse::<i64>().map_err(|_| PageQuery::bad_cursor())?,
    };
    Ok(Json(page(&state.db.read, page_query.limit, before).await?))
}

/// Up to `limit` posts older than the post with id `before`, newest first.
pub async fn page(db: &SqlitePool, limit: i64, before: i64) -> Result<PostPage, sqlx::Error> {
    let mut rows: Vec<PostRow> =
        sqlx::query_as(select_posts!("WHERE p.id < ? ORDER BY p.id DESC LIMIT ?"))
            .bind(before)
            .bind(limit + 1)
            .fetch_all(db)
            .await?;
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
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
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostResponse>> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
    let post = find(&state.db.read, id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(PostResponse { post }))
}

/// `DELETE /api/posts/{id}`: the author or an admin.
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
    let author: String = sqlx::query_scalar("SELECT author_id FROM posts WHERE id = ?")
        .bind(id)
        .fetch_optional(&state.db.read)
        .await?
        .ok_or(AppError::NotFound)?;
    if author != user.id && user.role != Role::Admin {
        return Err(AppError::InsufficientScope(
            "Only the author or an admin may delete this post.",
        ));
    }
    sqlx::query("DELETE FROM posts WHERE id = ?")
        .bind(id)
        .execute(&state.db.write)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The post with `id`, if any.
pub async fn find(db: &SqlitePool, id: i64) -> Result<Option<Post>, sqlx::Error> {
    let row: Option<PostRow> = sqlx::query_as(select_posts!("WHERE p.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Post::from))
}

/// The pages' read access to posts while rendering on the server.
pub struct DbBoard(pub SqlitePool);

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
            page(&db, PageQuery::DEFAULT_LIMIT, before).await.map_err(|e| {
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
            find(&db, id).await.map_err(|e| {
                tracing::error!(error = %e, "cannot render a post");
                "The post could not be loaded. Please try again.".to_owned()
            })
        })
    }
}
