//! Apps (OAuth clients), registered from the shell as an operator does:
//! `server clients add | list | rotate-secret | remove`.

use std::path::Path;

use sqlx::Row;

use crate::binary::{Server, command, database, runtime};

/// Runs `server clients ARGS…` in `dir`: success, stdout, stderr.
fn clients(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = command()
        .current_dir(dir)
        .env("DATABASE_URL", crate::binary::database_url(dir))
        .arg("clients")
        .args(args)
        .output()
        .expect("the server binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A folder where the server ran once, as an operator's is: it holds the
/// server secret an app's secret is hashed under.
fn served_once() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Server::start(dir.path(), &[]).stop();
    dir
}

/// The value after `label: ` on its line of `text`.
fn labelled<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(label)?.strip_prefix(": "))
}

#[test]
fn an_app_is_registered_listed_given_a_new_secret_and_removed_from_the_shell() {
    let dir = served_once();
    let (ok, said, err) = clients(
        dir.path(),
        &[
            "add",
            "School library",
            "--redirect-uri",
            "https://library.example/callback",
            "--redirect-uri",
            "http://127.0.0.1:8080/callback",
            "--scope",
            "openid profile grades:read offline_access",
            "--post-logout-redirect-uri",
            "https://library.example/",
        ],
    );
    assert!(ok, "{said}{err}");
    let id = labelled(&said, "client_id")
        .expect("a client_id")
        .to_owned();
    let secret = labelled(&said, "client_secret")
        .expect("a secret")
        .to_owned();
    assert!(id.len() >= 22 && secret.len() >= 43, "{said}");

    let (ok, listed, _) = clients(dir.path(), &["list"]);
    assert!(ok);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    for part in [
        id.as_str(),
        "confidential",
        "\"School library\"",
        "openid profile grades:read offline_access",
        "authorization_code refresh_token",
        "https://library.example/callback http://127.0.0.1:8080/callback",
    ] {
        assert!(listed.contains(part), "{part} not in {listed}");
    }
    assert!(!listed.contains(&secret), "the list shows no secret");

    // Stored only as a hash, and nowhere readable.
    let rt = runtime();
    let db = rt.block_on(database(dir.path()));
    let stored = |db: &sqlx::AnyPool| {
        rt.block_on(async {
            let row = sqlx::query("SELECT secret_hash FROM clients WHERE id = $1")
                .bind(&id)
                .fetch_one(db)
                .await
                .unwrap();
            row.get::<Vec<u8>, _>("secret_hash")
        })
    };
    let first_hash = stored(&db);
    assert_eq!(first_hash.len(), 32);
    assert!(!String::from_utf8_lossy(&first_hash).contains(&secret));

    let (ok, said, _) = clients(dir.path(), &["rotate-secret", &id]);
    assert!(ok, "{said}");
    let new_secret = labelled(&said, "client_secret").expect("a new secret");
    assert_ne!(new_secret, secret);
    assert_ne!(stored(&db), first_hash, "the old secret's hash is gone");

    let (ok, said, _) = clients(dir.path(), &["remove", &id]);
    assert!(ok, "{said}");
    let (ok, listed, _) = clients(dir.path(), &["list"]);
    assert!(ok && listed.trim().is_empty(), "{listed}");
    let (ok, _, err) = clients(dir.path(), &["remove", &id]);
    assert!(!ok);
    assert!(err.contains("no app has the client_id"), "{err}");

    // Each change is in the audit log, naming the app and never a secret.
    let events: Vec<(String, String)> = rt.block_on(async {
        sqlx::query("SELECT kind, detail FROM audit_events ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get("kind"), row.get("detail")))
            .collect()
    });
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["client_added", "client_secret_rotated", "client_removed"]
    );
    assert!(events[0].1.contains(&id) && events[0].1.contains("School library"));
    for (_, detail) in &events {
        assert!(!detail.contains(&secret) && !detail.contains(new_secret));
    }
    rt.block_on(db.close());
}

/// Where no server ever ran (a mistyped folder), a secret made anew would
/// not be the server's: the app's secret would be hashed under a key the
/// server does not have, and never work. The command says so instead.
#[test]
fn a_command_run_where_the_server_never_ran_makes_no_secret_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, said, err) = clients(
        dir.path(),
        &[
            "add",
            "Library",
            "--redirect-uri",
            "https://library.example/cb",
        ],
    );
    assert!(!ok, "{said}");
    assert!(err.contains("there is no server secret"), "{err}");
    assert!(!said.contains("client_secret"), "{said}");
    assert!(!dir.path().join("data/jwt_secret").exists());
}

#[test]
fn a_public_app_has_no_secret_to_show_or_replace() {
    let dir = served_once();
    let (ok, said, err) = clients(
        dir.path(),
        &[
            "add",
            "Board for phones",
            "--public",
            "--redirect-uri",
            "com.example.board:/callback",
        ],
    );
    assert!(ok, "{said}{err}");
    assert!(labelled(&said, "client_secret").is_none(), "{said}");
    let id = labelled(&said, "client_id").unwrap().to_owned();
    let (ok, listed, _) = clients(dir.path(), &["list"]);
    assert!(ok && listed.contains("public"), "{listed}");
    let (ok, _, err) = clients(dir.path(), &["rotate-secret", &id]);
    assert!(!ok);
    assert!(err.contains("is public: it has no secret"), "{err}");
}

/// A `client_id` is base64url, so one in 64 begins with `-`: the shell's
/// commands take it as the id, not as a flag (nor a `kid`, alike).
#[test]
fn ids_that_begin_with_a_dash_are_ids_to_the_shell() {
    let dir = served_once();
    for command in ["remove", "rotate-secret"] {
        let (ok, _, err) = clients(dir.path(), &[command, "-f0oBar"]);
        assert!(!ok);
        assert!(err.contains("no app has the client_id"), "{command}: {err}");
    }
}

#[test]
fn a_registration_against_the_rules_is_refused_with_every_reason_and_stores_nothing() {
    let dir = served_once();
    let (ok, said, err) = clients(
        dir.path(),
        &[
            "add",
            "Sneaky",
            "--redirect-uri",
            "http://evil.example/cb",
            "--redirect-uri",
            "https://library.example/cb#fragment",
            "--redirect-uri",
            "javascript:alert(1)",
            "--scope",
            "openid admin",
            "--grant",
            "password",
        ],
    );
    assert!(!ok, "{said}");
    for reason in [
        "http only on localhost",
        "no fragment",
        "private-use scheme",
        "\"admin\" is not a scope",
        "\"password\" is not a grant",
    ] {
        assert!(err.contains(reason), "{reason} not in {err}");
    }
    let (ok, listed, _) = clients(dir.path(), &["list"]);
    assert!(ok && listed.trim().is_empty(), "{listed}");
    // A service that reads grades needs no redirect URI; a public app
    // cannot be one (it has no secret).
    let (ok, said, err) = clients(
        dir.path(),
        &[
            "add",
            "Reports",
            "--grant",
            "client_credentials",
            "--scope",
            "grades:read",
        ],
    );
    assert!(ok, "{said}{err}");
    let (ok, _, err) = clients(
        dir.path(),
        &[
            "add",
            "Reports",
            "--public",
            "--grant",
            "client_credentials",
        ],
    );
    assert!(!ok);
    assert!(err.contains("cannot use client_credentials"), "{err}");
}

mod console {
    //! The same register through `/api/admin/clients`, as the admin
    //! console uses it: admins only, changes from a proven session only.

    use reqwest::Method;
    use serde_json::{Value, json};

    use crate::helpers::{TestApp, error_code, unproven_admin};

    #[tokio::test]
    async fn admins_register_list_rotate_and_remove_apps_from_a_proven_session() {
        let app = TestApp::spawn().await;
        let root = unproven_admin(&app, "root").await;
        let ada = app.signup("ada").await;
        let new = json!({
            "name": "School library",
            "redirect_uris": ["https://library.example/callback"],
            "scopes": ["openid", "profile", "grades:read"],
        });

        // Not an admin: 403 whatever the proof; an admin: a proven session.
        let student = app
            .bearer_json(Method::POST, "/api/admin/clients", &ada.access, new.clone())
            .await;
        assert_eq!(student.status(), 403);
        // Nor does a body of the wrong shape tell them anything first.
        let shapeless = app
            .bearer_json(
                Method::POST,
                "/api/admin/clients",
                &ada.access,
                json!({"nme": 5}),
            )
            .await;
        assert_eq!(shapeless.status(), 403);
        let listed = app
            .bearer(Method::GET, "/api/admin/clients", &ada.access)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 403);
        let unproven = app
            .bearer_json(
                Method::POST,
                "/api/admin/clients",
                &root.access,
                new.clone(),
            )
            .await;
        assert_eq!(unproven.status(), 403);
        assert_eq!(error_code(unproven).await, "reauth_required");

        app.prove(&root).await;
        let created = app
            .bearer_json(Method::POST, "/api/admin/clients", &root.access, new)
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let id = created["client"]["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(created["client"]["public"], false);
        assert_eq!(
            created["client"]["scopes"],
            json!(["openid", "profile", "grades:read"])
        );
        assert_eq!(
            created["client"]["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );

        let page = app.get_json("/api/admin/clients", &root.access).await;
        assert_eq!(page["clients"].as_array().unwrap().len(), 1);
        assert_eq!(page["clients"][0]["client_id"], id.as_str());
        assert!(
            !page.to_string().contains(&secret),
            "a list shows no secret"
        );

        let rotated = app
            .bearer_json(
                Method::POST,
                &format!("/api/admin/clients/{id}/secret"),
                &root.access,
                json!({}),
            )
            .await;
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);

        // The admin who did it is named in the log; no secret is.
        let events = app
            .get_json("/api/admin/audit?kind=client_added", &root.access)
            .await;
        let event = &events["events"][0];
        assert_eq!(event["actor_id"], root.id.as_str(), "{events}");
        assert!(event["detail"].as_str().unwrap().contains(&id));

        let removed = app
            .bearer(
                Method::DELETE,
                &format!("/api/admin/clients/{id}"),
                &root.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(removed.status(), 204);
        let again = app
            .bearer(
                Method::DELETE,
                &format!("/api/admin/clients/{id}"),
                &root.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 404);
        let page = app.get_json("/api/admin/clients", &root.access).await;
        assert_eq!(page["clients"], json!([]));
    }

    #[tokio::test]
    async fn a_refused_registration_names_each_field_and_why() {
        let app = TestApp::spawn().await;
        let root = app.user_with_role("root", "admin").await;
        let refused = app
            .bearer_json(
                Method::POST,
                "/api/admin/clients",
                &root.access,
                json!({
                    "name": "  ",
                    "redirect_uris": ["http://evil.example/cb", "https://ok.example/cb#frag"],
                    "scopes": ["openid", "admin"],
                }),
            )
            .await;
        assert_eq!(refused.status(), 422);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["details"],
            json!([
                {"field": "name", "issue": "required"},
                {"field": "redirect_uris", "issue": "invalid"},
                {"field": "scopes", "issue": "invalid"},
            ]),
            "{body}"
        );
        let why = body["error_description"].as_str().unwrap();
        assert!(
            why.contains("http only on localhost") && why.contains("no fragment"),
            "{why}"
        );
        let page = app.get_json("/api/admin/clients", &root.access).await;
        assert_eq!(page["clients"], json!([]), "nothing stored");

        // A misspelt field is refused, not ignored: `is_public` would
        // otherwise register a confidential app.
        let typo = app
            .bearer_json(
                Method::POST,
                "/api/admin/clients",
                &root.access,
                json!({"name": "Phones", "is_public": true, "redirect_uris": ["com.example.board:/cb"]}),
            )
            .await;
        assert!(typo.status().is_client_error(), "{}", typo.status());

        // A public app has no secret to replace.
        let public = app
            .bearer_json(
                Method::POST,
                "/api/admin/clients",
                &root.access,
                json!({"name": "Phones", "public": true, "redirect_uris": ["com.example.board:/cb"]}),
            )
            .await;
        assert_eq!(public.status(), 201);
        let public: Value = public.json().await.unwrap();
        assert_eq!(public["client_secret"], Value::Null);
        let id = public["client"]["client_id"].as_str().unwrap();
        let rotate = app
            .bearer_json(
                Method::POST,
                &format!("/api/admin/clients/{id}/secret"),
                &root.access,
                json!({}),
            )
            .await;
        assert_eq!(rotate.status(), 409);
    }
}
