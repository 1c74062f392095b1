//! One proof policy (`auth::proof`): what every sensitive request must
//! prove, so that no factor opens a way around another. Each test here is a
//! finding of an attacker's review, and failed on the code before the
//! policy. On both databases.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use server::auth::proof::{Action, Needs};

use crate::{
    binary::tally,
    helpers::{PASSWORD, TestApp, TestUser, error_code, unproven_admin, user_from},
    mfa::{code, early_in_a_step, enrol, password_step, second_step},
    passkeys::{ORIGIN, SoftKey, add_passkey, passkey_proof, sign_in, sign_in_options},
};

/// `POST /api/account/mfa/totp` as `user`: the new secret.
async fn begin_totp(app: &TestApp, user: &TestUser) -> String {
    let started = app
        .bearer(Method::POST, "/api/account/mfa/totp", &user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let started: Value = started.json().await.unwrap();
    started["secret"].as_str().unwrap().to_owned()
}

async fn confirm_totp(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.bearer_json(
        Method::POST,
        "/api/account/mfa/totp/confirm",
        &user.access,
        body,
    )
    .await
}

/// The account's recovery codes left, and whether TOTP is on.
async fn factors(app: &TestApp, user: &TestUser) -> (i64, bool) {
    let status = app.get_json("/api/account/mfa", &user.access).await;
    (
        status["recovery_codes_left"].as_i64().unwrap(),
        status["totp"]["enabled"].as_bool().unwrap(),
    )
}

/// New recovery codes for `user`, proven with `proof`.
async fn new_codes(app: &TestApp, user: &TestUser, proof: Value) -> Vec<String> {
    let made = app
        .bearer_json(
            Method::POST,
            "/api/account/mfa/recovery-codes",
            &user.access,
            proof,
        )
        .await;
    assert_eq!(made.status(), 200);
    let made: Value = made.json().await.unwrap();
    made["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// Signs in with `key` alone (another device of the account's).
async fn passkey_session(app: &TestApp, key: &mut SoftKey) -> TestUser {
    let options = sign_in_options(app).await;
    let signed_in = sign_in(app, &options["ceremony"], key.assert(&options["options"])).await;
    assert_eq!(signed_in.status(), 200);
    user_from(signed_in.json().await.unwrap())
}

/// Whether a session's refresh token still works (it is spent if it does:
/// the caller gets the successor back).
async fn refreshes(app: &TestApp, user: &mut TestUser) -> bool {
    let response = app.refresh(&user.refresh).await;
    if response.status() != 200 {
        return false;
    }
    *user = user_from(response.json().await.unwrap());
    true
}

/// Finding 1: with a password and one stolen access token, anyone could add
/// their own TOTP to an account whose second factor is a passkey, and sign
/// in with it from then on. Confirming now takes the passkey (or a recovery
/// code) as well, and a refused attempt changes nothing: the owner's
/// recovery codes stay, and so do the owner's other sessions.
#[tokio::test]
async fn totp_cannot_join_a_passkey_account_on_the_password_alone() {
    let app = TestApp::spawn_with(&[("PUBLIC_URL", ORIGIN)]).await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;
    let proof = passkey_proof(&app, &ada, &mut key).await;
    let codes = new_codes(&app, &ada, proof).await;
    let mut phone = passkey_session(&app, &mut key).await;

    // The thief holds the password and the access token of `ada`.
    early_in_a_step().await;
    let secret = begin_totp(&app, &ada).await;
    let attempt = json!({"code": code(&secret, 0), "password": PASSWORD});
    let refused = confirm_totp(&app, &ada, attempt).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "recovery_code", "issue": "required"}])
    );
    let guessed =
        json!({"code": code(&secret, 0), "password": PASSWORD, "recovery_code": "0000-0000-0000"});
    assert_eq!(confirm_totp(&app, &ada, guessed).await.status(), 401);
    assert_eq!(factors(&app, &ada).await, (10, false), "nothing changed");
    assert!(
        refreshes(&app, &mut phone).await,
        "the phone stays signed in"
    );
    let login = password_step(&app, "ada").await;
    assert_eq!(login["methods"], json!(["recovery_code", "passkey"]));

    // The owner confirms with the passkey: TOTP is on.
    let mut owned = passkey_proof(&app, &ada, &mut key).await;
    owned["code"] = json!(code(&secret, 0));
    let on = confirm_totp(&app, &ada, owned).await;
    assert_eq!(on.status(), 200);
    assert_eq!(factors(&app, &ada).await, (10, true), "a new set of ten");
    // A recovery code of the old set is void now, as in any replacement.
    let old = app.post_json("/api/auth/mfa", &json!({"mfa_token": password_step(&app, "ada").await["mfa_token"], "method": "recovery_code", "code": codes[0]})).await;
    assert_eq!(old.status(), 401);
}

/// Finding 1, the other way in: an account whose second factor is a
/// passkey may confirm TOTP with a recovery code instead of the passkey.
#[tokio::test]
async fn a_recovery_code_proves_presence_for_turning_totp_on() {
    let app = TestApp::spawn_with(&[("PUBLIC_URL", ORIGIN)]).await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;
    let proof = passkey_proof(&app, &ada, &mut key).await;
    let codes = new_codes(&app, &ada, proof).await;
    early_in_a_step().await;
    let secret = begin_totp(&app, &ada).await;
    let on = confirm_totp(
        &app,
        &ada,
        json!({"code": code(&secret, 0), "password": PASSWORD, "recovery_code": codes[3]}),
    )
    .await;
    assert_eq!(on.status(), 200);
}

/// Adds the account's first second factor (TOTP, or a passkey with `key`)
/// from `user`'s session.
async fn add_first_factor(app: &TestApp, user: &TestUser, key: Option<&mut SoftKey>) {
    match key {
        Some(key) => {
            add_passkey(app, user, key, "Laptop").await;
        }
        None => {
            let secret = begin_totp(app, user).await;
            let on = confirm_totp(
                app,
                user,
                json!({"code": code(&secret, -1), "password": PASSWORD}),
            )
            .await;
            assert_eq!(on.status(), 200);
        }
    }
}

/// Finding 2: a password-only login timed around the first second factor
/// kept its session for 30 days. Twenty logins race the change through two
/// instances, five rounds for each kind of factor: whatever each login
/// got, no session that signed in with the password alone is live
/// afterwards but the one that added the factor.
#[tokio::test]
async fn no_password_only_login_outlives_the_first_second_factor() {
    let app = TestApp::spawn_with(&[
        ("PUBLIC_URL", ORIGIN),
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "10000/15m"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "10000/1h"),
    ])
    .await;
    let sibling = app.sibling().await;
    let db = app.db().await;
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..10 {
        let name = format!("ada{round}");
        let ada = app.signup(&name).await;
        early_in_a_step().await;
        let mut key = SoftKey::new();
        let by_passkey = round % 2 == 1;
        let logins = join_all((0..20).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &sibling };
            instance.login_response(&name, PASSWORD)
        }));
        let added = add_first_factor(&app, &ada, by_passkey.then_some(&mut key));
        let (logins, ()) = tokio::join!(logins, added);
        for login in logins {
            let status = login.status().as_u16();
            *outcomes.entry(status).or_insert(0) += 1;
            match status {
                200 => {
                    let user = user_from(login.json().await.unwrap());
                    assert_eq!(
                        app.refresh(&user.refresh).await.status(),
                        400,
                        "round {round}: a password-only session outlived the second factor"
                    );
                }
                403 => assert_eq!(error_code(login).await, "mfa_required"),
                other => panic!("round {round}: a login answered {other}"),
            }
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.username = $1 AND s.revoked_at IS NULL AND s.factor = 'password'",
        )
        .bind(&name)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(live, 1, "round {round}: only the session that added it");
    }
    // Both orders happened: logins that finished first, and logins that
    // found the factor (otherwise the race was never run).
    assert!(outcomes.contains_key(&403), "{outcomes:?}");
}

/// Every admin action on `target`, as `(method, path, body)`.
fn admin_actions(target: &str) -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::PATCH,
            format!("/api/users/{target}/role"),
            json!({"role": "teacher"}),
        ),
        (
            Method::POST,
            format!("/api/admin/users/{target}/lock"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/admin/users/{target}/unlock"),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("/api/admin/users/{target}/mfa"),
            json!({}),
        ),
        (
            Method::POST,
            "/api/admin/clients".into(),
            json!({"name": "Library", "redirect_uris": ["https://library.example/cb"]}),
        ),
        (
            Method::POST,
            format!("/api/admin/clients/{target}/secret"),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("/api/admin/clients/{target}"),
            json!({}),
        ),
    ]
}

/// Finding 3: with an admin's access token alone (15 minutes in page
/// storage), anyone could make another account admin for good. Admin
/// actions take a session proven within `REAUTH_WINDOW`; each session
/// proves for itself, and the proof runs out.
#[tokio::test]
async fn admin_actions_take_a_session_proven_within_the_window() {
    let app = TestApp::spawn_with(&[("REAUTH_WINDOW", "2s")]).await;
    let ada = app.signup("ada").await;
    enrol(&app, &ada).await;
    let root = unproven_admin(&app, "root").await;
    for (method, path, body) in admin_actions(&ada.id) {
        let refused = app
            .bearer_json(method.clone(), &path, &root.access, body)
            .await;
        assert_eq!(refused.status(), 403, "{method} {path}");
        assert_eq!(error_code(refused).await, "reauth_required");
    }
    let me = app.get_json("/api/me", &ada.access).await;
    assert_eq!(
        (me["user"]["role"].as_str(), me["user"]["mfa"].as_bool()),
        (Some("student"), Some(true)),
        "nothing changed"
    );

    // A wrong password proves nothing, and counts as a failed sign-in.
    let wrong = app
        .bearer_json(
            Method::POST,
            "/api/account/reauth",
            &root.access,
            json!({"password": "not the password at all"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    app.prove(&root).await;
    let promoted = app
        .bearer_json(
            Method::PATCH,
            &format!("/api/users/{}/role", ada.id),
            &root.access,
            json!({"role": "teacher"}),
        )
        .await;
    assert_eq!(promoted.status(), 200);
    // Another session of the same admin has proven nothing.
    let laptop = app.login("root").await;
    let other = app
        .bearer_json(
            Method::POST,
            &format!("/api/admin/users/{}/lock", ada.id),
            &laptop.access,
            json!({}),
        )
        .await;
    assert_eq!(other.status(), 403);
    // The window runs out (a clock to wait for, not a race).
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let late = app
        .bearer_json(
            Method::POST,
            &format!("/api/admin/users/{}/lock", ada.id),
            &root.access,
            json!({}),
        )
        .await;
    assert_eq!(late.status(), 403);
    assert_eq!(error_code(late).await, "reauth_required");
}

/// Finding 3: the admin endpoint removed an admin's own factors without
/// the proof that the account page asks for. No admin removes their own
/// second factors through it, proven or not.
#[tokio::test]
async fn no_admin_removes_their_own_second_factors_through_the_console() {
    let app = TestApp::spawn().await;
    let root = app.user_with_role("root", "admin").await;
    enrol(&app, &root).await;
    let own = app
        .bearer(
            Method::DELETE,
            &format!("/api/admin/users/{}/mfa", root.id),
            &root.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 409);
    assert_eq!(factors(&app, &root).await, (10, true));
}

/// The policy's table (docs/API.md) is what the server does: every action
/// it names, asked with no proof from a session that proved nothing, is
/// refused as its line says; from a proven session, only the actions that
/// need the proof in the body still ask for it.
#[tokio::test]
async fn every_sensitive_action_asks_what_the_policy_says() {
    let app = TestApp::spawn().await;
    let target = app.signup("target").await;
    for (n, action) in Action::ALL.into_iter().enumerate() {
        let (method, path) = action.route();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let path = path.trim_start_matches("/api").replace("{id}", &target.id);
        let caller = match action.needs() {
            Needs::ProvenSession => unproven_admin(&app, &format!("admin{n}")).await,
            Needs::Proof | Needs::ProofOrProvenSession => app.signup(&format!("user{n}")).await,
        };
        // Whatever the action's own fields are, and no proof.
        let body = json!({"role": "teacher", "new_password": "another long passphrase here",
                          "email": format!("moved{n}@example.com"), "code": "",
                          "phone": "+44 7400 123456"});
        let ask = async || {
            app.bearer_json(
                method.clone(),
                &format!("/api{path}"),
                &caller.access,
                body.clone(),
            )
            .await
        };
        let unproven = ask().await;
        let status = unproven.status().as_u16();
        let body: Value = unproven.json().await.unwrap();
        match action.needs() {
            Needs::ProvenSession => assert_eq!(
                (status, body["error"].as_str()),
                (403, Some("reauth_required")),
                "{action:?}"
            ),
            Needs::Proof | Needs::ProofOrProvenSession => {
                assert_eq!(status, 422, "{action:?}: {body}");
                assert!(
                    body["details"]
                        .as_array()
                        .unwrap()
                        .contains(&json!({"field": "password", "issue": "required"})),
                    "{action:?}: {body}"
                );
            }
        }
        app.prove(&caller).await;
        let proven = ask().await;
        let status = proven.status().as_u16();
        let body: Value = proven.json().await.unwrap_or(Value::Null);
        let still_asks = status == 422 && body["details"][0]["field"] == "password"
            || body["error"] == "reauth_required";
        assert_eq!(
            still_asks,
            action.needs() == Needs::Proof,
            "{action:?} from a proven session: {status} {body}"
        );
    }
}

/// Finding 5: a lock left pending address-change and reset links alive, and
/// following them changed the address and the password of a locked
/// account. A lock ends those links; while locked, every mailed link is
/// refused; the link that confirms the current address stays for later.
#[tokio::test]
async fn a_lock_ends_the_links_in_the_mailbox_and_refuses_them_while_locked() {
    let app = TestApp::spawn().await;
    let root = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let confirm_address = app.mails_to("ada@example.com", 1).await[0].token();
    let changed = app
        .bearer_json(
            Method::POST,
            "/api/account/email",
            &ada.access,
            json!({"password": PASSWORD, "email": "new@example.com"}),
        )
        .await;
    assert_eq!(changed.status(), 202);
    let change_link = app.mails_to("new@example.com", 1).await[0].token();
    let asked = app
        .post_json(
            "/api/auth/password-reset",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = app.mails_to("ada@example.com", 3).await;
    let reset_link = mails
        .iter()
        .find(|m| m.text.contains("reset-password?token="))
        .expect("a reset mail")
        .token();

    let lock = async |locked: &str| {
        app.bearer_json(
            Method::POST,
            &format!("/api/admin/users/{}/{locked}", ada.id),
            &root.access,
            json!({}),
        )
        .await
    };
    assert_eq!(lock("lock").await.status(), 204);
    let verify = async |token: &str| {
        app.post_json("/api/auth/verify-email", &json!({"token": token}))
            .await
    };
    let reset = async |token: &str| {
        app.post_json(
            "/api/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "a sturdy passphrase for testing"}),
        )
        .await
    };
    assert_eq!(verify(&change_link).await.status(), 400);
    assert_eq!(reset(&reset_link).await.status(), 400);
    assert_eq!(
        verify(&confirm_address).await.status(),
        400,
        "not while locked"
    );
    assert_eq!(lock("unlock").await.status(), 204);
    assert_eq!(
        verify(&change_link).await.status(),
        400,
        "ended by the lock"
    );
    assert_eq!(reset(&reset_link).await.status(), 400, "ended by the lock");
    assert_eq!(verify(&confirm_address).await.status(), 204, "kept");
    let ada = app.login("ada").await;
    let me = app.get_json("/api/me", &ada.access).await;
    assert_eq!(me["user"]["email"], "ada@example.com");
}

/// Finding 6: a reset link could go to an address the account no longer
/// had, when the address changed between the request's lookup and the
/// link's issue. The link is issued only to the account's address as it is
/// under the account's lock, and works only while it still is.
#[tokio::test]
async fn a_reset_link_goes_and_works_only_to_the_accounts_address() {
    use server::store::email_tokens::{self, NewToken, Purpose};
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let changed = app
        .bearer_json(
            Method::POST,
            "/api/account/email",
            &ada.access,
            json!({"password": PASSWORD, "email": "new@example.com"}),
        )
        .await;
    assert_eq!(changed.status(), 202);
    let link = app.mails_to("new@example.com", 1).await[0].token();
    let verified = app
        .post_json("/api/auth/verify-email", &json!({"token": link}))
        .await;
    assert_eq!(verified.status(), 204);

    // A reset request that looked the account up before the change
    // commits after it: its link is not issued to the old address.
    let (token, hash) = app.state.email_tokens.mint();
    let now = server::store::now_ms();
    let stale = NewToken {
        hash: &hash,
        user_id: &ada.id,
        purpose: Purpose::ResetPassword,
        email: "ada@example.com",
        now,
        expires_at: now + 60_000,
    };
    let issued = email_tokens::issue(&app.state.db, &stale, None, (&[], None))
        .await
        .unwrap();
    assert!(!issued, "no link to an address the account no longer has");

    // Nor does one that got stored before the change work after it.
    let db = app.db().await;
    sqlx::query(
        "INSERT INTO email_tokens (hash, user_id, purpose, email, created_at, expires_at)
         VALUES ($1, $2, 'reset_password', 'ada@example.com', $3, $4)",
    )
    .bind(hash.as_slice())
    .bind(&ada.id)
    .bind(now)
    .bind(now + 60_000)
    .execute(&db)
    .await
    .unwrap();
    let reset = app
        .post_json(
            "/api/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "a sturdy passphrase for testing"}),
        )
        .await;
    assert_eq!(reset.status(), 400);
    app.login("new@example.com").await;
}

/// Finding 8: starting a TOTP enrolment (an upsert and a QR code) or a
/// re-authentication ceremony (a row) had no limit. Ten at once through two
/// instances, with a budget of three: three go through. These need only an
/// access token, so they count per session: a stolen token spends its own
/// budget, and its owner's other sessions keep theirs (the review's second
/// finding). Registrations, which need a proof, count per account.
#[tokio::test]
async fn factor_changes_are_limited_however_many_arrive_at_once() {
    let app =
        TestApp::spawn_with(&[("FACTOR_CHANGES_PER_USER", "3/1h"), ("PUBLIC_URL", ORIGIN)]).await;
    let sibling = app.sibling().await;
    let ada = app.signup("ada").await;
    let begins = (0..10).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &sibling };
        instance
            .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
            .send()
    });
    let outcomes = tally(
        join_all(begins)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16()),
    );
    assert_eq!(outcomes, [(201, 3), (429, 7)].into());
    let refused = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(!refused.headers()["retry-after"].is_empty());
    // Another session of Ada's has a budget of its own.
    let laptop = app.login("ada").await;
    begin_totp(&app, &laptop).await;

    // The same budget for re-authentication ceremonies, per session; and
    // for registrations, per account.
    let bob = app.signup("bob").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &bob, &mut key, "Laptop").await;
    // Bob's token on another device, stolen.
    let thief = passkey_session(&app, &mut key).await;
    let options = async |user: &TestUser| {
        app.bearer(
            Method::POST,
            "/api/account/reauth/passkey/options",
            &user.access,
        )
        .send()
        .await
        .unwrap()
        .status()
    };
    for _ in 0..3 {
        assert_eq!(options(&thief).await, 200);
    }
    assert_eq!(options(&thief).await, 429);
    assert_eq!(
        options(&bob).await,
        200,
        "the owner's session is not blocked"
    );
    // Bob proves presence once (a second ceremony of his session's three),
    // then starts registrations: the first passkey's was one of three.
    let proof = passkey_proof(&app, &bob, &mut key).await;
    let proven = app
        .bearer_json(Method::POST, "/api/account/reauth", &bob.access, proof)
        .await;
    assert_eq!(proven.status(), 204);
    for _ in 0..2 {
        crate::passkeys::begin_registration(&app, &bob, json!({})).await;
    }
    let fourth = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys/register",
            &bob.access,
            json!({}),
        )
        .await;
    assert_eq!(fourth.status(), 429, "three registrations, then none");
}

/// From the review: a proof given in the body for a session that ended
/// meanwhile (a revocation this instance has not heard of yet) spends
/// nothing and changes nothing.
#[tokio::test]
async fn a_proof_for_a_session_that_ended_meanwhile_spends_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (_, codes) = enrol(&app, &ada).await;
    let db = app.db().await;
    // Ended in the database only, as by another instance a moment ago.
    sqlx::query("UPDATE sessions SET revoked_at = 1, revoked_reason = 'revoked' WHERE id = $1")
        .bind(crate::helpers::claims(&ada.access)["sid"].as_str().unwrap())
        .execute(&db)
        .await
        .unwrap();
    let changed = app
        .bearer_json(
            Method::POST,
            "/api/account/password",
            &ada.access,
            json!({"password": PASSWORD, "code": codes[0], "new_password": "a sturdy passphrase for testing"}),
        )
        .await;
    assert_eq!(changed.status(), 401);
    let other = app
        .post_json(
            "/api/auth/login",
            &json!({"login": "ada", "password": PASSWORD}),
        )
        .await;
    assert_eq!(other.status(), 403, "the old password still works");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 10, "no code spent");
}

/// From the review: a proof stamped by an instance whose clock runs a
/// moment ahead counts at once on the others.
#[tokio::test]
async fn a_proof_stamped_a_moment_ahead_counts() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let root = app.user_with_role("root", "admin").await;
    sqlx::query("UPDATE sessions SET proven_at = proven_at + 2000 WHERE id = $1")
        .bind(
            crate::helpers::claims(&root.access)["sid"]
                .as_str()
                .unwrap(),
        )
        .execute(&app.db().await)
        .await
        .unwrap();
    let locked = app
        .bearer_json(
            Method::POST,
            &format!("/api/admin/users/{}/lock", ada.id),
            &root.access,
            json!({}),
        )
        .await;
    assert_eq!(locked.status(), 204);
}

/// Finding 9: a refused request took the recovery code first, then
/// refused. Every check that can refuse runs before the proof is taken.
#[tokio::test]
async fn a_refused_request_spends_no_proof() {
    let app = TestApp::spawn_with(&[
        ("PUBLIC_URL", ORIGIN),
        ("VERIFICATION_MAILS_PER_ACCOUNT", "2/1h"),
        ("FACTOR_CHANGES_PER_USER", "1000/1h"),
    ])
    .await;
    app.signup("bob").await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Key 1").await;
    let proof = passkey_proof(&app, &ada, &mut key).await;
    let codes = new_codes(&app, &ada, proof).await;
    let with = |code: &str, extra: Value| {
        let mut body = json!({"password": PASSWORD, "code": code});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let ask = async |method: Method, path: &str, body: Value| {
        app.bearer_json(method, path, &ada.access, body).await
    };
    let refusals = [
        (
            Method::POST,
            "/api/account/email".to_owned(),
            json!({"email": "bob@example.com"}),
            409,
        ),
        (
            Method::POST,
            "/api/account/email".to_owned(),
            json!({"email": "ada@example.com"}),
            409,
        ),
        (
            Method::DELETE,
            "/api/account/mfa/totp".to_owned(),
            json!({}),
            404,
        ),
        (
            Method::DELETE,
            "/api/account/passkeys/no-such-passkey".to_owned(),
            json!({}),
            404,
        ),
    ];
    for (method, path, extra, expected) in refusals {
        let refused = ask(method.clone(), &path, with(&codes[0], extra)).await;
        assert_eq!(refused.status(), expected, "{method} {path}");
        assert_eq!(factors(&app, &ada).await.0, 10, "{method} {path}");
    }
    // The mail budget (two, one taken by the refusal for Bob's address):
    // the next change spends its code, the one after is refused and spends
    // none.
    let first = ask(
        Method::POST,
        "/api/account/email",
        with(&codes[0], json!({"email": "first@example.com"})),
    )
    .await;
    assert_eq!(first.status(), 202);
    let limited = ask(
        Method::POST,
        "/api/account/email",
        with(&codes[1], json!({"email": "second@example.com"})),
    )
    .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(factors(&app, &ada).await.0, 9);
    // A 21st passkey is refused before the code is taken.
    for n in 2..=20 {
        let proof = passkey_proof(&app, &ada, &mut key).await;
        let started = crate::passkeys::begin_registration(&app, &ada, proof).await;
        let added = crate::passkeys::finish_registration(
            &app,
            &ada,
            &started,
            &mut SoftKey::new(),
            &format!("Key {n}"),
        )
        .await;
        assert_eq!(added.status(), 201);
    }
    let too_many = ask(
        Method::POST,
        "/api/account/passkeys/register",
        with(&codes[1], json!({})),
    )
    .await;
    assert_eq!(too_many.status(), 409);
    assert_eq!(factors(&app, &ada).await.0, 9);
}

/// Finding 10: removing a passkey (a lost phone) left the sessions that
/// signed in with it refreshing. A session records the factor its sign-in
/// used; removing the factor ends those sessions (but the caller's), and so
/// does replacing or removing the recovery codes, or an admin removing every
/// factor.
#[tokio::test]
async fn a_factors_sessions_end_with_it() {
    let app = TestApp::spawn_with(&[("PUBLIC_URL", ORIGIN)]).await;
    let mut ada = app.signup("ada").await;
    let mut lost = SoftKey::new();
    let added = add_passkey(&app, &ada, &mut lost, "Phone").await;
    let lost_id = added["passkey"]["id"].as_str().unwrap().to_owned();
    let mut kept = SoftKey::new();
    let proof = passkey_proof(&app, &ada, &mut lost).await;
    let started = crate::passkeys::begin_registration(&app, &ada, proof).await;
    let second = crate::passkeys::finish_registration(&app, &ada, &started, &mut kept, "Key").await;
    assert_eq!(second.status(), 201);
    let proof = passkey_proof(&app, &ada, &mut kept).await;
    let codes = new_codes(&app, &ada, proof).await;

    // The phone signed in alone; a laptop with the password and the phone;
    // another with the password and a recovery code; one with the key.
    let mut phone = passkey_session(&app, &mut lost).await;
    let challenge = password_step(&app, "ada").await;
    let options = app
        .post_json(
            "/api/auth/mfa/passkey/options",
            &json!({"mfa_token": challenge["mfa_token"]}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let laptop = app
        .post_json(
            "/api/auth/mfa",
            &json!({"mfa_token": challenge["mfa_token"], "method": "passkey",
                    "ceremony": options["ceremony"], "credential": lost.assert(&options["options"])}),
        )
        .await;
    assert_eq!(laptop.status(), 200);
    let mut laptop = user_from(laptop.json().await.unwrap());
    let challenge = password_step(&app, "ada").await;
    let by_code = second_step(
        &app,
        challenge["mfa_token"].as_str().unwrap(),
        "recovery_code",
        &codes[0],
    )
    .await;
    assert_eq!(by_code.status(), 200);
    let mut by_code = user_from(by_code.json().await.unwrap());
    let mut by_key = passkey_session(&app, &mut kept).await;

    // The phone is lost: its passkey goes, from the signup's session.
    let removed = app
        .bearer_json(
            Method::DELETE,
            &format!("/api/account/passkeys/{lost_id}"),
            &ada.access,
            json!({"password": PASSWORD, "code": codes[1]}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    assert!(
        !refreshes(&app, &mut phone).await,
        "signed in with the phone"
    );
    assert!(
        !refreshes(&app, &mut laptop).await,
        "the phone was its second step"
    );
    assert!(refreshes(&app, &mut by_code).await);
    assert!(refreshes(&app, &mut by_key).await);
    assert!(refreshes(&app, &mut ada).await, "the caller's stays");

    // New recovery codes end the sessions that came in with an old one.
    let proof = passkey_proof(&app, &ada, &mut kept).await;
    new_codes(&app, &ada, proof).await;
    assert!(!refreshes(&app, &mut by_code).await);
    assert!(refreshes(&app, &mut by_key).await);

    // An admin removing every factor ends the sessions of each.
    let root = app.user_with_role("root", "admin").await;
    let cleared = app
        .bearer(
            Method::DELETE,
            &format!("/api/admin/users/{}/mfa", ada.id),
            &root.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(!refreshes(&app, &mut by_key).await);
    assert!(
        refreshes(&app, &mut ada).await,
        "signed in with the password alone"
    );
}

/// Finding 10, with TOTP: turning it off ends the sessions that signed in
/// with a code from the app.
#[tokio::test]
async fn turning_totp_off_ends_the_sessions_it_signed_in() {
    let app = TestApp::spawn().await;
    let mut ada = app.signup("ada").await;
    let (secret, _) = enrol(&app, &ada).await;
    let challenge = password_step(&app, "ada").await;
    let with_app = second_step(
        &app,
        challenge["mfa_token"].as_str().unwrap(),
        "totp",
        &code(&secret, 0),
    )
    .await;
    assert_eq!(with_app.status(), 200);
    let mut with_app = user_from(with_app.json().await.unwrap());
    let off = app
        .bearer_json(
            Method::DELETE,
            "/api/account/mfa/totp",
            &ada.access,
            json!({"password": PASSWORD, "code": code(&secret, 1)}),
        )
        .await;
    assert_eq!(off.status(), 204);
    assert!(!refreshes(&app, &mut with_app).await);
    assert!(refreshes(&app, &mut ada).await);
}
