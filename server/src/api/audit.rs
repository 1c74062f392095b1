//! Security events: `GET /api/account/activity` (the caller's own) and
//! `GET /api/admin/audit` (every account's, for admins).

use super::openapi::{Failure, Page};
use axum::{Json, extract::State};
use classboard::api::{Event, EventKind, EventPage, Role};

use super::device_name;
use crate::{
    AppError, Result,
    extract::{AuthUser, PageQuery},
    startup::AppState,
    store::{
        audit::{self, EventRow, Filter},
        rfc3339,
    },
};

/// `GET /api/account/activity?limit=&before=`: newest first.
#[utoipa::path(
    get, path = "/account/activity", tag = "account",
    params(Page),
    responses(
        (status = 200, description = "The caller's security events, newest first", body = classboard::api::EventPage),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn activity(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<EventPage>> {
    let filter = Filter {
        user_id: Some(&user.id),
        kind: None,
    };
    events(&state, filter, &page, Some(&user.session_id)).await
}

/// `GET /api/admin/audit?user=&kind=&limit=&before=`: newest first.
#[utoipa::path(
    get, path = "/admin/audit", tag = "admin",
    params(("user" = Option<String>, Query, description = "An account id"), ("kind" = Option<classboard::api::EventKind>, Query), Page),
    responses(
        (status = 200, description = "Security events of every account, newest first", body = classboard::api::EventPage),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn all(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<EventPage>> {
    user.require(Role::Admin)?;
    let kind = page
        .param("kind")
        .map(|raw| {
            EventKind::parse(raw).ok_or_else(|| {
                AppError::InvalidRequest("kind must be one of the kinds of event.".into())
            })
        })
        .transpose()?;
    let filter = Filter {
        user_id: page.param("user"),
        kind,
    };
    events(&state, filter, &page, Some(&user.session_id)).await
}

async fn events(
    state: &AppState,
    filter: Filter<'_>,
    page: &PageQuery,
    current_session: Option<&str>,
) -> Result<Json<EventPage>> {
    let before = match page.before.as_deref() {
        None => i64::MAX,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(PageQuery::bad_cursor)?,
    };
    let (rows, more) = audit::page(&state.db, filter, page.limit, before).await?;
    let next = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    let events = rows
        .into_iter()
        .filter_map(|r| view(r, current_session))
        .collect();
    Ok(Json(EventPage { events, next }))
}

/// The event as the API shows it; `None` for a kind this version does not
/// know (written by a newer one, during an upgrade).
fn view(row: EventRow, current_session: Option<&str>) -> Option<Event> {
    Some(Event {
        id: row.id.to_string(),
        kind: EventKind::parse(&row.kind)?,
        at: rfc3339(row.at),
        current: row.session_id.is_some() && row.session_id.as_deref() == current_session,
        user_id: row.user_id,
        actor_id: row.actor_id,
        ip: row.ip,
        device: row.user_agent.as_deref().and_then(device_name),
        user_agent: row.user_agent,
        session_id: row.session_id,
        detail: row.detail,
    })
}
