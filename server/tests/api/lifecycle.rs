//! The account's life by mail: address verification, password reset,
//! password and address change, deletion. Mail is read from the outbox
//! folder the server writes by default; `smtp_*` tests send it through a
//! real SMTP server instead. On both databases.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    binary::tally,
    helpers::{Mail, PASSWORD, TestApp, TestUser, error_code},
    mfa::{code, enrol},
};

const NEW_PASSWORD: &str = "a brand new passphrase for testing";

/// `GET /api/me`'s user.
async fn me(app: &TestApp, user: &TestUser) -> Value {
    app.get_json("/api/me", &user.access).await["user"].clone()
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/auth/verify-email", &json!({"token": token}))
        .await
}

async fn ask_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/api/auth/password-reset", &json!({"email": email}))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/auth/password-reset/confirm",
        &json!({"token": token, "new_password": password}),
    )
    .await
}

/// The last of the `count` reset mails to `email`, once they are there.
async fn reset_mail(app: &TestApp, email: &str, count: usize) -> Mail {
    let resets = || {
        app.outbox()
            .into_iter()
            .filter(|m| m.subject == "Reset your password")
            .collect()
    };
    let mails = crate::helpers::wait_for_mail(resets, email, count).await;
    assert_eq!(mails.len(), count, "reset mails to {email}");
    mails.last().unwrap().clone()
}

#[tokio::test]
async fn signup_mails_a_link_that_opening_does_not_spend_and_posting_does() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    assert_eq!(me(&app, &ada).await["email_verified"], false);

    let mail = &app.mails_to("ada@example.com", 1).await[0];
    assert_eq!(mail.subject, "Confirm your email address");
    assert!(
        mail.link().starts_with("http://localhost:"),
        "{}",
        mail.link()
    );
    assert!(mail.path().starts_with("/verify-email?token="));
    assert!(mail.html.contains(&mail.token()) && mail.text.contains("Or paste this code"));
    assert!(mail.token().len() >= 43, "256 bits, base64url");

    // A mail scanner opens the link: the page answers, nothing is spent.
    let page = app.get(&mail.path()).await;
    assert_eq!(page.status(), 200);
    assert_eq!(me(&app, &ada).await["email_verified"], false);

    assert_eq!(verify(&app, &mail.token()).await.status(), 204);
    assert_eq!(me(&app, &ada).await["email_verified"], true);
    let again = verify(&app, &mail.token()).await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "invalid_grant");
    for garbage in ["", "x", &"A".repeat(5000)] {
        let response = verify(&app, garbage).await;
        assert_eq!(response.status(), 400);
        assert_eq!(error_code(response).await, "invalid_grant");
    }
    let missing = app.post_json("/api/auth/verify-email", &json!({})).await;
    assert_eq!(error_code(missing).await, "invalid_request");

    // Verified already: nothing to resend.
    let resend = app
        .bearer(Method::POST, "/api/account/verify-email", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 409);
}

#[tokio::test]
async fn a_resent_link_ends_the_older_one_and_resending_is_limited() {
    let app = TestApp::spawn_with(&[("VERIFICATION_MAILS_PER_ACCOUNT", "2/1h")]).await;
    let ada = app.signup("ada").await;
    // The signup's link first: the outbox may send two queued mails in
    // either order, so which is older is known only by waiting for it.
    let older = app.mails_to("ada@example.com", 1).await[0].token();
    let resend = || async {
        app.bearer(Method::POST, "/api/account/verify-email", &ada.access)
            .send()
            .await
            .unwrap()
    };
    let answer = resend().await;
    assert_eq!(answer.status(), 202);
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({}));
    let mails = app.mails_to("ada@example.com", 2).await;
    let newer = mails
        .iter()
        .map(|mail| mail.token())
        .find(|token| *token != older)
        .expect("the resent link is another");

    let refused = verify(&app, &older).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_grant");
    assert_eq!(me(&app, &ada).await["email_verified"], false);
    assert_eq!(verify(&app, &newer).await.status(), 204);

    let bob = app.signup("bob").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            app.bearer(Method::POST, "/api/account/verify-email", &bob.access)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [202, 202, 429]);
    let unauthenticated = app.post_json("/api/account/verify-email", &json!({})).await;
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let token = app.mails_to("ada@example.com", 1).await[0].token();
    sqlx::query("UPDATE email_tokens SET expires_at = $1")
        .bind(server::store::now_ms() - 1)
        .execute(&app.db().await)
        .await
        .unwrap();
    let response = verify(&app, &token).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
    assert_eq!(me(&app, &ada).await["email_verified"], false);
}

#[tokio::test]
async fn a_reset_request_answers_the_same_for_known_and_unknown_addresses() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let known = ask_reset(&app, "ADA@example.com ").await;
    let unknown = ask_reset(&app, "nobody@example.com").await;
    for response in [known, unknown] {
        assert_eq!(response.status(), 202);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    }
    // Only the account's address gets a mail; the unknown one gets none.
    reset_mail(&app, "ada@example.com", 1).await;
    assert!(app.outbox().iter().all(|m| m.to != "nobody@example.com"));

    let invalid = ask_reset(&app, "not an address").await;
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "email");
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_and_per_network() {
    let app = TestApp::spawn_with(&[
        ("PASSWORD_RESETS_PER_EMAIL", "2/1h"),
        ("PASSWORD_RESETS_PER_IP", "5/1h"),
    ])
    .await;
    app.signup("ada").await;
    let mut per_address = Vec::new();
    for email in ["ada@example.com", "ada@example.com", "Ada@Example.com"] {
        per_address.push(ask_reset(&app, email).await.status().as_u16());
    }
    assert_eq!(per_address, [202, 202, 429]);
    // An address with no account is limited alike: the answers tell nothing.
    let mut unknown = Vec::new();
    for _ in 0..3 {
        unknown.push(ask_reset(&app, "nobody@example.com").await);
    }
    let last = unknown.pop().unwrap();
    assert_eq!(last.status(), 429);
    assert!(last.headers().contains_key("retry-after"));
    // Two networks' budgets: this one has spent its five.
    let response = ask_reset(&app, "third@example.com").await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_mails_a_notice() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    let other = app.login("ada").await;
    assert_eq!(sibling.me(&other.access).await.status(), 200);
    assert_eq!(ask_reset(&app, "ada@example.com").await.status(), 202);
    let mail = reset_mail(&app, "ada@example.com", 1).await;
    assert!(mail.path().starts_with("/reset-password?token="));

    // Opening the page spends nothing; a password that breaks a rule is
    // refused and spends nothing either.
    assert_eq!(app.get(&mail.path()).await.status(), 200);
    for (bad, issue) in [
        ("short", "too_short"),
        ("ada's own passphrase, long enough", "contains_username"),
        ("1qaz2wsx3edc4rfv", "common"),
    ] {
        let response = reset(&app, &mail.token(), bad).await;
        assert_eq!(response.status(), 422, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["field"], "new_password");
        assert_eq!(body["details"][0]["issue"], issue, "{bad}");
    }
    assert_eq!(reset(&app, &mail.token(), NEW_PASSWORD).await.status(), 204);

    // Every session ended, access tokens included: at once on this
    // instance, within a second on the other.
    for user in [&ada, &other] {
        assert_eq!(app.me(&user.access).await.status(), 401);
        assert_eq!(app.refresh(&user.refresh).await.status(), 400);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while sibling.me(&other.access).await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance still accepts it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 401);
    let back = app.login_response("ada", NEW_PASSWORD).await;
    assert_eq!(back.status(), 200);
    // The link proved the mailbox.
    let back = crate::helpers::user_from(back.json().await.unwrap());
    assert_eq!(me(&app, &back).await["email_verified"], true);

    let notice = app.mails_to("ada@example.com", 3).await;
    assert_eq!(notice[2].subject, "Your password was reset");
    assert!(!notice[2].text.contains("token="));

    let again = reset(&app, &mail.token(), "yet another passphrase, long").await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "invalid_grant");
}

#[tokio::test]
async fn a_newer_reset_link_ends_the_older_and_an_expired_one_is_refused() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    ask_reset(&app, "ada@example.com").await;
    let older = reset_mail(&app, "ada@example.com", 1).await.token();
    ask_reset(&app, "ada@example.com").await;
    let newer = reset_mail(&app, "ada@example.com", 2).await.token();

    let response = reset(&app, &older, NEW_PASSWORD).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");

    sqlx::query("UPDATE email_tokens SET expires_at = $1 WHERE purpose = 'reset_password'")
        .bind(server::store::now_ms())
        .execute(&app.db().await)
        .await
        .unwrap();
    let response = reset(&app, &newer, NEW_PASSWORD).await;
    assert_eq!(response.status(), 400);
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_reset_link_presented_twice_at_once_on_two_instances_works_once() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    app.signup("ada").await;
    ask_reset(&app, "ada@example.com").await;
    let token = reset_mail(&app, "ada@example.com", 1).await.token();
    let (a, b) = tokio::join!(
        reset(&app, &token, NEW_PASSWORD),
        reset(&sibling, &token, "the other new passphrase here"),
    );
    let outcomes = tally([a.status().as_u16(), b.status().as_u16()]);
    assert_eq!(outcomes, tally([204, 400]));
}

#[tokio::test]
async fn a_reset_keeps_the_second_factor() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    ask_reset(&app, "ada@example.com").await;
    let token = reset_mail(&app, "ada@example.com", 1).await.token();
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), 204);

    let response = app.login_response("ada", NEW_PASSWORD).await;
    assert_eq!(response.status(), 403, "the second step still comes");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    let done = app
        .post_json(
            "/api/auth/mfa",
            &json!({"mfa_token": body["mfa_token"], "method": "totp", "code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let other = app.login("ada").await;
    let change =
        |body: Value| app.bearer_json(Method::POST, "/api/account/password", &ada.access, body);

    let wrong =
        change(json!({"password": "not the password at all", "new_password": NEW_PASSWORD})).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_code(wrong).await, "invalid_credentials");
    let missing = change(json!({"new_password": NEW_PASSWORD})).await;
    assert_eq!(missing.status(), 422);
    let no_new = change(json!({"password": PASSWORD})).await;
    assert_eq!(no_new.status(), 400);
    let weak = change(json!({"password": PASSWORD, "new_password": "short"})).await;
    assert_eq!(weak.status(), 422);
    let body: Value = weak.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "new_password");

    let done = change(json!({"password": PASSWORD, "new_password": NEW_PASSWORD})).await;
    assert_eq!(done.status(), 204);
    assert_eq!(
        app.me(&ada.access).await.status(),
        200,
        "this session stays"
    );
    assert_eq!(app.refresh(&ada.refresh).await.status(), 200);
    assert_eq!(app.me(&other.access).await.status(), 401, "the other ends");
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 401);
    assert_eq!(app.login_response("ada", NEW_PASSWORD).await.status(), 200);
    // The signup's mail and the notice: the outbox may send the two in
    // either order.
    let mails = app.mails_to("ada@example.com", 2).await;
    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert!(
        subjects.contains(&"Your password was changed"),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn changing_the_password_with_totp_takes_a_code() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let change =
        |body: Value| app.bearer_json(Method::POST, "/api/account/password", &ada.access, body);
    let no_code = change(json!({"password": PASSWORD, "new_password": NEW_PASSWORD})).await;
    assert_eq!(no_code.status(), 422);
    let body: Value = no_code.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "code");
    let done = change(
        json!({"password": PASSWORD, "code": code(&secret, 0), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(done.status(), 204);
    let next = app.login_response("ada", NEW_PASSWORD).await;
    assert_eq!(next.status(), 403, "the second factor stays");
}

#[tokio::test]
async fn changing_the_address_takes_effect_when_the_new_one_is_confirmed() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    app.signup("bob").await;
    let change =
        |body: Value| app.bearer_json(Method::POST, "/api/account/email", &ada.access, body);

    let taken = change(json!({"password": PASSWORD, "email": "BOB@example.com"})).await;
    assert_eq!(taken.status(), 409);
    let same = change(json!({"password": PASSWORD, "email": "ada@example.com"})).await;
    assert_eq!(same.status(), 409);
    let invalid = change(json!({"password": PASSWORD, "email": "nope"})).await;
    assert_eq!(invalid.status(), 422);
    let wrong =
        change(json!({"password": "not the password at all", "email": "ada@new.example"})).await;
    assert_eq!(wrong.status(), 401);

    let asked = change(json!({"password": PASSWORD, "email": "Ada@New.example"})).await;
    assert_eq!(asked.status(), 202);
    assert_eq!(asked.json::<Value>().await.unwrap(), json!({}));
    let notice = &app.mails_to("ada@example.com", 2).await[1];
    assert_eq!(notice.subject, "Your email address is about to change");
    assert!(notice.text.contains("ada@new.example") && !notice.text.contains("token="));
    let link = &app.mails_to("ada@new.example", 1).await[0];
    assert_eq!(link.subject, "Confirm your new email address");
    assert_eq!(
        me(&app, &ada).await["email"],
        "ada@example.com",
        "not before the link"
    );

    assert_eq!(verify(&app, &link.token()).await.status(), 204);
    let user = me(&app, &ada).await;
    assert_eq!(user["email"], "ada@new.example");
    assert_eq!(user["email_verified"], true);
    assert_eq!(
        app.login_response("ada@new.example", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login_response("ada@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    // A reset asked for the old address now finds no account.
    ask_reset(&app, "ada@example.com").await;
    ask_reset(&app, "ada@new.example").await;
    reset_mail(&app, "ada@new.example", 1).await;
}

#[tokio::test]
async fn a_new_address_taken_before_its_link_is_followed_is_a_conflict() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let asked = app
        .bearer_json(
            Method::POST,
            "/api/account/email",
            &ada.access,
            json!({"password": PASSWORD, "email": "shared@example.com"}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let token = app.mails_to("shared@example.com", 1).await[0].token();
    app.post_json(
        "/api/auth/signup",
        &json!({"username": "carol", "email": "shared@example.com", "password": PASSWORD}),
    )
    .await;
    let response = verify(&app, &token).await;
    assert_eq!(response.status(), 409);
    assert_eq!(me(&app, &ada).await["email"], "ada@example.com");
}

#[tokio::test]
async fn deleting_the_account_keeps_its_posts_by_a_deleted_user() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let other = app.login("ada").await;
    let teacher = app.user_with_role("tess", "teacher").await;
    let post = app.publish(&ada.access, "Hello", "World").await;
    let graded = app
        .bearer_json(
            Method::POST,
            "/api/grades",
            &teacher.access,
            json!({"student": "ada", "course": "Maths", "grade": "A"}),
        )
        .await;
    assert_eq!(graded.status(), 201);

    let delete = |body: Value| app.bearer_json(Method::DELETE, "/api/account", &ada.access, body);
    assert_eq!(
        delete(json!({"password": "not the password at all"}))
            .await
            .status(),
        401
    );
    assert_eq!(delete(json!({})).await.status(), 422);
    assert_eq!(delete(json!({"password": PASSWORD})).await.status(), 204);

    for user in [&ada, &other] {
        assert_eq!(app.me(&user.access).await.status(), 401);
        assert_eq!(app.refresh(&user.refresh).await.status(), 400);
    }
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login_response("ada@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    let kept = app
        .get(&format!("/api/posts/{}", post["id"].as_str().unwrap()))
        .await;
    assert_eq!(kept.status(), 200);
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(kept["post"]["author"], Value::Null);
    assert_eq!(kept["post"]["title"], "Hello");
    let grades = app.get_json("/api/grades", &teacher.access).await;
    assert_eq!(grades["grades"], json!([]), "a student's grades go");
    // The signup's mail and the notice: the outbox may send the two in
    // either order.
    let mails = app.mails_to("ada@example.com", 2).await;
    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert!(
        subjects.contains(&"Your account was deleted"),
        "{subjects:?}"
    );

    // The name and the address are free again.
    let again = app.signup("ada").await;
    assert_ne!(again.id, ada.id);
}

#[tokio::test]
async fn a_deleted_teachers_grades_stay_without_a_teacher() {
    let app = TestApp::spawn().await;
    let student = app.signup("stu").await;
    let teacher = app.user_with_role("tess", "teacher").await;
    app.bearer_json(
        Method::POST,
        "/api/grades",
        &teacher.access,
        json!({"student": "stu", "course": "Maths", "grade": "A"}),
    )
    .await;
    let deleted = app
        .bearer_json(
            Method::DELETE,
            "/api/account",
            &teacher.access,
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let grades = app.get_json("/api/grades", &student.access).await;
    assert_eq!(grades["grades"][0]["course"], "Maths");
    assert_eq!(grades["grades"][0]["teacher"], Value::Null);
}

#[tokio::test]
async fn the_last_admin_cannot_delete_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let app = &app;
    let delete = |access: String| async move {
        app.bearer_json(
            Method::DELETE,
            "/api/account",
            &access,
            json!({"password": PASSWORD}),
        )
        .await
    };
    let refused = delete(admin.access.clone()).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(error_code(refused).await, "conflict");
    assert_eq!(app.me(&admin.access).await.status(), 200);

    // With two admins deleting themselves at once, one stays.
    let second = app.user_with_role("root2", "admin").await;
    let (a, b) = tokio::join!(delete(admin.access.clone()), delete(second.access.clone()));
    assert_eq!(
        tally([a.status().as_u16(), b.status().as_u16()]),
        tally([204, 409])
    );
}

#[tokio::test]
async fn mailed_tokens_and_queued_mail_are_not_stored_readable() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    ask_reset(&app, "ada@example.com").await;
    let mail = reset_mail(&app, "ada@example.com", 1).await;
    let token = mail.token();
    let db = app.db().await;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM email_tokens")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(!hashes.is_empty());
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 32 && !contains(h, token.as_bytes()))
    );
    // Queue a message the sender has not taken yet, and look at it stored.
    let prepared = app
        .state
        .mailer
        .prepare(
            "ada@example.com",
            server::mail::Letter::ResetPassword {
                username: "ada",
                token: "SECRET-TOKEN-IN-A-LINK",
            },
        )
        .unwrap();
    let queued = prepared.queued();
    assert!(!contains(queued.message, b"SECRET-TOKEN-IN-A-LINK"));
    assert!(!contains(queued.message, b"Reset your password"));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sends everything through a real SMTP server: aiosmtpd on a free loopback
/// port, writing what it receives into a maildir, started by the test.
#[tokio::test]
#[ignore = "needs aiosmtpd in .tools/smtp-sink (scripts/test installs it and runs this)"]
async fn smtp_a_forgotten_password_is_reset_through_a_real_mail_server() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    app.signup("ada").await;
    assert_eq!(ask_reset(&app, "ada@example.com").await.status(), 202);
    let mails = crate::helpers::wait_for_mail(|| sink.mails(), "ada@example.com", 2).await;
    let mail = mails
        .iter()
        .find(|m| m.subject == "Reset your password")
        .expect("the reset mail");
    assert!(mail.html.contains("href=\"http://localhost:"));
    assert_eq!(app.get(&mail.path()).await.status(), 200);
    assert_eq!(reset(&app, &mail.token(), NEW_PASSWORD).await.status(), 204);
    assert_eq!(app.login_response("ada", NEW_PASSWORD).await.status(), 200);
    crate::helpers::wait_for_mail(|| sink.mails(), "ada@example.com", 3).await;
    assert!(app.outbox().is_empty(), "nothing went to the folder");
}

/// A mail server that is down: the mail waits in the outbox, and is
/// delivered when the server comes up.
#[tokio::test]
#[ignore = "needs aiosmtpd in .tools/smtp-sink (scripts/test installs it and runs this)"]
async fn smtp_mail_waits_while_the_mail_server_is_down() {
    let port = free_port();
    let app = TestApp::spawn_with(&[("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]).await;
    app.signup("ada").await;
    // The first attempt fails; the message stays queued.
    let db = app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (attempts, error): (i32, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM outbox")
                .fetch_one(&db)
                .await
                .unwrap();
        if attempts >= 1 && error.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sink = SmtpSink::start_on(port);
    // Due again five seconds after the failure.
    let mails = crate::helpers::wait_for_mail(|| sink.mails(), "ada@example.com", 1).await;
    assert_eq!(mails[0].subject, "Confirm your email address");
    // Delivered, the message leaves the outbox (just after the server's
    // answer to the sink's last command).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delivered message stays queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// aiosmtpd, writing each message it receives into a maildir; stopped when
/// dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let bin = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.tools/smtp-sink/bin/aiosmtpd"
        );
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let child = std::process::Command::new(bin)
            .args([
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): run scripts/test, which installs it")
            });
        // Ready when it accepts connections.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP sink did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn mails(&self) -> Vec<Mail> {
        crate::helpers::read_mail_folder(&self.dir.path().join("maildir/new"))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn logins_racing_a_reset_leave_no_session_that_outlives_it() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    app.signup("ada").await;
    ask_reset(&app, "ada@example.com").await;
    let token = reset_mail(&app, "ada@example.com", 1).await.token();
    // Logins with the old password through both instances, and the reset,
    // all at once.
    let logins = (0..16).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        server.login_response("ada", PASSWORD)
    });
    let (reset_answer, answers) = tokio::join!(
        reset(&app, &token, NEW_PASSWORD),
        futures::future::join_all(logins)
    );
    assert_eq!(reset_answer.status(), 204);
    let mut started = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => started.push(crate::helpers::user_from(answer.json().await.unwrap())),
            // After the reset: a wrong password, then over the failure limit.
            401 | 429 => {}
            other => panic!("login answered {other}"),
        }
    }
    // Whatever started before the reset ended with it; nothing started after.
    for user in &started {
        assert_eq!(app.refresh(&user.refresh).await.status(), 400);
    }
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn a_new_password_ends_a_pending_address_change() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let asked = app
        .bearer_json(
            Method::POST,
            "/api/account/email",
            &ada.access,
            json!({"password": PASSWORD, "email": "thief@example.com"}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let change_link = app.mails_to("thief@example.com", 1).await[0].token();
    ask_reset(&app, "ada@example.com").await;
    let reset_token = reset_mail(&app, "ada@example.com", 1).await.token();
    assert_eq!(reset(&app, &reset_token, NEW_PASSWORD).await.status(), 204);
    let response = verify(&app, &change_link).await;
    assert_eq!(response.status(), 400);
    let back = app.login_response("ada@example.com", NEW_PASSWORD).await;
    let back = crate::helpers::user_from(back.json().await.unwrap());
    assert_eq!(me(&app, &back).await["email"], "ada@example.com");
}

#[tokio::test]
async fn links_asked_for_at_once_leave_one_that_works() {
    let app = TestApp::spawn_with(&[("VERIFICATION_MAILS_PER_ACCOUNT", "100/1h")]).await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    let resends = (0..10).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        server
            .bearer(Method::POST, "/api/account/verify-email", &ada.access)
            .send()
    });
    for answer in futures::future::join_all(resends).await {
        assert_eq!(answer.unwrap().status(), 202);
    }
    let live: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM email_tokens WHERE purpose = 'verify_email'")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(
        live, 1,
        "the newest wins, however many were asked for at once"
    );
    let mails = app.mails_to("ada@example.com", 11).await;
    let mut worked = 0;
    for mail in &mails {
        if verify(&app, &mail.token()).await.status() == 204 {
            worked += 1;
        }
    }
    assert_eq!(worked, 1);
}

#[tokio::test]
async fn a_deleted_account_cannot_be_signed_in_to_or_graded() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let teacher = app.user_with_role("tess", "teacher").await;
    let deleted = app
        .bearer_json(
            Method::DELETE,
            "/api/account",
            &ada.access,
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let renamed = format!("deleted-{}", ada.id);
    for login in [renamed.as_str(), &format!("deleted:{}", ada.id)] {
        assert_eq!(app.login_response(login, PASSWORD).await.status(), 401);
    }
    let graded = app
        .bearer_json(
            Method::POST,
            "/api/grades",
            &teacher.access,
            json!({"student": renamed, "course": "Maths", "grade": "A"}),
        )
        .await;
    assert_eq!(graded.status(), 422);
    ask_reset(&app, "ada@example.com").await;
    assert_eq!(
        app.outbox()
            .iter()
            .filter(|m| m.to == "ada@example.com")
            .count(),
        2
    );
}

#[tokio::test]
async fn an_address_change_tells_whether_an_address_is_taken_only_after_the_proof() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    app.signup("bob").await;
    let wrong = app
        .bearer_json(
            Method::POST,
            "/api/account/email",
            &ada.access,
            json!({"password": "not the password at all", "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_refused_without_echoing_its_values() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for (body, field) in [
        (
            json!({"password": 987654321012345u64, "new_password": NEW_PASSWORD}),
            "password",
        ),
        (
            json!({"password": PASSWORD, "code": 123456, "new_password": NEW_PASSWORD}),
            "code",
        ),
        (
            json!({"password": PASSWORD, "new_password": 987654321012345u64}),
            "new_password",
        ),
    ] {
        let response = app
            .bearer_json(Method::POST, "/api/account/password", &ada.access, body)
            .await;
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        assert!(text.contains("invalid_request"), "{text}");
        assert!(
            text.contains(&format!("{field}, expected")),
            "names the field: {text}"
        );
        assert!(
            !text.contains("987654321012345") && !text.contains("123456"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn second_steps_racing_a_reset_leave_no_session_that_outlives_it() {
    // Budgets out of the way: every challenge must reach the check, not a
    // limit's refusal.
    let app = TestApp::spawn_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "1000/15m"),
        ("SECOND_FACTOR_FAILURES_PER_ACCOUNT", "1000/1h"),
    ])
    .await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    ask_reset(&app, "ada@example.com").await;
    let token = reset_mail(&app, "ada@example.com", 1).await.token();
    // A challenge from before the reset ends with it.
    let before: Value = app
        .login_response("ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    // Password steps with the old password through both instances, and the
    // reset, all at once; then every challenge they got is tried.
    let steps = (0..8).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        server.login_response("ada", PASSWORD)
    });
    let (reset_answer, answers) = tokio::join!(
        reset(&app, &token, NEW_PASSWORD),
        futures::future::join_all(steps)
    );
    assert_eq!(reset_answer.status(), 204);
    let mut challenges = vec![before["mfa_token"].as_str().unwrap().to_owned()];
    for answer in answers {
        match answer.status().as_u16() {
            403 => {
                let body: Value = answer.json().await.unwrap();
                challenges.push(body["mfa_token"].as_str().unwrap().to_owned());
            }
            401 | 429 => {}
            other => panic!("password step answered {other}"),
        }
    }
    for (i, mfa_token) in challenges.iter().enumerate() {
        let code = code(&secret, if i % 2 == 0 { 0 } else { 1 });
        let done = app
            .post_json(
                "/api/auth/mfa",
                &json!({"mfa_token": mfa_token, "method": "totp", "code": code}),
            )
            .await;
        match done.status().as_u16() {
            200 => {
                let user = crate::helpers::user_from(done.json().await.unwrap());
                assert_eq!(
                    app.refresh(&user.refresh).await.status(),
                    400,
                    "outlived the reset"
                );
            }
            // Ended with the reset, or the step's code already used.
            400 | 401 => {}
            other => panic!("second step answered {other}"),
        }
    }
}

#[tokio::test]
async fn the_outbox_folder_and_its_mail_are_readable_by_the_server_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    app.mails_to("ada@example.com", 1).await;
    let folder = app.data_dir.join("outbox");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700);
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        assert!(file.extension().is_some_and(|e| e == "eml"));
    }
}
