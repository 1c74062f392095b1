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
    // Asked in turns, so that whatever else the machine is doing weighs on
    // both alike; five of each, within the failed-login limits.
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (login, times) in [("ada", &mut wrong), ("nobody", &mut unknown)] {
            let start = Instant::now();
            app.login_response(login, "not the right password at all")
                .await;
            times.push(start.elapsed());
        }
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (wrong, unknown) = (median(wrong), median(unknown));
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
    let weak = server::auth::password::Hasher::new((1024, 1, 1), 1, 1)
        .unwrap()
        .hash(PASSWORD)
        .await
        .unwrap();
    let db = app.db().await;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&weak)
        .bind(&ada.id)
        .execute(&db)
        .await
        .unwrap();

    app.login("ada").await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
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
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
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

/// "é" typed as one code point or as "e" and a combining accent is one password.
#[tokio::test]
async fn a_password_is_the_same_however_its_accents_were_typed() {
    let app = TestApp::spawn().await;
    let composed = "cr\u{e8}me br\u{fb}l\u{e9}e au caf\u{e9} noir";
    let decomposed = "cre\u{300}me bru\u{302}le\u{301}e au cafe\u{301} noir";
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada", "email": "ada@example.com", "password": decomposed}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.login_response("ada", composed).await.status(), 200);
    assert_eq!(app.login_response("ada", decomposed).await.status(), 200);
}

/// A hash made before passwords were normalised still opens the account,
/// and is made again from the normalised form.
#[tokio::test]
async fn a_hash_of_an_unnormalised_password_still_matches_and_is_redone() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let decomposed = "cre\u{300}me bru\u{302}le\u{301}e au cafe\u{301} noir";
    let composed = "cr\u{e8}me br\u{fb}l\u{e9}e au caf\u{e9} noir";
    let old = app.state.hasher.hash(decomposed).await.unwrap();
    let db = app.db().await;
    // As an earlier version stored it: not marked as made from the NFC form.
    sqlx::query("UPDATE users SET password_hash = $1, password_nfc = FALSE WHERE id = $2")
        .bind(&old)
        .bind(&ada.id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(app.login_response("ada", decomposed).await.status(), 200);
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&ada.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_ne!(stored, old, "redone from the normalised form");
    assert_eq!(app.login_response("ada", composed).await.status(), 200);
}

/// Only a hash stored before normalisation is also tried with the password
/// as typed: for every other account an attempt costs one hash, whatever
/// its form, and an unknown name costs exactly as much.
#[tokio::test]
async fn a_wrong_password_costs_one_hash_unless_the_stored_hash_predates_normalisation() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let decomposed = "cre\u{300}me bru\u{302}le\u{301}e au cafe\u{301} noir";
    for login in ["ada", "nobody-at-all"] {
        let before = app.state.hasher.runs();
        assert_eq!(app.login_response(login, decomposed).await.status(), 401);
        assert_eq!(app.state.hasher.runs(), before + 1, "{login}");
    }
    sqlx::query("UPDATE users SET password_nfc = FALSE WHERE id = $1")
        .bind(&ada.id)
        .execute(&app.db().await)
        .await
        .unwrap();
    let before = app.state.hasher.runs();
    assert_eq!(app.login_response("ada", decomposed).await.status(), 401);
    assert_eq!(
        app.state.hasher.runs(),
        before + 2,
        "the typed form is tried too"
    );
    // A successful login marks the hash as made from the normalised form.
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    let marked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND password_nfc")
            .bind(&ada.id)
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(marked, 1);
}

#[tokio::test]
async fn login_names_in_full_width_letters_name_the_same_account() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for login in [
        "\u{ff41}\u{ff44}\u{ff41}",
        "\u{ff21}\u{ff24}\u{ff21}@example.com",
    ] {
        let response = app.login_response(login, PASSWORD).await;
        assert_eq!(response.status(), 200, "{login}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["user"]["id"], ada.id.as_str());
    }
}

#[tokio::test]
async fn an_empty_or_overlong_login_name_is_refused_with_details() {
    let app = TestApp::spawn().await;
    for (login, issue) in [
        ("", "required"),
        ("   ", "required"),
        (&*"a".repeat(255), "too_long"),
    ] {
        let response = app.login_response(login, PASSWORD).await;
        assert_eq!(response.status(), 422, "{login:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"], json!([{"field": "login", "issue": issue}]));
    }
}
