use crate::helpers::{TestApp, on_postgres};

#[tokio::test]
async fn healthz_answers_ok_without_touching_anything() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_answers_ready_when_the_database_is_reachable() {
    let app = TestApp::spawn().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn first_start_creates_database_and_private_secret_in_the_data_folder() {
    let app = TestApp::spawn().await;
    if !on_postgres() {
        assert!(
            app.data_dir.join("app.db").is_file(),
            "database file created"
        );
    }
    let secret = app.data_dir.join("jwt_secret");
    assert!(secret.is_file(), "secret generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn server_finishes_cleanly_on_shutdown_signal() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await.expect("clean shutdown");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_the_database_and_its_journals_are_the_server_s_alone() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mode = |name: &str| {
        std::fs::metadata(app.data_dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data folder");
    assert_eq!(mode("jwt_secret"), 0o600);
    if !on_postgres() {
        for file in ["app.db", "app.db-wal", "app.db-shm"] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_secret_that_others_can_read_stops_start_up() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let secret = data.join("jwt_secret");
    std::fs::write(&secret, "x".repeat(64)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = server::Config::from_lookup(|k| match k {
        "DATA_DIR" => Some(data.display().to_string()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .unwrap();
    let Err(error) = server::Application::build(config).await else {
        panic!("started with a secret others can read");
    };
    let error = error.to_string();
    assert!(
        error.contains("jwt_secret is readable by other users (mode 0644)"),
        "{error}"
    );
    assert!(
        !error.contains(&"x".repeat(64)),
        "the secret is not printed"
    );
}

/// A process whose polls of revoked sessions fail would accept revoked
/// tokens; it must say so, and readiness must fail, until polls work again.
#[tokio::test]
async fn readyz_fails_while_revoked_sessions_cannot_be_polled() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let db = app.db().await;
    let ready = || async { app.get("/readyz").await.status().as_u16() };
    assert_eq!(ready().await, 200);
    sqlx::query("ALTER TABLE sessions RENAME COLUMN revoked_seq TO hidden_seq")
        .execute(&db)
        .await
        .unwrap();
    let broken = Instant::now();
    while ready().await != 503 {
        assert!(
            broken.elapsed() < Duration::from_secs(10),
            "still ready after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last good poll was at most one interval before the break.
    use server::auth::revocation::{POLL_INTERVAL, STALE_AFTER};
    assert!(
        broken.elapsed() >= STALE_AFTER - POLL_INTERVAL,
        "{:?}",
        broken.elapsed()
    );
    // Meanwhile no bearer token is taken on trust: the process cannot know
    // whether its session was revoked.
    assert_eq!(app.me(&ada.access).await.status(), 503);
    sqlx::query("ALTER TABLE sessions RENAME COLUMN hidden_seq TO revoked_seq")
        .execute(&db)
        .await
        .unwrap();
    let repaired = Instant::now();
    while ready().await != 200 {
        assert!(
            repaired.elapsed() < Duration::from_secs(5),
            "not ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

/// An instance that cannot read the signing-key ring might miss a key
/// revoked elsewhere: after five seconds it stops trusting its keys, as it
/// does its revoked sessions, and comes back when the ring reads again.
#[tokio::test]
async fn readyz_and_bearer_requests_fail_while_the_key_ring_cannot_be_read() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let db = app.db().await;
    let ready = || async { app.get("/readyz").await.status().as_u16() };
    assert_eq!(ready().await, 200);
    sqlx::query("ALTER TABLE signing_keys RENAME COLUMN public_jwk TO hidden_jwk")
        .execute(&db)
        .await
        .unwrap();
    let broken = Instant::now();
    while ready().await != 503 {
        assert!(
            broken.elapsed() < Duration::from_secs(15),
            "still ready after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    use server::auth::{jwt::RING_STALE_AFTER, keys::RELOAD_INTERVAL};
    assert!(
        broken.elapsed() >= RING_STALE_AFTER - RELOAD_INTERVAL,
        "{:?}",
        broken.elapsed()
    );
    assert_eq!(app.me(&ada.access).await.status(), 503);
    sqlx::query("ALTER TABLE signing_keys RENAME COLUMN hidden_jwk TO public_jwk")
        .execute(&db)
        .await
        .unwrap();
    let repaired = Instant::now();
    while ready().await != 200 {
        assert!(
            repaired.elapsed() < Duration::from_secs(5),
            "not ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.me(&ada.access).await.status(), 200);
}
