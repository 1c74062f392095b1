//! The device authorization grant (RFC 8628), by hand where an attacker
//! would go. The browser tests drive it with npm `openid-client` while
//! Chromium plays the person at `/device`.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use server::{provider::clients::Registration, store::rows::Origin};

use crate::{
    helpers::{TestApp, TestUser, claims, error_code},
    provider::{App, provider_with},
};

async fn register(app: &TestApp, grants: &[&str]) -> App {
    let registered = app
        .state
        .clients
        .register(
            &Registration {
                name: "Classroom display".into(),
                redirect_uris: vec![crate::provider::REDIRECT.into()],
                public: true,
                scopes: ["openid", "profile", "offline_access"]
                    .map(str::to_owned)
                    .to_vec(),
                grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
                ..Registration::default()
            },
            &Origin::default(),
            None,
        )
        .await
        .expect("the app registers");
    App {
        id: registered.client.id,
        secret: registered.secret,
    }
}

async fn start(app: &TestApp, client: &App, scope: &str) -> Response {
    app.client
        .post(app.url("/oauth/device_authorization"))
        .form(&[("client_id", client.id.as_str()), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn poll(app: &TestApp, client: &App, device_code: &str) -> Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// As if the device had waited its interval since its last poll.
async fn waited(app: &TestApp) {
    sqlx::query("UPDATE device_authorizations SET last_polled_at = NULL")
        .execute(&app.db().await)
        .await
        .unwrap();
}

async fn oauth_error(response: Response) -> String {
    assert_eq!(response.status(), 400);
    response.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn asks(app: &TestApp, user: &TestUser, code: &str) -> Response {
    app.bearer_json(
        Method::POST,
        "/api/oauth/device",
        &user.access,
        json!({"user_code": code}),
    )
    .await
}

async fn decide(app: &TestApp, user: &TestUser, code: &str, allow: bool) -> Response {
    app.bearer_json(
        Method::POST,
        "/api/oauth/device/decision",
        &user.access,
        json!({"user_code": code, "allow": allow}),
    )
    .await
}

#[tokio::test]
async fn a_device_polls_while_its_person_allows_it_and_gets_tokens_once() {
    let app = provider_with(&[]).await;
    let client = register(&app, &["device_code", "refresh_token"]).await;
    let response = start(&app, &client, "openid profile offline_access").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        crate::helpers::header(&response, "cache-control"),
        "no-store"
    );
    let started: Value = response.json().await.unwrap();
    let user_code = started["user_code"].as_str().unwrap().to_owned();
    let device_code = started["device_code"].as_str().unwrap().to_owned();
    let shape = regex_like(&user_code);
    assert!(shape, "{user_code}");
    assert!(
        started["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/device")
    );
    assert_eq!(
        started["verification_uri_complete"].as_str().unwrap(),
        format!(
            "{}?code={user_code}",
            started["verification_uri"].as_str().unwrap()
        )
    );
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);

    // Nobody has answered; polling again at once is too soon.
    assert_eq!(
        oauth_error(poll(&app, &client, &device_code).await).await,
        "authorization_pending"
    );
    assert_eq!(
        oauth_error(poll(&app, &client, &device_code).await).await,
        "slow_down"
    );

    // The person types the code in any form, sees the app and what it asks.
    let person = app.signup("ada").await;
    let typed = user_code.to_lowercase().replace('-', " ");
    let response = asks(&app, &person, &typed).await;
    assert_eq!(response.status(), 200);
    let asked: Value = response.json().await.unwrap();
    assert_eq!(asked["app"], "Classroom display");
    assert_eq!(
        asked["user_code"],
        user_code.as_str(),
        "shown as the device shows it"
    );
    assert_eq!(asked["registered_itself"], false);
    let scopes: Vec<&str> = asked["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["openid", "profile", "offline_access"]);
    assert_eq!(decide(&app, &person, &user_code, true).await.status(), 204);
    // Answered: the code names nothing waiting any more.
    assert_eq!(asks(&app, &person, &user_code).await.status(), 404);

    waited(&app).await;
    let response = poll(&app, &client, &device_code).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string());
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], client.id.as_str());
    assert_eq!(access["sub"], person.id.as_str());
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], client.id.as_str());
    assert_eq!(id["preferred_username"], "ada");
    let info = app
        .get_json("/oauth/userinfo", tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["preferred_username"], "ada");

    // Once: the next poll gets nothing.
    waited(&app).await;
    assert_eq!(
        oauth_error(poll(&app, &client, &device_code).await).await,
        "invalid_grant"
    );
    // The person sees the app among those with access.
    let apps = app.get_json("/api/account/apps", &person.access).await;
    assert_eq!(apps["apps"][0]["name"], "Classroom display", "{apps}");
}

/// Eight letters of the twenty consonants, as XXXX-XXXX.
fn regex_like(code: &str) -> bool {
    let letters = b"BCDFGHJKLMNPQRSTVWXZ";
    code.len() == 9
        && code.as_bytes()[4] == b'-'
        && code
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || letters.contains(&b))
}

#[tokio::test]
async fn denied_expired_and_guessed_codes_get_nothing() {
    let app = provider_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "3/1h")]).await;
    let client = register(&app, &["device_code"]).await;
    let person = app.signup("ada").await;

    let started: Value = start(&app, &client, "openid").await.json().await.unwrap();
    let code = started["user_code"].as_str().unwrap();
    assert_eq!(decide(&app, &person, code, false).await.status(), 204);
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, &client, device_code).await).await,
        "access_denied"
    );

    let started: Value = start(&app, &client, "openid").await.json().await.unwrap();
    sqlx::query("UPDATE device_authorizations SET expires_at = 0")
        .execute(&app.db().await)
        .await
        .unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, &client, device_code).await).await,
        "expired_token"
    );
    let expired = asks(&app, &person, started["user_code"].as_str().unwrap()).await;
    assert_eq!(expired.status(), 404);

    // Another app's device code, or none that exists: invalid_grant.
    let other = register(&app, &["device_code"]).await;
    let started: Value = start(&app, &client, "openid").await.json().await.unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, &other, device_code).await).await,
        "invalid_grant"
    );
    assert_eq!(
        oauth_error(poll(&app, &client, "made-up").await).await,
        "invalid_grant"
    );

    // Guessing codes: each wrong one counts, and the person is soon refused
    // (one failure was counted above, for the expired code).
    let guesser = app.signup("mallory").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(asks(&app, &guesser, "BCDF-GHJK").await.status().as_u16());
    }
    assert!(
        statuses.contains(&404) && statuses.ends_with(&[429]),
        "{statuses:?}"
    );
    // Even the right code, once over the budget.
    let right = started["user_code"].as_str().unwrap();
    assert_eq!(asks(&app, &guesser, right).await.status(), 429);

    // Guesses fired at once take the budget once each, on two instances:
    // no more than it holds are looked up.
    let sibling = app.sibling().await;
    let eve = app.signup("eve").await;
    let guesses = (0..20).map(|i| {
        let at = if i % 2 == 0 { &app } else { &sibling };
        asks(at, &eve, "BCDF-GHJK")
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        17,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_allowed_device_polled_at_once_on_two_instances_gets_tokens_once() {
    let first = provider_with(&[("ISSUER", "https://board.example")]).await;
    let second = first.sibling().await;
    let client = register(&first, &["device_code"]).await;
    let person = first.signup("ada").await;
    let started: Value = start(&first, &client, "openid").await.json().await.unwrap();
    let code = started["user_code"].as_str().unwrap();
    assert_eq!(decide(&second, &person, code, true).await.status(), 204);
    let device_code = started["device_code"].as_str().unwrap();
    let polls = (0..12).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        poll(app, &client, device_code)
    });
    let statuses: Vec<u16> = futures::future::join_all(polls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        11,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn only_apps_registered_for_it_start_and_only_people_answer() {
    let app = provider_with(&[]).await;
    let web = register(&app, &["authorization_code"]).await;
    let response = start(&app, &web, "openid").await;
    assert_eq!(oauth_error(response).await, "unauthorized_client");
    let device = register(&app, &["device_code"]).await;
    let response = app
        .client
        .post(app.url("/oauth/device_authorization"))
        .form(&[("client_id", device.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(response).await, "invalid_scope");
    assert_eq!(
        oauth_error(start(&app, &device, "openid grades:write").await).await,
        "invalid_scope"
    );
    let unknown = App {
        id: "nobody".into(),
        secret: None,
    };
    assert_eq!(start(&app, &unknown, "openid").await.status(), 401);

    // An answer needs the person's bearer token: none, or a cookie, is 401.
    let started: Value = start(&app, &device, "openid").await.json().await.unwrap();
    let code = started["user_code"].as_str().unwrap();
    let response = app
        .post_json(
            "/api/oauth/device/decision",
            &json!({"user_code": code, "allow": true}),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_token");
    // Discovery names the endpoint and the grant.
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        discovery["device_authorization_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/device_authorization")
    );
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "urn:ietf:params:oauth:grant-type:device_code")
    );
}
