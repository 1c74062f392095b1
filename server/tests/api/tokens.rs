use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, header};

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn access_tokens_carry_the_contract_header_and_claims() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let parts: Vec<&str> = ada.access.split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("HS256"), Some("at+jwt"))
    );
    assert!(header["kid"].is_string());
    let claims = decode(parts[1]);
    for claim in [
        "iss", "aud", "sub", "exp", "iat", "jti", "sid", "role", "username",
    ] {
        assert!(!claims[claim].is_null(), "{claim} missing");
    }
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["role"], "student");
    assert_eq!(claims["username"], "ada");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
}

#[tokio::test]
async fn me_returns_the_bearer_s_account() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app.me(&ada.access).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "ada");
    assert_eq!(body["user"]["email"], "ada@example.com");
}

#[tokio::test]
async fn no_authorization_header_gets_the_bare_challenge() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api/me"),
        (Method::POST, "/api/posts"),
        (Method::GET, "/api/grades"),
        (Method::POST, "/api/auth/logout-all"),
        (Method::GET, "/api/auth/sessions"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            header(&response, "www-authenticate"),
            r#"Bearer realm="api""#,
            "{path}"
        );
    }
    // Another scheme carries no bearer credentials either.
    let response = app
        .client
        .get(app.url("/api/me"))
        .basic_auth("ada", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="api""#
    );
}

async fn assert_invalid_token(app: &TestApp, token: &str) {
    let response = app.me(token).await;
    assert_eq!(response.status(), 401, "{token}");
    let challenge = header(&response, "www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer realm="api", error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert_eq!(error_code(response).await, "invalid_token");
}

#[tokio::test]
async fn malformed_and_tampered_tokens_are_invalid_token() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let parts: Vec<&str> = ada.access.split('.').collect();

    assert_invalid_token(&app, "garbage").await;
    assert_invalid_token(&app, "a.b.c").await;

    // alg: none, with and without a signature.
    let mut none = decode(parts[0]);
    none["alg"] = json!("none");
    assert_invalid_token(&app, &format!("{}.{}.", encode(&none), parts[1])).await;
    assert_invalid_token(
        &app,
        &format!("{}.{}.{}", encode(&none), parts[1], parts[2]),
    )
    .await;

    // An elevated role in the payload.
    let mut claims = decode(parts[1]);
    claims["role"] = json!("admin");
    assert_invalid_token(
        &app,
        &format!("{}.{}.{}", parts[0], encode(&claims), parts[2]),
    )
    .await;

    // The same header re-encoded (whitespace): a different signing input.
    let header = decode(parts[0]);
    let spaced = URL_SAFE_NO_PAD.encode(serde_json::to_string_pretty(&header).unwrap());
    assert_invalid_token(&app, &format!("{spaced}.{}.{}", parts[1], parts[2])).await;

    // An unknown key id.
    let mut other_kid = decode(parts[0]);
    other_kid["kid"] = json!("someone-elses-key");
    assert_invalid_token(
        &app,
        &format!("{}.{}.{}", encode(&other_kid), parts[1], parts[2]),
    )
    .await;

    // A flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    assert_invalid_token(
        &app,
        &format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig)),
    )
    .await;
}

#[tokio::test]
async fn a_token_from_another_server_secret_is_refused() {
    let app =
        TestApp::spawn_with(&[("JWT_SECRET", "first-secret-first-secret-first-secret")]).await;
    let other =
        TestApp::spawn_with(&[("JWT_SECRET", "second-secret-second-secret-second-sec")]).await;
    let ada = other.signup("ada").await;
    assert_invalid_token(&app, &ada.access).await;
}

#[tokio::test]
async fn an_expired_token_is_refused_after_at_most_five_seconds_of_leeway() {
    let app = TestApp::spawn_with(&[("ACCESS_TOKEN_TTL", "1s")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(app.me(&ada.access).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_secs(1 + 5 + 1)).await;
    assert_invalid_token(&app, &ada.access).await;
    let response = app.me(&ada.access).await;
    assert!(header(&response, "www-authenticate").contains("expired"));
}

#[tokio::test]
async fn hs256_publishes_no_keys_in_the_jwks() {
    let app = TestApp::spawn().await;
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"keys": []}));
}

#[tokio::test]
async fn eddsa_tokens_verify_against_the_published_public_key_only() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(app.me(&ada.access).await.status(), 200);
    let parts: Vec<&str> = ada.access.split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "EdDSA");

    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    // The board's key (the ring's ID key, RS256, may be there too).
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is published");
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(key.get("d").is_none());
    // The private half is in the ring, encrypted: no PEM, no file.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT private_key FROM signing_keys WHERE kid = $1")
        .bind(header["kid"].as_str().unwrap())
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("PRIVATE KEY"));
    assert!(!app.data_dir.join("jwt_ed25519.pem").exists());

    // HMAC-signed with the public key as the secret: refused.
    let public = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let signing_input = format!("{}.{}", encode(&hs), parts[1]);
    let signature = hmac_sha256(&public, signing_input.as_bytes());
    assert_invalid_token(
        &app,
        &format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
    )
    .await;
}

#[tokio::test]
async fn rs256_uses_the_configured_key_and_publishes_its_public_half() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("rsa.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("openssl");
    assert!(status.success());
    let app = TestApp::spawn_with(&[
        ("JWT_ALG", "RS256"),
        ("JWT_PRIVATE_KEY_FILE", key.to_str().unwrap()),
    ])
    .await;
    let ada = app.signup("ada").await;
    assert_eq!(app.me(&ada.access).await.status(), 200);
    assert_eq!(
        decode(ada.access.split('.').next().unwrap())["alg"],
        "RS256"
    );
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let kid = decode(ada.access.split('.').next().unwrap())["kid"].clone();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the token's key is published");
    assert_eq!(key["kty"], "RSA");
    assert!(key["n"].is_string() && key["e"].is_string());
    assert!(key.get("d").is_none() && key.get("p").is_none());
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
