//! Grades as stored.

use classboard::api::{Author, Grade, Role};
use sqlx::FromRow;

use super::{Db, on, rfc3339};

/// A grade with the names of its student and teacher.
#[derive(FromRow)]
pub struct GradeRow {
    pub id: i64,
    pub student_id: String,
    pub student_username: String,
    /// `None` when the teacher deleted their account.
    pub teacher_id: Option<String>,
    pub teacher_username: Option<String>,
    pub course: String,
    pub grade: String,
    pub created_at: i64,
}

impl From<GradeRow> for Grade {
    fn from(r: GradeRow) -> Self {
        Grade {
            id: r.id.to_string(),
            student: Author {
                id: r.student_id,
                username: r.student_username,
            },
            teacher: r
                .teacher_id
                .zip(r.teacher_username)
                .map(|(id, username)| Author { id, username }),
            course: r.course,
            grade: r.grade,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The statements that read a [`GradeRow`]: the student's and teacher's
/// usernames are joined in (a teacher who deleted their account shows as
/// none). Each list walks its own index backwards.
mod select {
    pub const BY_ID: &str =
        "SELECT g.id, g.student_id, s.username AS student_username, g.teacher_id,
                t.username AS teacher_username, g.course, g.grade, g.created_at
         FROM grades g JOIN users s ON s.id = g.student_id
              LEFT JOIN users t ON t.id = g.teacher_id AND t.deleted_at IS NULL
         WHERE g.id = $1";
    pub const OF_STUDENT: &str = "SELECT g.id, g.student_id, s.username AS student_username,
                g.teacher_id, t.username AS teacher_username, g.course, g.grade, g.created_at
         FROM grades g JOIN users s ON s.id = g.student_id
              LEFT JOIN users t ON t.id = g.teacher_id AND t.deleted_at IS NULL
         WHERE g.student_id = $1 AND g.id < $2 ORDER BY g.id DESC LIMIT $3";
    pub const BY_TEACHER: &str = "SELECT g.id, g.student_id, s.username AS student_username,
                g.teacher_id, t.username AS teacher_username, g.course, g.grade, g.created_at
         FROM grades g JOIN users s ON s.id = g.student_id
              LEFT JOIN users t ON t.id = g.teacher_id AND t.deleted_at IS NULL
         WHERE g.teacher_id = $1 AND g.id < $2 ORDER BY g.id DESC LIMIT $3";
    /// The admin's binds nobody (`$1`).
    pub const ALL: &str = "SELECT g.id, g.student_id, s.username AS student_username,
                g.teacher_id, t.username AS teacher_username, g.course, g.grade, g.created_at
         FROM grades g JOIN users s ON s.id = g.student_id
              LEFT JOIN users t ON t.id = g.teacher_id AND t.deleted_at IS NULL
         WHERE $1 = $1 AND g.id < $2 ORDER BY g.id DESC LIMIT $3";
}

/// The id of the student whose username is `username` (any case), if any.
pub async fn student_by_username(db: &Db, username: &str) -> Result<Option<String>, sqlx::Error> {
    let username = username.to_ascii_lowercase();
    // Usernames are compared without case: NOCASE on SQLite, lower() on
    // PostgreSQL, each the form its unique index is on.
    match db {
        Db::Sqlite(db) => {
            sqlx::query_scalar(
                "SELECT id FROM users
                 WHERE username = $1 COLLATE NOCASE AND role = 'student' AND deleted_at IS NULL",
            )
            .bind(username)
            .fetch_optional(&db.read)
            .await
        }
        Db::Postgres(db) => {
            sqlx::query_scalar(
                "SELECT id FROM users
                 WHERE lower(username) = $1 AND role = 'student' AND deleted_at IS NULL",
            )
            .bind(username)
            .fetch_optional(&db.read)
            .await
        }
    }
}

/// Inserts a grade and returns it with the names it shows.
pub async fn insert(
    db: &Db,
    student_id: &str,
    teacher_id: &str,
    course: &str,
    grade: &str,
    now: i64,
) -> Result<GradeRow, sqlx::Error> {
    let id: i64 = on!(db, write, |pool| sqlx::query_scalar(
        "INSERT INTO grades (student_id, teacher_id, course, grade, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(student_id)
    .bind(teacher_id)
    .bind(course)
    .bind(grade)
    .bind(now)
    .fetch_one(pool)
    .await)?;
    // A reader sees the committed row; on SQLite the one writing connection
    // stays free.
    on!(db, read, |pool| sqlx::query_as(select::BY_ID)
        .bind(id)
        .fetch_one(pool)
        .await)
}

/// A page of the grades `role` may see as `user_id`, newest first: a
/// student's own, a teacher's assigned, or (admin) all; older than the grade
/// with id `before`, at most `limit`.
pub async fn list(
    db: &Db,
    role: Role,
    user_id: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<GradeRow>, sqlx::Error> {
    // One statement per role, each walking its own index backwards.
    let statement = match role {
        Role::Student => select::OF_STUDENT,
        Role::Teacher => select::BY_TEACHER,
        Role::Admin => select::ALL,
    };
    on!(db, read, |pool| sqlx::query_as(statement)
        .bind(user_id)
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)
}
