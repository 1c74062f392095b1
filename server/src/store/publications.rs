//! The fast path of publishing on SQLite, as a batched job for its one
//! writer (see `batches`): the author's limit counted and the post inserted
//! in one round trip. (PostgreSQL runs each as one statement of its own, see
//! `posts::publish`.)

use sqlx::{
    Row, Sqlite,
    query::Query,
    sqlite::{SqliteArguments, SqliteRow},
};

use super::batches::Batched;

/// A post to publish on SQLite, as its batched statements bind it.
pub(crate) struct Publication {
    post: (String, String, String, i64),
    counter: (String, i64, i64),
}

impl Publication {
    /// Author, title, body and time of the post; the author's counter
    /// (key, window start, most allowed).
    pub fn new(post: (&str, &str, &str, i64), counter: (&str, i64, i64)) -> Self {
        let (author_id, title, body, now) = post;
        let (key, window_start, max) = counter;
        Self {
            post: (author_id.to_owned(), title.to_owned(), body.to_owned(), now),
            counter: (key.to_owned(), window_start, max),
        }
    }
}

/// The queue of posts waiting for SQLite's writer.
pub(crate) type Queue = super::batches::Queue<Publication>;

impl Batched for Publication {
    /// The count, then the insert, which happens only while that count is
    /// within the limit.
    const STATEMENTS: &'static str =
        "INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
         RETURNING count;
         INSERT INTO posts (author_id, title, body, created_at)
         SELECT ?, ?, ?, ?
         WHERE (SELECT count FROM rate_counters WHERE key = ? AND window_start = ?) <= ?
         RETURNING id;";
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
