//! Liveness and readiness probes for load balancers and orchestrators.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{AppError, Result, db};

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the process can do useful work, i.e. reach its database.
pub async fn readyz(State(db): State<db::Db>) -> Result<Json<Value>> {
    db::ping(&db.read).await.map_err(AppError::Unavailable)?;
    Ok(Json(json!({"status": "ready"})))
}
