use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, error_code, header};

#[tokio::test]
async fn signup_returns_201_with_a_token_response_and_a_student_account() {
    let app = TestApp::spawn().await;
    let response = app.signup_response("ada").await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(
        body["refresh_token"].as_str().unwrap().len() >= 43,
        "≥ 256 bits, base64url"
    );
    assert_eq!(body["user"]["username"], "ada");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "student");
    assert!(body["user"]["id"].is_string());
    assert!(
        body["user"]["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );
    assert!(body["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn signup_sets_the_refresh_cookie_with_the_contract_attributes() {
    let app = TestApp::spawn().await;
    let response = app.signup_response("ada").await;
    let cookie = header(&response, "set-cookie");
    let body: Value = response.json().await.unwrap();
    assert!(
        cookie.starts_with(&format!(
            "refresh_token={}",
            body["refresh_token"].as_str().unwrap()
        )),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api/auth"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure");
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let app = TestApp::spawn_with(&[("TRUST_FORWARDED_FOR", "true")]).await;
    let response = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(header(&response, "set-cookie").contains("Secure"));
}

#[tokio::test]
async fn every_invalid_field_is_reported_in_details() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "a!", "email": "not-an-email", "password": "short"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "validation_failed");
    let details = body["details"].as_array().unwrap();
    let issues: Vec<(&str, &str)> = details
        .iter()
        .map(|d| (d["field"].as_str().unwrap(), d["issue"].as_str().unwrap()))
        .collect();
    assert_eq!(
        issues,
        [
            ("username", "too_short"),
            ("email", "invalid"),
            ("password", "too_short")
        ]
    );
}

#[tokio::test]
async fn passwords_follow_the_contract_rules() {
    let app = TestApp::spawn().await;
    let cases = [
        ("a".repeat(129), "too_long"),
        ("1qaz2wsx3edc4rfv".to_owned(), "common"),
        ("QAZWSXEDCRFVTGB".to_owned(), "common"),
        ("my name is grace hopper".to_owned(), "contains_username"),
        ("hopper's secret garden gate".to_owned(), "contains_email"),
    ];
    for (password, issue) in cases {
        let response = app
            .post_json(
                "/api/auth/signup",
                &json!({"username": "grace", "email": "hopper@example.com", "password": password}),
            )
            .await;
        assert_eq!(response.status(), 422, "{password}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["field"], "password");
        assert_eq!(body["details"][0]["issue"], issue, "{password}");
    }
    // Unicode counts as characters and is accepted; 15 characters is enough.
    let response = app
        .post_json("/api/auth/signup", &json!({"username": "grace", "email": "hopper@example.com", "password": "密码密码密码密码密码密码密码密"}))
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ADA", "email": "other@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "conflict");
}

#[tokio::test]
async fn emails_are_stored_lower_cased_and_unique() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada", "email": "Ada@Example.COM", "password": PASSWORD}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada2", "email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 409);
}

#[tokio::test]
async fn fifty_concurrent_signups_of_one_email_make_exactly_one_account() {
    // Every signup hashes first: room for all fifty in the hashing queue.
    let app = TestApp::spawn_with(&[("PASSWORD_HASH_QUEUE", "64")]).await;
    let app = &app;
    let attempts = (0..50).map(|i| async move {
        app.post_json(
            "/api/auth/signup",
            &json!({"username": format!("racer{i}"), "email": "race@example.com", "password": PASSWORD}),
        )
        .await
        .status()
        .as_u16()
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        49,
        "{statuses:?}"
    );
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'race@example.com'")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(count, 1);
}

/// Length and the common-password list judge the normalised (NFC) form.
#[tokio::test]
async fn password_rules_count_the_normalised_characters() {
    let app = TestApp::spawn().await;
    // Sixteen code points, eight characters once composed.
    let short = "e\u{301}".repeat(8);
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada", "email": "ada@example.com", "password": short}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "password", "issue": "too_short"}])
    );
}

#[tokio::test]
async fn emails_that_look_alike_are_one_address_or_refused() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    // Full-width letters are the same address once normalised (NFKC).
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada2", "email": "\u{ff21}\u{ff24}\u{ff21}@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 409);
    // A Cyrillic "а" among Latin letters is refused, not a second account.
    for email in ["\u{430}da@example.com", "ada@ex\u{430}mple.com"] {
        let response = app
            .post_json(
                "/api/auth/signup",
                &json!({"username": "ada3", "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 422, "{email}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["details"],
            json!([{"field": "email", "issue": "invalid"}])
        );
    }
}
