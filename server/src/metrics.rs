//! Prometheus metrics, served at `/metrics` on `METRICS_ADDR` only: never on
//! the public port, where anyone could read how the server is doing.
//!
//! Counters and histograms are recorded where things happen (the `metrics`
//! facade: a call costs nothing while no recorder is installed, that is,
//! while `METRICS_ADDR` is unset). Gauges of the process's state (the
//! revocation set, the hashing queue, the database pools) are read when
//! the metrics are scraped.
//!
//! | series | labels |
//! |---|---|
//! | `classboard_http_requests_total` | `method`, `route` (the matched route, never the path), `status` |
//! | `classboard_http_request_duration_seconds` (histogram) | same |
//! | `classboard_logins_total` | `outcome`: `success`, `mfa_required`, `invalid_credentials`, `rate_limited`, `busy`, `error` |
//! | `classboard_refreshes_total` | `outcome`: `success`, `invalid_grant` (unknown, spent, revoked, or of a session ended for safety), `rate_limited`, `error` |
//! | `classboard_refresh_reuse_detected_total` | |
//! | `classboard_revoked_sessions` (gauge) | |
//! | `classboard_password_hashes_in_use` / `_capacity` (gauges) | |
//! | `classboard_db_connections` (gauge) | `pool` (`read`, `write`, `poll`), `state` (`idle`, `in_use`) |

use std::{sync::OnceLock, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{AppError, state::AppState, store::Db};

/// Latency buckets, in seconds: from a token check to a slow password hash.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process's recorder, installed by the first server that serves
/// metrics; every server of the process records into it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("classboard_http_request_duration_seconds".into()),
                BUCKETS,
            )
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process")
    })
}

/// The router of the metrics address: `GET /metrics`, Prometheus text.
pub fn router(state: AppState) -> Router {
    handle();
    Router::new()
        .route("/metrics", get(render))
        .with_state(state)
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("classboard_revoked_sessions").set(state.revocations.len() as f64);
    metrics::gauge!("classboard_password_hashes_in_use").set(state.hasher.in_use() as f64);
    metrics::gauge!("classboard_password_hashes_capacity").set(state.hasher.capacity() as f64);
    pool_gauges(&state.db);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
}

fn pool_gauges(db: &Db) {
    let record = |pool: &'static str, size: u32, idle: usize| {
        let idle = idle as f64;
        metrics::gauge!("classboard_db_connections", "pool" => pool, "state" => "idle").set(idle);
        metrics::gauge!("classboard_db_connections", "pool" => pool, "state" => "in_use")
            .set(f64::from(size) - idle);
    };
    match db {
        Db::Sqlite(db) => {
            record("read", db.read.size(), db.read.num_idle());
            record("write", db.write.size(), db.write.num_idle());
            record("poll", db.poll.size(), db.poll.num_idle());
        }
        Db::Postgres(db) => {
            record("read", db.read.size(), db.read.num_idle());
            record("write", db.write.size(), db.write.num_idle());
            record("poll", db.poll.size(), db.poll.num_idle());
        }
    }
}

/// Counts every request of the public router and its latency, by method,
/// matched route and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("classboard_http_requests_total", &labels).increment(1);
    metrics::histogram!("classboard_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts a login by what it led to.
pub fn login(result: &Result<Response, AppError>) {
    let outcome = match result {
        Ok(response) if response.status() == axum::http::StatusCode::FORBIDDEN => "mfa_required",
        Ok(_) => "success",
        Err(AppError::InvalidCredentials) => "invalid_credentials",
        Err(AppError::RateLimited { .. }) => "rate_limited",
        Err(AppError::Busy) => "busy",
        Err(_) => "error",
    };
    metrics::counter!("classboard_logins_total", "outcome" => outcome).increment(1);
}

/// Counts a refresh by what it led to. Refusals that clear the cookie are
/// answered as responses, not errors: the status tells them apart.
pub fn refresh(result: &Result<Response, AppError>) {
    use axum::http::StatusCode;
    let outcome = match result {
        Ok(response) if response.status() == StatusCode::OK => "success",
        Ok(response) if response.status() == StatusCode::BAD_REQUEST => "invalid_grant",
        Err(AppError::InvalidGrant | AppError::EndedForSafety) => "invalid_grant",
        Err(AppError::RateLimited { .. }) => "rate_limited",
        Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        _ => "error",
    };
    metrics::counter!("classboard_refreshes_total", "outcome" => outcome).increment(1);
}

/// Counts a refresh token presented again after its grace window: its
/// session was ended.
pub fn reuse_detected() {
    metrics::counter!("classboard_refresh_reuse_detected_total").increment(1);
}
