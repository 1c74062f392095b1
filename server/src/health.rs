//! Liveness and readiness probes for load balancers and orchestrators.

use crate::error::Failure;
use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{AppError, Result, state::AppState};

/// `GET /healthz`: the process is up and serving HTTP.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "The process is up", body = Object),
        Failure,
    ),
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the process can do useful work: it reaches its database,
/// and its set of revoked sessions is current (a process whose polls keep
/// failing would accept revoked tokens, so it asks to be taken out).
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object),
        Failure,
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>> {
    state.db.ping().await.map_err(AppError::Unavailable)?;
    if !state.revocations.is_fresh() {
        return Err(AppError::NotReady("the revocation set is stale"));
    }
    if !state.keys.is_fresh() {
        return Err(AppError::NotReady("the signing keys are stale"));
    }
    Ok(Json(json!({"status": "ready"})))
}
