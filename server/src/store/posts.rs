//! Posts as stored. Ids are integers in insertion order, so "newest first"
//! pages by id stay stable while others keep posting.

use classboard::api::{Author, Post};
use sqlx::{
    FromRow, Row, Sqlite,
    query::Query,
    sqlite::{SqliteArguments, SqliteRow},
};

use super::{Db, batches::Batched, counters, on, rfc3339};

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

/// A post query: the columns of [`PostRow`] followed by `$tail`.
macro_rules! select_posts {
    ($tail:literal) => {
        concat!(
            "SELECT p.id, p.title, p.body, p.author_id, u.username AS author_username, p.created_at
             FROM posts p LEFT JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL ",
            $tail
        )
    };
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
        Db::Sqlite(db) => db.publications.run(Publication::from(post)).await,
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

/// A post to publish on SQLite, as its batched statements bind it.
pub(crate) struct Publication {
    post: (String, String, String, i64),
    counter: (String, i64, i64),
}

impl From<&NewPost<'_>> for Publication {
    fn from(post: &NewPost<'_>) -> Self {
        Self {
            post: (
                post.author_id.to_owned(),
                post.title.to_owned(),
                post.body.to_owned(),
                post.now,
            ),
            counter: (post.counter.to_owned(), post.window_start, post.max),
        }
    }
}

/// The queue of posts waiting for SQLite's writer.
pub(crate) type Queue = super::batches::Queue<Publication>;

impl Batched for Publication {
    /// The count, then the insert, which happens only while that count is
    /// within the limit.
    const STATEMENTS: &'static str = concat!(
        counters::count_event!(),
        ";
         INSERT INTO posts (author_id, title, body, created_at)
         SELECT ?, ?, ?, ?
         WHERE (SELECT count FROM rate_counters WHERE key = ? AND window_start = ?) <= ?
         RETURNING id;"
    );
    const COUNT: usize = 2;
    type Answer = Option<i64>;

    fn bind<'q>(
        &'q self,
        query: Query<'q, Sqlite, SqliteArguments>,
    ) -> Query<'q, Sqlite, SqliteArguments> {
        let (author_id, title, body, now) = &self.post;
        let (counter, window_start, max) = &self.counter;
        query
            .bind(counter)
            .bind(window_start)
            .bind(author_id)
            .bind(title)
            .bind(body)
            .bind(now)
            .bind(counter)
            .bind(window_start)
            .bind(max)
    }

    /// The count's row, then the post's when it was inserted.
    fn answer(rows: Vec<SqliteRow>) -> Result<Option<i64>, sqlx::Error> {
        rows.get(1)
            .map(|inserted| inserted.try_get("id"))
            .transpose()
    }
}

/// Up to `limit` posts older than the post with id `before`, newest first,
/// and whether there are more.
pub async fn page(db: &Db, limit: i64, before: i64) -> Result<(Vec<PostRow>, bool), sqlx::Error> {
    let rows: Vec<PostRow> = on!(db, read, |pool| sqlx::query_as(select_posts!(
        "WHERE p.id < $1 ORDER BY p.id DESC LIMIT $2"
    ))
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await)?;
    Ok(super::one_page(rows, limit))
}

/// The post with `id`, if any.
pub async fn find(db: &Db, id: i64) -> Result<Option<PostRow>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(select_posts!(
        "WHERE p.id = $1"
    ))
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
