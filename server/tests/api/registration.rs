//! Dynamic client registration (RFC 7591) and an app's own registration
//! (RFC 7592), by hand where an attacker would go. The browser tests drive
//! it with npm `openid-client`.

use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, header},
    provider::{App, REDIRECT, code_for, exchange, provider_with},
};

async fn provider() -> TestApp {
    provider_with(&[("DYNAMIC_REGISTRATION", "token")]).await
}

async fn initial_token(app: &TestApp) -> String {
    app.state
        .clients
        .mint_initial_token(Duration::from_secs(3600))
        .await
        .unwrap()
        .0
}

async fn register(app: &TestApp, token: Option<&str>, metadata: &Value) -> Response {
    let request = app.client.post(app.url("/oauth/register")).json(metadata);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

fn web_app() -> Value {
    json!({
        "client_name": "Timetable",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile",
    })
}

#[tokio::test]
async fn an_app_registers_itself_once_per_token_and_signs_people_in() {
    let app = provider().await;
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let endpoint = discovery["registration_endpoint"].as_str().unwrap();
    assert!(endpoint.ends_with("/oauth/register"), "{endpoint}");

    // Without a token, with a made-up one: refused, nothing registered.
    for token in [None, Some("made-up")] {
        let response = register(&app, token, &web_app()).await;
        assert_eq!(response.status(), 401);
        assert!(header(&response, "www-authenticate").starts_with("Bearer"));
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_token"
        );
    }

    let token = initial_token(&app).await;
    // Metadata that breaks a rule: refused, and the token is not spent.
    let mut bad = web_app();
    bad["redirect_uris"] = json!(["http://evil.example/cb"]);
    let response = register(&app, Some(&token), &bad).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );
    let mut bad = web_app();
    bad["scope"] = json!("openid admin");
    let response = register(&app, Some(&token), &bad).await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );

    let response = register(&app, Some(&token), &web_app()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let registered: Value = response.json().await.unwrap();
    assert!(
        registered.get("client_secret").is_none(),
        "a public app: {registered}"
    );
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert_eq!(registered["redirect_uris"], json!([REDIRECT]));
    assert_eq!(registered["scope"], "openid profile");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();

    // The token registered one app: the second use is refused.
    assert_eq!(register(&app, Some(&token), &web_app()).await.status(), 401);

    // It signs a person in like any app (asked for consent: never trusted).
    let client = App {
        id: client_id.clone(),
        secret: None,
    };
    let person = app.signup("ada").await;
    let code = code_for(&app, &client, &person, "openid profile").await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);

    // Admins see it, marked.
    let admin = app.user_with_role("root", "admin").await;
    let listed = app.get_json("/api/admin/clients", &admin.access).await;
    let mine = listed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .unwrap();
    assert_eq!(mine["registered_itself"], true);
    assert_eq!(mine["trusted"], false);
}

#[tokio::test]
async fn a_token_spent_by_many_registrations_at_once_registers_one_app() {
    let first = provider().await;
    let second = first.sibling().await;
    let token = initial_token(&first).await;
    let metadata = web_app();
    let attempts = (0..16).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        register(app, Some(&token), &metadata)
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    // The others are refused; their failures count against the network,
    // which soon answers 429.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401 || **s == 429).count(),
        15,
        "{statuses:?}"
    );
    let admin = first.user_with_role("root", "admin").await;
    let listed = first.get_json("/api/admin/clients", &admin.access).await;
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn an_app_reads_and_removes_its_own_registration_only() {
    let app = provider().await;
    // An app's access for itself is an administrator's to give.
    let token = initial_token(&app).await;
    let printer = json!({
        "client_name": "Grades printer",
        "grant_types": ["client_credentials"],
        "scope": "grades:read",
    });
    let response = register(&app, Some(&token), &printer).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );

    let backend = json!({
        "client_name": "Library",
        "redirect_uris": [REDIRECT],
        "scope": "openid",
        "token_endpoint_auth_method": "client_secret_post",
    });
    let registered: Value = register(&app, Some(&token), &backend)
        .await
        .json()
        .await
        .unwrap();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(registered["client_secret_expires_at"], 0);
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let access = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let path = uri[uri.find("/oauth/register/").unwrap()..].to_owned();
    let other: Value = register(&app, Some(&initial_token(&app).await), &web_app())
        .await
        .json()
        .await
        .unwrap();

    let read: Value = app
        .client
        .get(app.url(&path))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_id"], client_id.as_str());
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none());

    // Another app's registration token, the app's secret, nothing: refused.
    let other_access = other["registration_access_token"].as_str().unwrap();
    for token in [Some(other_access), Some(secret.as_str()), None] {
        let request = app.client.delete(app.url(&path));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        assert_eq!(request.send().await.unwrap().status(), 401);
    }

    // Its secret authenticates it until it removes itself (a made-up code
    // is the grant's refusal, not the app's); then the app is gone.
    let exchange = || {
        app.client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "made-up"),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-verifier-of-forty-three-characters-or-more-0123456789",
                ),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
    };
    let issued = exchange().await.unwrap();
    assert_eq!(issued.status(), 400);
    assert_eq!(
        issued.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let removed = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(exchange().await.unwrap().status(), 401);
    let again = app
        .client
        .get(app.url(&path))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn registration_is_off_unless_turned_on() {
    let app = provider_with(&[]).await;
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert!(discovery.get("registration_endpoint").is_none());
    let token = initial_token(&app).await;
    assert_eq!(register(&app, Some(&token), &web_app()).await.status(), 404);
}
