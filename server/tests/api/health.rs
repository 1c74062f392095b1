use crate::helpers::TestApp;

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
    assert!(
        app.data_dir.join("app.db").is_file(),
        "database file created"
    );
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
async fn database_runs_in_wal_mode() {
    let app = TestApp::spawn().await;
    let header = std::fs::read(app.data_dir.join("app.db")).unwrap();
    // Bytes 18 and 19 of the SQLite header are 2 for WAL (1 for rollback journal).
    assert_eq!((header[18], header[19]), (2, 2));
}

#[tokio::test]
async fn server_finishes_cleanly_on_shutdown_signal() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await.expect("clean shutdown");
}
