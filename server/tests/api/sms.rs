//! A phone as a second factor (`/api/account/phone*`, `/api/auth/mfa/sms`):
//! numbers, texted codes, limits against SMS toll fraud, and delivery to the
//! folder or through a Twilio-compatible Messages API.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, TestApp, TestUser, claims, error_code},
    mfa::{password_step, second_step},
};

const NUMBER: &str = "+447400123456";

/// A text as the folder keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub to: String,
    pub body: String,
}

impl Text {
    /// The 6-digit code the text gives.
    pub fn code(&self) -> String {
        let code = self.body.split_whitespace().next().unwrap().to_owned();
        assert_eq!(code.len(), 6, "{}", self.body);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        code
    }
}

/// The texts in `$DATA_DIR/sms/`, oldest first.
fn folder(app: &TestApp) -> Vec<Text> {
    crate::helpers::files_oldest_first(&app.data_dir.join("sms"))
        .into_iter()
        .filter_map(|path| {
            let file = std::fs::read_to_string(path).ok()?;
            let (head, body) = file.split_once("\n\n")?;
            Some(Text {
                to: head.strip_prefix("To: ")?.to_owned(),
                body: body.to_owned(),
            })
        })
        .collect()
}

/// The texts to `to`, once there are `count` (at most ten seconds).
pub(crate) async fn texts_to(app: &TestApp, to: &str, count: usize) -> Vec<Text> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let texts: Vec<Text> = folder(app).into_iter().filter(|t| t.to == to).collect();
        if texts.len() >= count {
            return texts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {count} texts to {to}, found {}",
            texts.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn add_phone(app: &TestApp, user: &TestUser, phone: &str) -> reqwest::Response {
    app.bearer_json(
        Method::POST,
        "/api/account/phone",
        &user.access,
        json!({"phone": phone, "password": PASSWORD}),
    )
    .await
}

async fn confirm_phone(app: &TestApp, user: &TestUser, code: &str) -> reqwest::Response {
    app.bearer_json(
        Method::POST,
        "/api/account/phone/confirm",
        &user.access,
        json!({ "code": code }),
    )
    .await
}

/// Gives `user` the phone `number`, confirmed with the code texted to it
/// (the `nth` text to that number).
pub(crate) async fn with_phone(app: &TestApp, user: &TestUser, number: &str, nth: usize) {
    let added = add_phone(app, user, number).await;
    assert_eq!(added.status(), 202, "{}", added.text().await.unwrap());
    let code = texts_to(app, number, nth).await[nth - 1].code();
    let confirmed = confirm_phone(app, user, &code).await;
    assert_eq!(confirmed.status(), 200);
}

async fn text_me(app: &TestApp, mfa_token: &str) -> reqwest::Response {
    app.post_json("/api/auth/mfa/sms", &json!({ "mfa_token": mfa_token }))
        .await
}

/// The `mfa_token` of a password sign-in of `login`.
async fn mfa_token(app: &TestApp, login: &str) -> String {
    password_step(app, login).await["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `n` sign-in codes asked for `token` at once, alternately through `app`
/// and `sibling`: how many got `202` and how many `429`.
async fn asked_at_once(app: &TestApp, sibling: &TestApp, token: &str, n: usize) -> (usize, usize) {
    let asks = (0..n).map(|i| {
        let app = if i % 2 == 0 { app } else { sibling };
        async move { text_me(app, token).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(asks).await;
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(202) + count(429), n, "{statuses:?}");
    (count(202), count(429))
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn a_phone_confirmed_by_its_code_becomes_the_second_step_of_every_sign_in() {
    let app = TestApp::spawn_with(&[("SMS_BURST_PER_NUMBER", "100/30s")]).await;
    let ada = app.signup("ada").await;
    let added = add_phone(&app, &ada, "+44 7400 123456").await;
    assert_eq!(added.status(), 202);
    assert_eq!(added.json::<Value>().await.unwrap(), json!({}));
    let text = texts_to(&app, NUMBER, 1).await.remove(0);
    assert!(text.body.contains("confirms this number"), "{}", text.body);
    assert!(
        text.body.ends_with(&format!("#{}", text.code())),
        "{}",
        text.body
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = app.data_dir.join("sms");
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        for file in std::fs::read_dir(&folder).unwrap() {
            let mode = file.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    // Not a phone yet: the password alone still signs in.
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    let wrong = confirm_phone(&app, &ada, &other_than(&text.code())).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_code(wrong).await, "invalid_credentials");
    let confirmed = confirm_phone(&app, &ada, &text.code()).await;
    assert_eq!(confirmed.status(), 200);
    let phone: Value = confirmed.json().await.unwrap();
    assert_eq!(phone["number"], NUMBER);
    // The account's address hears of it.
    let notice = app.mails_to("ada@example.com", 2).await.pop().unwrap();
    assert_eq!(notice.subject, "A phone was added to your account");
    assert!(notice.text.contains("ending in 56"), "{}", notice.text);
    // Used once.
    assert_eq!(confirm_phone(&app, &ada, &text.code()).await.status(), 409);
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(status["phone"]["number"], NUMBER);
    assert_eq!(status["sms_available"], true);

    // Signing in now takes a texted code.
    let challenge = password_step(&app, "ada").await;
    assert_eq!(challenge["methods"], json!(["sms"]));
    let token = challenge["mfa_token"].as_str().unwrap();
    let sent = text_me(&app, token).await;
    assert_eq!(sent.status(), 202);
    let text = texts_to(&app, NUMBER, 2).await.remove(1);
    assert!(text.body.contains("finishes your sign-in"));
    let wrong = second_step(&app, token, "sms", &other_than(&text.code())).await;
    assert_eq!(wrong.status(), 401);
    let done = second_step(&app, token, "sms", &text.code()).await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "sms", "mfa"])
    );
    // The code worked once: another sign-in cannot reuse it.
    let again = password_step(&app, "ada").await;
    let reused = second_step(
        &app,
        again["mfa_token"].as_str().unwrap(),
        "sms",
        &text.code(),
    )
    .await;
    assert_eq!(reused.status(), 401);
    // Ada's own first session, which signed in with the password alone,
    // stays: it confirmed the phone. A code never works as a first factor.
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

#[tokio::test]
async fn confirming_a_phone_ends_the_other_password_only_sessions() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let other = app.login("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    let refreshed = app.refresh(&other.refresh).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(app.me(&other.access).await.status(), 401);
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

#[tokio::test]
async fn numbers_are_read_in_e164_and_refused_outside_the_allowed_countries() {
    let app = TestApp::spawn_with(&[("SMS_ALLOWED_COUNTRIES", "33, 49")]).await;
    let ada = app.signup("ada").await;
    for (phone, issue) in [
        ("+44 7400 123456", "country_not_allowed"),
        ("07400 123456", "invalid"),
        ("+44 909 879 0000", "invalid"),
        ("not a number", "invalid"),
        ("", "required"),
    ] {
        let refused = add_phone(&app, &ada, phone).await;
        assert_eq!(refused.status(), 422, "{phone}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["details"],
            json!([{"field": "phone", "issue": issue}]),
            "{phone}"
        );
    }
    assert!(folder(&app).is_empty(), "nothing was texted");
    assert_eq!(
        add_phone(&app, &ada, "+33 6 12 34 56 78").await.status(),
        202
    );
    texts_to(&app, "+33612345678", 1).await;
}

#[tokio::test]
async fn a_code_ends_at_its_fifth_wrong_guess_and_when_it_expires() {
    let app = TestApp::spawn_with(&[("SMS_BURST_PER_NUMBER", "100/30s")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    let code = texts_to(&app, NUMBER, 1).await[0].code();
    let wrong = other_than(&code);
    for _ in 0..5 {
        assert_eq!(confirm_phone(&app, &ada, &wrong).await.status(), 401);
    }
    // Ended: the right code no longer works.
    assert_eq!(confirm_phone(&app, &ada, &code).await.status(), 409);

    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    let code = texts_to(&app, NUMBER, 2).await[1].code();
    sqlx::query("UPDATE sms_codes SET expires_at = 0")
        .execute(&app.db().await)
        .await
        .unwrap();
    assert_eq!(confirm_phone(&app, &ada, &code).await.status(), 409);
    // Codes are stored keyed, never as typed.
    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    let code = texts_to(&app, NUMBER, 3).await[2].code();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM sms_codes")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!stored.windows(6).any(|w| w == code.as_bytes()));
}

#[tokio::test]
async fn texts_asked_at_once_through_two_instances_go_once_per_burst_and_the_newest_wins() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    let token = mfa_token(&app, "ada").await;
    // Past the confirming text's burst window.
    sqlx::query("DELETE FROM rate_counters")
        .execute(&app.db().await)
        .await
        .unwrap();
    assert_eq!(asked_at_once(&app, &sibling, &token, 10).await, (1, 9));
    let code = texts_to(&app, NUMBER, 2).await[1].code();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(folder(&app).len(), 2, "one text per burst");
    assert_eq!(second_step(&app, &token, "sms", &code).await.status(), 200);
}

#[tokio::test]
async fn the_newest_of_many_codes_is_the_one_that_works() {
    let app = TestApp::spawn_with(&[
        ("SMS_BURST_PER_NUMBER", "100/30s"),
        ("SMS_PER_NUMBER", "100/1h"),
    ])
    .await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    let token = mfa_token(&app, "ada").await;
    assert_eq!(asked_at_once(&app, &sibling, &token, 8).await, (8, 0));
    let texts = texts_to(&app, NUMBER, 9).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM sms_codes WHERE purpose = 'login'")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let login = server::auth::phones::Purpose::Login;
    let newest: Vec<&Text> = texts[1..]
        .iter()
        .filter(|t| {
            app.state.second_factors.sms_hash(&ada.id, login, &t.code()) == Some(stored.clone())
        })
        .collect();
    assert_eq!(newest.len(), 1, "one stored code, one of those texted");
    let older = texts[1..]
        .iter()
        .find(|t| t.code() != newest[0].code())
        .unwrap();
    assert_eq!(
        second_step(&app, &token, "sms", &older.code())
            .await
            .status(),
        401
    );
    assert_eq!(
        second_step(&app, &token, "sms", &newest[0].code())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_number_gets_at_most_its_texts_fired_at_once_and_others_cannot_spend_them() {
    let app = TestApp::spawn_with(&[
        ("SMS_BURST_PER_NUMBER", "100/30s"),
        ("SMS_PER_NUMBER", "3/1h"),
    ])
    .await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    // Others type Ada's number as theirs, as often as their budgets let
    // them: her own codes' budget stays whole.
    for i in 0..4 {
        let mallory = app.signup(&format!("mallory{i}")).await;
        assert_eq!(add_phone(&app, &mallory, NUMBER).await.status(), 202);
    }
    let token = mfa_token(&app, "ada").await;
    assert_eq!(asked_at_once(&app, &sibling, &token, 12).await, (3, 9));
    texts_to(&app, NUMBER, 1 + 4 + 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(folder(&app).len(), 8);
}

#[tokio::test]
async fn an_account_and_a_network_get_at_most_their_texts() {
    let app = TestApp::spawn_with(&[
        ("SMS_BURST_PER_NUMBER", "100/30s"),
        ("SMS_PER_ACCOUNT", "2/1d"),
        ("SMS_PER_IP", "3/1h"),
    ])
    .await;
    let ada = app.signup("ada").await;
    let numbers = ["+447400123401", "+447400123402", "+447400123403"];
    let mut statuses = Vec::new();
    for number in numbers {
        statuses.push(add_phone(&app, &ada, number).await.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 429], "the account's budget");
    let bob = app.signup("bob").await;
    let statuses: Vec<u16> = futures::future::join_all(
        ["+447400123404", "+447400123405"].map(|n| add_phone(&app, &bob, n)),
    )
    .await
    .iter()
    .map(|r| r.status().as_u16())
    .collect();
    // The network had three: Ada spent them (her refused third counted).
    assert!(statuses.iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn a_phone_only_account_proves_presence_with_a_texted_code() {
    let app = TestApp::spawn_with(&[
        ("SMS_BURST_PER_NUMBER", "100/30s"),
        ("SMS_PER_NUMBER", "100/1h"),
    ])
    .await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    let session = signed_in_by_text(&app, "ada", 2).await;
    let elsewhere = signed_in_by_text(&app, "ada", 3).await;
    // The password alone is not proof any more.
    let refused = app
        .bearer_json(
            Method::DELETE,
            "/api/account/phone",
            &session.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(refused.status(), 422, "the code is required");
    let sent = app
        .bearer(Method::POST, "/api/account/phone/code", &session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let text = texts_to(&app, NUMBER, 4).await.remove(3);
    assert!(text.body.contains("confirms a change"));
    let removed = app
        .bearer_json(
            Method::DELETE,
            "/api/account/phone",
            &session.access,
            json!({ "password": PASSWORD, "code": text.code() }),
        )
        .await;
    assert_eq!(removed.status(), 204);
    // Gone: the other session that signed in with it ends (the caller's
    // stays, as when TOTP is turned off); the password alone signs in again.
    assert_eq!(app.me(&elsewhere.access).await.status(), 401);
    assert_eq!(app.me(&session.access).await.status(), 200);
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(status["phone"], Value::Null);
}

/// Signs `login` in with the password and the `nth` text's code.
pub(crate) async fn signed_in_by_text(app: &TestApp, login: &str, nth: usize) -> TestUser {
    let token = mfa_token(app, login).await;
    assert_eq!(text_me(app, &token).await.status(), 202);
    let code = texts_to(app, NUMBER, nth).await[nth - 1].code();
    let done = second_step(app, &token, "sms", &code).await;
    assert_eq!(done.status(), 200);
    crate::helpers::user_from(done.json().await.unwrap())
}

#[tokio::test]
async fn with_sms_off_no_phone_is_added_and_none_is_asked_for() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 403);
    let data_dir = app.data_dir.clone();
    let off = TestApp::spawn_in_dir(data_dir, &[("SMS_SECOND_FACTOR", "off")]).await;
    let signed_in = off.login_response("ada", PASSWORD).await;
    assert_eq!(signed_in.status(), 200, "a phone is no second factor");
    let ada = crate::helpers::user_from(signed_in.json().await.unwrap());
    assert_eq!(add_phone(&off, &ada, NUMBER).await.status(), 404);
    let status = off.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(status["sms_available"], false);
    assert_eq!(status["phone"], Value::Null);
}

#[tokio::test]
async fn a_locked_account_gets_no_text() {
    let app = TestApp::spawn_with(&[("SMS_BURST_PER_NUMBER", "100/30s")]).await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    let token = mfa_token(&app, "ada").await;
    sqlx::query("UPDATE users SET locked_at = 1 WHERE username = 'ada'")
        .execute(&app.db().await)
        .await
        .unwrap();
    let refused = text_me(&app, &token).await;
    assert_eq!(refused.status(), 400, "{}", refused.text().await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(folder(&app).len(), 1, "only the confirming text");
}

/// A Twilio-compatible Messages API on loopback: it records what it is
/// sent, and answers `503` while down.
/// A call the fake received: the account's id and the `Authorization`
/// header, and the form's fields.
type Received = (String, Vec<(String, String)>);

#[derive(Clone, Default)]
struct FakeTwilio {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answers `503`.
    down: Arc<std::sync::atomic::AtomicBool>,
    /// Answers `400` (Twilio's 21211, a number it will not text).
    refuse: Arc<std::sync::atomic::AtomicBool>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeTwilio {
    async fn start(&self) -> u16 {
        use axum::{
            Form, Router,
            extract::{Path, State},
            http::{HeaderMap, StatusCode},
            routing::post,
        };
        async fn messages(
            State(fake): State<FakeTwilio>,
            Path(sid): Path<String>,
            headers: HeaderMap,
            Form(form): Form<Vec<(String, String)>>,
        ) -> (StatusCode, axum::Json<Value>) {
            fake.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if fake.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"code": 21211, "message": "invalid To"})),
                );
            }
            if fake.down.load(std::sync::atomic::Ordering::SeqCst) {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"code": 20503, "message": "down"})),
                );
            }
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            fake.received
                .lock()
                .unwrap()
                .push((format!("{sid} {auth}"), form));
            (
                StatusCode::CREATED,
                axum::Json(json!({"sid": "SM0123", "status": "queued"})),
            )
        }
        let router = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        port
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn texts_go_through_a_messages_api_that_is_down_and_comes_back() {
    let fake = FakeTwilio::default();
    fake.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let port = fake.start().await;
    let url = format!("twilio://AC0001:s3cret%2Ftoken@127.0.0.1:{port}?from=%2B15005550006");
    let app = TestApp::spawn_with(&[("SMS_URL", &url), ("SMS_ALLOWED_COUNTRIES", "44")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    // The first attempt fails; the text stays queued, its error recorded
    // without the token.
    let db = app.db().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let error = loop {
        let failed: Option<(i32, Option<String>)> =
            sqlx::query_as("SELECT attempts, last_error FROM outbox WHERE channel = 'sms'")
                .fetch_optional(&db)
                .await
                .unwrap();
        if let Some((attempts, Some(error))) = failed
            && attempts >= 1
        {
            break error;
        }
        assert!(std::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(error.contains("503"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    fake.down.store(false, std::sync::atomic::Ordering::SeqCst);
    // Due again five seconds after the failure.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while fake.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (who, form) = fake.received().remove(0);
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("AC0001:s3cret/token");
    assert_eq!(who, format!("AC0001 Basic {basic}"));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("To"), NUMBER);
    assert_eq!(field("From"), "+15005550006");
    let body = field("Body");
    assert!(body.contains("is your classboard code"), "{body}");
    let code = body.split_whitespace().next().unwrap();
    assert!(folder(&app).is_empty(), "nothing went to the folder");
    assert_eq!(confirm_phone(&app, &ada, code).await.status(), 200);
    // Delivered, the text leaves the outbox.
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // Countries: with SMS_URL set, only those listed.
    assert_eq!(add_phone(&app, &ada, "+33612345678").await.status(), 422);
}

#[tokio::test]
async fn with_a_messages_api_and_no_country_list_no_number_is_allowed() {
    let app = TestApp::spawn_with(&[(
        "SMS_URL",
        "twilio://AC0001:token@127.0.0.1:9?from=%2B15005550006",
    )])
    .await;
    let ada = app.signup("ada").await;
    let refused = add_phone(&app, &ada, NUMBER).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "phone", "issue": "country_not_allowed"}])
    );
}

#[tokio::test]
async fn texted_codes_are_void_while_the_account_has_an_app_or_a_passkey() {
    let app = TestApp::spawn_with(&[("SMS_BURST_PER_NUMBER", "100/30s")]).await;
    let ada = app.signup("ada").await;
    with_phone(&app, &ada, NUMBER, 1).await;
    // Turning TOTP on takes the phone's proof: a code texted for it.
    crate::mfa::early_in_a_step().await;
    let started: Value = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().unwrap().to_owned();
    let first = crate::mfa::code(&secret, -1);
    let without = app
        .bearer_json(
            Method::POST,
            "/api/account/mfa/totp/confirm",
            &ada.access,
            json!({"code": first, "password": PASSWORD}),
        )
        .await;
    assert_eq!(without.status(), 422, "the phone's code is asked for");
    let sent = app
        .bearer(Method::POST, "/api/account/phone/code", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let texted = texts_to(&app, NUMBER, 2).await[1].code();
    let on = app
        .bearer_json(
            Method::POST,
            "/api/account/mfa/totp/confirm",
            &ada.access,
            json!({"code": first, "password": PASSWORD, "recovery_code": texted}),
        )
        .await;
    assert_eq!(on.status(), 200, "{}", on.text().await.unwrap());
    let challenge = password_step(&app, "ada").await;
    assert_eq!(challenge["methods"], json!(["totp", "recovery_code"]));
    let token = challenge["mfa_token"].as_str().unwrap();
    let refused = text_me(&app, token).await;
    assert_eq!(refused.status(), 409);
    // A code asked for before TOTP was on is void now.
    sqlx::query(
        "INSERT INTO sms_codes (user_id, purpose, number, hash, created_at, expires_at)
         SELECT id, 'login', $1, $2, 0, 9999999999999 FROM users WHERE username = 'ada'",
    )
    .bind(NUMBER)
    .bind(
        app.state
            .second_factors
            .sms_hash(&ada.id, server::auth::phones::Purpose::Login, "123456")
            .unwrap(),
    )
    .execute(&app.db().await)
    .await
    .unwrap();
    assert_eq!(
        second_step(&app, token, "sms", "123456").await.status(),
        401
    );
    let proof_code = app
        .bearer(Method::POST, "/api/account/phone/code", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(proof_code.status(), 409);
    let done = second_step(&app, token, "totp", &crate::mfa::code(&secret, 0)).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn a_text_refused_for_good_or_past_its_code_is_dropped_not_retried() {
    let fake = FakeTwilio::default();
    fake.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let port = fake.start().await;
    let url = format!("twilio://AC0001:token@127.0.0.1:{port}?from=%2B15005550006");
    let app = TestApp::spawn_with(&[
        ("SMS_URL", &url),
        ("SMS_ALLOWED_COUNTRIES", "44"),
        ("SMS_BURST_PER_NUMBER", "100/30s"),
    ])
    .await;
    let ada = app.signup("ada").await;
    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    let db = app.db().await;
    let gone = async || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'")
                .fetch_one(&db)
                .await
                .unwrap();
            if left == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still queued");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // 400 (a number the provider will not text): given up at once.
    gone().await;
    assert_eq!(fake.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Down, and the text's code expires meanwhile: dropped, never sent.
    fake.refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    fake.down.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(add_phone(&app, &ada, NUMBER).await.status(), 202);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < deadline, "no attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.down.store(false, std::sync::atomic::Ordering::SeqCst);
    sqlx::query(
        "UPDATE outbox SET created_at = created_at - 660000, next_attempt_at = 0
         WHERE channel = 'sms'",
    )
    .execute(&db)
    .await
    .unwrap();
    gone().await;
    assert!(fake.received().is_empty(), "nothing was delivered");
}
