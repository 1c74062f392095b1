//! Crash safety: the real binary killed with SIGKILL in the middle of a write
//! load keeps every write it answered `2xx`, and its database stays whole.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    binary::{Server, database, runtime, signup},
    helpers::{PASSWORD, client},
};

/// What the load saw answered with success.
#[derive(Default)]
struct Answered {
    usernames: Vec<String>,
    posts: Vec<String>,
    /// The last refresh token each chain was answered.
    tokens: Vec<String>,
}

#[test]
fn a_server_killed_in_the_middle_of_writes_keeps_every_write_it_answered() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("AUTH_REQUESTS_PER_IP", "1000000/5m"),
        ("SIGNUPS_PER_IP", "1000000/5m"),
        ("POSTS_PER_USER", "1000000/10m"),
    ];
    let mut server = Server::start(dir.path(), &env);
    let answered = Arc::new(Mutex::new(Answered::default()));
    let rt = runtime();
    rt.block_on(async {
        let client = client();
        let mut seeds = Vec::new();
        for i in 0..6 {
            seeds.push(signup(&client, &server, &format!("seed{i}")).await);
        }
        let mut load = tokio::task::JoinSet::new();
        for (i, seed) in seeds.into_iter().enumerate() {
            let (client, base, answered) = (client.clone(), server.address.clone(), answered.clone());
            load.spawn(async move {
                let access = seed["access_token"].as_str().unwrap().to_owned();
                let mut refresh = seed["refresh_token"].as_str().unwrap().to_owned();
                answered.lock().unwrap().tokens.push(refresh.clone());
                let chain = answered.lock().unwrap().tokens.len() - 1;
                for n in 0.. {
                    // Each worker mixes the three kinds of write.
                    let result = match n % 3 {
                        0 => {
                            let username = format!("w{i}n{n}");
                            client
                                .post(format!("{base}/api/auth/signup"))
                                .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}))
                                .send()
                                .await
                                .map(|r| (r.status().as_u16(), Value::String(username)))
                        }
                        1 => match client
                            .post(format!("{base}/api/posts"))
                            .bearer_auth(&access)
                            .json(&json!({"title": format!("post {i}.{n}"), "body": "crash test"}))
                            .send()
                            .await
                        {
                            Ok(r) if r.status() == 201 => r
                                .json::<Value>()
                                .await
                                .map(|b| (201, b["post"]["id"].clone())),
                            Ok(r) => Ok((r.status().as_u16(), Value::Null)),
                            Err(e) => Err(e),
                        },
                        _ => match client
                            .post(format!("{base}/api/auth/refresh"))
                            .json(&json!({"refresh_token": refresh}))
                            .send()
                            .await
                        {
                            Ok(r) if r.status() == 200 => r
                                .json::<Value>()
                                .await
                                .map(|b| (200, b["refresh_token"].clone())),
                            Ok(r) => Ok((r.status().as_u16(), Value::Null)),
                            Err(e) => Err(e),
                        },
                    };
                    // The first failure is the kill: this worker is done.
                    let Ok((status, what)) = result else { return };
                    let mut seen = answered.lock().unwrap();
                    match (n % 3, status) {
                        (0, 201) => seen.usernames.push(what.as_str().unwrap().to_owned()),
                        (1, 201) => seen.posts.push(what.as_str().unwrap().to_owned()),
                        (2, 200) => {
                            refresh = what.as_str().unwrap().to_owned();
                            seen.tokens[chain] = refresh.clone();
                        }
                        (_, status) => panic!("write {n} of worker {i} answered {status}"),
                    }
                }
            });
        }
        // Let the load run, then pull the plug without warning.
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.kill();
        while load.join_next().await.is_some() {}
    });

    let seen = answered.lock().unwrap();
    assert!(
        seen.usernames.len() >= 3 && seen.posts.len() >= 3,
        "the load wrote too little before the kill to test anything: {} signups, {} posts",
        seen.usernames.len(),
        seen.posts.len()
    );
    let server = Server::start(dir.path(), &env);
    rt.block_on(async {
        let client = client();
        for id in &seen.posts {
            let response = client
                .get(server.url(&format!("/api/posts/{id}")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "post {id} was answered 201");
        }
        let db = database(dir.path()).await;
        if !crate::helpers::on_postgres() {
            // SQLite's own check of the file (PostgreSQL's WAL replay is
            // not the server's to verify).
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(integrity, "ok");
        }
        for username in &seen.usernames {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&db)
                    .await
                    .unwrap();
            assert!(found.is_some(), "signup of {username} was answered 201");
        }
        for token in &seen.tokens {
            // Answered, so stored: live, or spent by a request whose answer
            // the kill swallowed (and then its successor is stored).
            let row: Option<(Option<i64>, Option<Vec<u8>>)> =
                sqlx::query_as("SELECT spent_at, successor FROM refresh_tokens WHERE hash = $1")
                    .bind(Sha256::digest(token.as_bytes()).to_vec())
                    .fetch_optional(&db)
                    .await
                    .unwrap();
            match row {
                Some((None, _)) | Some((Some(_), Some(_))) => {}
                other => panic!("an answered refresh token is missing or orphaned: {other:?}"),
            }
        }
        let forked: Vec<(String, i64)> = sqlx::query_as(
            "SELECT session_id, COUNT(*) FROM refresh_tokens WHERE spent_at IS NULL
             GROUP BY session_id HAVING COUNT(*) > 1",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(
            forked.is_empty(),
            "families with two live tokens: {forked:?}"
        );
        db.close().await;
    });
    server.stop();
}
