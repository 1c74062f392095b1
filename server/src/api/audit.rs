//! Security events: `GET /api/account/activity` (the caller's own) and
//! `GET /api/admin/audit` (every account's, for admins).

use crate::{error::Failure, extract::Page};
use axum::{Json, extract::State};
use classboard::api::{Event, EventKind, EventPage, Role};

use super::shared::device_name;
use crate::{
    AppError, Result,
    extract::{AuthUser, PageQuery},
    state::AppState,
    store::{
        audit::{self, EventRow, Filter},
        rfc3339,
    },
};

/// `GET /api/account/activity?limit=&before=`: newest first.
#[utoipa::path(
    get, path = "/api/account/activity", tag = "account",
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
    let own = Own {
        user_id: &user.id,
        session_id: &user.session_id,
    };
    events(&state, filter, &page, View::Own(own)).await
}

/// `GET /api/admin/audit?user=&kind=&limit=&before=`: newest first.
#[utoipa::path(
    get, path = "/api/admin/audit", tag = "admin",
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
        .given("kind")
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
    events(&state, filter, &page, View::Admin(&user.session_id)).await
}

/// Who reads a page of events.
#[derive(Clone, Copy)]
enum View<'a> {
    /// An account, its own events.
    Own(Own<'a>),
    /// An admin, with their own session.
    Admin(&'a str),
}

#[derive(Clone, Copy)]
struct Own<'a> {
    user_id: &'a str,
    session_id: &'a str,
}

async fn events(
    state: &AppState,
    filter: Filter<'_>,
    page: &PageQuery,
    reader: View<'_>,
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
    let events = rows.into_iter().filter_map(|r| view(r, reader)).collect();
    Ok(Json(EventPage { events, next }))
}

/// The event as the API shows it; `None` for a kind this version does not
/// know (written by a newer one, during an upgrade). An account reading its
/// own events does not see where an admin acted from: that is the admin's.
fn view(mut row: EventRow, reader: View<'_>) -> Option<Event> {
    let current_session = match reader {
        View::Own(own) => {
            if row
                .actor_id
                .as_deref()
                .is_some_and(|actor| actor != own.user_id)
            {
                row.ip = None;
                row.user_agent = None;
            }
            own.session_id
        }
        View::Admin(session_id) => session_id,
    };
    Some(Event {
        id: row.id.to_string(),
        kind: EventKind::parse(&row.kind)?,
        at: rfc3339(row.at),
        current: row.session_id.as_deref() == Some(current_session),
        user_id: row.user_id,
        actor_id: row.actor_id,
        ip: row.ip,
        device: row.user_agent.as_deref().and_then(device_name),
        user_agent: row.user_agent,
        session_id: row.session_id,
        detail: row.detail,
    })
}
