//! The second factor: TOTP enrolment, the login's second step, codes that
//! never work twice, recovery codes, re-authentication, and what tokens say
//! about how their holder signed in. On both databases.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::{
    binary::tally,
    helpers::{PASSWORD, TestApp, TestUser, claims, error_code, header},
};

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code of `secret` (base32) for the time step `steps` away from now.
pub(crate) fn code(secret: &str, steps: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let at = now().checked_add_signed(steps * 30).unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes).generate(at)
}

/// Waits, if needed, until the current time step has at least 8 s left, so
/// that a test's codes are computed and checked in the same step. (A clock
/// boundary, not a race: nothing else is waited for.)
pub(crate) async fn early_in_a_step() {
    let into = now() % 30;
    if into > 22 {
        tokio::time::sleep(Duration::from_secs(30 - into)).await;
    }
}

/// Turns TOTP on for `user`, confirming with the code of the step before
/// the current one (so the current and next steps stay usable for logins).
/// Returns the secret and the recovery codes.
pub(crate) async fn enrol(app: &TestApp, user: &TestUser) -> (String, Vec<String>) {
    early_in_a_step().await;
    let started = app
        .bearer(Method::POST, "/api/account/mfa/totp", &user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let started: Value = started.json().await.unwrap();
    let secret = started["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .bearer_json(
            Method::POST,
            "/api/account/mfa/totp/confirm",
            &user.access,
            json!({"code": code(&secret, -1), "password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let body: Value = confirmed.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Logs in with the password; the `403 mfa_required` body.
pub(crate) async fn password_step(app: &TestApp, login: &str) -> Value {
    let response = app.login_response(login, PASSWORD).await;
    assert_eq!(
        response.status(),
        403,
        "{}",
        response.text().await.unwrap_or_default()
    );
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no cookie before the second factor"
    );
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    body
}

pub(crate) async fn second_step(
    app: &TestApp,
    mfa_token: &str,
    method: &str,
    code: &str,
) -> reqwest::Response {
    app.post_json(
        "/api/auth/mfa",
        &json!({"mfa_token": mfa_token, "method": method, "code": code}),
    )
    .await
}

#[tokio::test]
async fn enrolment_gives_a_secret_a_uri_and_a_qr_code_then_ten_codes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(
        status,
        json!({"totp": {"enabled": false, "created_at": null}, "passkeys": [], "recovery_codes_left": 0,
               "phone": null, "sms_available": true})
    );

    let first: Value = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = first["secret"].as_str().unwrap();
    assert!(
        Secret::Encoded(secret.into()).to_bytes().unwrap().len() >= 20,
        "≥ 160 bits"
    );
    assert_eq!(
        first["otpauth_uri"],
        format!(
            "otpauth://totp/classboard:ada?secret={secret}&issuer=classboard&algorithm=SHA1&digits=6&period=30"
        )
    );
    let svg = first["qr_svg"].as_str().unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("</svg>"),
        "an SVG document"
    );
    // Pending: not on yet; starting again replaces the pending secret.
    assert_eq!(
        app.get_json("/api/account/mfa", &ada.access).await["totp"]["enabled"],
        false
    );
    let (secret, codes) = enrol(&app, &ada).await;
    assert_ne!(
        secret,
        first["secret"].as_str().unwrap(),
        "a new secret each time"
    );
    assert_eq!(codes.len(), 10);
    let unique: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), 10);
    for c in &codes {
        // 12 characters of base32: 60 bits each.
        assert_eq!(c.replace('-', "").len(), 12, "{c}");
    }
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(status["totp"]["enabled"], true);
    assert!(status["totp"]["created_at"].is_string());
    assert_eq!(status["recovery_codes_left"], 10);
    assert_eq!(
        app.get_json("/api/me", &ada.access).await["user"]["mfa"],
        true
    );
    // Already on: starting again is a conflict.
    let again = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn confirmation_needs_the_right_code_and_password() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    early_in_a_step().await;
    let started: Value = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().unwrap();
    let confirm = |body: Value| {
        app.bearer_json(
            Method::POST,
            "/api/account/mfa/totp/confirm",
            &ada.access,
            body,
        )
    };

    let missing = confirm(json!({"password": ""})).await;
    assert_eq!(missing.status(), 422);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "password", "issue": "required"}, {"field": "code", "issue": "required"}])
    );
    let wrong_code = confirm(json!({"code": code(secret, 3), "password": PASSWORD})).await;
    assert_eq!(wrong_code.status(), 401);
    assert_eq!(error_code(wrong_code).await, "invalid_credentials");
    let wrong_password =
        confirm(json!({"code": code(secret, 0), "password": "not the password at all"})).await;
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(
        app.get_json("/api/account/mfa", &ada.access).await["totp"]["enabled"],
        false,
        "still pending"
    );
    // The pending secret survives the mistakes.
    assert_eq!(
        confirm(json!({"code": code(secret, 0), "password": PASSWORD}))
            .await
            .status(),
        200
    );
    // Nothing pending any more.
    assert_eq!(
        confirm(json!({"code": code(secret, 1), "password": PASSWORD}))
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn a_login_without_a_second_factor_is_password_only() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let before = now();
    let ada = app.login("ada").await;
    let claims = claims(&ada.access);
    assert_eq!(claims["amr"], json!(["pwd"]));
    let auth_time = claims["auth_time"].as_u64().unwrap();
    assert!(auth_time >= before && auth_time <= now());
    assert_eq!(
        app.get_json("/api/me", &ada.access).await["user"]["mfa"],
        false
    );
}

#[tokio::test]
async fn a_login_with_totp_asks_for_the_code_and_says_so_in_its_tokens() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let before = now();
    let required = password_step(&app, "ada").await;
    assert_eq!(required["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(required["expires_in"], 300);
    let mfa_token = required["mfa_token"].as_str().unwrap();

    let done = second_step(&app, mfa_token, "totp", &code(&secret, 0)).await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    let first = claims(body["access_token"].as_str().unwrap());
    assert_eq!(first["amr"], json!(["pwd", "otp", "mfa"]));
    let auth_time = first["auth_time"].as_u64().unwrap();
    assert!(
        auth_time >= before && auth_time <= now(),
        "when the password was checked"
    );
    assert_eq!(body["user"]["mfa"], true);

    // A refresh keeps how and when the session signed in.
    let refreshed: Value = app
        .refresh(body["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let again = claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(again["amr"], first["amr"]);
    assert_eq!(again["auth_time"], first["auth_time"]);
    // The mfa_token was single use.
    let reused = second_step(&app, mfa_token, "totp", &code(&secret, 1)).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(error_code(reused).await, "invalid_grant");
}

#[tokio::test]
async fn a_code_is_never_accepted_twice_for_an_account() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let current = code(&secret, 0);
    let first = password_step(&app, "ada").await;
    assert_eq!(
        second_step(&app, first["mfa_token"].as_str().unwrap(), "totp", &current)
            .await
            .status(),
        200
    );
    let second = password_step(&app, "ada").await;
    let replayed = second_step(
        &app,
        second["mfa_token"].as_str().unwrap(),
        "totp",
        &current,
    )
    .await;
    assert_eq!(replayed.status(), 401);
    assert_eq!(error_code(replayed).await, "invalid_credentials");
    // Nor an earlier step's code, once a later one was used.
    let third = password_step(&app, "ada").await;
    let older = second_step(
        &app,
        third["mfa_token"].as_str().unwrap(),
        "totp",
        &code(&secret, -1),
    )
    .await;
    assert_eq!(older.status(), 401);
}

/// One code presented at once with two challenges, through two server
/// instances on the same database: exactly one signs in.
#[tokio::test]
async fn a_code_presented_twice_at_once_on_two_instances_signs_in_once() {
    // Every round's refusals count against the account: room for them all.
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "50/15m")]).await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    for round in 0..3 {
        let a = password_step(&app, "ada").await;
        let b = password_step(&other, "ada").await;
        let code = code(&secret, 1);
        let (x, y) = tokio::join!(
            second_step(&app, a["mfa_token"].as_str().unwrap(), "totp", &code),
            second_step(&other, b["mfa_token"].as_str().unwrap(), "totp", &code),
        );
        let outcomes = tally([x.status().as_u16(), y.status().as_u16()]);
        if round == 0 {
            assert_eq!(outcomes, [(200, 1), (401, 1)].into(), "round {round}");
        } else {
            // The step was used in round 0: both refused.
            assert_eq!(outcomes, [(401, 2)].into(), "round {round}");
        }
    }
}

#[tokio::test]
async fn recovery_codes_work_once_in_any_case_with_or_without_separators() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (_, codes) = enrol(&app, &ada).await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    let required = password_step(&app, "ada").await;
    let done = second_step(
        &app,
        required["mfa_token"].as_str().unwrap(),
        "recovery_code",
        &typed,
    )
    .await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "mfa"])
    );
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_json("/api/account/mfa", access).await["recovery_codes_left"],
        9
    );

    let required = password_step(&app, "ada").await;
    let token = required["mfa_token"].as_str().unwrap();
    let spent = second_step(&app, token, "recovery_code", &codes[0]).await;
    assert_eq!(spent.status(), 401, "a recovery code works once");
    // Without dashes, lower case: the next code.
    let plain = codes[1].replace('-', "");
    assert_eq!(
        second_step(&app, token, "recovery_code", &plain)
            .await
            .status(),
        200
    );
    // A TOTP code is no recovery code.
    let required = password_step(&app, "ada").await;
    let wrong_kind = second_step(
        &app,
        required["mfa_token"].as_str().unwrap(),
        "recovery_code",
        "123456",
    )
    .await;
    assert_eq!(wrong_kind.status(), 401);
}

#[tokio::test]
async fn the_fifth_wrong_code_ends_the_challenge_and_an_expired_one_is_refused() {
    // A budget large enough that the challenge's own limit comes first.
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "50/15m")]).await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let required = password_step(&app, "ada").await;
    let token = required["mfa_token"].as_str().unwrap();
    let wrong = if code(&secret, 0) == "000000" {
        "000001"
    } else {
        "000000"
    };
    for n in 1..=5 {
        let response = second_step(&app, token, "totp", wrong).await;
        assert_eq!(response.status(), 401, "wrong code {n}");
    }
    let after = second_step(&app, token, "totp", &code(&secret, 0)).await;
    assert_eq!(after.status(), 400, "ended at the fifth wrong code");
    assert_eq!(error_code(after).await, "invalid_grant");

    // An expired challenge, as the clock would leave it after five minutes.
    let required = password_step(&app, "ada").await;
    sqlx::query("UPDATE mfa_challenges SET expires_at = 0")
        .execute(&app.db().await)
        .await
        .unwrap();
    let expired = second_step(
        &app,
        required["mfa_token"].as_str().unwrap(),
        "totp",
        &code(&secret, 0),
    )
    .await;
    assert_eq!(expired.status(), 400);
    // And one nobody issued.
    let unknown = second_step(&app, "bm90IGEgdG9rZW4", "totp", &code(&secret, 0)).await;
    assert_eq!(unknown.status(), 400);
}

/// A known password buys no fresh guesses at the code: the password step
/// and every wrong code count against the same budget as wrong passwords.
#[tokio::test]
async fn wrong_codes_count_against_the_accounts_failure_limits() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "4/15m")]).await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let wrong = if code(&secret, 0) == "000000" {
        "000001"
    } else {
        "000000"
    };
    let required = password_step(&app, "ada").await; // 1
    let token = required["mfa_token"].as_str().unwrap();
    assert_eq!(second_step(&app, token, "totp", wrong).await.status(), 401); // 2
    assert_eq!(second_step(&app, token, "totp", wrong).await.status(), 401); // 3
    assert_eq!(second_step(&app, token, "totp", wrong).await.status(), 401); // 4
    let limited = second_step(&app, token, "totp", &code(&secret, 0)).await;
    assert_eq!(
        limited.status(),
        429,
        "even the right code, once the budget is spent"
    );
    assert!(!header(&limited, "retry-after").is_empty());
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn sensitive_changes_need_the_password_and_a_current_code() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, codes) = enrol(&app, &ada).await;
    let remove =
        |body: Value| app.bearer_json(Method::DELETE, "/api/account/mfa/totp", &ada.access, body);
    let renew = |body: Value| {
        app.bearer_json(
            Method::POST,
            "/api/account/mfa/recovery-codes",
            &ada.access,
            body,
        )
    };

    let no_code = remove(json!({"password": PASSWORD})).await;
    assert_eq!(no_code.status(), 422);
    let body: Value = no_code.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "code", "issue": "required"}])
    );
    assert_eq!(
        remove(json!({"password": PASSWORD, "code": "000000"}))
            .await
            .status(),
        401
    );
    assert_eq!(
        remove(json!({"password": "wrong wrong wrong wrong", "code": code(&secret, 0)}))
            .await
            .status(),
        401
    );
    // New codes with a recovery code as the proof: the old set stops working.
    let renewed = renew(json!({"password": PASSWORD, "code": codes[0]})).await;
    assert_eq!(renewed.status(), 200);
    let fresh: Vec<String> = renewed.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert_eq!(
        renew(json!({"password": PASSWORD, "code": codes[1]}))
            .await
            .status(),
        401,
        "old codes are gone"
    );
    // Off, with the current TOTP code.
    assert_eq!(
        remove(json!({"password": PASSWORD, "code": code(&secret, 0)}))
            .await
            .status(),
        204
    );
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(
        status,
        json!({"totp": {"enabled": false, "created_at": null}, "passkeys": [], "recovery_codes_left": 0,
               "phone": null, "sms_available": true})
    );
    // Off: a password alone signs in again, and nothing is left to remove.
    app.login("ada").await;
    assert_eq!(remove(json!({"password": PASSWORD})).await.status(), 404);
    assert_eq!(renew(json!({"password": PASSWORD})).await.status(), 409);
}

#[tokio::test]
async fn secrets_codes_and_challenges_are_not_stored_readable() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (secret, codes) = enrol(&app, &ada).await;
    let required = password_step(&app, "ada").await;
    let token = required["mfa_token"].as_str().unwrap();
    let raw = Secret::Encoded(secret.clone()).to_bytes().unwrap();
    let db = app.db().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM totp_secrets")
        .fetch_one(&db)
        .await
        .unwrap();
    let readable =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    assert!(!readable(&stored, &raw) && !readable(&stored, secret.as_bytes()));
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    for (hash, code) in hashes.iter().zip(&codes) {
        assert!(!readable(hash, code.replace('-', "").as_bytes()));
    }
    let challenge: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM mfa_challenges")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!readable(&challenge, token.as_bytes()));
}

/// Fifty wrong codes fired at once at one challenge: the challenge takes
/// them in turn, checks five, and is gone for the rest.
#[tokio::test]
async fn a_challenge_checks_at_most_five_codes_however_many_arrive_at_once() {
    let app = TestApp::spawn_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "1000/15m"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "1000/1h"),
        ("SECOND_FACTOR_FAILURES_PER_ACCOUNT", "1000/1h"),
    ])
    .await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let required = password_step(&app, "ada").await;
    let token = required["mfa_token"].as_str().unwrap();
    let right = code(&secret, 0);
    let wrong: Vec<String> = (0..50)
        .map(|n| format!("{:06}", (n * 7919) % 1_000_000))
        .filter(|c| *c != right && *c != code(&secret, 1) && *c != code(&secret, -1))
        .take(50)
        .collect();
    let answers =
        futures::future::join_all(wrong.iter().map(|c| second_step(&app, token, "totp", c))).await;
    let outcomes = tally(answers.iter().map(|r| r.status().as_u16()));
    assert_eq!(outcomes.get(&401), Some(&5), "{outcomes:?}");
    assert_eq!(outcomes.get(&400), Some(&(wrong.len() - 5)), "{outcomes:?}");
}

/// Someone who knows the password cannot guess codes faster than the
/// account's code budget, whatever network they come from, and a right
/// password does not give that budget back.
#[tokio::test]
async fn wrong_codes_have_a_budget_of_their_own_that_a_password_does_not_reset() {
    let app = TestApp::spawn_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "1000/15m"),
        ("SECOND_FACTOR_FAILURES_PER_ACCOUNT", "3/1h"),
    ])
    .await;
    let ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let wrong = if code(&secret, 0) == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..3 {
        let required = password_step(&app, "ada").await;
        let response =
            second_step(&app, required["mfa_token"].as_str().unwrap(), "totp", wrong).await;
        assert_eq!(response.status(), 401);
    }
    let required = password_step(&app, "ada").await;
    let limited = second_step(
        &app,
        required["mfa_token"].as_str().unwrap(),
        "totp",
        &code(&secret, 0),
    )
    .await;
    assert_eq!(limited.status(), 429);
}

/// Turning two-step sign-in on ends the account's other sessions: one that
/// signed in with a stolen password must not outlive it.
#[tokio::test]
async fn turning_totp_on_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let elsewhere = app.login("ada").await;
    enrol(&app, &ada).await;
    let refused = app.me(&elsewhere.access).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(app.refresh(&elsewhere.refresh).await.status(), 400);
    // The session that turned it on goes on, refreshes included.
    assert_eq!(app.me(&ada.access).await.status(), 200);
    assert_eq!(app.refresh(&ada.refresh).await.status(), 200);
}

/// Two requests for new recovery codes at once leave one set, not two.
#[tokio::test]
async fn new_recovery_codes_asked_twice_at_once_leave_one_set() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (_, codes) = enrol(&app, &ada).await;
    let renew = |code: &str| {
        app.bearer_json(
            Method::POST,
            "/api/account/mfa/recovery-codes",
            &ada.access,
            json!({"password": PASSWORD, "code": code}),
        )
    };
    let (a, b) = tokio::join!(renew(&codes[0]), renew(&codes[1]));
    // The second proof may be checked after the first replaced the code it
    // uses: then it is refused. Either way, one set of ten is left.
    let statuses = tally([a.status().as_u16(), b.status().as_u16()]);
    assert!(statuses.contains_key(&200), "{statuses:?}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(left, 10);
}
