//! `/api/grades`: teachers (and admins) assign; students see their own,
//! teachers what they assigned, admins everything.

use crate::{error::Failure, extract::Page};
use axum::{Json, extract::State, http::StatusCode};
use classboard::{
    api::{Grade, GradeList, GradeResponse, NewGrade, Role},
    validate::{self, Issue},
};

use crate::{
    AppError, Result,
    extract::{AppJson, AuthUser, PageQuery},
    state::AppState,
    store::{grades, now_ms},
};

/// `POST /api/grades`
#[utoipa::path(
    post, path = "/api/grades", tag = "board",
    request_body = classboard::api::NewGrade,
    responses(
        (status = 201, description = "Graded", body = classboard::api::GradeResponse),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<NewGrade>,
) -> Result<(StatusCode, Json<GradeResponse>)> {
    user.require(Role::Teacher)?;
    let student = grades::student_by_username(&state.db, req.student.trim())
        .await?
        .ok_or(Issue::UnknownStudent);
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
    let row = grades::insert(&state.db, &student_id, &user.id, &course, &grade, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(GradeResponse { grade: row.into() }),
    ))
}

/// `GET /api/grades?limit=&before=`: newest first; a student's own, a
/// teacher's assigned, or (admin) all. `next` works as for posts.
#[utoipa::path(
    get, path = "/api/grades", tag = "board",
    params(Page),
    responses(
        (status = 200, description = "A student's own grades; every grade for teachers and admins", body = classboard::api::GradeList),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<GradeList>> {
    let before = match page.before {
        None => i64::MAX,
        Some(raw) => raw.parse::<i64>().map_err(|_| PageQuery::bad_cursor())?,
    };
    // A backend granted grades:read for itself reads every grade: that is
    // what it was registered for (its token reaches nothing else).
    let role = if user.is_app_itself() {
        Role::Admin
    } else {
        user.role
    };
    let rows = grades::list(&state.db, role, &user.id, before, page.limit + 1).await?;
    let (rows, more) = crate::store::one_page(rows, page.limit);
    let next = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(GradeList {
        grades: rows.into_iter().map(Grade::from).collect(),
        next,
    }))
}
