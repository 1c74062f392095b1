use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, header, user_from};

#[tokio::test]
async fn refresh_rotates_the_token_and_spends_the_old_one() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE", "1s")]).await;
    let ada = app.signup("ada").await;
    let response = app.refresh(&ada.refresh).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let next = user_from(response.json().await.unwrap());
    assert_ne!(next.refresh, ada.refresh, "a new refresh token");
    assert_eq!(app.me(&next.access).await.status(), 200);

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let again = app.refresh(&next.refresh).await;
    assert_eq!(again.status(), 200, "the successor is live");
}

#[tokio::test]
async fn a_rotated_token_reused_after_grace_revokes_the_whole_family() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE", "1s")]).await;
    let ada = app.signup("ada").await;
    let victim = user_from(app.refresh(&ada.refresh).await.json().await.unwrap());
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    // The thief replays the old token.
    let response = app.refresh(&ada.refresh).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");

    // The victim's current refresh token is dead too, and says why; so are the family's access tokens.
    let response = app.refresh(&victim.refresh).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], classboard::api::ENDED_FOR_SAFETY);
    for access in [&ada.access, &victim.access] {
        let response = app.me(access).await;
        assert_eq!(response.status(), 401);
        assert!(header(&response, "www-authenticate").contains(r#"error="invalid_token""#));
    }
}

#[tokio::test]
async fn a_token_re_presented_within_grace_gets_the_same_successor() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let first = user_from(app.refresh(&ada.refresh).await.json().await.unwrap());
    let second_response = app.refresh(&ada.refresh).await;
    assert_eq!(second_response.status(), 200);
    let second = user_from(second_response.json().await.unwrap());
    assert_eq!(
        first.refresh, second.refresh,
        "every tab ends up with the one live token"
    );
    assert_eq!(app.refresh(&second.refresh).await.status(), 200);
}

#[tokio::test]
async fn only_the_most_recently_rotated_token_gets_grace() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let second = user_from(app.refresh(&ada.refresh).await.json().await.unwrap());
    let _third = user_from(app.refresh(&second.refresh).await.json().await.unwrap());
    // The first token's successor has itself been rotated: this is reuse.
    let response = app.refresh(&ada.refresh).await;
    assert_eq!(response.status(), 400);
    assert_eq!(app.me(&second.access).await.status(), 401);
}

#[tokio::test]
async fn fifty_concurrent_refreshes_of_one_token_leave_exactly_one_live_successor() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let attempts = (0..50).map(|_| async {
        let response = app.refresh(&ada.refresh).await;
        assert_eq!(response.status(), 200);
        user_from(response.json::<Value>().await.unwrap()).refresh
    });
    let tokens = futures::future::join_all(attempts).await;
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all got the same successor"
    );
    let live: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE spent_at IS NULL")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(live, 1);
    assert_eq!(app.refresh(&tokens[0]).await.status(), 200);
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_invalid_grant() {
    let app = TestApp::spawn_with(&[("REFRESH_TOKEN_TTL", "1s")]).await;
    let response = app.refresh("not-a-token-we-ever-issued").await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");

    let ada = app.signup("ada").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let response = app.refresh(&ada.refresh).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn refresh_without_any_token_is_invalid_request() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_request");
}

#[tokio::test]
async fn the_cookie_alone_refreshes_and_is_replaced() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", format!("refresh_token={}", ada.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = header(&response, "set-cookie");
    let body: Value = response.json().await.unwrap();
    assert!(cookie.starts_with(&format!(
        "refresh_token={}",
        body["refresh_token"].as_str().unwrap()
    )));
}

#[tokio::test]
async fn a_cookie_request_from_another_origin_is_forbidden() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for path in ["/api/auth/refresh", "/api/auth/logout"] {
        let response = app
            .client
            .post(app.url(path))
            .header("cookie", format!("refresh_token={}", ada.refresh))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(error_code(response).await, "forbidden");
    }
    // The same origin is fine.
    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", format!("refresh_token={}", ada.refresh))
        .header("origin", app.address.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session_clears_the_cookie_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    assert_eq!(response.status(), 204);
    let cookie = header(&response, "set-cookie");
    assert!(
        cookie.starts_with("refresh_token=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    assert_eq!(app.refresh(&ada.refresh).await.status(), 400);
    assert_eq!(app.me(&ada.access).await.status(), 401);

    let again = app
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    assert_eq!(again.status(), 204);
    let nothing = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), 204);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let app = TestApp::spawn().await;
    let phone = app.signup("ada").await;
    let laptop = app.login("ada").await;
    let grace = app.signup("grace").await;
    let response = app
        .bearer(Method::POST, "/api/auth/logout-all", &laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    for ada in [&phone, &laptop] {
        assert_eq!(app.me(&ada.access).await.status(), 401);
        assert_eq!(app.refresh(&ada.refresh).await.status(), 400);
    }
    assert_eq!(app.me(&grace.access).await.status(), 200);
}

#[tokio::test]
async fn sessions_lists_live_sessions_and_marks_the_current_one() {
    let app = TestApp::spawn().await;
    let phone = app.signup("ada").await;
    let laptop = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", "Laptop Browser/1.0")
        .json(&json!({"login": "ada", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    let laptop = user_from(laptop.json().await.unwrap());
    let response = app
        .bearer(Method::GET, "/api/auth/sessions", &laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop Browser/1.0");
    for s in sessions {
        for field in ["id", "created_at", "last_used_at"] {
            assert!(s[field].is_string(), "{field}");
        }
    }

    // Revoking the phone's session ends its tokens.
    let phone_session = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap();
    let response = app
        .bearer(
            Method::DELETE,
            &format!("/api/auth/sessions/{phone_session}"),
            &laptop.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.me(&phone.access).await.status(), 401);
    assert_eq!(app.refresh(&phone.refresh).await.status(), 400);
    assert_eq!(app.me(&laptop.access).await.status(), 200);
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked_or_seen() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let mallory = app.signup("mallory").await;
    let sessions = app.get_json("/api/auth/sessions", &ada.access).await;
    let id = sessions["sessions"][0]["id"].as_str().unwrap();
    let response = app
        .bearer(
            Method::DELETE,
            &format!("/api/auth/sessions/{id}"),
            &mallory.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

#[tokio::test]
async fn revocation_through_one_process_reaches_another_within_a_second() {
    let first =
        TestApp::spawn_with(&[("JWT_SECRET", "shared-secret-shared-secret-shared-secret")]).await;
    let second = first.sibling().await;
    let ada = first.signup("ada").await;
    assert_eq!(
        second.me(&ada.access).await.status(),
        200,
        "the sibling accepts the token"
    );

    let response = first
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    assert_eq!(response.status(), 204);
    let revoked_at = std::time::Instant::now();
    loop {
        if second.me(&ada.access).await.status() == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "not refused within one second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_restarted_server_still_refuses_tokens_of_revoked_sessions() {
    let first =
        TestApp::spawn_with(&[("JWT_SECRET", "shared-secret-shared-secret-shared-secret")]).await;
    let ada = first.signup("ada").await;
    first
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    let restarted = first.sibling().await;
    assert_eq!(restarted.me(&ada.access).await.status(), 401);
}

#[tokio::test]
async fn a_family_ends_at_its_absolute_lifetime_however_often_it_is_used() {
    use server::auth::sessions::{Policy, Refresh, Sessions};
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    // The same store the server uses, with a one-second absolute lifetime.
    let policy = Policy {
        idle: Duration::from_secs(3600),
        absolute: Duration::from_secs(1),
        grace: Duration::ZERO,
        sms: true,
    };
    let sessions = Sessions::new(app.state.db.clone(), policy, b"test-key");
    let limit = app.state.config.limits.auth_requests_per_ip;
    let (issued, _) = sessions
        .start(
            &ada.id,
            None,
            &server::store::rows::Origin::default(),
            server::auth::sessions::SignIn::password(0),
            &[],
        )
        .await
        .unwrap()
        .started()
        .unwrap();
    let key = app.state.limiter.stored(&crate::helpers::client_key(1));
    let rotated = sessions.refresh(&issued.refresh_token, &key, limit);
    let Refresh::Rotated(next, _) = rotated.await.unwrap() else {
        panic!("a fresh family rotates");
    };
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let ended = sessions.refresh(&next.refresh_token, &key, limit);
    assert!(matches!(ended.await.unwrap(), Refresh::Invalid));
}

#[tokio::test]
async fn refresh_tokens_are_opaque_not_jwts() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    assert!(!ada.refresh.contains('.'), "no JWS segments");
    assert_eq!(
        ada.refresh.len(),
        64,
        "32 random bytes and a 16-byte tag, base64url"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM refresh_tokens LIMIT 1")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only a SHA-256 is stored");
    assert_ne!(stored, ada.refresh.as_bytes());
}

#[tokio::test]
async fn a_refresh_marks_the_session_used_and_never_outlives_the_family() {
    let app = TestApp::spawn_with(&[("REFRESH_TOKEN_TTL", "1h")]).await;
    let ada = app.signup("ada").await;
    let db = app.db().await;
    // Bring the family's absolute end within the idle lifetime.
    let end = server::store::now_ms() + 600_000;
    sqlx::query("UPDATE sessions SET expires_at = $1, last_used_at = 0")
        .bind(end)
        .execute(&db)
        .await
        .unwrap();

    let before = server::store::now_ms();
    let response = app.refresh(&ada.refresh).await;
    assert_eq!(response.status(), 200);
    let next = user_from(response.json().await.unwrap());

    let (last_used, live_until): (i64, i64) = sqlx::query_as(
        "SELECT s.last_used_at, t.expires_at FROM sessions s
         JOIN refresh_tokens t ON t.session_id = s.id AND t.spent_at IS NULL",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(last_used >= before, "last_used_at moved to the refresh");
    assert_eq!(live_until, end, "capped at the family's end, not now + 1 h");
    assert_eq!(app.me(&next.access).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_carries_the_role_stored_now_not_one_remembered() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    assert_eq!(app.me(&ada.access).await.status(), 200); // her profile is now in memory
    sqlx::query("UPDATE users SET role = 'teacher'")
        .execute(&app.db().await)
        .await
        .unwrap();

    let body: Value = app.refresh(&ada.refresh).await.json().await.unwrap();
    assert_eq!(body["user"]["role"], "teacher");
    assert_eq!(body["user"]["username"], "ada");
    let next = user_from(body);
    let me: Value = app.me(&next.access).await.json().await.unwrap();
    assert_eq!(me["user"]["role"], "teacher", "the new token carries it");
}

#[tokio::test]
async fn sessions_that_ended_long_ago_are_pruned_with_their_tokens() {
    let app = TestApp::spawn().await;
    let db = app.db().await;
    let live = app.signup("ada").await;
    let revoked_long_ago = app.signup("bob").await;
    let expired_long_ago = app.signup("cyd").await;
    let revoked_just_now = app.signup("dia").await;
    let session_of = |username: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1",
            )
            .bind(username)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    for (username, sql) in [
        ("bob", "UPDATE sessions SET revoked_at = 1000 WHERE id = $1"),
        ("cyd", "UPDATE sessions SET expires_at = 1000 WHERE id = $1"),
    ] {
        let id = session_of(username).await;
        sqlx::query(sql).bind(id).execute(&db).await.unwrap();
    }
    let dia = session_of("dia").await;
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
        .bind(server::store::now_ms())
        .bind(&dia)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(app.refresh(&revoked_just_now.refresh).await.status(), 400);

    let cutoff = server::store::now_ms() - 60_000;
    let pruned = server::store::sessions::prune_ended(&app.state.db, cutoff)
        .await
        .unwrap();

    assert_eq!(pruned, 2);
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        left,
        ["ada", "dia"],
        "recently ended sessions stay for revocation"
    );
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "a pruned session's tokens go with it");
    for gone in [&revoked_long_ago, &expired_long_ago] {
        assert_eq!(app.refresh(&gone.refresh).await.status(), 400);
    }
    assert_eq!(app.refresh(&live.refresh).await.status(), 200);
    assert_eq!(
        server::store::sessions::prune_ended(&app.state.db, cutoff)
            .await
            .unwrap(),
        0
    );
}

/// Stores, in the first session of `app`, a live refresh token as an earlier
/// version minted it (32 random bytes, no tag), and returns it.
async fn untagged_token(app: &TestApp) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::Digest;
    let token = URL_SAFE_NO_PAD.encode([42u8; 32]);
    let db = app.db().await;
    let session: String = sqlx::query_scalar("SELECT id FROM sessions LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
         VALUES ($1, $2, 0, 99999999999999)",
    )
    .bind(sha2::Sha256::digest(token.as_bytes()).to_vec())
    .bind(&session)
    .execute(&db)
    .await
    .unwrap();
    token
}

#[tokio::test]
async fn untagged_refresh_tokens_are_refused_once_every_family_they_could_belong_to_has_ended() {
    let first =
        TestApp::spawn_with(&[("JWT_SECRET", "shared-secret-shared-secret-shared-secret")]).await;
    first.signup("ada").await;
    let legacy = untagged_token(&first).await;
    // Tagged tokens were first minted 31 days ago.
    let long_ago = server::store::now_ms() - 31 * 86_400_000;
    sqlx::query("UPDATE settings SET value = $1 WHERE key = 'tagged_refresh_tokens_since'")
        .bind(long_ago.to_string())
        .execute(&first.db().await)
        .await
        .unwrap();
    let later = first.sibling().await;
    let response = later.refresh(&legacy).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn a_session_that_has_ended_on_its_own_cannot_be_revoked_either() {
    let app = TestApp::spawn_with(&[("REFRESH_TOKEN_TTL", "1s")]).await;
    let ada = app.signup("ada").await;
    let laptop = app.login("ada").await;
    let listed = app.get_json("/api/auth/sessions", &laptop.access).await;
    let first = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Past its idle end: no longer listed, so no longer revocable: 404.
    let response = app
        .bearer(
            Method::DELETE,
            &format!("/api/auth/sessions/{first}"),
            &laptop.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let _ = ada;
}

#[tokio::test]
async fn untagged_refresh_tokens_of_earlier_versions_still_rotate() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let legacy = untagged_token(&app).await;
    let response = app.refresh(&legacy).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["refresh_token"].as_str().unwrap().len(),
        64,
        "its successor is tagged"
    );
    assert_eq!(body["user"]["id"], ada.id.as_str());
}

/// A page of the site itself (its browser says `Sec-Fetch-Site:
/// same-origin`, or an older one sends the site's own `Origin`) gets the
/// refresh token only as the HttpOnly cookie; other clients also in the body.
#[tokio::test]
async fn the_site_s_own_pages_get_the_refresh_token_only_as_the_cookie() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let login = json!({"login": "ada", "password": crate::helpers::PASSWORD});
    let ask = |path: &'static str, extra: Vec<(&'static str, String)>, body: Value| {
        let mut request = app.client.post(app.url(path)).json(&body);
        for (name, value) in extra {
            request = request.header(name, value);
        }
        request.send()
    };
    let own_page = || vec![("sec-fetch-site", "same-origin".to_owned())];
    let old_browser = || vec![("origin", format!("http://{host}"))];
    for (label, headers) in [("fetch metadata", own_page()), ("origin", old_browser())] {
        let response = ask("/api/auth/login", headers.clone(), login.clone())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{label}");
        let cookie = header(&response, "set-cookie");
        assert!(cookie.starts_with("refresh_token="), "{label}: {cookie}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("refresh_token").is_none(), "{label}: {body}");
        assert!(body["access_token"].is_string());

        // A refresh through the cookie, as the page's script would ask.
        let token = cookie.split(';').next().unwrap().to_owned();
        let mut with_cookie = headers.clone();
        with_cookie.push(("cookie", token));
        let response = ask("/api/auth/refresh", with_cookie, json!({}))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{label}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("refresh_token").is_none(), "{label}: {body}");
    }
    // Other clients: the body copy too.
    let response = app.login_response("ada", crate::helpers::PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    assert!(body["refresh_token"].is_string());
    let response = ask(
        "/api/auth/login",
        vec![("sec-fetch-site", "cross-site".into())],
        login,
    )
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(
        body["refresh_token"].is_string(),
        "CORS decides who reads it"
    );
    let _ = ada;
}

#[tokio::test]
async fn the_sessions_list_is_paginated_most_recently_used_first() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for _ in 0..4 {
        app.login("ada").await;
    }
    let page = |query: String| {
        let app = &app;
        let access = ada.access.clone();
        async move {
            let response = app
                .bearer(Method::GET, &format!("/api/auth/sessions{query}"), &access)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = page("?limit=2".into()).await;
    assert_eq!(status, 200);
    assert_eq!(first["sessions"].as_array().unwrap().len(), 2);
    let mut seen: Vec<String> = Vec::new();
    let mut body = first;
    loop {
        for s in body["sessions"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = body["next"].as_str() else {
            break;
        };
        body = page(format!("?limit=2&before={next}")).await.1;
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "every session once");
    for bad in ["?limit=0", "?limit=101", "?limit=x", "?before=garbage"] {
        assert_eq!(page(bad.into()).await.0, 400, "{bad}");
    }
}

/// One revocation can end more sessions than a poll reads at once (a busy
/// account logging out everywhere). The other instance reads them all over
/// its next polls, in (number, id) order: none is skipped, the last one
/// included.
#[tokio::test]
async fn a_revocation_of_more_sessions_than_a_poll_reads_reaches_another_instance_whole() {
    let first =
        TestApp::spawn_with(&[("JWT_SECRET", "shared-secret-shared-secret-shared-secret")]).await;
    let second = first.sibling().await;
    let ada = first.signup("ada").await;
    // More sessions than one poll reads, whose ids sort before every real
    // one (a UUID's digits come after "0000000-"), so that the real session
    // is the very last the polls reach.
    let extra = server::store::revocations::POLL_BATCH + 50;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {extra})
         INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
         SELECT '0000000-' || (100000 + i), '{id}', 0, 0, 9000000000000 FROM n",
        id = ada.id
    )))
    .execute(&first.db().await)
    .await
    .unwrap();
    assert_eq!(second.me(&ada.access).await.status(), 200);

    let response = first
        .bearer(Method::POST, "/api/auth/logout-all", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let revoked_at = std::time::Instant::now();
    while second.me(&ada.access).await.status() != 401 {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "not refused within three seconds"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
