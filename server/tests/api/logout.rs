//! Logout both ways (RP-initiated and back-channel) and `private_key_jwt`:
//! the provider's requests and calls to apps. An app here is a small HTTP
//! server on loopback that records what it is sent and serves its JWKS.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Form, Json, Router, extract::State, http::StatusCode, routing};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::Jwk};
use reqwest::Method;
use serde_json::{Value, json};
use server::{provider::clients::Registration, store::rows::Origin};

use crate::{
    helpers::{TestApp, TestUser, claims, error_code, header},
    provider::{App, REDIRECT, code_for, exchange, issuer, provider, provider_with, urlencode},
};

const BYE: &str = "http://127.0.0.1:9/bye";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An app's own server, on loopback: it records the logout tokens posted
/// to `/backchannel` (answering `503` while `failures` lasts) and serves
/// `jwks` at `/jwks.json`.
#[derive(Clone, Default)]
struct AppServer {
    received: Arc<Mutex<Vec<String>>>,
    failures: Arc<AtomicUsize>,
    jwks: Arc<Mutex<Value>>,
}

impl AppServer {
    async fn start(&self) -> String {
        let router = Router::new()
            .route("/backchannel", routing::post(receive))
            .route("/jwks.json", routing::get(jwks))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        address
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(server): State<AppServer>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> StatusCode {
    server
        .received
        .lock()
        .unwrap()
        .push(form.get("logout_token").cloned().unwrap_or_default());
    let failing = server
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn jwks(State(server): State<AppServer>) -> Json<Value> {
    Json(server.jwks.lock().unwrap().clone())
}

async fn register_with(app: &TestApp, registration: Registration) -> App {
    let registered = app
        .state
        .clients
        .register(&registration, &Origin::default(), None)
        .await
        .expect("the app registers");
    App {
        id: registered.client.id,
        secret: registered.secret,
    }
}

/// An app that signs people in, returns to `BYE` after a logout, and
/// listens at `backchannel` when given.
async fn library(app: &TestApp, backchannel: Option<String>) -> App {
    register_with(
        app,
        Registration {
            name: "School library".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![BYE.into()],
            backchannel_logout_uri: backchannel,
            scopes: vec!["openid".into(), "offline_access".into(), "profile".into()],
            ..Registration::default()
        },
    )
    .await
}

/// Signs `user` in to `client` with `scope`; the token endpoint's answer.
async fn signed_in(app: &TestApp, client: &App, user: &TestUser, scope: &str) -> Value {
    let code = code_for(app, client, user, scope).await;
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `GET /oauth/logout?<query>`: where it sends the browser.
async fn end_session(app: &TestApp, query: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/oauth/logout?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{query}");
    header(&response, "location")
}

/// What the `/logout` page is told for `handle`, as `visitor` or nobody.
async fn logout_step(app: &TestApp, handle: &str, visitor: Option<&TestUser>) -> reqwest::Response {
    let request = app
        .client
        .post(app.url("/api/oauth/logout"))
        .json(&json!({"request": handle}));
    match visitor {
        Some(user) => request.bearer_auth(&user.access),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

fn handle_in(location: &str) -> String {
    location
        .strip_prefix("/logout?request=")
        .unwrap_or_else(|| panic!("not the page: {location}"))
        .to_owned()
}

#[tokio::test]
async fn an_app_signs_the_person_out_and_gets_them_back_only_to_an_address_it_registered() {
    let app = provider().await;
    let client = library(&app, None).await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let tokens = signed_in(&app, &client, &ada, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();

    // The hint names Ada's session: her page signs her out without asking.
    let location = end_session(
        &app,
        &format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}&state=s%201",
            urlencode(BYE)
        ),
    )
    .await;
    let handle = handle_in(&location);
    let step: Value = logout_step(&app, &handle, Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        step,
        json!({"app": "School library", "ask": false, "then": format!("{BYE}?state=s+1")})
    );
    // Bob, in another browser with the same link, is asked first.
    let step: Value = logout_step(&app, &handle, Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(step["ask"], true);
    // Nobody signed in: nothing to end, straight back.
    let step: Value = logout_step(&app, &handle, None).await.json().await.unwrap();
    assert_eq!(step["ask"], false);

    // Without a hint, the app is named by client_id and the person asked.
    let location = end_session(
        &app,
        &format!(
            "client_id={}&post_logout_redirect_uri={}",
            client.id,
            urlencode(BYE)
        ),
    )
    .await;
    let step: Value = logout_step(&app, &handle_in(&location), Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        step,
        json!({"app": "School library", "ask": true, "then": BYE})
    );

    // The same by POST, as the specification allows.
    let posted = app
        .client
        .post(app.url("/oauth/logout"))
        .form(&[("id_token_hint", hint)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert!(header(&posted, "location").starts_with("/logout?request="));

    // What is never followed, each explained on the page.
    let mut forged = hint.to_owned();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    for (query, problem) in [
        (
            format!(
                "id_token_hint={hint}&post_logout_redirect_uri={}",
                urlencode("https://evil.example/")
            ),
            "unknown_post_logout_redirect_uri",
        ),
        (
            format!(
                "id_token_hint={hint}&post_logout_redirect_uri={}/",
                urlencode(BYE)
            ),
            "unknown_post_logout_redirect_uri",
        ),
        (
            format!("post_logout_redirect_uri={}", urlencode(BYE)),
            "redirect_without_app",
        ),
        (format!("id_token_hint={forged}"), "bad_id_token_hint"),
        // A board access token is not an ID token.
        (format!("id_token_hint={}", ada.access), "bad_id_token_hint"),
        (
            format!("id_token_hint={hint}&client_id=someone-else"),
            "hint_of_another_app",
        ),
        ("client_id=nobody-here".to_owned(), "unknown_app"),
        (
            format!("client_id={0}&client_id={0}", client.id),
            "malformed",
        ),
    ] {
        assert_eq!(
            end_session(&app, &query).await,
            format!("/logout?problem={problem}"),
            "{query}"
        );
    }
    let page = app
        .get("/logout?problem=unknown_post_logout_redirect_uri")
        .await;
    assert_eq!(page.status(), 400);

    // A handle is the server's own and unaltered.
    let mut altered = handle.clone();
    altered.replace_range(10..11, if &altered[10..11] == "A" { "B" } else { "A" });
    let refused = logout_step(&app, &altered, Some(&ada)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_request");
}

/// Waits until `done` holds, for up to `seconds`.
async fn until(seconds: u64, mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..seconds * 10 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The kinds and details of the events recorded for `user_id`.
async fn events_of(app: &TestApp, user_id: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT kind, COALESCE(detail, '') FROM audit_events WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_sign_out_reaches_the_app_by_a_logout_token_through_a_failure_and_is_recorded() {
    let app = provider_with(&[("ALLOW_LOOPBACK_CALLS", "true")]).await;
    let listener = AppServer::default();
    listener.failures.store(1, Ordering::SeqCst);
    let base = listener.start().await;
    let client = library(&app, Some(format!("{base}/backchannel"))).await;
    let ada = app.signup("ada").await;
    let tokens = signed_in(&app, &client, &ada, "openid").await;
    let sid = claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    // A grant without openid got no ID token: its app is told nothing.
    signed_in(&app, &client, &ada, "offline_access").await;

    let out = app
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    assert!(out.status().is_success());

    // The first delivery fails (503); the next, after a pause, succeeds.
    assert!(
        until(30, async || listener.received().len() >= 2).await,
        "{:?}",
        listener.received()
    );
    let received = listener.received();
    // Signed when sent: the retry carries a token of its own.
    assert_ne!(received[0], received[1]);
    let token = &received[1];
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk: Jwk = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header.kid.clone().unwrap().as_str())
            .unwrap()
            .clone(),
    )
    .unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&client.id]);
    validation.set_issuer(&[issuer(&app)]);
    let logout: Value =
        jsonwebtoken::decode(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
            .expect("the logout token verifies with the JWKS")
            .claims;
    assert_eq!(logout["sub"], ada.id.as_str());
    assert_eq!(logout["sid"], sid.as_str());
    assert!(logout["jti"].is_string() && logout["iat"].is_u64());
    assert!(logout.get("nonce").is_none());
    assert_eq!(
        logout["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );

    // Recorded once, and nothing more is owed.
    assert!(
        until(10, async || {
            events_of(&app, &ada.id)
                .await
                .iter()
                .any(|(kind, _)| kind == "app_logout_delivered")
        })
        .await
    );
    let owed: Vec<(String,)> = sqlx::query_as("SELECT client_id FROM logout_deliveries")
        .fetch_all(&app.db().await)
        .await
        .unwrap();
    assert!(owed.is_empty(), "{owed:?}");
    assert_eq!(
        listener.received().len(),
        2,
        "one app and session: one token"
    );
}

#[tokio::test]
async fn sessions_ended_at_once_on_two_instances_are_each_told_once() {
    let app = provider_with(&[("ALLOW_LOOPBACK_CALLS", "true")]).await;
    let other = app.sibling().await;
    let listener = AppServer::default();
    let base = listener.start().await;
    let client = library(&app, Some(format!("{base}/backchannel"))).await;
    // Ten people signed in to the app, each through a session of their own.
    let mut people = Vec::new();
    for i in 0..10 {
        let person = app.signup(&format!("person{i}")).await;
        let tokens = signed_in(&app, &client, &person, "openid").await;
        let sid = claims(tokens["id_token"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        people.push((person, sid));
    }
    // All sign out at once, half through each instance; both instances'
    // senders then race for the deliveries.
    let bodies: Vec<Value> = people
        .iter()
        .map(|(person, _)| json!({"refresh_token": person.refresh}))
        .collect();
    let outs = futures::future::join_all(bodies.iter().enumerate().map(|(i, body)| {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance.post_json("/api/auth/logout", body)
    }))
    .await;
    assert!(outs.iter().all(|out| out.status().is_success()));
    assert!(
        until(30, async || listener.received().len() >= people.len()).await,
        "{} of {}",
        listener.received().len(),
        people.len()
    );
    // Every delivery settled: a second claim of any would have sent it
    // again before its row went.
    assert!(
        until(30, async || {
            sqlx::query_as::<_, (String,)>("SELECT client_id FROM logout_deliveries")
                .fetch_all(&app.db().await)
                .await
                .unwrap()
                .is_empty()
        })
        .await
    );
    let mut told: Vec<String> = listener
        .received()
        .iter()
        .map(|token| claims(token)["sid"].as_str().unwrap().to_owned())
        .collect();
    told.sort();
    let mut expected: Vec<String> = people.iter().map(|(_, sid)| sid.clone()).collect();
    expected.sort();
    assert_eq!(told, expected, "each session told once");
    let recorded: Vec<(String,)> =
        sqlx::query_as("SELECT session_id FROM audit_events WHERE kind = 'app_logout_delivered'")
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    assert_eq!(recorded.len(), people.len(), "{recorded:?}");
}

#[tokio::test]
async fn an_app_listening_on_a_private_address_is_never_called() {
    // ALLOW_LOOPBACK_CALLS is off, as in production.
    let app = provider().await;
    let listener = AppServer::default();
    let base = listener.start().await;
    let client = library(&app, Some(format!("{base}/backchannel"))).await;
    let ada = app.signup("ada").await;
    signed_in(&app, &client, &ada, "openid").await;
    let out = app
        .bearer(Method::POST, "/api/auth/logout-all", &ada.access)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());

    assert!(
        until(10, async || {
            events_of(&app, &ada.id).await.iter().any(|(kind, detail)| {
                kind == "app_logout_failed" && detail.contains("not one this server calls")
            })
        })
        .await,
        "{:?}",
        events_of(&app, &ada.id).await
    );
    assert!(listener.received().is_empty());
}

/// An Ed25519 key pair for an app: the private half, and the JWKS entry
/// with `kid`.
fn app_key(kid: &str) -> (EncodingKey, Value) {
    let pem = server::auth::jwt::new_ed25519_pem();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    (key, jwk)
}

fn assertion(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// `client_credentials` with `assertion` (and no `client_id`).
async fn with_assertion(app: &TestApp, assertion: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "grades:read"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_app_authenticates_with_its_key_once_per_assertion_on_every_instance() {
    // Instances of one deployment share its issuer (on loopback: the app
    // it calls is on this machine too).
    const ISSUER: &str = "http://localhost";
    // Each refusal below counts as a failed authentication: room for all.
    let app = provider_with(&[
        ("ALLOW_LOOPBACK_CALLS", "true"),
        ("ISSUER", ISSUER),
        ("LOGIN_FAILURES_PER_ACCOUNT_IP", "100/15m"),
    ])
    .await;
    let other = app.sibling().await;
    let server = AppServer::default();
    let (key, jwk) = app_key("k1");
    *server.jwks.lock().unwrap() = json!({"keys": [jwk]});
    let base = server.start().await;
    let service = register_with(
        &app,
        Registration {
            name: "Report card printer".into(),
            scopes: vec!["grades:read".into()],
            grant_types: vec!["client_credentials".into()],
            jwks_uri: Some(format!("{base}/jwks.json")),
            ..Registration::default()
        },
    )
    .await;
    let now = server::auth::jwt::unix_now();
    let claims_with = |extra: Value| {
        let mut claims = json!({
            "iss": service.id,
            "sub": service.id,
            "aud": ISSUER,
            "exp": now + 60,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        for (name, value) in extra.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };

    let good = assertion(&key, "k1", &claims_with(json!({})));
    let answer = with_assertion(&app, &good).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["scope"], "grades:read");
    // Replayed, here or on another instance: refused.
    for instance in [&app, &other] {
        let replayed = with_assertion(instance, &good).await;
        assert_eq!(replayed.status(), 401);
        assert_eq!(error_code(replayed).await, "invalid_client");
    }
    // One assertion presented twenty times at once, through two
    // instances: it authenticates once.
    let raced = assertion(&key, "k1", &claims_with(json!({})));
    let answers = futures::future::join_all(
        (0..20).map(|i| with_assertion(if i % 2 == 0 { &app } else { &other }, &raced)),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        19,
        "{statuses:?}"
    );

    let (stranger, _) = app_key("k1");
    let hmac = jsonwebtoken::encode(
        &Header {
            kid: Some("k1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims_with(json!({})),
        &EncodingKey::from_secret(b"anything"),
    )
    .unwrap();
    for (why, bad) in [
        (
            "another key",
            assertion(&stranger, "k1", &claims_with(json!({}))),
        ),
        (
            "an unknown kid",
            assertion(&key, "k9", &claims_with(json!({}))),
        ),
        ("HMAC", hmac),
        (
            "another audience",
            assertion(
                &key,
                "k1",
                &claims_with(json!({"aud": "https://else.example"})),
            ),
        ),
        (
            "expired",
            assertion(&key, "k1", &claims_with(json!({"exp": now - 120}))),
        ),
        (
            "lives an hour",
            assertion(&key, "k1", &claims_with(json!({"exp": now + 3600}))),
        ),
        (
            "no jti",
            assertion(&key, "k1", &claims_with(json!({"jti": null}))),
        ),
        (
            "another subject",
            assertion(&key, "k1", &claims_with(json!({"sub": "someone"}))),
        ),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ] {
        let refused = with_assertion(&app, &bad).await;
        assert_eq!(refused.status(), 401, "{why}");
        assert_eq!(error_code(refused).await, "invalid_client", "{why}");
    }

    // One way at a time.
    let both = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            (
                "client_assertion",
                &assertion(&key, "k1", &claims_with(json!({}))),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    let wrong_type = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:other"),
            (
                "client_assertion",
                &assertion(&key, "k1", &claims_with(json!({}))),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    // An app with keys has no secret anybody knows, nor one to replace.
    assert!(service.secret.is_none());
    let replaced = app
        .state
        .clients
        .rotate_secret(&service.id, &Origin::default(), None)
        .await;
    assert!(replaced.is_err());
}

#[tokio::test]
async fn a_jwks_on_a_private_address_is_never_fetched() {
    let app = provider().await;
    let server = AppServer::default();
    let (key, jwk) = app_key("k1");
    *server.jwks.lock().unwrap() = json!({"keys": [jwk]});
    let base = server.start().await;
    let service = register_with(
        &app,
        Registration {
            name: "Report card printer".into(),
            scopes: vec!["grades:read".into()],
            grant_types: vec!["client_credentials".into()],
            jwks_uri: Some(format!("{base}/jwks.json")),
            ..Registration::default()
        },
    )
    .await;
    let now = server::auth::jwt::unix_now();
    let good = assertion(
        &key,
        "k1",
        &json!({
            "iss": service.id, "sub": service.id, "aud": issuer(&app),
            "exp": now + 60, "jti": "one",
        }),
    );
    assert_eq!(with_assertion(&app, &good).await.status(), 401);
}
