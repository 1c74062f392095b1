//! SQLite's own machinery: its one writing connection and the batches sent
//! to it, its write lock, its file. Skipped when the suite runs on
//! PostgreSQL (`scripts/test` passes `--skip sqlite_only`), where these
//! things do not exist: PostgreSQL rotates in one statement and has no lock
//! over the whole database.

use std::time::Duration;

use serde_json::json;

use crate::{
    helpers::{TestApp, error_code},
    limits::assert_rate_limited,
};

#[path = "rotations.rs"]
mod rotations;

#[tokio::test]
async fn a_refresh_pushed_over_the_limit_by_another_instance_mid_query_is_rate_limited() {
    let app = TestApp::spawn_with(&[("AUTH_REQUESTS_PER_IP", "5/5m")]).await;
    let ada = app.signup("ada").await;
    // Another instance counting in between the counter's upsert and the
    // rotation: the upsert returns 1, the rotation then finds 1,001.
    sqlx::query(
        "CREATE TRIGGER another_instance AFTER INSERT ON rate_counters BEGIN
             UPDATE rate_counters SET count = count + 1000
             WHERE key = NEW.key AND window_start = NEW.window_start;
         END",
    )
    .execute(&app.sqlite().write)
    .await
    .unwrap();
    assert_rate_limited(app.refresh(&ada.refresh).await).await;
}

/// While another process holds the database's write lock, junk refresh
/// tokens are still answered: refusing them takes no lock.
#[tokio::test]
async fn junk_refresh_tokens_are_answered_without_the_write_lock() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let other = app.sqlite_file().await;
    let mut holder = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE users SET role = role")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut forged = ada.refresh.clone().into_bytes();
    forged[5] = if forged[5] == b'x' { b'y' } else { b'x' };
    let junk = [
        "junk".to_owned(),
        "A".repeat(64),
        String::from_utf8(forged).unwrap(),
        // The untagged form of earlier versions, never stored: one read.
        "B".repeat(42) + "A",
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    for token in &junk {
        let response = client
            .post(app.url("/api/auth/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{token:?} waited for the lock: {e}"));
        assert_eq!(response.status(), 400, "{token:?}");
        assert_eq!(error_code(response).await, "invalid_grant");
        let response = client
            .post(app.url("/api/auth/logout"))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("logout of {token:?} waited for the lock: {e}"));
        assert_eq!(response.status(), 204, "{token:?}");
    }
    holder.rollback().await.unwrap();
}

#[tokio::test]
async fn database_runs_in_wal_mode() {
    let app = TestApp::spawn().await;
    let header = std::fs::read(app.data_dir.join("app.db")).unwrap();
    // Bytes 18 and 19 of the SQLite header are 2 for WAL (1 for rollback journal).
    assert_eq!((header[18], header[19]), (2, 2));
}
