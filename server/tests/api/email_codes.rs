//! Signing in with a code sent by mail instead of the password
//! (`/api/auth/otp/*`): a first factor, never a second.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    helpers::{Mail, TestApp, TestUser, claims, error_code},
    mfa::{code as totp, enrol, second_step},
};

pub(crate) async fn ask(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/api/auth/otp/email", &json!({ "email": email }))
        .await
}

async fn verify(app: &TestApp, email: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/api/auth/otp/verify",
        &json!({ "email": email, "code": code }),
    )
    .await
}

/// The code a sign-in mail gives, read off its link's fragment.
fn code_of(mail: &Mail) -> String {
    let link = mail
        .text
        .split_whitespace()
        .find(|word| word.contains("/login/code#"))
        .unwrap_or_else(|| panic!("no sign-in link in {:?}", mail.text));
    let code = link.split_once("code=").unwrap().1;
    assert_eq!(code.len(), 8, "{link}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    code.to_owned()
}

/// The `count`th sign-in mail to `email`'s code (1 for the first).
pub(crate) async fn mailed_code(app: &TestApp, email: &str, count: usize) -> String {
    let mails: Vec<Mail> = app
        .mails_to(email, count)
        .await
        .into_iter()
        .filter(|m| m.subject == "Your sign-in code")
        .collect();
    code_of(mails.last().unwrap())
}

/// Signs up `name` and confirms the address with the link signup mailed:
/// only a confirmed address gets sign-in codes.
pub(crate) async fn confirmed(app: &TestApp, name: &str) -> TestUser {
    let user = app.signup(name).await;
    let email = format!("{name}@example.com");
    let mail = app.mails_to(&email, 1).await.remove(0);
    assert_eq!(mail.subject, "Confirm your email address");
    let verified = app
        .post_json("/api/auth/verify-email", &json!({ "token": mail.token() }))
        .await;
    assert_eq!(verified.status(), 204);
    user
}

/// What a code request's lookup does for Ada's account, called directly:
/// stores a code and queues its mail (`test-mail`) and event, or nothing
/// (`false`).
async fn issue_for_ada(app: &TestApp) -> bool {
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ada'")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let now = server::store::now_ms();
    let code = server::store::email_codes::NewCode {
        user_id: &id,
        email: "ada@example.com",
        hash: &[0; 32],
        now,
        expires_at: now + 600_000,
    };
    let mail = server::store::outbox::Queued {
        channel: server::store::outbox::Channel::Mail,
        id: "test-mail",
        recipient: "ada@example.com",
        message: b"sealed",
        now,
    };
    let origin = server::store::rows::Origin::default();
    let event = server::store::rows::Event::new(
        classboard::api::EventKind::SignInCodeRequested,
        &id,
        &origin,
    );
    server::store::email_codes::issue(&app.state.db, &code, &mail, &event)
        .await
        .unwrap()
}

/// Wrong codes count like wrong passwords: enough room for a test that
/// makes several on purpose.
const ROOM: [(&str, &str); 2] = [
    ("LOGIN_FAILURES_PER_ACCOUNT_IP", "50/15m"),
    ("EMAIL_CODES_PER_ADDRESS", "100/1h"),
];

#[tokio::test]
async fn a_mailed_code_signs_in_once() {
    let app = TestApp::spawn().await;
    let ada = confirmed(&app, "ada").await;
    let asked = ask(&app, " Ada@Example.com").await;
    assert_eq!(asked.status(), 202);
    assert_eq!(asked.json::<Value>().await.unwrap(), json!({}));
    // Signup's own mail first, then the code's.
    let mails = app.mails_to("ada@example.com", 2).await;
    let mail = mails
        .iter()
        .find(|m| m.subject == "Your sign-in code")
        .unwrap();
    // The code and the address travel in the link's fragment, which no
    // server sees.
    assert!(
        mail.text
            .contains("/login/code#email=ada%40example.com&code="),
        "{}",
        mail.text
    );
    let code = code_of(mail);

    let spaced = format!("{} {}", &code[..4], &code[4..]);
    let signed_in = verify(&app, "ada@example.com", &spaced).await;
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["otp", "email"])
    );
    assert_eq!(body["user"]["id"], ada.id);

    let again = verify(&app, "ada@example.com", &code).await;
    assert_eq!(again.status(), 401);
    assert_eq!(error_code(again).await, "invalid_credentials");
}

#[tokio::test]
async fn unknown_addresses_are_answered_alike_and_mailed_nothing() {
    let app = TestApp::spawn_with(&ROOM).await;
    confirmed(&app, "ada").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..15 {
        for (email, times) in [
            ("ada@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let started = Instant::now();
            let response = ask(&app, email).await;
            times.push(started.elapsed());
            assert_eq!(response.status(), 202);
            assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    // The answer is sent before the account is looked up: the two differ
    // by the machine's noise, nowhere near a lookup and a hash.
    assert!(
        known.abs_diff(unknown) < Duration::from_millis(50),
        "known {known:?}, unknown {unknown:?}"
    );
    app.mails_to("ada@example.com", 16).await;
    assert!(app.outbox().iter().all(|m| m.to != "nobody@example.com"));
    assert_eq!(
        ask(&app, "ada").await.status(),
        422,
        "a username is not an address"
    );
    let code = verify(&app, "nobody@example.com", "12345678").await;
    assert_eq!(code.status(), 401);
    assert_eq!(error_code(code).await, "invalid_credentials");
    let malformed = verify(&app, "ada@example.com", "1234").await;
    assert_eq!(malformed.status(), 422);
}

#[tokio::test]
async fn the_fifth_wrong_code_ends_it_and_an_expired_one_is_refused() {
    let app = TestApp::spawn_with(&ROOM).await;
    confirmed(&app, "ada").await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 2).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for _ in 0..5 {
        assert_eq!(verify(&app, "ada@example.com", wrong).await.status(), 401);
    }
    assert_eq!(
        verify(&app, "ada@example.com", &code).await.status(),
        401,
        "the fifth wrong code ended it"
    );

    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 3).await;
    sqlx::query("UPDATE email_codes SET expires_at = $1")
        .bind(server::store::now_ms() - 1)
        .execute(&app.db().await)
        .await
        .unwrap();
    assert_eq!(verify(&app, "ada@example.com", &code).await.status(), 401);
}

#[tokio::test]
async fn of_codes_asked_for_at_once_on_two_instances_the_newest_wins() {
    let app = TestApp::spawn_with(&ROOM).await;
    let sibling = app.sibling().await;
    let ada = confirmed(&app, "ada").await;
    let asks = (0..10).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        ask(server, "ada@example.com")
    });
    for answer in futures::future::join_all(asks).await {
        assert_eq!(answer.status(), 202);
    }
    let mails = app.mails_to("ada@example.com", 11).await;
    let codes: Vec<String> = mails
        .iter()
        .filter(|m| m.subject == "Your sign-in code")
        .map(code_of)
        .collect();
    assert_eq!(codes.len(), 10);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM email_codes")
        .fetch_all(&app.db().await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one live code per account");
    let live: Vec<&String> = codes
        .iter()
        .filter(|code| app.state.email_tokens.code_hash(&ada.id, code).as_slice() == stored[0])
        .collect();
    assert_eq!(live.len(), 1, "the stored code is one of those mailed");
    let older = codes.iter().find(|code| *code != live[0]).unwrap();
    assert_eq!(
        verify(&sibling, "ada@example.com", older).await.status(),
        401
    );
    assert_eq!(
        verify(&sibling, "ada@example.com", live[0]).await.status(),
        200
    );
}

#[tokio::test]
async fn a_code_presented_twice_at_once_on_two_instances_signs_in_once() {
    let app = TestApp::spawn_with(&ROOM).await;
    let sibling = app.sibling().await;
    confirmed(&app, "ada").await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 2).await;
    let tries = (0..8).map(|i| {
        let server = if i % 2 == 0 { &app } else { &sibling };
        verify(server, "ada@example.com", &code)
    });
    let statuses: Vec<u16> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_account_with_a_second_factor_still_takes_its_second_step() {
    let app = TestApp::spawn_with(&ROOM).await;
    let ada = confirmed(&app, "ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 2).await;
    let first = verify(&app, "ada@example.com", &code).await;
    assert_eq!(first.status(), 403);
    let required: Value = first.json().await.unwrap();
    assert_eq!(required["error"], "mfa_required");
    assert!(required.get("access_token").is_none());
    let done = second_step(
        &app,
        required["mfa_token"].as_str().unwrap(),
        "totp",
        &totp(&secret, 0),
    )
    .await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["otp", "email", "mfa"])
    );
}

#[tokio::test]
async fn a_locked_account_gets_nothing_that_works() {
    let app = TestApp::spawn_with(&ROOM).await;
    confirmed(&app, "ada").await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 2).await;
    let db = app.db().await;
    sqlx::query("UPDATE users SET locked_at = $1 WHERE username = 'ada'")
        .bind(server::store::now_ms())
        .execute(&db)
        .await
        .unwrap();
    // A code mailed before the lock no longer works.
    assert_eq!(verify(&app, "ada@example.com", &code).await.status(), 401);
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_codes")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(live, 0, "the code tried after the lock is gone");
    // And none is stored, nor its mail queued, while it is locked: the
    // request is answered alike, and what its lookup then does is this.
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    assert!(!issue_for_ada(&app).await);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE id = 'test-mail'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn codes_for_one_address_are_limited_even_when_asked_for_at_once() {
    let app = TestApp::spawn_with(&[("EMAIL_CODES_PER_ADDRESS", "3/1h")]).await;
    let sibling = app.sibling().await;
    confirmed(&app, "ada").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let asks = (0..12).map(|i| ask(if i % 2 == 0 { &app } else { &sibling }, email));
        let statuses: Vec<u16> = futures::future::join_all(asks)
            .await
            .into_iter()
            .map(|r| r.status().as_u16())
            .collect();
        // Alike for an address with an account and one without.
        assert_eq!(
            statuses.iter().filter(|&&s| s == 202).count(),
            3,
            "{email}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|&&s| s == 429).count(),
            9,
            "{email}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn codes_are_not_stored_readable() {
    let app = TestApp::spawn().await;
    confirmed(&app, "ada").await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    let code = mailed_code(&app, "ada@example.com", 2).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM email_codes")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ada'")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    // Neither the code nor its plain hash: the keyed hash of the account and
    // the code, which is worth nothing for another account.
    assert_ne!(stored, code.as_bytes());
    assert_eq!(stored, app.state.email_tokens.code_hash(&id, &code));
    assert_ne!(stored, app.state.email_tokens.code_hash("another", &code));
}

#[tokio::test]
async fn an_unconfirmed_address_gets_no_code() {
    let app = TestApp::spawn_with(&ROOM).await;
    // Whoever signs up with someone else's address chooses the password: a
    // code for that address would let the owner in beside them.
    app.signup("ada").await;
    // Answered alike; what its lookup then does is this.
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    assert!(!issue_for_ada(&app).await);
    assert_eq!(
        verify(&app, "ada@example.com", "12345678").await.status(),
        401
    );
}

#[tokio::test]
async fn wrong_codes_meet_the_same_limit_for_known_and_unknown_addresses() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "3/15m")]).await;
    confirmed(&app, "ada").await;
    assert_eq!(ask(&app, "ada@example.com").await.status(), 202);
    mailed_code(&app, "ada@example.com", 2).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(verify(&app, email, "00000000").await.status().as_u16());
        }
        assert_eq!(statuses, [401, 401, 401, 429], "{email}");
    }
}
