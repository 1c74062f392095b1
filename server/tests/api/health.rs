use std::time::Duration;

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
    let Err(error) = server::startup::Application::build(config).await else {
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
    use server::auth::revocation::{POLL_INTERVAL, STALE_AFTER};
    // The last good poll was at most one interval before the break.
    fails_closed_while_hidden(
        "sessions",
        "revoked_seq",
        STALE_AFTER - POLL_INTERVAL,
        Duration::from_secs(10),
    )
    .await;
}

/// An instance that cannot read the signing-key ring might miss a key
/// revoked elsewhere: after five seconds it stops trusting its keys, as it
/// does its revoked sessions, and comes back when the ring reads again.
#[tokio::test]
async fn readyz_and_bearer_requests_fail_while_the_key_ring_cannot_be_read() {
    use server::auth::{jwt::RING_STALE_AFTER, keys::RELOAD_INTERVAL};
    fails_closed_while_hidden(
        "signing_keys",
        "public_jwk",
        RING_STALE_AFTER - RELOAD_INTERVAL,
        Duration::from_secs(15),
    )
    .await;
}

/// Hides `column` of `table` from a running server (renames it), and
/// checks that `GET /readyz` turns `503` no sooner than `not_before` and
/// within `within`, that a bearer token is then not taken on trust (the
/// process cannot know whether it was revoked), and that both recover
/// within 5 s of the column coming back.
async fn fails_closed_while_hidden(
    table: &str,
    column: &str,
    not_before: Duration,
    within: Duration,
) {
    use std::time::Instant;
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let db = app.db().await;
    let ready = || async { app.get("/readyz").await.status().as_u16() };
    let rename = |from: &str, to: &str| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} RENAME COLUMN {from} TO {to}"
        )))
    };
    assert_eq!(ready().await, 200);
    rename(column, "hidden").execute(&db).await.unwrap();
    let broken = Instant::now();
    while ready().await != 503 {
        assert!(broken.elapsed() < within, "still ready after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(broken.elapsed() >= not_before, "{:?}", broken.elapsed());
    assert_eq!(app.me(&ada.access).await.status(), 503);
    rename("hidden", column).execute(&db).await.unwrap();
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
