//! Passkeys: registration, sign-in with no password, the second step of a
//! password login, removal; ceremonies that work once, expire and belong to
//! one account or login; counters that must go up. On both databases, with a
//! software authenticator that signs with P-256 as a platform authenticator
//! would.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ciborium::Value as Cbor;
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use rand::RngCore;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    binary::tally,
    helpers::{PASSWORD, TestApp, TestUser, claims, error_code},
};

/// The origin the tests' server says it is (`PUBLIC_URL`), and that the
/// software authenticator signs.
pub(crate) const ORIGIN: &str = "http://localhost:3999";

pub(crate) async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("PUBLIC_URL", ORIGIN)]).await
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A resident credential on a software authenticator with user
/// verification: what a platform authenticator (a laptop's, a phone's) does.
pub(crate) struct SoftKey {
    key: SigningKey,
    credential_id: Vec<u8>,
    /// The account's user handle, learnt at registration.
    user_handle: Vec<u8>,
    counter: u32,
    /// What the browser reports: `platform` (the device's own) or
    /// `cross-platform` (a security key).
    attachment: &'static str,
}

impl SoftKey {
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let mut credential_id = vec![0u8; 16];
        rand::rng().fill_bytes(&mut credential_id);
        Self {
            key: SigningKey::from_slice(&secret).unwrap(),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            attachment: "platform",
        }
    }

    /// A security key.
    pub(crate) fn roaming() -> Self {
        Self {
            attachment: "cross-platform",
            ..Self::new()
        }
    }

    fn client_data(kind: &str, options: &Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": ORIGIN,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    /// The answer to creation options (`RegistrationResponseJSON`),
    /// attestation `none`.
    pub(crate) fn register(&mut self, options: &Value) -> Value {
        self.user_handle = URL_SAFE_NO_PAD
            .decode(options["user"]["id"].as_str().unwrap())
            .unwrap();
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let point = self.key.verifying_key().to_encoded_point(false);
        let cose = cbor(Cbor::Map(vec![
            (int(1), int(2)),  // kty: EC2
            (int(3), int(-7)), // alg: ES256
            (int(-1), int(1)), // crv: P-256
            (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ]));
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04 | 0x40); // user present, verified; credential data
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let attestation = cbor(Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&Self::client_data("webauthn.create", options)),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {"credProps": {"rk": true}},
        })
    }

    /// The answer to request options (`AuthenticationResponseJSON`), with
    /// the counter one up.
    pub(crate) fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert_with_counter(options, self.counter)
    }

    fn assert_with_counter(&self, options: &Value, counter: u32) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.get", options);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
        })
    }
}

fn int(n: i64) -> Cbor {
    Cbor::Integer(n.into())
}

fn cbor(value: Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

/// Starts a registration for `user`, re-authenticated with `proof`.
pub(crate) async fn begin_registration(app: &TestApp, user: &TestUser, proof: Value) -> Value {
    let started = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys/register",
            &user.access,
            proof,
        )
        .await;
    assert_eq!(started.status(), 200);
    started.json().await.unwrap()
}

/// Proof of presence for `user`: the password and `key`'s answer.
pub(crate) async fn passkey_proof(app: &TestApp, user: &TestUser, key: &mut SoftKey) -> Value {
    let started = app
        .bearer(
            Method::POST,
            "/api/account/reauth/passkey/options",
            &user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    json!({
        "password": PASSWORD,
        "ceremony": started["ceremony"],
        "credential": key.assert(&started["options"]),
    })
}

/// Registers `key` as `user`'s first passkey; the new passkey.
pub(crate) async fn add_passkey(
    app: &TestApp,
    user: &TestUser,
    key: &mut SoftKey,
    name: &str,
) -> Value {
    let started = begin_registration(app, user, json!({"password": PASSWORD})).await;
    let added = finish_registration(app, user, &started, key, name).await;
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    added.json().await.unwrap()
}

/// Answers the registration `started` with `key`, naming it `name`.
pub(crate) async fn finish_registration(
    app: &TestApp,
    user: &TestUser,
    started: &Value,
    key: &mut SoftKey,
    name: &str,
) -> reqwest::Response {
    let body = json!({
        "ceremony": started["ceremony"],
        "credential": key.register(&started["options"]),
        "name": name,
    });
    app.bearer_json(Method::POST, "/api/account/passkeys", &user.access, body)
        .await
}

pub(crate) async fn sign_in_options(app: &TestApp) -> Value {
    let options = app.post_json("/api/auth/passkey/options", &json!({})).await;
    assert_eq!(options.status(), 200);
    options.json().await.unwrap()
}

pub(crate) async fn sign_in(
    app: &TestApp,
    ceremony: &Value,
    credential: Value,
) -> reqwest::Response {
    app.post_json(
        "/api/auth/passkey",
        &json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn a_passkey_is_registered_then_signs_in_alone_as_two_factors() {
    let app = spawn().await;
    let ada = app.signup("ada").await;

    // Proof of presence first.
    let wrong = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys/register",
            &ada.access,
            json!({"password": "not the password at all"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let missing = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys/register",
            &ada.access,
            json!({}),
        )
        .await;
    assert_eq!(missing.status(), 422);

    let started = begin_registration(&app, &ada, json!({"password": PASSWORD})).await;
    let options = &started["options"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["attestation"], "none");
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert!(
        options["challenge"].as_str().unwrap().len() >= 43,
        "≥ 256 bits"
    );

    // A name is required; a bad one loses nothing: the ceremony still works.
    let mut key = SoftKey::new();
    let credential = key.register(options);
    let unnamed = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys",
            &ada.access,
            json!({"ceremony": started["ceremony"], "credential": credential, "name": " "}),
        )
        .await;
    assert_eq!(unnamed.status(), 422);
    let added = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys",
            &ada.access,
            json!({"ceremony": started["ceremony"], "credential": credential, "name": " Laptop "}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["passkey"]["name"], "Laptop");
    assert!(added["passkey"]["last_used_at"].is_null());

    let list = app.get_json("/api/account/passkeys", &ada.access).await;
    assert_eq!(list["passkeys"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_json("/api/account/mfa", &ada.access).await["passkeys"],
        list["passkeys"]
    );
    assert_eq!(
        app.get_json("/api/me", &ada.access).await["user"]["mfa"],
        true
    );

    // Sign in with no name: the browser offers the person's passkeys.
    let started = sign_in_options(&app).await;
    let allowed = &started["options"]["allowCredentials"];
    assert!(allowed.is_null() || allowed.as_array().unwrap().is_empty());
    assert_eq!(started["options"]["userVerification"], "required");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed_in = sign_in(&app, &started["ceremony"], key.assert(&started["options"])).await;
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["user"]["username"], "ada");
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["swk", "user", "mfa"]));
    assert!(access["auth_time"].as_u64().unwrap() >= before);
    // A refresh keeps how the session signed in.
    let refreshed: Value = app
        .refresh(body["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["amr"],
        access["amr"]
    );
    let list = app.get_json("/api/account/passkeys", &ada.access).await;
    assert!(list["passkeys"][0]["last_used_at"].is_string());

    // The same credential cannot be registered twice. (The account has a
    // second factor now: presence takes it too.)
    let proof = passkey_proof(&app, &ada, &mut key).await;
    let started = begin_registration(&app, &ada, proof).await;
    let excluded = &started["options"]["excludeCredentials"];
    assert_eq!(excluded[0]["id"], b64(&key.credential_id));
    let again = app.bearer_json(Method::POST,
        "/api/account/passkeys",
        &ada.access,
        json!({"ceremony": started["ceremony"], "credential": key.register(&started["options"]), "name": "Again"}),
    )
    .await;
    assert_eq!(again.status(), 401, "not told apart from a refusal");
}

#[tokio::test]
async fn the_first_passkey_ends_other_sessions_like_turning_on_totp() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let elsewhere = app.login("ada").await;
    add_passkey(&app, &ada, &mut SoftKey::new(), "Laptop").await;
    assert_eq!(app.me(&ada.access).await.status(), 200);
    assert_eq!(app.refresh(&elsewhere.refresh).await.status(), 400);
}

#[tokio::test]
async fn ceremonies_work_once_on_any_instance_and_expire() {
    let app = spawn().await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;

    // Started on one instance, finished on the other.
    let started = sign_in_options(&app).await;
    let credential = key.assert(&started["options"]);
    assert_eq!(
        sign_in(&other, &started["ceremony"], credential.clone())
            .await
            .status(),
        200
    );
    // Once.
    let replayed = sign_in(&app, &started["ceremony"], credential).await;
    assert_eq!(replayed.status(), 400);
    assert_eq!(error_code(replayed).await, "invalid_grant");

    // Two presentations of one ceremony at once, on two instances: one
    // signs in.
    let started = sign_in_options(&app).await;
    let credential = key.assert(&started["options"]);
    let (x, y) = tokio::join!(
        sign_in(&app, &started["ceremony"], credential.clone()),
        sign_in(&other, &started["ceremony"], credential),
    );
    assert_eq!(
        tally([x.status().as_u16(), y.status().as_u16()]),
        [(200, 1), (400, 1)].into()
    );

    // Past its five minutes.
    let started = sign_in_options(&app).await;
    sqlx::query("UPDATE webauthn_ceremonies SET expires_at = $1")
        .bind(server::store::now_ms() - 1)
        .execute(&app.db().await)
        .await
        .unwrap();
    let late = sign_in(&app, &started["ceremony"], key.assert(&started["options"])).await;
    assert_eq!(late.status(), 400);
    assert_eq!(error_code(late).await, "invalid_grant");

    // An unknown ceremony, a missing one, a credential that is not one.
    let unknown = sign_in(&app, &json!("no-such-ceremony"), json!({"id": "x"})).await;
    assert_eq!(unknown.status(), 422);
    let started = sign_in_options(&app).await;
    let unknown = sign_in(
        &app,
        &json!("no-such-ceremony"),
        key.assert(&started["options"]),
    )
    .await;
    assert_eq!(unknown.status(), 400);
    let missing = app
        .post_json(
            "/api/auth/passkey",
            &json!({"ceremony": started["ceremony"]}),
        )
        .await;
    assert_eq!(missing.status(), 422);
}

#[tokio::test]
async fn a_passkey_signs_in_as_its_own_account_only() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut ada_key = SoftKey::new();
    add_passkey(&app, &ada, &mut ada_key, "Laptop").await;
    let mut bob_key = SoftKey::new();
    add_passkey(&app, &bob, &mut bob_key, "Phone").await;

    // Ada's credential claiming to be Bob's account.
    let mut forged = SoftKey {
        key: ada_key.key.clone(),
        credential_id: ada_key.credential_id.clone(),
        user_handle: bob_key.user_handle.clone(),
        counter: 10,
        attachment: "platform",
    };
    let started = sign_in_options(&app).await;
    let refused = sign_in(
        &app,
        &started["ceremony"],
        forged.assert(&started["options"]),
    )
    .await;
    assert_eq!(refused.status(), 401);
    assert_eq!(error_code(refused).await, "invalid_credentials");

    // Bob's registration ceremony cannot be finished by Ada.
    let proof = passkey_proof(&app, &bob, &mut bob_key).await;
    let bobs = begin_registration(&app, &bob, proof).await;
    let taken = app.bearer_json(Method::POST,
        "/api/account/passkeys",
        &ada.access,
        json!({"ceremony": bobs["ceremony"], "credential": SoftKey::new().register(&bobs["options"]), "name": "Mine"}),
    )
    .await;
    assert_eq!(taken.status(), 400);

    // Another account's passkey cannot be removed: not found.
    let bobs_id = app.get_json("/api/account/passkeys", &bob.access).await["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = passkey_proof(&app, &ada, &mut ada_key).await;
    let removed = app
        .bearer_json(
            Method::DELETE,
            &format!("/api/account/passkeys/{bobs_id}"),
            &ada.access,
            proof,
        )
        .await;
    assert_eq!(removed.status(), 404);
    assert_eq!(
        app.get_json("/api/account/passkeys", &bob.access).await["passkeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_counter_that_does_not_go_up_is_refused_and_recorded() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;
    key.counter = 5;
    let started = sign_in_options(&app).await;
    let credential = key.assert(&started["options"]);
    assert_eq!(
        sign_in(&app, &started["ceremony"], credential)
            .await
            .status(),
        200
    );
    // Signed in with 6; then 7 is fine, 3 is not.
    for counter in [7, 3] {
        let started = sign_in_options(&app).await;
        let credential = key.assert_with_counter(&started["options"], counter);
        let status = sign_in(&app, &started["ceremony"], credential)
            .await
            .status();
        if counter == 7 {
            assert_eq!(status, 200);
        } else {
            assert_eq!(status, 401, "a counter that went back from 7 to 3");
        }
    }
    // The same counter again is no better.
    let started = sign_in_options(&app).await;
    let credential = key.assert_with_counter(&started["options"], 7);
    assert_eq!(
        sign_in(&app, &started["ceremony"], credential)
            .await
            .status(),
        401
    );
    let flagged: Option<i64> = sqlx::query_scalar("SELECT counter_regressed_at FROM passkeys")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert!(flagged.is_some(), "recorded as a possible clone");
}

#[tokio::test]
async fn a_passkey_is_the_second_step_of_a_password_login() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;
    add_passkey(&app, &bob, &mut SoftKey::new(), "Phone").await;

    let required = app.login_response("ada", PASSWORD).await;
    assert_eq!(required.status(), 403);
    let required: Value = required.json().await.unwrap();
    assert_eq!(required["methods"], json!(["passkey"]));
    let mfa_token = required["mfa_token"].as_str().unwrap();

    let options = |token: &str| {
        let body = json!({"mfa_token": token});
        let app = &app;
        async move { app.post_json("/api/auth/mfa/passkey/options", &body).await }
    };
    let unknown = options("no-such-token").await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(error_code(unknown).await, "invalid_grant");
    let started: Value = options(mfa_token).await.json().await.unwrap();
    let allowed = started["options"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "Ada's passkeys only");
    assert_eq!(allowed[0]["id"], b64(&key.credential_id));

    let second_step = |token: &str, ceremony: &Value, credential: Value| {
        let body = json!({"mfa_token": token, "method": "passkey", "ceremony": ceremony, "credential": credential});
        let app = &app;
        async move { app.post_json("/api/auth/mfa", &body).await }
    };
    // Both parts are needed.
    let incomplete = app
        .post_json(
            "/api/auth/mfa",
            &json!({"mfa_token": mfa_token, "method": "passkey"}),
        )
        .await;
    assert_eq!(incomplete.status(), 422);
    // A ceremony belongs to its login: Bob's login cannot use Ada's.
    let bobs: Value = app
        .login_response("bob", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let crossed = second_step(
        bobs["mfa_token"].as_str().unwrap(),
        &started["ceremony"],
        key.assert(&started["options"]),
    )
    .await;
    assert_eq!(crossed.status(), 400);
    assert_eq!(error_code(crossed).await, "invalid_grant");

    let started: Value = options(mfa_token).await.json().await.unwrap();
    let done = second_step(
        mfa_token,
        &started["ceremony"],
        key.assert(&started["options"]),
    )
    .await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "swk", "mfa"])
    );
    // The mfa_token is spent.
    let started = options(mfa_token).await;
    assert_eq!(started.status(), 400);

    // A wrong assertion counts as a wrong code on the challenge.
    let required: Value = app
        .login_response("ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = required["mfa_token"].as_str().unwrap();
    let started: Value = options(token).await.json().await.unwrap();
    let stale = key.assert_with_counter(&started["options"], 1);
    let refused = second_step(token, &started["ceremony"], stale).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(error_code(refused).await, "invalid_credentials");
}

#[tokio::test]
async fn removing_a_passkey_takes_presence_and_the_second_factor_with_it() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut key = SoftKey::new();
    let added = add_passkey(&app, &ada, &mut key, "Laptop").await;
    let id = added["passkey"]["id"].as_str().unwrap();
    let path = format!("/api/account/passkeys/{id}");
    // A passkey is a second factor: the password alone proves nothing now.
    let codes_path = "/api/account/mfa/recovery-codes";
    let password_only = app
        .bearer_json(
            Method::POST,
            codes_path,
            &ada.access,
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(password_only.status(), 422);
    // A proof ceremony belongs to its account: Bob cannot answer Ada's.
    let adas = passkey_proof(&app, &ada, &mut key).await;
    let crossed = app
        .bearer_json(Method::POST, "/api/account/reauth", &bob.access, adas)
        .await;
    assert_eq!(crossed.status(), 400);
    assert_eq!(error_code(crossed).await, "invalid_grant");
    // A wrong password with a right passkey is refused.
    let mut wrong_password = passkey_proof(&app, &ada, &mut key).await;
    wrong_password["password"] = json!("wrong wrong wrong wrong");
    assert_eq!(
        app.bearer_json(Method::POST, codes_path, &ada.access, wrong_password)
            .await
            .status(),
        401
    );
    let proof = passkey_proof(&app, &ada, &mut key).await;
    let codes = app
        .bearer_json(Method::POST, codes_path, &ada.access, proof.clone())
        .await;
    assert_eq!(codes.status(), 200, "recovery codes back a passkey up");
    let codes: Value = codes.json().await.unwrap();
    // The proof was used once.
    assert_eq!(
        app.bearer_json(Method::POST, codes_path, &ada.access, proof)
            .await
            .status(),
        400
    );
    // A code works as proof too.
    let without_code = app
        .bearer_json(
            Method::DELETE,
            &path,
            &ada.access,
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(without_code.status(), 422);
    let wrong = app
        .bearer_json(
            Method::DELETE,
            &path,
            &ada.access,
            json!({"password": "wrong wrong wrong wrong", "code": codes["recovery_codes"][1]}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let removed = app
        .bearer_json(
            Method::DELETE,
            &path,
            &ada.access,
            json!({"password": PASSWORD, "code": codes["recovery_codes"][0]}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    let status = app.get_json("/api/account/mfa", &ada.access).await;
    assert_eq!(status["passkeys"], json!([]));
    assert_eq!(
        status["recovery_codes_left"], 0,
        "no second factor left for them to back up"
    );
    assert_eq!(
        app.get_json("/api/me", &ada.access).await["user"]["mfa"],
        false
    );
    assert_eq!(app.login_response("ada", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn an_account_has_at_most_twenty_passkeys() {
    // Forty-odd ceremonies: more than one hour's factor changes allow.
    let app = TestApp::spawn_with(&[
        ("PUBLIC_URL", ORIGIN),
        ("FACTOR_CHANGES_PER_USER", "1000/1h"),
    ])
    .await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;
    let mut first = SoftKey::new();
    add_passkey(&app, &ada, &mut first, "Key 1").await;
    for n in 2..=19 {
        let proof = passkey_proof(&app, &ada, &mut first).await;
        let started = begin_registration(&app, &ada, proof).await;
        let added = finish_registration(
            &app,
            &ada,
            &started,
            &mut SoftKey::new(),
            &format!("Key {n}"),
        )
        .await;
        assert_eq!(added.status(), 201, "key {n}");
    }
    // Three registrations started while there is room for one, finished at
    // once through two instances: one is stored.
    let mut started = Vec::new();
    for _ in 0..3 {
        let proof = passkey_proof(&app, &ada, &mut first).await;
        started.push(begin_registration(&app, &ada, proof).await);
    }
    let (mut k, mut l, mut m) = (SoftKey::new(), SoftKey::new(), SoftKey::new());
    let (x, y, z) = tokio::join!(
        finish_registration(&app, &ada, &started[0], &mut k, "Key 20"),
        finish_registration(&other, &ada, &started[1], &mut l, "Key 20"),
        finish_registration(&app, &ada, &started[2], &mut m, "Key 20"),
    );
    let outcomes = tally([x, y, z].map(|r| r.status().as_u16()));
    assert_eq!(outcomes, [(201, 1), (409, 2)].into());
    // The 21st is refused before the authenticator makes it.
    let proof = passkey_proof(&app, &ada, &mut first).await;
    let refused = app
        .bearer_json(
            Method::POST,
            "/api/account/passkeys/register",
            &ada.access,
            proof,
        )
        .await;
    assert_eq!(refused.status(), 409);
    let list = app.get_json("/api/account/passkeys", &ada.access).await;
    assert_eq!(list["passkeys"].as_array().unwrap().len(), 20);
}

/// Two assertions with the same counter, each for a ceremony of its own,
/// presented at once through two instances: one counts.
#[tokio::test]
async fn one_counter_value_counts_once_whatever_arrives_at_once() {
    let app = spawn().await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::new();
    add_passkey(&app, &ada, &mut key, "Laptop").await;
    for round in 1..=3 {
        let (a, b) = (sign_in_options(&app).await, sign_in_options(&other).await);
        let counter = key.counter + 1;
        key.counter = counter;
        let (x, y) = tokio::join!(
            sign_in(
                &app,
                &a["ceremony"],
                key.assert_with_counter(&a["options"], counter)
            ),
            sign_in(
                &other,
                &b["ceremony"],
                key.assert_with_counter(&b["options"], counter)
            ),
        );
        let outcomes = tally([x.status().as_u16(), y.status().as_u16()]);
        assert_eq!(outcomes, [(200, 1), (401, 1)].into(), "round {round}");
    }
}

#[tokio::test]
async fn a_security_key_signs_in_as_hwk() {
    let app = spawn().await;
    let ada = app.signup("ada").await;
    let mut key = SoftKey::roaming();
    add_passkey(&app, &ada, &mut key, "Security key").await;
    let started = sign_in_options(&app).await;
    let signed_in = sign_in(&app, &started["ceremony"], key.assert(&started["options"])).await;
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["hwk", "user", "mfa"])
    );
}
