//! The real binary, as an operator starts it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    binary::{Server, command, me_status, refused_within, runtime, set_role, signup},
    helpers::PASSWORD,
};

/// Runs the binary in a fresh folder with `env`, requires it to fail, and
/// returns what it printed on standard error.
fn fails_to_start(env: &[(&str, &str)], prepare: impl FnOnce(&std::path::Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let mut cmd = command();
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
    let server = Server::start(dir.path(), &[]);
    let address = server.address.clone();
    let rt = runtime();
    let status = rt.block_on(async {
        reqwest::get(format!("{address}/readyz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    // Defaults put the database and the secret under ./data.
    if !crate::helpers::on_postgres() {
        assert!(dir.path().join("data/app.db").is_file());
    }
    assert!(dir.path().join("data/jwt_secret").is_file());
    server.stop();
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("LOG_FORMAT", "json")]);
    let rt = runtime();
    rt.block_on(async {
        signup(&reqwest::Client::new(), &server, "ada").await;
    });
    let logs = server.stop();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{logs}");
    for line in &lines {
        let object: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(
            object["timestamp"].is_string() && object["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"message\":\"listening on http://")),
        "{logs}"
    );
}

#[test]
fn an_unknown_log_format_or_metrics_address_stops_start_up() {
    let stderr = fails_to_start(&[("LOG_FORMAT", "xml")], |_| {});
    assert!(stderr.starts_with("error: LOG_FORMAT: "), "{stderr}");
    let stderr = fails_to_start(&[("METRICS_ADDR", "everywhere")], |_| {});
    assert!(stderr.starts_with("error: METRICS_ADDR: "), "{stderr}");
}

#[test]
fn loopback_calls_are_refused_to_a_server_that_is_not_itself_on_loopback() {
    let stderr = fails_to_start(
        &[
            ("ALLOW_LOOPBACK_CALLS", "true"),
            ("PUBLIC_URL", "https://board.example"),
        ],
        |_| {},
    );
    assert!(stderr.contains("ALLOW_LOOPBACK_CALLS"), "{stderr}");
    assert!(stderr.contains("https://board.example"), "{stderr}");
}

#[test]
fn no_log_line_contains_a_password_hash_token_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "log-test-secret-log-test-secret-log-test";
    let server = Server::start(dir.path(), &[("RUST_LOG", "debug"), ("JWT_SECRET", secret)]);
    let address = server.address.clone();

    let rt = runtime();
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
    let logs = server.stop();
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
    let server = Server::start(dir.path(), &[]);
    let address = server.address.clone();
    let rt = runtime();
    rt.block_on(async {
        let response = crate::helpers::client()
            .post(format!("{address}/api/auth/signup"))
            .json(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    });

    let output = set_role(dir.path(), "alice@example.com", "admin");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("alice <alice@example.com> is now admin")
    );

    let output = set_role(dir.path(), "nobody", "admin");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("error: no user has the username or email")
    );
    let output = set_role(dir.path(), "alice", "emperor");
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
    server.stop();
}

#[test]
fn revocation_through_one_server_process_reaches_another_within_a_second() {
    // Two OS processes started in one folder share ./data/app.db and the
    // generated secret in ./data/jwt_secret.
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path(), &[]);
    let second = Server::start(dir.path(), &[]);
    let rt = runtime();
    rt.block_on(async {
        let client = crate::helpers::client();
        let signup = signup(&client, &first, "ada").await;
        let access = signup["access_token"].as_str().unwrap();
        assert_eq!(
            me_status(&client, &second, access).await,
            200,
            "the other process accepts the token"
        );

        let logout = client
            .post(first.url("/api/auth/logout"))
            .json(&json!({"refresh_token": signup["refresh_token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        refused_within(&client, &second, access, Duration::from_secs(1)).await;
    });
    first.stop();
    second.stop();
}

#[test]
fn signing_keys_are_listed_rotated_and_revoked_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("JWT_ALG", "EdDSA")]);
    let keys = |args: &[&str]| {
        let output = command()
            .current_dir(dir.path())
            .env("DATABASE_URL", crate::binary::database_url(dir.path()))
            .env("JWT_ALG", "EdDSA")
            .arg("keys")
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (ok, listed, _) = keys(&["list"]);
    assert!(ok);
    // The board's key; the ring's ID keys (one per algorithm an app may
    // register) are listed too once the server has made them.
    let board: Vec<&str> = listed.lines().filter(|l| l.contains(" access ")).collect();
    assert_eq!(board.len(), 1, "{listed}");
    assert!(
        board[0].contains("EdDSA") && board[0].contains("active"),
        "{listed}"
    );
    let purpose_and_alg = |line: &str| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        (columns[2].to_owned(), columns[1].to_owned())
    };
    assert!(
        listed.lines().map(purpose_and_alg).all(|pair| matches!(
            (pair.0.as_str(), pair.1.as_str()),
            ("access", "EdDSA") | ("id", "RS256") | ("id:EdDSA", "EdDSA") | ("id:ES256", "ES256")
        )),
        "{listed}"
    );
    let first = board[0].split_whitespace().next().unwrap().to_owned();

    let (ok, said, _) = keys(&["rotate"]);
    assert!(ok);
    assert!(said.contains("it signs in 5m"), "{said}");
    let (_, listed, _) = keys(&["list"]);
    assert!(listed.contains("published"), "{listed}");

    let (ok, said, _) = keys(&["revoke", &first]);
    assert!(ok, "{said}");
    assert!(said.contains("signs from now on"), "{said}");
    let (ok, _, stderr) = keys(&["revoke", "nonexistent"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("error: signing keys: no signing key has the id")
            || stderr.contains("no signing key has the id"),
        "{stderr}"
    );
    server.stop();
}

/// An instance given another server secret than the one the ring was sealed
/// with cannot open the signing keys: it says so and stops, rather than
/// starting with no key to sign with.
#[test]
fn another_server_secret_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = "first-secret-first-secret-first-secret-1234";
    Server::start(dir.path(), &[("JWT_SECRET", first)]).stop();
    let mut child = command()
        .current_dir(dir.path())
        .env("DATABASE_URL", crate::binary::database_url(dir.path()))
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("JWT_SECRET", "other-secret-other-secret-other-secret-567")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts anyway would serve forever: give it 30 s.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the server started with a secret that cannot open its keys");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("cannot decrypt signing key"), "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("secret-1234") && !stderr.contains("secret-567"),
        "{stderr}"
    );
}
