//! Posts as stored. Ids are integers in insertion order, so "newest first"
//! pages by id stay stable while others keep posting.

use classboard::api::{Author, Post};
use sqlx::FromRow;

use super::{Db, on, publications::Publication, rfc3339};

/// A post with its author's name.
#[derive(FromRow)]
pub struct PostRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// `None` when the author deleted their account.
    pub author_id: Option<String>,
    pub author_username: Option<String>,
    pub created_at: i64,
}

impl From<PostRow> for Post {
    fn from(r: PostRow) -> Self {
        Post {
            id: r.id.to_string(),
            title: r.title,
            body: r.body,
            author: r
                .author_id
                .zip(r.author_username)
                .map(|(id, username)| Author { id, username }),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The statements that read a [`PostRow`], its author's username joined in
/// (an author who deleted their account shows as none).
mod select {
    pub const PAGE: &str = "SELECT p.id, p.title, p.body, p.author_id,
                u.username AS author_username, p.created_at
         FROM posts p LEFT JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL
         WHERE p.id < $1 ORDER BY p.id DESC LIMIT $2";
    pub const BY_ID: &str = "SELECT p.id, p.title, p.body, p.author_id,
                u.username AS author_username, p.created_at
         FROM posts p LEFT JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL
         WHERE p.id = $1";
}

/// A post to publish, and the counter of its author's publishing limit.
pub struct NewPost<'a> {
    pub author_id: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub now: i64,
    pub counter: &'a str,
    pub window_start: i64,
    pub max: i64,
}

/// Counts the post under its author's counter, then inserts it only if that
/// count is within the limit. Returns the new post's id, or `None` over the
/// limit (counted by this request, or by another instance between the two
/// steps on SQLite).
///
/// SQLite: two statements, sent to its one writer in a batch with whatever
/// other publications are waiting (see `batches`), each committed on its own.
/// PostgreSQL: one statement, the insert reading the count its CTE just made.
pub async fn publish(db: &Db, post: &NewPost<'_>) -> Result<Option<i64>, sqlx::Error> {
    match db {
        Db::Sqlite(db) => {
            let job = Publication::new(
                (post.author_id, post.title, post.body, post.now),
                (post.counter, post.window_start, post.max),
            );
            db.publications.run(job).await
        }
        Db::Postgres(db) => {
            sqlx::query_scalar(
                "WITH counted AS (
                     INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
                     ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
                     RETURNING count
                 )
                 INSERT INTO posts (author_id, title, body, created_at)
                 SELECT $3, $4, $5, $6 FROM counted WHERE counted.count <= $7
                 RETURNING id",
            )
            .bind(post.counter)
            .bind(post.window_start)
            .bind(post.author_id)
            .bind(post.title)
            .bind(post.body)
            .bind(post.now)
            .bind(post.max)
            .fetch_optional(&db.write)
            .await
        }
    }
}

/// Up to `limit` posts older than the post with id `before`, newest first,
/// and whether there are more.
pub async fn page(db: &Db, limit: i64, before: i64) -> Result<(Vec<PostRow>, bool), sqlx::Error> {
    let rows: Vec<PostRow> = on!(db, read, |pool| sqlx::query_as(select::PAGE)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(pool)
        .await)?;
    Ok(super::one_page(rows, limit))
}

/// The post with `id`, if any.
pub async fn find(db: &Db, id: i64) -> Result<Option<PostRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(select::BY_ID)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The author of the post with `id`: `None` when there is no such post,
/// `Some(None)` when its author deleted their account.
pub async fn author_of(db: &Db, id: i64) -> Result<Option<Option<String>>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT author_id FROM posts WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

pub async fn delete(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM posts WHERE id = $1"
    )
    .bind(id)
    .execute(pool)
    .await
    .map(drop))
}
