//! The real binary, as an operator starts it.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::PASSWORD;

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// Runs the binary in a fresh folder with `env`, requires it to fail, and
/// returns what it printed on standard error.
fn fails_to_start(env: &[(&str, &str)], prepare: impl FnOnce(&std::path::Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let mut cmd = server();
    cmd.current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    assert!(
        !output.status.success(),
        "the server should refuse to start"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn a_bad_configuration_value_stops_start_up_with_one_line_naming_it() {
    let stderr = fails_to_start(&[("ACCESS_TOKEN_TTL", "fifteen minutes-ish")], |_| {});
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: ACCESS_TOKEN_TTL: "), "{stderr}");
}

#[test]
fn a_short_jwt_secret_stops_start_up_without_printing_it() {
    let stderr = fails_to_start(&[("JWT_SECRET", "hunter2hunter2")], |_| {});
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn an_unusable_database_location_stops_start_up_with_a_clear_line() {
    let stderr = fails_to_start(&[("DATABASE_URL", "sqlite://blocker/app.db")], |dir| {
        std::fs::write(dir.join("blocker"), "a file where a folder should be").unwrap();
    });
    assert!(
        stderr.starts_with("error: cannot create the database folder blocker"),
        "{stderr}"
    );
}

#[test]
fn the_binary_serves_on_defaults_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, address, _) = start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("{address}/readyz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    // Defaults put the database and the secret under ./data.
    assert!(dir.path().join("data/app.db").is_file());
    assert!(dir.path().join("data/jwt_secret").is_file());
    stop(child);
}

/// Starts the binary in `dir` with `env`, collecting everything it prints.
fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String, Arc<Mutex<String>>) {
    let mut cmd = server();
    cmd.current_dir(dir)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        sink.lock().unwrap().push_str(&text);
    });
    // Every stdout line is collected; the one naming the address is also
    // sent here, and a server that never logs it fails the test in 30 s.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (found, address) = std::sync::mpsc::channel();
    let sink = output.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(a) = line.split("listening on ").nth(1) {
                let _ = found.send(a.to_owned());
            }
            let mut out = sink.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
    let address = address.recv_timeout(Duration::from_secs(30));
    if address.is_err() {
        let _ = child.kill();
    }
    let address = address.unwrap_or_else(|_| {
        panic!(
            "server did not log its address within 30 s:\n{}",
            output.lock().unwrap()
        )
    });
    (child, address, output)
}

/// Sends SIGTERM and requires a clean exit within 10 seconds.
fn stop(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful exit, got {exit:?}");
}

#[test]
fn no_log_line_contains_a_password_hash_token_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "log-test-secret-log-test-secret-log-test";
    let (child, address, output) =
        start(dir.path(), &[("RUST_LOG", "debug"), ("JWT_SECRET", secret)]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secrets: Vec<String> = rt.block_on(async {
        let client = crate::helpers::client();
        let post =
            |path: &str, body: Value| client.post(format!("{address}{path}")).json(&body).send();
        let signup: Value = post(
            "/api/auth/signup",
            json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let wrong = "a wrong password that must not leak";
        post(
            "/api/auth/login",
            json!({"login": "ada", "password": wrong}),
        )
        .await
        .unwrap();
        let login: Value = post(
            "/api/auth/login",
            json!({"login": "ada", "password": PASSWORD}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let refreshed: Value = post(
            "/api/auth/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        // Reuse after rotation is logged as a warning: with the session, not the token.
        tokio::time::sleep(Duration::from_millis(10)).await;
        post(
            "/api/auth/logout",
            json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await
        .unwrap();
        let mut secrets = vec![
            PASSWORD.to_owned(),
            wrong.to_owned(),
            secret.to_owned(),
            "$argon2".to_owned(),
        ];
        for body in [&signup, &login, &refreshed] {
            secrets.push(body["refresh_token"].as_str().unwrap().to_owned());
            secrets.push(body["access_token"].as_str().unwrap().to_owned());
        }
        secrets
    });
    stop(child);
    std::thread::sleep(Duration::from_millis(100));
    let logs = output.lock().unwrap().clone();
    assert!(
        logs.contains("account created"),
        "debug logs were captured: {logs}"
    );
    assert!(
        logs.contains("/api/auth/login"),
        "requests are logged by route"
    );
    for s in secrets {
        assert!(!logs.contains(&s), "the logs contain {s:?}");
    }
}

#[test]
fn set_role_makes_an_admin_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let (child, address, _) = start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let response = crate::helpers::client()
            .post(format!("{address}/api/auth/signup"))
            .json(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    });

    let output = server()
        .current_dir(dir.path())
        .args(["set-role", "alice@example.com", "admin"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("alice <alice@example.com> is now admin")
    );

    let output = server()
        .current_dir(dir.path())
        .args(["set-role", "nobody", "admin"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("error: no user has the username or email")
    );
    let output = server()
        .current_dir(dir.path())
        .args(["set-role", "alice", "emperor"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a role"));

    rt.block_on(async {
        let login: Value = crate::helpers::client()
            .post(format!("{address}/api/auth/login"))
            .json(&json!({"login": "alice", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(login["user"]["role"], "admin");
    });
    stop(child);
}

#[test]
fn revocation_through_one_server_process_reaches_another_within_a_second() {
    // Two OS processes started in one folder share ./data/app.db and the
    // generated secret in ./data/jwt_secret.
    let dir = tempfile::tempdir().unwrap();
    let (first, first_address, _) = start(dir.path(), &[]);
    let (second, second_address, _) = start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = crate::helpers::client();
        let signup: Value = client
            .post(format!("{first_address}/api/auth/signup"))
            .json(&json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = signup["access_token"].as_str().unwrap().to_owned();
        let me = |base: String| {
            let client = client.clone();
            let access = access.clone();
            async move {
                client
                    .get(format!("{base}/api/me"))
                    .bearer_auth(access)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(
            me(second_address.clone()).await,
            200,
            "the other process accepts the token"
        );

        let logout = client
            .post(format!("{first_address}/api/auth/logout"))
            .json(&json!({"refresh_token": signup["refresh_token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        let revoked_at = std::time::Instant::now();
        while me(second_address.clone()).await != 401 {
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "not refused within one second"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    stop(first);
    stop(second);
}
