use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, error_code, header};

#[tokio::test]
async fn login_works_by_username_in_any_case_and_by_email() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.com"] {
        let response = app.login_response(login, PASSWORD).await;
        assert_eq!(response.status(), 200, "{login}");
        assert_eq!(header(&response, "cache-control"), "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["user"]["id"], ada.id.as_str());
        assert_ne!(
            body["refresh_token"],
            ada.refresh.as_str(),
            "a new session each login"
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let wrong = app
        .login_response("ada", "not the right password at all")
        .await;
    let unknown = app.login_response("nobody", PASSWORD).await;
    assert_eq!(
        (wrong.status().as_u16(), unknown.status().as_u16()),
        (401, 401)
    );
    assert!(
        header(&wrong, "www-authenticate").is_empty(),
        "credentials, not bearer"
    );
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "invalid_credentials");
}

#[tokio::test]
async fn an_unknown_user_costs_a_password_hash_like_a_wrong_password() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let before = app.state.hasher.runs();
    app.login_response("nobody", PASSWORD).await;
    assert_eq!(
        app.state.hasher.runs(),
        before + 1,
        "unknown user verified against the dummy hash"
    );

    // And in wall-clock terms the two take about as long (the hash dominates).
    async fn median(app: &TestApp, login: &str) -> Duration {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            app.login_response(login, "not the right password at all")
                .await;
            times.push(start.elapsed());
        }
        times.sort();
        times[2]
    }
    let (wrong, unknown) = (median(&app, "ada").await, median(&app, "nobody").await);
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "wrong {wrong:?} vs unknown {unknown:?}"
    );
}

#[tokio::test]
async fn a_weaker_hash_is_upgraded_on_the_next_successful_login() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let weak = server::auth::password::Hasher::new((1024, 1, 1), 1)
        .unwrap()
        .hash(PASSWORD)
        .await
        .unwrap();
    let db = app.db().await;
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(&weak)
        .bind(&ada.id)
        .execute(&db)
        .await
        .unwrap();

    app.login("ada").await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
        .bind(&ada.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    app.login("ada").await;
}

#[tokio::test]
async fn stored_hashes_are_argon2id_phc_strings() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
        .bind(&ada.id)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(!stored.contains(PASSWORD));
}

#[tokio::test]
async fn login_with_a_missing_field_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/api/auth/login", &json!({"login": "ada"}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_request");
}
