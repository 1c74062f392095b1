//! Pushed authorization requests (RFC 9126) and DPoP (RFC 9449), by hand
//! where an attacker would go. The browser tests drive both with npm
//! `openid-client`.

use std::{
    collections::HashSet,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, ThumbprintHash},
};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use server::{provider::clients::Registration, store::rows::Origin};
use sha2::{Digest, Sha256};

use crate::{
    helpers::{TestApp, claims, header},
    provider::{
        App, REDIRECT, VERIFIER, authorize_at, authorize_url, code_for, decide, handle,
        provider_with, query, register, register_service, step, token, urlencode,
    },
};

/// What the tests' server says it is: a proxy in front would make the
/// request's own `Host` something else, and proofs name this.
pub(crate) const PUBLIC: &str = "https://board.example";

/// A DPoP key of an app: it signs proofs.
pub(crate) struct Prover {
    key: EncodingKey,
    alg: Algorithm,
    jwk: Value,
}

impl Prover {
    pub(crate) fn ed25519() -> Self {
        let key = EncodingKey::from_ed_pem(&server::auth::jwt::new_ed25519_pem()).unwrap();
        Self::of(key, Algorithm::EdDSA)
    }

    pub(crate) fn es256() -> Self {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let der = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        Self::of(EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256)
    }

    fn of(key: EncodingKey, alg: Algorithm) -> Self {
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self { key, alg, jwk }
    }

    /// The RFC 7638 thumbprint of the key.
    pub(crate) fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// A proof for `method` at `PUBLIC` + `path`, with `nonce`, and the
    /// hash of `token` when given.
    pub(crate) fn proof(
        &self,
        method: &str,
        path: &str,
        nonce: Option<&str>,
        token: Option<&str>,
    ) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": format!("{PUBLIC}{path}"),
            "iat": now(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        self.sign(&claims)
    }

    /// A proof with exactly `claims`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn provider() -> TestApp {
    provider_with(&[("PUBLIC_URL", PUBLIC)]).await
}

/// A nonce of the server's, learnt as an app learns it: from the refusal
/// of a proof without one.
async fn nonce(app: &TestApp, prover: &Prover) -> String {
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .header("DPoP", prover.proof("POST", "/oauth/token", None, None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    // The app is not known: the proof is never looked at.
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .post(app.url("/oauth/par"))
        .header("DPoP", prover.proof("POST", "/oauth/par", None, None))
        .form(&[("client_id", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A known public app: the proof is checked, and the nonce given.
    let client = register(app, true, false, "openid").await;
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .header("DPoP", prover.proof("POST", "/oauth/token", None, None))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let nonce = header(&response, "dpop-nonce");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    nonce
}

/// `POST /oauth/token` with `form` as `client`, with `proof` when given.
async fn token_with(
    app: &TestApp,
    client: &App,
    form: &[(&str, &str)],
    proof: Option<String>,
) -> Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = app.client.post(app.url("/oauth/token"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            form.push(("client_id", &client.id));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

fn exchange_form(code: &str) -> [(&'static str, &str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// `GET /oauth/userinfo` with `token` as `scheme`, and `proof` when given.
async fn userinfo(app: &TestApp, scheme: &str, token: &str, proof: Option<String>) -> Response {
    let mut request = app
        .client
        .get(app.url("/oauth/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

async fn refused_with(response: Response, status: u16, error: &str) {
    assert_eq!(response.status(), status);
    let challenge = header(&response, "www-authenticate");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    if status == 401 {
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(
            challenge.contains(&format!("error=\"{error}\"")),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn a_bound_token_works_only_with_a_fresh_proof_of_its_key_for_that_very_request() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register(&app, true, false, "openid profile offline_access").await;
    let person = app.signup("ada").await;
    let code = code_for(&app, &client, &person, "openid profile").await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let response = token_with(&app, &client, &exchange_form(&code), Some(proof)).await;
    assert_eq!(response.status(), 200);
    assert!(!header(&response, "dpop-nonce").is_empty());
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["cnf"]["jkt"], prover.jkt());

    // With a proof of its key, for this request: once.
    let proof = prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(access));
    let response = userinfo(&app, "DPoP", access, Some(proof.clone())).await;
    assert_eq!(response.status(), 200);
    let person_claims: Value = response.json().await.unwrap();
    assert_eq!(person_claims["preferred_username"], "ada");
    refused_with(
        userinfo(&app, "DPoP", access, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;

    // As a bearer token, or without a proof.
    let response = userinfo(&app, "Bearer", access, None).await;
    assert_eq!(response.status(), 401);
    assert!(header(&response, "www-authenticate").starts_with("DPoP "));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    refused_with(
        userinfo(&app, "DPoP", access, None).await,
        401,
        "invalid_dpop_proof",
    )
    .await;

    // A proof without `ath`, or for another token: userinfo checks `ath`
    // too (Keycloak once did not).
    let no_ath = prover.proof("GET", "/oauth/userinfo", Some(&nonce), None);
    refused_with(
        userinfo(&app, "DPoP", access, Some(no_ath)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;
    let other_ath = prover.proof(
        "GET",
        "/oauth/userinfo",
        Some(&nonce),
        Some("another token"),
    );
    refused_with(
        userinfo(&app, "DPoP", access, Some(other_ath)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;

    // Signed by another key.
    let thief = Prover::es256();
    let stolen = thief.proof("GET", "/oauth/userinfo", Some(&nonce), Some(access));
    refused_with(
        userinfo(&app, "DPoP", access, Some(stolen)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;

    // For another method, another address, the request's own address
    // rather than the public one, or with a query it does not have.
    for (method, htu) in [
        ("POST", format!("{PUBLIC}/oauth/userinfo")),
        ("GET", format!("{PUBLIC}/api/me")),
        ("GET", app.url("/oauth/userinfo")),
        ("GET", format!("http://board.example/oauth/userinfo")),
    ] {
        let proof = prover.sign(&json!({
            "jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": htu,
            "iat": now(), "nonce": nonce,
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes())),
        }));
        refused_with(
            userinfo(&app, "DPoP", access, Some(proof)).await,
            401,
            "invalid_dpop_proof",
        )
        .await;
    }
    // A query and a fragment are not part of `htu`'s comparison.
    let proof = prover.sign(&json!({
        "jti": uuid::Uuid::new_v4().to_string(), "htm": "GET",
        "htu": format!("{PUBLIC}/oauth/userinfo?x=1#y"), "iat": now(), "nonce": nonce,
        "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes())),
    }));
    assert_eq!(
        userinfo(&app, "DPoP", access, Some(proof)).await.status(),
        200
    );

    // Made too long ago, or in the future.
    for iat in [now() - 120, now() + 60] {
        let proof = prover.sign(&json!({
            "jti": uuid::Uuid::new_v4().to_string(), "htm": "GET",
            "htu": format!("{PUBLIC}/oauth/userinfo"), "iat": iat, "nonce": nonce,
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes())),
        }));
        refused_with(
            userinfo(&app, "DPoP", access, Some(proof)).await,
            401,
            "invalid_dpop_proof",
        )
        .await;
    }

    // Without the server's nonce, or with a made-up one: told the nonce.
    for made_up in [None, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
        let proof = prover.proof("GET", "/oauth/userinfo", made_up, Some(access));
        let response = userinfo(&app, "DPoP", access, Some(proof)).await;
        assert_eq!(header(&response, "dpop-nonce"), nonce);
        refused_with(response, 401, "use_dpop_nonce").await;
    }

    // An unbound token is not sent as DPoP.
    let plain = app.signup("grace").await;
    let proof = prover.proof("GET", "/api/me", Some(&nonce), Some(&plain.access));
    let response = app
        .client
        .get(app.url("/api/me"))
        .header("Authorization", format!("DPoP {}", plain.access))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn proofs_that_are_not_proofs_are_refused() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register(&app, true, false, "openid").await;
    let person = app.signup("ada").await;
    let code = code_for(&app, &client, &person, "openid").await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let tokens: Value = token_with(&app, &client, &exchange_form(&code), Some(proof))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let claims = json!({
        "jti": "j", "htm": "GET", "htu": format!("{PUBLIC}/oauth/userinfo"), "iat": now(),
        "nonce": nonce, "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes())),
    });
    let encode = |header: &Value, claims: &Value, signature: &str| {
        format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let mut with_private = prover.jwk.clone();
    with_private["d"] = json!("AAAA");
    let hmac = {
        let key = EncodingKey::from_secret(b"shared");
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("dpop+jwt".into());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let jwt_typ = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".into());
        header.jwk = Some(serde_json::from_value(prover.jwk.clone()).unwrap());
        jsonwebtoken::encode(&header, &claims, &prover.key).unwrap()
    };
    let signed = prover.sign(&claims);
    let tampered = {
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        let mut changed = claims.clone();
        changed["htm"] = json!("GET");
        changed["jti"] = json!("k");
        parts[1] = URL_SAFE_NO_PAD.encode(changed.to_string());
        parts.join(".")
    };
    for proof in [
        encode(
            &json!({"typ": "dpop+jwt", "alg": "none", "jwk": prover.jwk}),
            &claims,
            "",
        ),
        encode(
            &json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": with_private}),
            &claims,
            "sig",
        ),
        encode(&json!({"typ": "dpop+jwt", "alg": "EdDSA"}), &claims, "sig"),
        hmac,
        jwt_typ,
        tampered,
        "not a jwt".to_owned(),
        "a".repeat(5000),
    ] {
        refused_with(
            userinfo(&app, "DPoP", access, Some(proof)).await,
            401,
            "invalid_dpop_proof",
        )
        .await;
    }
    // Two DPoP headers.
    let response = app
        .client
        .get(app.url("/oauth/userinfo"))
        .header("Authorization", format!("DPoP {access}"))
        .header(
            "DPoP",
            prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(access)),
        )
        .header(
            "DPoP",
            prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(access)),
        )
        .send()
        .await
        .unwrap();
    refused_with(response, 401, "invalid_dpop_proof").await;
    // And at the token endpoint, in its own error format.
    let response = token_with(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some(prover.sign(&json!({"jti": "t", "htm": "GET", "htu": format!("{PUBLIC}/oauth/token"), "iat": now(), "nonce": nonce}))),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
}

/// The same proof sent to two instances, many times at once: it works once.
#[tokio::test]
async fn a_proof_replayed_on_another_instance_at_once_works_once() {
    let first = provider().await;
    let second = first.sibling().await;
    let prover = Prover::es256();
    let nonce = nonce(&first, &prover).await;
    let client = register(&first, true, false, "openid").await;
    let person = first.signup("ada").await;
    let code = code_for(&first, &client, &person, "openid").await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let tokens: Value = token_with(&first, &client, &exchange_form(&code), Some(proof))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let proof = prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(&access));
    let attempts = (0..20).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        userinfo(app, "DPoP", &access, Some(proof.clone()))
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
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
        statuses.iter().filter(|s| **s == 401).count(),
        19,
        "{statuses:?}"
    );
    // A nonce one instance gave works on the other.
    let proof = prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(&access));
    assert_eq!(
        userinfo(&second, "DPoP", &access, Some(proof))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_public_apps_refresh_tokens_stay_bound_and_leaving_the_key_ends_the_grant() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register(&app, true, false, "openid offline_access").await;
    let person = app.signup("ada").await;
    let code = code_for(&app, &client, &person, "openid offline_access").await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let tokens: Value = token_with(&app, &client, &exchange_form(&code), Some(proof))
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // With a proof of the key: rotated, and the new access token bound.
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let response = token_with(&app, &client, &form, Some(proof)).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["cnf"]["jkt"], prover.jkt());
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Introspection tells a resource server the binding.
    // (A public app may not introspect: the tests' confidential app asks
    // about its own tokens in `provider.rs`; here the claims say it.)

    // Without a proof, or with another key's: the token has left the app,
    // and the grant ends with every token of it.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let thief = Prover::es256();
    let thief_nonce = nonce.clone();
    let response = token_with(
        &app,
        &client,
        &form,
        Some(thief.proof("POST", "/oauth/token", Some(&thief_nonce), None)),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let proof = prover.proof("GET", "/oauth/userinfo", Some(&nonce), Some(&access));
    assert_eq!(
        userinfo(&app, "DPoP", &access, Some(proof)).await.status(),
        401
    );
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let response = token_with(&app, &client, &form, Some(proof)).await;
    assert_eq!(response.status(), 400);

    // A grant bound from the start refuses a refresh with no proof at all.
    let code = code_for(&app, &client, &person, "openid offline_access").await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let tokens: Value = token_with(&app, &client, &exchange_form(&code), Some(proof))
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    assert_eq!(token_with(&app, &client, &form, None).await.status(), 400);

    // A grant started without a proof is bound by the first refresh that
    // sends one (RFC 9449 §5): from then on, a proof of that key.
    let code = code_for(&app, &client, &person, "openid offline_access").await;
    let tokens: Value = token_with(&app, &client, &exchange_form(&code), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let tokens: Value = token_with(&app, &client, &form, Some(proof))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    assert_eq!(token_with(&app, &client, &form, None).await.status(), 400);
}

/// Of token answers to refreshes raced by several keys: the keys the
/// issued access tokens are bound to, and how many were refused (`400`, the
/// only other answer allowed).
pub(crate) async fn keys_bound(answers: Vec<Response>) -> (HashSet<String>, usize) {
    let mut bound = HashSet::new();
    let mut refused = 0;
    for answer in answers {
        if answer.status() == 200 {
            let body: Value = answer.json().await.unwrap();
            let access = body["access_token"].as_str().unwrap();
            bound.insert(claims(access)["cnf"]["jkt"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(answer.status(), 400);
            refused += 1;
        }
    }
    (bound, refused)
}

/// A public app's grant that started without a key, its refresh token
/// refreshed at once by two keys through two instances (a copy of it
/// left the app): tokens of at most one key come out, and the other key's
/// refresh ends the grant.
#[tokio::test]
async fn two_keys_racing_to_bind_one_grant_on_two_instances_bind_at_most_one() {
    let app = provider().await;
    let sibling = app.sibling().await;
    let keys = [Prover::es256(), Prover::ed25519()];
    let nonce = nonce(&app, &keys[0]).await;
    let client = register(&app, true, false, "openid offline_access").await;
    let person = app.signup("eve").await;
    // A race is lost or won by timing: several rounds, a new grant each.
    for round in 0..5 {
        let code = code_for(&app, &client, &person, "openid offline_access").await;
        let tokens: Value = token_with(&app, &client, &exchange_form(&code), None)
            .await
            .json()
            .await
            .unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let attempts = (0..20).map(|i| {
            let server = if i % 2 == 0 { &app } else { &sibling };
            let proof = keys[i % 2].proof("POST", "/oauth/token", Some(&nonce), None);
            token_with(server, &client, &form, Some(proof))
        });
        let (bound, refused) = keys_bound(futures::future::join_all(attempts).await).await;
        assert!(
            bound.len() <= 1,
            "round {round}: tokens bound to two keys: {bound:?}"
        );
        assert!(
            refused >= 1,
            "round {round}: the other key's refresh ended the grant"
        );
    }
}

#[tokio::test]
async fn a_confidential_apps_tokens_bind_and_introspection_says_so() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register_service(&app, "grades:read", &["client_credentials"]).await;
    let form = [("grant_type", "client_credentials")];
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    let response = token_with(&app, &client, &form, Some(proof)).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let about: Value = app
        .client
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(about["active"], true);
    assert_eq!(about["token_type"], "DPoP");
    assert_eq!(about["cnf"]["jkt"], prover.jkt());

    // The API: with its proof, and not as a bearer token.
    let path = "/api/grades";
    let proof = prover.proof("GET", path, Some(&nonce), Some(&access));
    let response = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let response = app.bearer(Method::GET, path, &access).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_exchanged_only_with_that_key() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register(&app, true, false, "openid").await;
    let person = app.signup("ada").await;
    let code_bound_to = |jkt: String| {
        let app = &app;
        let client = &client;
        let person = &person;
        async move {
            let url = authorize_url(app, &client.id, "openid", &format!("&dpop_jkt={jkt}"));
            let location = authorize_at(app, &url).await;
            let handle = handle(&location);
            let answer: Value = step(app, &handle, Some(person)).await.json().await.unwrap();
            let answer = if answer["step"] == "consent" {
                decide(app, &handle, person, true).await
            } else {
                answer
            };
            query(answer["to"].as_str().unwrap())["code"].clone()
        }
    };
    let code = code_bound_to(prover.jkt()).await;
    assert_eq!(
        token_with(&app, &client, &exchange_form(&code), None)
            .await
            .status(),
        400
    );
    let code = code_bound_to(prover.jkt()).await;
    let thief = Prover::es256();
    let proof = thief.proof("POST", "/oauth/token", Some(&nonce), None);
    assert_eq!(
        token_with(&app, &client, &exchange_form(&code), Some(proof))
            .await
            .status(),
        400
    );
    let code = code_bound_to(prover.jkt()).await;
    let proof = prover.proof("POST", "/oauth/token", Some(&nonce), None);
    assert_eq!(
        token_with(&app, &client, &exchange_form(&code), Some(proof))
            .await
            .status(),
        200
    );

    // A `dpop_jkt` that is not a thumbprint goes back as invalid_request.
    let url = authorize_url(&app, &client.id, "openid", "&dpop_jkt=short");
    let location = authorize_at(&app, &url).await;
    assert_eq!(query(&location)["error"], "invalid_request");
}

/// `POST /oauth/par` as `client`.
async fn push(
    app: &TestApp,
    client: &App,
    form: &[(&str, &str)],
    proof: Option<String>,
) -> Response {
    let mut request = app.client.post(app.url("/oauth/par"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            form.push(("client_id", &client.id));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

fn challenge() -> String {
    PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(VERIFIER.into()))
        .as_str()
        .to_owned()
}

async fn register_par(app: &TestApp, require_par: bool) -> App {
    let registered = app
        .state
        .clients
        .register(
            &Registration {
                name: "Timetable".into(),
                redirect_uris: vec![REDIRECT.into()],
                scopes: vec!["openid".into(), "profile".into()],
                require_par,
                ..Registration::default()
            },
            &Origin::default(),
            None,
        )
        .await
        .unwrap();
    App {
        id: registered.client.id,
        secret: registered.secret,
    }
}

#[tokio::test]
async fn a_pushed_request_works_once_for_its_app_and_par_only_apps_push() {
    let app = provider().await;
    let client = register_par(&app, true).await;
    let other = register_par(&app, false).await;
    let person = app.signup("ada").await;
    let challenge = challenge();
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "pushed-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = push(&app, &client, &form, None).await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let pushed: Value = response.json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(pushed["expires_in"], 60);

    // The handle inside the request_uri is not a page's handle.
    let inside = request_uri.rsplit(':').next().unwrap();
    assert_eq!(step(&app, inside, Some(&person)).await.status(), 400);

    // Another app cannot bring it (and does not spend it).
    let by_other = format!(
        "{}/oauth/authorize?client_id={}&request_uri={}",
        app.address,
        other.id,
        urlencode(&request_uri)
    );
    assert_eq!(
        authorize_at(&app, &by_other).await,
        "/authorize?problem=request_uri_ended"
    );

    // Brought by many browsers at once: one goes on.
    let url = format!(
        "{}/oauth/authorize?client_id={}&request_uri={}",
        app.address,
        client.id,
        urlencode(&request_uri)
    );
    let locations = futures::future::join_all((0..20).map(|_| authorize_at(&app, &url))).await;
    let going_on: Vec<&String> = locations
        .iter()
        .filter(|l| l.starts_with("/authorize?request="))
        .collect();
    assert_eq!(going_on.len(), 1, "{locations:?}");
    assert_eq!(
        locations
            .iter()
            .filter(|l| *l == "/authorize?problem=request_uri_ended")
            .count(),
        19
    );
    let handle = handle(going_on[0]);
    let answer: Value = step(&app, &handle, Some(&person))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["step"], "consent");
    let answer = decide(&app, &handle, &person, true).await;
    let back = query(answer["to"].as_str().unwrap());
    assert_eq!(back["state"], "pushed-state");
    let response = token(&app, &client, &exchange_form(&back["code"])).await;
    assert_eq!(response.status(), 200);

    // A PAR-only app's plain request goes back refused.
    let location = authorize_at(&app, &authorize_url(&app, &client.id, "openid", "")).await;
    let back = query(&location);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "st-1");
    // A request_uri that was never pushed, or is not one.
    for made_up in [
        "urn:ietf:params:oauth:request_uri:nothing",
        "https://evil.example/r",
    ] {
        let url = format!(
            "{}/oauth/authorize?client_id={}&request_uri={}",
            app.address,
            client.id,
            urlencode(made_up)
        );
        assert_eq!(
            authorize_at(&app, &url).await,
            "/authorize?problem=request_uri_ended"
        );
    }
}

#[tokio::test]
async fn a_push_is_checked_as_the_authorization_endpoint_checks_a_request() {
    let app = provider().await;
    let client = register_par(&app, false).await;
    let challenge = challenge();
    let good = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |name: &'static str, value: &'static str| {
        let mut form: Vec<(&str, &str)> =
            good.iter().filter(|(n, _)| *n != name).cloned().collect();
        form.push((name, value));
        form
    };
    for (form, error) in [
        (
            with("redirect_uri", "https://library.example/callback/"),
            "invalid_request",
        ),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (with("scope", "openid grades:write"), "invalid_scope"),
        (
            with("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
        (with("client_id", "another-app"), "invalid_request"),
        (with("response_type", "token"), "unsupported_response_type"),
    ] {
        let response = push(&app, &client, &form, None).await;
        assert_eq!(response.status(), 400, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
    }
    // A wrong secret, and no authentication at all.
    let wrong = App {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let response = push(&app, &wrong, &good, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let response = app
        .client
        .post(app.url("/oauth/par"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Discovery names the endpoint and the DPoP algorithms.
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        format!("{PUBLIC}/oauth/par")
    );
    assert_eq!(discovery["dpop_signing_alg_values_supported"][0], "ES256");
}

#[tokio::test]
async fn a_push_with_a_proof_binds_the_code_to_its_key() {
    let app = provider().await;
    let prover = Prover::ed25519();
    let nonce = nonce(&app, &prover).await;
    let client = register_par(&app, false).await;
    let person = app.signup("ada").await;
    let challenge = challenge();
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // A proof for the PAR endpoint, with a `dpop_jkt` of another key: refused.
    let mut mismatched = form.to_vec();
    let other = Prover::es256().jkt();
    mismatched.push(("dpop_jkt", other.as_str()));
    let proof = prover.proof("POST", "/oauth/par", Some(&nonce), None);
    assert_eq!(
        push(&app, &client, &mismatched, Some(proof)).await.status(),
        400
    );

    let proof = prover.proof("POST", "/oauth/par", Some(&nonce), None);
    let pushed: Value = push(&app, &client, &form, Some(proof))
        .await
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/oauth/authorize?client_id={}&request_uri={}",
        app.address,
        client.id,
        urlencode(pushed["request_uri"].as_str().unwrap())
    );
    let handle = handle(&authorize_at(&app, &url).await);
    step(&app, &handle, Some(&person)).await;
    let answer = decide(&app, &handle, &person, true).await;
    let code = query(answer["to"].as_str().unwrap())["code"].clone();
    // Without the proof: refused (and the code is spent).
    assert_eq!(
        token_with(&app, &client, &exchange_form(&code), None)
            .await
            .status(),
        400
    );
}
