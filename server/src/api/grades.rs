//! `/api/grades`: teachers (and admins) assign; students see their own,
//! teachers what they assigned, admins everything.

use axum::{Json, extract::State, http::StatusCode};
use classboard::{
    api::{Author, Grade, GradeList, GradeResponse, NewGrade, Role},
    validate::{self, Issue},
};
use sqlx::FromRow;

use crate::{
    AppError, Result,
    db::{now_ms, rfc3339},
    extract::{AppJson, AuthUser, PageQuery},
    startup::AppState,
};

#[derive(FromRow)]
struct GradeRow {
    id: i64,
    student_id: String,
    student_username: String,
    teacher_id: String,
    teacher_username: String,
    course: String,
    grade: String,
    created_at: i64,
}

impl From<GradeRow> for Grade {
    fn from(r: GradeRow) -> Self {
        Grade {
            id: r.id.to_string(),
            student: Author {
                id: r.student_id,
                username: r.student_username,
            },
            teacher: Author {
                id: r.teacher_id,
                username: r.teacher_username,
            },
            course: r.course,
            grade: r.grade,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A grade query: the columns of [`GradeRow`] followed by `$tail`.
macro_rules! select_grades {
    ($tail:literal) => {
        concat!(
            "SELECT g.id, g.student_id, s.username AS student_username, g.teacher_id,
                    t.username AS teacher_username, g.course, g.grade, g.created_at
             FROM grades g JOIN users s ON s.id = g.student_id JOIN users t ON t.id = g.teacher_id ",
            $tail
        )
    };
}

/// `POST /api/grades`
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<NewGrade>,
) -> Result<(StatusCode, Json<GradeResponse>)> {
    user.require(Role::Teacher)?;
    let student_id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE username = ? COLLATE NOCASE AND role = 'student'",
    )
    .bind(req.student.trim())
    .fetch_optional(&state.db.read)
    .await?;
    let student = student_id.ok_or(Issue::UnknownStudent);
    let (student_id, course, grade) = match (
        student,
        validate::course(&req.course),
        validate::grade(&req.grade),
    ) {
        (Ok(s), Ok(c), Ok(g)) => (s, c, g),
        (s, c, g) => {
            return Err(AppError::validation([
                ("student", s.err()),
                ("course", c.err()),
                ("grade", g.err()),
            ]));
        }
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO grades (student_id, teacher_id, course, grade, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&student_id)
    .bind(&user.id)
    .bind(&course)
    .bind(&grade)
    .bind(now_ms())
    .fetch_one(&state.db.write)
    .await?;
    // A reader sees the committed row; the one writing connection stays free.
    let row: GradeRow = sqlx::query_as(select_grades!("WHERE g.id = ?"))
        .bind(id)
        .fetch_one(&state.db.read)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(GradeResponse { grade: row.into() }),
    ))
}

/// `GET /api/grades?limit=&before=`: newest first; a student's own, a
/// teacher's assigned, or (admin) all. `next` works as for posts.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<GradeList>> {
    let before = match page.before {
        None => i64::MAX,
        Some(raw) => raw.parse::<i64>().map_err(|_| PageQuery::bad_cursor())?,
    };
    // One statement per role, each walking its own index backwards.
    let query = match user.role {
        Role::Student => sqlx::query_as(select_grades!(
            "WHERE g.student_id = ?1 AND g.id < ?2 ORDER BY g.id DESC LIMIT ?3"
        ))
        .bind(&user.id),
        Role::Teacher => sqlx::query_as(select_grades!(
            "WHERE g.teacher_id = ?1 AND g.id < ?2 ORDER BY g.id DESC LIMIT ?3"
        ))
        .bind(&user.id),
        Role::Admin => sqlx::query_as(select_grades!(
            "WHERE ?1 IS NULL AND g.id < ?2 ORDER BY g.id DESC LIMIT ?3"
        ))
        .bind(None::<String>),
    };
    let mut rows: Vec<GradeRow> = query
        .bind(before)
        .bind(page.limit + 1)
        .fetch_all(&state.db.read)
        .await?;
    let limit = usize::try_from(page.limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more.then(|| rows.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(GradeList {
        grades: rows.into_iter().map(Grade::from).collect(),
        next,
    }))
}
