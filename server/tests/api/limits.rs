use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_code, header};

async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry: u64 = header(&response, "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(error_code(response).await, "rate_limited");
}

#[tokio::test]
async fn failed_logins_per_account_and_ip_are_limited_without_hashing() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "3/15m")]).await;
    app.signup("ada").await;
    for _ in 0..3 {
        assert_eq!(
            app.login_response("ada", "wrong password, wrong password")
                .await
                .status(),
            401
        );
    }
    let hashes = app.state.hasher.runs();
    assert_rate_limited(app.login_response("ada", PASSWORD).await).await;
    assert_eq!(
        app.state.hasher.runs(),
        hashes,
        "no password hash computed for a refused attempt"
    );
    // Other accounts from the same address are unaffected.
    app.signup("bob").await;
    assert_eq!(app.login_response("bob", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn failed_logins_per_account_from_anywhere_are_limited() {
    let app = TestApp::spawn_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT", "2/1h"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    app.signup("ada").await;
    for ip in ["10.0.0.1", "10.0.0.2"] {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"login": "ada", "password": "wrong password, wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "10.0.0.3")
        .json(&json!({"login": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(response).await;
}

#[tokio::test]
async fn a_successful_login_clears_the_account_s_failures() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "3/15m")]).await;
    app.signup("ada").await;
    for _ in 0..2 {
        app.login_response("ada", "wrong password, wrong password")
            .await;
    }
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    for _ in 0..2 {
        assert_eq!(
            app.login_response("ada", "wrong password, wrong password")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        200,
        "count started again"
    );
}

#[tokio::test]
async fn login_and_refresh_requests_per_ip_are_limited() {
    let app = TestApp::spawn_with(&[("AUTH_REQUESTS_PER_IP", "3/5m")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    assert_eq!(app.refresh(&ada.refresh).await.status(), 200);
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    assert_rate_limited(app.refresh(&ada.refresh).await).await;
    assert_rate_limited(app.login_response("ada", PASSWORD).await).await;
}

#[tokio::test]
async fn a_refresh_over_the_limit_leaves_its_token_live_and_one_without_a_token_still_counts() {
    let app = TestApp::spawn_with(&[("AUTH_REQUESTS_PER_IP", "2/5m")]).await;
    let ada = app.signup("ada").await;
    let tokens = || async {
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE spent_at IS NULL) FROM refresh_tokens",
        )
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
        counts
    };
    let no_token = app.post_json("/api/auth/refresh", &json!({})).await;
    assert_eq!(no_token.status(), 400, "counted: 1 of 2");
    let next = app.refresh(&ada.refresh).await;
    assert_eq!(next.status(), 200, "counted: 2 of 2");
    assert_eq!(
        tokens().await,
        (2, 1),
        "the first token spent, its successor live"
    );

    let next: serde_json::Value = next.json().await.unwrap();
    let successor = next["refresh_token"].as_str().unwrap();
    assert_rate_limited(app.refresh(successor).await).await;
    assert_eq!(tokens().await, (2, 1), "the successor was not spent");
}

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
    .execute(&app.state.db.write)
    .await
    .unwrap();
    assert_rate_limited(app.refresh(&ada.refresh).await).await;
}

#[tokio::test]
async fn signups_per_ip_are_limited_and_trust_forwarded_for_changes_the_ip() {
    let app = TestApp::spawn_with(&[("SIGNUPS_PER_IP", "2/5m")]).await;
    app.signup("ada").await;
    app.signup("bob").await;
    let hashes = app.state.hasher.runs();
    assert_rate_limited(app.signup_response("cyd").await).await;
    assert_eq!(app.state.hasher.runs(), hashes);

    // Without TRUST_FORWARDED_FOR the header is ignored: still the same peer.
    let response = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-forwarded-for", "10.9.9.9")
        .json(&json!({"username": "dee", "email": "dee@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn limits_are_shared_by_every_instance_through_the_database() {
    let first = TestApp::spawn_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "2/15m"),
        ("JWT_SECRET", "shared-secret-shared-secret-shared-secret"),
    ])
    .await;
    let second = first.sibling().await;
    first.signup("ada").await;
    first
        .login_response("ada", "wrong password, wrong password")
        .await;
    second
        .login_response("ada", "wrong password, wrong password")
        .await;
    assert_rate_limited(first.login_response("ada", PASSWORD).await).await;
    assert_rate_limited(second.login_response("ada", PASSWORD).await).await;
}
