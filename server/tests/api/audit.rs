//! Security events and the admin console's API: what is recorded, by whom
//! it is seen, locking and unlocking, removing second factors, finding
//! accounts, and retention. On both databases.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, TestApp, TestUser, error_code},
    mfa::enrol,
};

const CHROME_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// The caller's activity, newest first.
async fn activity(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let body = app.get_json("/api/account/activity", &user.access).await;
    body["events"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn admin_post(app: &TestApp, admin: &TestUser, path: &str) -> Response {
    app.bearer(Method::POST, path, &admin.access)
        .send()
        .await
        .unwrap()
}

async fn audit(app: &TestApp, admin: &TestUser, query: &str) -> Vec<Value> {
    let body = app
        .get_json(&format!("/api/admin/audit?{query}"), &admin.access)
        .await;
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn sign_ins_and_failures_are_recorded_newest_first_with_place_and_device() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    assert_eq!(
        app.login_response("ada", "wrong password").await.status(),
        401
    );
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", CHROME_ON_LINUX)
        .json(&json!({"login": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ada = crate::helpers::user_from(response.json().await.unwrap());

    let events = activity(&app, &ada).await;
    assert_eq!(
        kinds(&events),
        [
            "login_succeeded",
            "login_failed",
            "login_succeeded",
            "signup"
        ]
    );
    let newest = &events[0];
    assert_eq!(newest["ip"], "127.0.0.1");
    assert_eq!(newest["device"], "Chrome on Linux");
    assert_eq!(newest["user_agent"], CHROME_ON_LINUX);
    assert_eq!(newest["current"], true, "this session's sign-in is marked");
    assert_eq!(newest["user_id"], ada.id.as_str());
    assert_eq!(events[1]["current"], false);
    assert!(
        events[1]["session_id"].is_null(),
        "a failure has no session"
    );
    assert_eq!(
        events[2]["current"], false,
        "the signup's session is another"
    );

    // The sessions list names the device and the place too.
    let sessions = app.get_json("/api/auth/sessions", &ada.access).await;
    let current = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["device"], "Chrome on Linux");
    assert_eq!(current["ip"], "127.0.0.1");
}

#[tokio::test]
async fn no_event_holds_a_password_a_code_or_a_token() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (_, codes) = enrol(&app, &ada).await;
    app.login_response("ada", "a wrong password typed here")
        .await;
    let stored: Vec<(String,)> = sqlx::query_as(
        "SELECT COALESCE(kind, '') || '|' || COALESCE(detail, '') || '|' || COALESCE(user_agent, '')
         FROM audit_events",
    )
    .fetch_all(&app.db().await)
    .await
    .unwrap();
    assert!(stored.len() >= 4, "{stored:?}");
    let everything = format!("{stored:?}");
    for secret in [
        PASSWORD,
        "a wrong password typed here",
        &ada.refresh,
        &ada.access,
    ]
    .into_iter()
    .chain(codes.iter().map(String::as_str))
    {
        assert!(!everything.contains(secret), "an event holds a secret");
    }
}

#[tokio::test]
async fn activity_is_paged_and_only_the_caller_s_own() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let grace = app.signup("grace").await;
    for _ in 0..3 {
        app.login("ada").await;
    }
    let first = app
        .get_json("/api/account/activity?limit=2", &ada.access)
        .await;
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second = app
        .get_json(
            &format!("/api/account/activity?limit=10&before={next}"),
            &ada.access,
        )
        .await;
    // signup + its sign-in + three logins = 5 events.
    assert_eq!(second["events"].as_array().unwrap().len(), 3);
    assert!(second["next"].is_null());
    let seen: Vec<&Value> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["events"].as_array().unwrap())
        .collect();
    assert!(seen.iter().all(|e| e["user_id"] == ada.id.as_str()));
    assert_eq!(
        kinds(&activity(&app, &grace).await),
        ["login_succeeded", "signup"]
    );

    for bad in ["before=abc", "before=-1", "limit=0", "limit=101"] {
        let response = app
            .bearer(
                Method::GET,
                &format!("/api/account/activity?{bad}"),
                &ada.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    let anonymous = app.get("/api/account/activity").await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn only_admins_see_every_account_and_act_on_them() {
    let app = TestApp::spawn().await;
    let teacher = app.user_with_role("turing", "teacher").await;
    let ada = app.signup("ada").await;
    for (method, path) in [
        (Method::GET, "/api/admin/users".to_owned()),
        (Method::GET, "/api/admin/audit".to_owned()),
        (Method::POST, format!("/api/admin/users/{}/lock", ada.id)),
        (Method::POST, format!("/api/admin/users/{}/unlock", ada.id)),
        (Method::DELETE, format!("/api/admin/users/{}/mfa", ada.id)),
    ] {
        let response = app
            .bearer(method.clone(), &path, &teacher.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} with no token");
    }
    assert_eq!(app.me(&ada.access).await.status(), 200, "nothing changed");
}

#[tokio::test]
async fn a_locked_account_cannot_sign_in_or_refresh_and_its_sessions_end() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let other = app.login("ada").await;

    let locked = admin_post(&app, &admin, &format!("/api/admin/users/{}/lock", ada.id)).await;
    assert_eq!(locked.status(), 204);
    assert_eq!(
        app.me(&ada.access).await.status(),
        401,
        "access tokens end at once"
    );
    assert_eq!(app.refresh(&ada.refresh).await.status(), 400);
    assert_eq!(app.refresh(&other.refresh).await.status(), 400);
    let login = app.login_response("ada", PASSWORD).await;
    assert_eq!(login.status(), 403);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("locked")
    );
    // A wrong password says only that it is wrong.
    assert_eq!(
        app.login_response("ada", "not the password").await.status(),
        401
    );

    // Locking again changes nothing and records nothing.
    let again = admin_post(&app, &admin, &format!("/api/admin/users/{}/lock", ada.id)).await;
    assert_eq!(again.status(), 204);
    let listed = app.get_json("/api/admin/users?q=ada", &admin.access).await;
    assert_eq!(listed["users"][0]["locked"], true);

    let unlocked = admin_post(&app, &admin, &format!("/api/admin/users/{}/unlock", ada.id)).await;
    assert_eq!(unlocked.status(), 204);
    let ada = app.login("ada").await;
    assert_eq!(app.me(&ada.access).await.status(), 200);

    let events = audit(&app, &admin, &format!("user={}", ada.id)).await;
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "account_locked" || e["kind"] == "account_unlocked")
        .collect();
    assert_eq!(changes.len(), 2, "one lock, one unlock: {events:?}");
    assert!(changes.iter().all(|e| e["actor_id"] == admin.id.as_str()));
    let only_locks = audit(&app, &admin, "kind=account_locked").await;
    assert_eq!(kinds(&only_locks), ["account_locked"]);
}

#[tokio::test]
async fn lock_refuses_the_admin_themselves_unknown_accounts_and_bad_filters() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let own = admin_post(&app, &admin, &format!("/api/admin/users/{}/lock", admin.id)).await;
    assert_eq!(own.status(), 409);
    for path in [
        "/api/admin/users/nobody/lock",
        "/api/admin/users/nobody/unlock",
    ] {
        assert_eq!(admin_post(&app, &admin, path).await.status(), 404, "{path}");
    }
    let response = app
        .bearer(Method::DELETE, "/api/admin/users/nobody/mfa", &admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Found by schemathesis: an empty kind is none of the kinds, not "any".
    for kind in ["everything", ""] {
        let response = app
            .bearer(
                Method::GET,
                &format!("/api/admin/audit?kind={kind}"),
                &admin.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "kind={kind:?}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
}

/// Logins racing a lock, through two instances: every session that the
/// logins got is over once the lock has answered. A session started before
/// the lock committed is ended by it; one after it is refused.
#[tokio::test]
async fn logins_racing_a_lock_keep_no_session() {
    // Every login reaches the check this is about, none a failure budget
    // (attempts count until their password is checked).
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "100/15m")]).await;
    let sibling = app.sibling().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let logins = (0..20).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        server.login_response("ada", PASSWORD)
    });
    let lock_path = format!("/api/admin/users/{}/lock", ada.id);
    let lock = admin_post(&app, &admin, &lock_path);
    let (responses, locked) = tokio::join!(futures::future::join_all(logins), lock);
    assert_eq!(locked.status(), 204);
    let mut refreshes = Vec::new();
    let (mut signed_in, mut refused) = (0, 0);
    for response in responses {
        match response.status().as_u16() {
            200 => {
                signed_in += 1;
                let body: Value = response.json().await.unwrap();
                refreshes.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
            403 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(signed_in + refused, 20);
    for refresh in refreshes {
        assert_eq!(
            sibling.refresh(&refresh).await.status(),
            400,
            "a session outlived the lock"
        );
    }
}

#[tokio::test]
async fn an_admin_removes_second_factors_and_the_owner_is_told_by_mail() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    enrol(&app, &ada).await;
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        403,
        "two steps"
    );

    let path = format!("/api/admin/users/{}/mfa", ada.id);
    let removed = app
        .bearer(Method::DELETE, &path, &admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    app.login("ada").await;
    let mails = app.mails_to("ada@example.com", 2).await;
    assert!(
        mails.iter().any(|m| m.subject.contains("second")),
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let again = app
        .bearer(Method::DELETE, &path, &admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "none left to remove");
    let events = audit(&app, &admin, "kind=second_factor_removed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], admin.id.as_str());
}

#[tokio::test]
async fn admins_find_accounts_by_name_or_email_prefix_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    for name in ["ada", "adele", "Adrian", "grace", "a_b"] {
        app.signup(name).await;
    }
    let names = |body: &Value| -> Vec<String> {
        body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let found = app.get_json("/api/admin/users?q=AD", &admin.access).await;
    assert_eq!(names(&found), ["ada", "adele", "Adrian"]);
    let by_email = app
        .get_json("/api/admin/users?q=grace%40exa", &admin.access)
        .await;
    assert_eq!(names(&by_email), ["grace"]);
    // `_` and `%` are themselves, not wildcards.
    let literal = app.get_json("/api/admin/users?q=a_", &admin.access).await;
    assert_eq!(names(&literal), ["a_b"]);
    let none = app.get_json("/api/admin/users?q=%25", &admin.access).await;
    assert_eq!(names(&none), Vec::<String>::new());

    let first = app
        .get_json("/api/admin/users?q=a&limit=2", &admin.access)
        .await;
    assert_eq!(names(&first), ["a_b", "ada"]);
    let next = first["next"].as_str().unwrap();
    let second = app
        .get_json(
            &format!("/api/admin/users?q=a&limit=2&before={next}"),
            &admin.access,
        )
        .await;
    assert_eq!(names(&second), ["adele", "Adrian"]);

    let ada = &found["users"][0];
    for field in [
        "id",
        "email",
        "role",
        "created_at",
        "email_verified",
        "mfa",
        "locked",
    ] {
        assert!(!ada[field].is_null(), "{field}");
    }
    assert!(ada["last_login_at"].is_string(), "signup signs in");
    assert_eq!(ada["locked"], false);
    let everyone = app.get_json("/api/admin/users", &admin.access).await;
    assert_eq!(everyone["users"].as_array().unwrap().len(), 6);
}

/// Role changes at once record exactly one event per change that happened.
#[tokio::test]
async fn each_change_is_recorded_once_with_its_change() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let path = format!("/api/users/{}/role", ada.id);
    let changes = (0..10).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        let role = if i % 2 == 0 { "teacher" } else { "student" };
        server
            .bearer(Method::PATCH, &path, &admin.access)
            .json(&json!({"role": role}))
            .send()
    });
    let done = futures::future::join_all(changes).await;
    let succeeded = done
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 200)
        .count();
    assert_eq!(succeeded, 10);
    let events = audit(&app, &admin, &format!("user={}&kind=role_changed", ada.id)).await;
    assert_eq!(events.len(), 10);
}

#[tokio::test]
async fn events_older_than_the_retention_are_deleted() {
    let app = TestApp::spawn_with(&[("AUDIT_RETENTION", "1d")]).await;
    app.signup("ada").await;
    let db = app.db().await;
    let day_ms: i64 = 86_400_000;
    let now: i64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .try_into()
        .unwrap();
    sqlx::query("INSERT INTO audit_events (at, kind) VALUES ($1, 'login_failed')")
        .bind(now - 2 * day_ms)
        .execute(&db)
        .await
        .unwrap();
    let count = |db: sqlx::AnyPool| async move {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&db)
            .await
            .unwrap();
        n
    };
    assert_eq!(count(db.clone()).await, 3);
    // A new instance prunes as it starts.
    let sibling = app.sibling().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(db.clone()).await != 2 {
        assert!(std::time::Instant::now() < deadline, "the old event stayed");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(sibling);
}

#[tokio::test]
async fn the_last_admin_who_can_sign_in_is_never_locked_out() {
    let app = TestApp::spawn().await;
    let root = app.user_with_role("root", "admin").await;
    let grace = app.user_with_role("grace", "admin").await;
    let lock_grace = admin_post(&app, &root, &format!("/api/admin/users/{}/lock", grace.id)).await;
    assert_eq!(lock_grace.status(), 204);
    // A locked admin does not count: root is the last who can sign in.
    let demote_self = app
        .bearer(
            Method::PATCH,
            &format!("/api/users/{}/role", root.id),
            &root.access,
        )
        .json(&json!({"role": "student"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demote_self.status(), 409);
    // The shell unlocks anyone.
    server::commands::unlock(&app.config(), "grace")
        .await
        .unwrap();
    let grace = app.login("grace").await;
    assert_eq!(app.me(&grace.access).await.status(), 200);
}

/// Two admins lock each other at the same moment, through two instances:
/// one lock wins, and the other is refused, so one admin can still sign in.
#[tokio::test]
async fn two_admins_locking_each_other_at_once_leave_one_who_can_sign_in() {
    for round in 0..5 {
        let app = TestApp::spawn().await;
        let sibling = app.sibling().await;
        let a = app.user_with_role("anna", "admin").await;
        let b = app.user_with_role("bert", "admin").await;
        let lock_b = format!("/api/admin/users/{}/lock", b.id);
        let lock_a = format!("/api/admin/users/{}/lock", a.id);
        let (first, second) = tokio::join!(
            admin_post(&app, &a, &lock_b),
            admin_post(&sibling, &b, &lock_a)
        );
        let mut statuses = [first.status().as_u16(), second.status().as_u16()];
        statuses.sort_unstable();
        // One lock commits; the other finds its author locked (401) or
        // itself the last admin who can sign in (409).
        assert!(
            statuses == [204, 401] || statuses == [204, 409],
            "round {round}: {statuses:?}"
        );
        let signed_in = [
            app.login_response("anna", PASSWORD).await.status(),
            app.login_response("bert", PASSWORD).await.status(),
        ];
        assert_eq!(
            signed_in.iter().filter(|s| s.as_u16() == 200).count(),
            1,
            "round {round}: exactly one admin can still sign in"
        );
    }
}

#[tokio::test]
async fn an_account_does_not_see_where_an_admin_acted_from() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    for action in ["lock", "unlock"] {
        let response = app
            .client
            .post(app.url(&format!("/api/admin/users/{}/{action}", ada.id)))
            .bearer_auth(&admin.access)
            .header("user-agent", CHROME_ON_LINUX)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let ada = app.login("ada").await;
    let own = activity(&app, &ada).await;
    let unlocked = own
        .iter()
        .find(|e| e["kind"] == "account_unlocked")
        .unwrap();
    assert_eq!(unlocked["actor_id"], admin.id.as_str());
    assert!(
        unlocked["ip"].is_null()
            && unlocked["user_agent"].is_null()
            && unlocked["device"].is_null()
    );
    // Their own sign-in keeps its place.
    assert_eq!(own[0]["kind"], "login_succeeded");
    assert_eq!(own[0]["ip"], "127.0.0.1");
    // Admins see it whole.
    let seen = audit(&app, &admin, "kind=account_unlocked").await;
    assert_eq!(seen[0]["device"], "Chrome on Linux");
}

/// PostgreSQL stores and compares no NUL in text: a NUL anywhere a request
/// can carry text is a `400`, on both databases, never a `500`.
#[tokio::test]
async fn text_with_a_nul_character_is_refused_with_400() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    for path in [
        "/api/admin/users?q=%00",
        "/api/admin/audit?user=a%00b",
        "/api/posts/%00",
    ] {
        let response = app
            .bearer(Method::GET, path, &admin.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
    }
    assert_eq!(
        admin_post(&app, &admin, "/api/admin/users/%00/lock")
            .await
            .status(),
        400
    );
    let login = app
        .post_json(
            "/api/auth/login",
            &json!({"login": "ada\u{0}", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 400);
    assert_eq!(error_code(login).await, "invalid_request");
    let post = app
        .bearer(Method::POST, "/api/posts", &admin.access)
        .json(&json!({"title": "a\u{0}", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 400);
    // A backslash followed by the letters u0000 is just text.
    let post = app
        .bearer(Method::POST, "/api/posts", &admin.access)
        .json(&json!({"title": "a \\u0000 b", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 201);
}
