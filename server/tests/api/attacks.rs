//! Attacks fired at the real binary all at once, with every outcome counted.
//! A rule that holds for one request must hold for two hundred at the same
//! moment, and across processes that share one database.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::{
    binary::{
        Server, database, me_status, prove, refused_within, runtime, set_role, signup, tally,
    },
    helpers::{PASSWORD, claims, client},
};

const WRONG: &str = "a wrong password, a wrong password";

/// Logs in as `login` with `password`; returns the status and the body.
async fn login(
    client: &reqwest::Client,
    server: &Server,
    login: &str,
    password: &str,
) -> (u16, Value) {
    let response = client
        .post(server.url("/api/auth/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `role` claim of an access token (read, not verified).
fn role_claim(access: &str) -> String {
    claims(access)["role"].as_str().unwrap().to_owned()
}

/// Makes `who` an admin through the operator command.
fn make_admin(dir: &std::path::Path, who: &str) {
    let output = set_role(dir, who, "admin");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn two_hundred_wrong_passwords_at_once_for_one_account_compute_at_most_five_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("AUTH_REQUESTS_PER_IP", "100000/5m")]);
    runtime().block_on(async {
        let client = client();
        signup(&client, &server, "ada").await;
        let guesses = (0..200).map(|_| login(&client, &server, "ada", WRONG));
        let outcomes = tally(join_all(guesses).await.into_iter().map(|(s, _)| s));
        // Each 401 is a password hash; a 429 computed none.
        assert_eq!(outcomes, [(401, 5), (429, 195)].into(), "{outcomes:?}");
        // The account's owner is refused too, until the window ends.
        assert_eq!(login(&client, &server, "ada", PASSWORD).await.0, 429);
    });
    server.stop();
}

#[test]
fn every_spelling_of_an_account_s_name_shares_one_failure_budget_even_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("AUTH_REQUESTS_PER_IP", "100000/5m")]);
    runtime().block_on(async {
        let client = client();
        signup(&client, &server, "ada").await;
        let spellings = [
            "ada",
            "ADA",
            "Ada",
            "ada@example.com",
            "ADA@Example.COM",
            " ada ",
        ];
        let guesses =
            (0..120).map(|i| login(&client, &server, spellings[i % spellings.len()], WRONG));
        let outcomes = tally(join_all(guesses).await.into_iter().map(|(s, _)| s));
        assert_eq!(outcomes, [(401, 5), (429, 115)].into(), "{outcomes:?}");
    });
    server.stop();
}

#[test]
fn a_typed_login_name_cannot_spend_another_account_s_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Both failure limits over the same window, so that their counters
    // share window starts and a joined key would meet another one.
    let server = Server::start(
        dir.path(),
        &[
            ("AUTH_REQUESTS_PER_IP", "100000/5m"),
            ("LOGIN_FAILURES_PER_ACCOUNT", "100/15m"),
        ],
    );
    runtime().block_on(async {
        let client = client();
        signup(&client, &server, "ada").await;
        // A name that spells "ada" and this client's address, as a key
        // joined with ":" would: its budget is its own.
        for _ in 0..5 {
            assert_eq!(login(&client, &server, "ada:127.0.0.1", WRONG).await.0, 401);
        }
        assert_eq!(login(&client, &server, "ada:127.0.0.1", WRONG).await.0, 429);
        assert_eq!(login(&client, &server, "ada", PASSWORD).await.0, 200);
    });
    server.stop();
}

#[test]
fn login_names_over_254_characters_are_refused_and_count_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("AUTH_REQUESTS_PER_IP", "100000/5m")]);
    runtime().block_on(async {
        let client = client();
        signup(&client, &server, "ada").await;
        let huge = "a".repeat(64 * 1024 - 100);
        for name in ["x".repeat(255), huge] {
            let guesses = (0..20).map(|_| login(&client, &server, &name, WRONG));
            for (status, body) in join_all(guesses).await {
                assert_eq!(status, 422);
                assert_eq!(
                    body["details"],
                    json!([{"field": "login", "issue": "too_long"}])
                );
            }
        }
        // 254 characters is still a login name (of nobody).
        assert_eq!(
            login(&client, &server, &"y".repeat(254), WRONG).await.0,
            401
        );
    });
    server.stop();
    let counters: i64 = runtime().block_on(async {
        sqlx::query_scalar("SELECT COUNT(*) FROM rate_counters WHERE length(key) > 200")
            .fetch_one(&database(dir.path()).await)
            .await
            .unwrap()
    });
    assert_eq!(counters, 0, "no counter is keyed by a long name");
}

/// Eight logins of an admin race one demotion of that admin, five times. The
/// demotion's answer is the moment it committed: from then on, no token
/// that says `admin` may still be accepted.
#[test]
fn no_token_minted_from_a_role_outlives_a_demotion_that_races_its_login() {
    let dir = tempfile::tempdir().unwrap();
    // Eight logins of one account at once count eight attempts in flight.
    let server = Server::start(
        dir.path(),
        &[
            ("AUTH_REQUESTS_PER_IP", "100000/5m"),
            ("LOGIN_FAILURES_PER_ACCOUNT_IP", "100/15m"),
        ],
    );
    let rt = runtime();
    let eve_id = rt.block_on(async {
        let client = client();
        signup(&client, &server, "root").await;
        let eve = signup(&client, &server, "eve").await;
        eve["user"]["id"].as_str().unwrap().to_owned()
    });
    make_admin(dir.path(), "root");
    for round in 0..5 {
        make_admin(dir.path(), "eve");
        rt.block_on(async {
            let client = client();
            let (_, root) = login(&client, &server, "root", PASSWORD).await;
            let root_access = root["access_token"].as_str().unwrap().to_owned();
            prove(&client, &server, &root_access).await;
            let logins = join_all((0..8).map(|_| login(&client, &server, "eve", PASSWORD)));
            let demotion = async {
                let response = client
                    .patch(server.url(&format!("/api/users/{eve_id}/role")))
                    .bearer_auth(&root_access)
                    .json(&json!({"role": "student"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "round {round}");
            };
            let (logins, ()) = futures::join!(logins, demotion);
            for (status, body) in logins {
                assert_eq!(status, 200);
                let access = body["access_token"].as_str().unwrap();
                let claimed = role_claim(access);
                assert_eq!(
                    claimed, body["user"]["role"],
                    "the body says what the token says"
                );
                if claimed == "admin" {
                    // Revoked by the demotion: refused on this instance at once.
                    assert_eq!(
                        me_status(&client, &server, access).await,
                        401,
                        "round {round}: a token that says admin survived the demotion"
                    );
                }
            }
        });
    }
    server.stop();
}

#[test]
fn the_last_admin_cannot_be_demoted_even_by_two_admins_demoting_each_other_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("AUTH_REQUESTS_PER_IP", "100000/5m")]);
    let rt = runtime();
    let (root_id, eve_id) = rt.block_on(async {
        let client = client();
        let root = signup(&client, &server, "root").await;
        let eve = signup(&client, &server, "eve").await;
        (
            root["user"]["id"].as_str().unwrap().to_owned(),
            eve["user"]["id"].as_str().unwrap().to_owned(),
        )
    });
    make_admin(dir.path(), "root");
    rt.block_on(async {
        let client = client();
        let (_, root) = login(&client, &server, "root", PASSWORD).await;
        let root_access = root["access_token"].as_str().unwrap().to_owned();
        prove(&client, &server, &root_access).await;
        let demote = |who: String, token: String| {
            let client = client.clone();
            let url = server.url(&format!("/api/users/{who}/role"));
            async move {
                let response = client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&json!({"role": "teacher"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body)
            }
        };
        // The only admin demotes themselves.
        let (status, body) = demote(root_id.clone(), root_access.clone()).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
        assert_eq!(
            me_status(&client, &server, &root_access).await,
            200,
            "nothing changed"
        );
    });
    make_admin(dir.path(), "eve");
    let remaining = rt.block_on(async {
        let client = client();
        let (_, root) = login(&client, &server, "root", PASSWORD).await;
        let (_, eve) = login(&client, &server, "eve", PASSWORD).await;
        for admin in [&root, &eve] {
            prove(&client, &server, admin["access_token"].as_str().unwrap()).await;
        }
        let request = |who: &str, token: &Value| {
            client
                .patch(server.url(&format!("/api/users/{who}/role")))
                .bearer_auth(token["access_token"].as_str().unwrap())
                .json(&json!({"role": "teacher"}))
                .send()
        };
        let (root_demotes_eve, eve_demotes_root) =
            futures::join!(request(&eve_id, &root), request(&root_id, &eve));
        let (a, b) = (
            root_demotes_eve.unwrap().status().as_u16(),
            eve_demotes_root.unwrap().status().as_u16(),
        );
        // The second is refused: as the last admin (409), or, when the first
        // demotion committed before its token was checked, because that
        // demotion ended its sessions (401).
        let outcomes = tally([a, b]);
        assert_eq!(
            outcomes.get(&200),
            Some(&1),
            "exactly one demotion: {outcomes:?}"
        );
        assert!(
            outcomes.keys().all(|s| [200, 401, 409].contains(s)),
            "{outcomes:?}"
        );
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .fetch_one(&database(dir.path()).await)
            .await
            .unwrap();
        assert_eq!(admins, 1, "exactly one admin remains");
        if a == 200 { "root" } else { "eve" }
    });
    server.stop();

    // The operator command keeps the same rule.
    let output = set_role(dir.path(), remaining, "student");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("last admin"), "{stderr}");
}

/// A revocation stamped by an instance whose clock is behind (by 3 s, more
/// than any look-back a poller could choose) and committed after another
/// instance has seen later revocations must still reach that instance.
#[test]
fn a_revocation_from_an_instance_with_a_slow_clock_reaches_every_instance() {
    let faketime = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("libfaketime (Debian package libfaketime; scripts/test installs it)");
    let dir = tempfile::tempdir().unwrap();
    let shared = [("AUTH_REQUESTS_PER_IP", "100000/5m")];
    let watcher = Server::start(dir.path(), &shared);
    let on_time = Server::start(dir.path(), &shared);
    let late = Server::start(
        dir.path(),
        &[
            shared[0],
            ("LD_PRELOAD", faketime),
            ("FAKETIME", "-3s"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    runtime().block_on(async {
        let client = client();
        let first = signup(&client, &on_time, "ada").await;
        let (_, second) = login(&client, &on_time, "ada", PASSWORD).await;
        let token = |body: &Value, key: &str| body[key].as_str().unwrap().to_owned();

        // The watcher learns of a revocation through its poll...
        let logout = |server: &Server, refresh: String| {
            client
                .post(server.url("/api/auth/logout"))
                .json(&json!({"refresh_token": refresh}))
                .send()
        };
        assert_eq!(
            logout(&on_time, token(&first, "refresh_token"))
                .await
                .unwrap()
                .status(),
            204
        );
        refused_within(
            &client,
            &watcher,
            &token(&first, "access_token"),
            Duration::from_secs(1),
        )
        .await;
        // ...then the late instance revokes, stamping a time 3 s in the past:
        // it must reach the watcher all the same.
        assert_eq!(
            logout(&late, token(&second, "refresh_token"))
                .await
                .unwrap()
                .status(),
            204
        );
        refused_within(
            &client,
            &watcher,
            &token(&second, "access_token"),
            Duration::from_secs(1),
        )
        .await;
    });
    late.stop();
    on_time.stop();
    watcher.stop();
}
