//! RP-initiated logout's HTTP side: the end-session endpoint an app sends
//! the browser to, and the API the `/logout` page calls. The decisions are
//! in `provider::logout`; signing out itself is the board's own
//! `POST /api/auth/logout`, which the page calls with the refresh cookie
//! (the end of that session reaches the apps by back-channel logout).

use axum::{
    Json,
    body::Bytes,
    extract::{RawQuery, State},
    http::HeaderMap,
    response::Response,
};
use classboard::api::{LogoutAsked, LogoutStep};

use super::{
    app_requests::{NOT_A_FORM, is_form},
    oauth::see_other,
};
use crate::{
    AppError, Result,
    error::Failure,
    extract::{AppJson, AuthUser},
    provider::logout::LogoutProblem,
    state::AppState,
};

/// The page that asks and signs out.
const PAGE: &str = "/logout";

/// `GET /oauth/logout`: the end-session endpoint (OpenID Connect
/// RP-Initiated Logout 1.0). A request that checks out goes on to the
/// page; one that does not is explained there, never followed.
pub async fn end_session_get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    end_session(&state, query.unwrap_or_default().as_bytes()).await
}

/// `POST /oauth/logout`: the same, with the parameters in a form (the
/// specification allows both).
pub async fn end_session_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    if !is_form(&headers) {
        return Err(AppError::InvalidRequest(NOT_A_FORM.into()));
    }
    end_session(&state, &body).await
}

async fn end_session(state: &AppState, encoded: &[u8]) -> Result<Response> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(encoded).into_owned().collect();
    let to = match state.end_sessions.begin(&params).await? {
        Ok(handle) => format!("{PAGE}?request={handle}"),
        Err(problem) => format!("{PAGE}?problem={}", problem_code(problem)),
    };
    Ok(see_other(&to))
}

/// The code in the page's address for each problem shown there.
fn problem_code(problem: LogoutProblem) -> &'static str {
    match problem {
        LogoutProblem::Malformed => "malformed",
        LogoutProblem::BadHint => "bad_id_token_hint",
        LogoutProblem::UnknownApp => "unknown_app",
        LogoutProblem::HintOfAnotherApp => "hint_of_another_app",
        LogoutProblem::RedirectWithoutApp => "redirect_without_app",
        LogoutProblem::UnknownRedirect => "unknown_post_logout_redirect_uri",
    }
}

/// `POST /api/oauth/logout`: what the `/logout` page does with the request
/// in its address, for the person signed in here (bearer) or for nobody.
#[utoipa::path(
    post, path = "/api/oauth/logout", tag = "provider",
    request_body = LogoutAsked,
    responses(
        (status = 200, description = "Whether to ask before signing out, and where to go then", body = LogoutStep),
        Failure,
    ),
    security((), ("bearer" = [])),
)]
pub async fn logout_step(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    AppJson(asked): AppJson<LogoutAsked>,
) -> Result<Json<LogoutStep>> {
    let visitor = user
        .as_ref()
        .map(|user| (user.id.as_str(), user.session_id.as_str()));
    let Some(page) = state.end_sessions.read(&asked.request, visitor) else {
        return Err(AppError::InvalidRequest(
            "This sign-out request has expired or was not made here; go back to the app and \
             sign out again."
                .into(),
        ));
    };
    Ok(Json(LogoutStep {
        app: page.app,
        ask: page.ask,
        then: page.then,
    }))
}
