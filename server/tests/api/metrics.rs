//! Prometheus metrics on `METRICS_ADDR`, and never on the public port.

use std::time::Duration;

use crate::helpers::{TestApp, user_from};

#[tokio::test]
async fn metrics_count_requests_logins_refreshes_and_reuse_on_their_own_address() {
    let app = TestApp::spawn_with(&[
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("REFRESH_REUSE_GRACE", "1s"),
    ])
    .await;
    let ada = app.signup("ada").await;
    app.login("ada").await;
    assert_eq!(
        app.login_response("ada", "not the password at all")
            .await
            .status(),
        401
    );
    let rotated = user_from(app.refresh(&ada.refresh).await.json().await.unwrap());
    assert!(!rotated.refresh.is_empty());
    // Past the grace window, the spent token is a thief's.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(app.refresh(&ada.refresh).await.status(), 400);

    let metrics = app.metrics_address.clone().expect("metrics are on");
    let response = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        crate::helpers::header(&response, "content-type").starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let has = |name: &str, labels: &[&str]| {
        text.lines()
            .any(|line| line.starts_with(name) && labels.iter().all(|label| line.contains(label)))
    };
    for (name, labels) in [
        ("classboard_logins_total", &[r#"outcome="success""#][..]),
        (
            "classboard_logins_total",
            &[r#"outcome="invalid_credentials""#],
        ),
        ("classboard_refreshes_total", &[r#"outcome="success""#]),
        (
            "classboard_refreshes_total",
            &[r#"outcome="invalid_grant""#],
        ),
        ("classboard_refresh_reuse_detected_total", &[]),
        (
            "classboard_http_requests_total",
            &[
                r#"method="POST""#,
                r#"route="/api/auth/login""#,
                r#"status="401""#,
            ],
        ),
        (
            "classboard_http_request_duration_seconds_bucket",
            &[r#"route="/api/auth/refresh""#, r#"le="0.001""#],
        ),
        ("classboard_revoked_sessions", &[]),
        ("classboard_password_hashes_in_use", &[]),
        ("classboard_password_hashes_capacity", &[]),
        (
            "classboard_db_connections",
            &[r#"pool="write""#, r#"state="idle""#],
        ),
    ] {
        assert!(has(name, labels), "{name} {labels:?} in:\n{text}");
    }
    // Routes are the matched patterns, never paths that could hold ids.
    assert!(!text.contains(&ada.id), "an id in a label");

    // Not on the public port.
    let public = app.get("/metrics").await;
    assert_eq!(public.status(), 404);
    assert!(!public.text().await.unwrap().contains("# TYPE classboard_"));
}

#[tokio::test]
async fn without_metrics_addr_there_is_no_metrics_listener() {
    let app = TestApp::spawn().await;
    assert!(app.metrics_address.is_none());
    assert_eq!(app.get("/metrics").await.status(), 404);
}
