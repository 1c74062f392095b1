use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_code, header};

pub async fn assert_rate_limited(response: reqwest::Response) {
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
async fn a_refresh_over_the_limit_leaves_its_token_live_and_junk_counts_nothing() {
    let app = TestApp::spawn_with(&[("AUTH_REQUESTS_PER_IP", "2/5m")]).await;
    let ada = app.signup("ada").await;
    let tokens = || async {
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE spent_at IS NULL) FROM refresh_tokens",
        )
        .fetch_one(&app.db().await)
        .await
        .unwrap();
        counts
    };
    // Refused before any query, so not counted: no token, and tokens this
    // server cannot have minted.
    for _ in 0..5 {
        assert_eq!(
            app.post_json("/api/auth/refresh", &json!({}))
                .await
                .status(),
            400
        );
        assert_eq!(app.refresh("not a token at all").await.status(), 400);
        assert_eq!(app.refresh(&"A".repeat(64)).await.status(), 400);
    }
    let next = app.refresh(&ada.refresh).await;
    assert_eq!(next.status(), 200, "counted: 1 of 2");
    assert_eq!(
        tokens().await,
        (2, 1),
        "the first token spent, its successor live"
    );
    let next: serde_json::Value = next.json().await.unwrap();
    let successor = next["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.refresh(successor).await.status(),
        200,
        "counted: 2 of 2"
    );
    let next: serde_json::Value = app
        .login_response("ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["error"], "rate_limited", "login counts too: 3 of 2");
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

/// Sends a signup for `username` as the proxy says `forwarded_for`.
async fn signup_from(app: &TestApp, forwarded_for: &str, username: &str) -> u16 {
    app.client
        .post(app.url("/api/auth/signup"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64_network() {
    let app =
        TestApp::spawn_with(&[("SIGNUPS_PER_IP", "2/5m"), ("TRUST_FORWARDED_FOR", "true")]).await;
    assert_eq!(signup_from(&app, "2001:db8:0:7::1", "ada").await, 201);
    assert_eq!(
        signup_from(&app, "2001:db8:0:7:ffff:ffff:ffff:2", "bob").await,
        201
    );
    assert_eq!(
        signup_from(&app, "2001:db8:0:7::abcd", "cyd").await,
        429,
        "a third address of the same /64 shares its budget"
    );
    assert_eq!(
        signup_from(&app, "2001:db8:0:8::1", "dee").await,
        201,
        "another /64"
    );
    // IPv4 still counts per address.
    assert_eq!(signup_from(&app, "10.0.0.1", "eve").await, 201);
    assert_eq!(signup_from(&app, "10.0.0.2", "fay").await, 201);
}

#[tokio::test]
async fn a_forwarded_for_whose_last_entry_is_not_an_address_counts_the_tcp_peer() {
    let app =
        TestApp::spawn_with(&[("SIGNUPS_PER_IP", "2/5m"), ("TRUST_FORWARDED_FOR", "true")]).await;
    // The client writes the first entries; the proxy's own entry is junk.
    // Only the peer can be counted, never a client-written entry.
    let statuses = [
        signup_from(&app, "10.1.0.1, unknown", "ada").await,
        signup_from(&app, "10.1.0.2, 10.9.9.9:443", "bob").await,
        signup_from(&app, "10.1.0.3, ", "cyd").await,
    ];
    assert_eq!(statuses, [201, 201, 429]);
    // And a proper last entry is what counts, whatever comes before it.
    assert_eq!(signup_from(&app, "unknown, 10.2.0.1", "dee").await, 201);
}

#[tokio::test]
async fn publishing_is_limited_per_user_even_when_fired_at_once() {
    let app = TestApp::spawn_with(&[("POSTS_PER_USER", "3/10m")]).await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let posts = (0..20).map(|i| {
        app.bearer(reqwest::Method::POST, "/api/posts", &ada.access)
            .json(&json!({"title": format!("post {i}"), "body": "text"}))
            .send()
    });
    let mut statuses: Vec<u16> = futures::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201; 3], vec![429; 17]].concat());
    // Another author has a budget of their own.
    app.publish(&bob.access, "bob's", "text").await;
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_at_once_and_costs_no_attempt() {
    let app = TestApp::spawn_with(&[
        ("PASSWORD_HASH_QUEUE", "0"),
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "1000/15m"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "1000/1h"),
    ])
    .await;
    app.signup("ada").await;
    let storm = (0..40).map(|_| app.login_response("ada", "a wrong password, a wrong password"));
    let responses = futures::future::join_all(storm).await;
    let mut refused = 0;
    let mut answered = 0;
    for response in responses {
        match response.status().as_u16() {
            503 => {
                assert_eq!(header(&response, "retry-after"), "1");
                assert_eq!(error_code(response).await, "unavailable");
                refused += 1;
            }
            401 => answered += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        refused > 0,
        "no request was refused: the queue is unbounded"
    );
    assert!(
        answered >= app.state.hasher.threads(),
        "{answered} answered"
    );
    let attempts: i64 =
        sqlx::query_scalar("SELECT MAX(count) FROM rate_counters WHERE key LIKE 'fail_ip:%'")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(
        attempts,
        i64::try_from(answered).unwrap(),
        "a refused request cost the account nothing"
    );
}
