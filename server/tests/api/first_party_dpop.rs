//! DPoP for the board's own sessions (RFC 9449): a browser that signs in
//! with a proof of its key gets a session bound to that key, whose access
//! and refresh tokens work nowhere else. The browser tests drive the same
//! with the pages' own WebCrypto key.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::{
    dpop::{PUBLIC, Prover, keys_bound},
    helpers::{PASSWORD, TestApp, claims, error_code, header},
};

async fn board() -> TestApp {
    TestApp::spawn_with(&[("PUBLIC_URL", PUBLIC)]).await
}

/// `POST path` with `body` and, when given, a proof of `prover` with `nonce`.
async fn post(app: &TestApp, path: &str, body: &Value, proof: Option<(&Prover, &str)>) -> Response {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some((prover, nonce)) = proof {
        request = request.header("DPoP", prover.proof("POST", path, Some(nonce), None));
    }
    request.send().await.unwrap()
}

/// The server's nonce, learnt as the pages learn it: from the refusal of a
/// sign-in whose proof has none. The refusal counts no attempt.
async fn nonce(app: &TestApp, prover: &Prover) -> String {
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("DPoP", prover.proof("POST", "/api/auth/login", None, None))
        .json(&json!({"login": "nobody", "password": "not this one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(header(&response, "www-authenticate").contains("use_dpop_nonce"));
    let nonce = header(&response, "dpop-nonce");
    assert_eq!(error_code(response).await, "use_dpop_nonce");
    nonce
}

/// `GET /api/me` with `token` as `scheme`, and a proof when given.
async fn me(app: &TestApp, scheme: &str, token: &str, proof: Option<String>) -> Response {
    let mut request = app
        .client
        .get(app.url("/api/me"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

/// A token response's access token, once its type and binding are checked.
async fn bound_tokens(response: Response, prover: &Prover) -> (String, String) {
    assert_eq!(response.status().as_u16() / 100, 2, "tokens");
    assert!(
        !header(&response, "dpop-nonce").is_empty(),
        "a request with a proof is answered the next nonce"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["cnf"]["jkt"], prover.jkt());
    (access, body["refresh_token"].as_str().unwrap().to_owned())
}

/// Signs `name` up, then in with a proof of `key`: the server's nonce and
/// the bound session's access and refresh tokens.
async fn signed_in_with(app: &TestApp, name: &str, key: &Prover) -> (String, String, String) {
    app.signup(name).await;
    let nonce = nonce(app, key).await;
    let body = json!({"login": name, "password": PASSWORD});
    let signed_in = post(app, "/api/auth/login", &body, Some((key, &nonce))).await;
    let (access, refresh) = bound_tokens(signed_in, key).await;
    (nonce, access, refresh)
}

/// `POST /api/auth/refresh` of `refresh` with a proof of `key`.
async fn refresh_with(app: &TestApp, refresh: &str, key: &Prover, nonce: &str) -> Response {
    let body = json!({"refresh_token": refresh});
    post(app, "/api/auth/refresh", &body, Some((key, nonce))).await
}

#[tokio::test]
async fn a_session_signed_in_with_a_proof_works_only_with_proofs_of_that_key() {
    let app = board().await;
    let key = Prover::es256();
    let (nonce, access, refresh) = signed_in_with(&app, "ann", &key).await;

    let with_proof = |token: &str| key.proof("GET", "/api/me", Some(&nonce), Some(token));
    assert_eq!(
        me(&app, "DPoP", &access, Some(with_proof(&access)))
            .await
            .status(),
        200
    );
    // Read out of the page and replayed elsewhere: as a bearer token, with
    // no proof, with a proof of another key, with a proof for another route.
    let bearer = me(&app, "Bearer", &access, None).await;
    assert_eq!(bearer.status(), 401);
    assert!(header(&bearer, "www-authenticate").starts_with("DPoP "));
    assert_eq!(error_code(bearer).await, "invalid_token");
    assert_eq!(me(&app, "DPoP", &access, None).await.status(), 401);
    let thief = Prover::es256();
    let stolen = me(
        &app,
        "DPoP",
        &access,
        Some(thief.proof("GET", "/api/me", Some(&nonce), Some(&access))),
    )
    .await;
    assert_eq!(error_code(stolen).await, "invalid_dpop_proof");
    let elsewhere = key.proof("GET", "/api/posts", Some(&nonce), Some(&access));
    assert_eq!(
        me(&app, "DPoP", &access, Some(elsewhere)).await.status(),
        401
    );

    // The refresh token: with a proof of the key, a bound pair again.
    let refreshed = refresh_with(&app, &refresh, &key, &nonce).await;
    let (access, refresh) = bound_tokens(refreshed, &key).await;

    // Spent with another key's proof: the token left the browser; the
    // session ends, and its access token with it.
    let theft = refresh_with(&app, &refresh, &thief, &nonce).await;
    assert_eq!(theft.status(), 400);
    let body: Value = theft.json().await.unwrap();
    assert_eq!(body["error_description"], classboard::api::ENDED_FOR_SAFETY);
    let after = me(&app, "DPoP", &access, Some(with_proof(&access))).await;
    assert_eq!(after.status(), 401, "the session's access token is revoked");
}

#[tokio::test]
async fn a_live_bound_refresh_token_without_a_proof_is_refused_and_spends_nothing() {
    let app = board().await;
    let key = Prover::ed25519();
    let (nonce, access, refresh) = signed_in_with(&app, "bea", &key).await;

    // Copied out and sent bare, twenty times at once: refused every time,
    // before the token is spent.
    let bare = futures::future::join_all((0..20).map(|_| app.refresh(&refresh))).await;
    for answer in bare {
        assert_eq!(answer.status(), 401);
        assert_eq!(error_code(answer).await, "invalid_dpop_proof");
    }
    // The browser that holds the key goes on with the same token.
    let owner = refresh_with(&app, &refresh, &key, &nonce).await;
    let (fresh, _) = bound_tokens(owner, &key).await;
    let proof = key.proof("GET", "/api/me", Some(&nonce), Some(&fresh));
    assert_eq!(me(&app, "DPoP", &fresh, Some(proof)).await.status(), 200);
    let proof = key.proof("GET", "/api/me", Some(&nonce), Some(&access));
    assert_eq!(me(&app, "DPoP", &access, Some(proof)).await.status(), 200);

    // The copy, now spent, sent bare again: a reuse, which ends the session
    // with every token of it, as it ends an unbound one.
    let reused = app.refresh(&refresh).await;
    assert_eq!(reused.status(), 400);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(body["error_description"], classboard::api::ENDED_FOR_SAFETY);
    let proof = key.proof("GET", "/api/me", Some(&nonce), Some(&fresh));
    assert_eq!(me(&app, "DPoP", &fresh, Some(proof)).await.status(), 401);
}

#[tokio::test]
async fn a_session_without_a_key_is_bound_by_its_first_refresh_with_one_and_stays_bound() {
    let app = board().await;
    // Signed in before the browser had a key: bearer tokens.
    let user = app.signup("cai").await;
    assert!(claims(&user.access).get("cnf").is_none());
    assert_eq!(app.me(&user.access).await.status(), 200);

    let key = Prover::es256();
    let nonce = nonce(&app, &key).await;
    let refreshed = refresh_with(&app, &user.refresh, &key, &nonce).await;
    let (access, refresh) = bound_tokens(refreshed, &key).await;
    let proof = key.proof("GET", "/api/me", Some(&nonce), Some(&access));
    assert_eq!(me(&app, "DPoP", &access, Some(proof)).await.status(), 200);
    // From now on the refresh token needs the key.
    assert_eq!(
        error_code(app.refresh(&refresh).await).await,
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn two_keys_racing_to_bind_one_session_on_two_instances_bind_at_most_one() {
    let app = board().await;
    let sibling = app.sibling().await;
    let user = app.signup("dan").await;
    let keys = [Prover::es256(), Prover::ed25519()];
    let nonce = nonce(&app, &keys[0]).await;
    let body = json!({"refresh_token": user.refresh});
    let attempts = (0..20).map(|i| {
        let (server, key) = (if i % 2 == 0 { &app } else { &sibling }, &keys[i % 2]);
        post(server, "/api/auth/refresh", &body, Some((key, &nonce)))
    });
    let (bound, refused) = keys_bound(futures::future::join_all(attempts).await).await;
    assert!(bound.len() <= 1, "tokens bound to two keys: {bound:?}");
    assert!(refused >= 1, "the other key's refresh ended the session");
}

#[tokio::test]
async fn required_refuses_every_sign_in_and_refresh_without_a_proof() {
    let app =
        TestApp::spawn_with(&[("PUBLIC_URL", PUBLIC), ("FIRST_PARTY_DPOP", "required")]).await;
    let refused = app.signup_response("eve").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(error_code(refused).await, "invalid_dpop_proof");

    let key = Prover::es256();
    let nonce = nonce(&app, &key).await;
    let body = json!({"username": "eve", "email": "eve@example.com", "password": PASSWORD});
    let signed_up = post(&app, "/api/auth/signup", &body, Some((&key, &nonce))).await;
    let (access, refresh) = bound_tokens(signed_up, &key).await;

    assert_eq!(
        error_code(app.login_response("eve", PASSWORD).await).await,
        "invalid_dpop_proof"
    );
    assert_eq!(
        error_code(app.refresh(&refresh).await).await,
        "invalid_dpop_proof"
    );
    // Refused before anything was spent: the owner's refresh still works.
    let owner = refresh_with(&app, &refresh, &key, &nonce).await;
    bound_tokens(owner, &key).await;
    let bearer = app
        .bearer(Method::GET, "/api/me", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bearer).await, "invalid_token");
}

/// A proof's `jti` is written once for every instance, which costs a
/// write to the database: it is written only once the request's rate limits
/// have let it through, so a flood of requests the limits refuse, each with
/// a proof of its own, writes nothing.
#[tokio::test]
async fn requests_the_limits_refuse_write_no_proof() {
    let app =
        TestApp::spawn_with(&[("PUBLIC_URL", PUBLIC), ("AUTH_REQUESTS_PER_IP", "3/5m")]).await;
    let prover = Prover::es256();
    // Learning the nonce is a refusal that counts nothing.
    let nonce = nonce(&app, &prover).await;
    let db = app.db().await;
    let written = || async {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dpop_proofs")
            .fetch_one(&db)
            .await
            .unwrap();
        count
    };
    let wrong = json!({"login": "nobody", "password": "not this one"});
    for _ in 0..3 {
        let answer = post(&app, "/api/auth/login", &wrong, Some((&prover, &nonce))).await;
        assert_eq!(answer.status(), 401, "within the limit");
    }
    assert_eq!(written().await, 3, "each proof within the limit is spent");
    let beyond = futures::future::join_all(
        (0..20).map(|_| post(&app, "/api/auth/login", &wrong, Some((&prover, &nonce)))),
    )
    .await;
    assert!(beyond.iter().all(|answer| answer.status() == 429));
    assert_eq!(
        written().await,
        3,
        "no proof of a refused request is written"
    );
}

#[tokio::test]
async fn a_code_by_mail_signs_in_bound_to_the_proven_key() {
    let app = board().await;
    let key = Prover::es256();
    crate::email_codes::confirmed(&app, "ada").await;
    let asked = crate::email_codes::ask(&app, "ada@example.com").await;
    assert_eq!(asked.status(), 202);
    let code = crate::email_codes::mailed_code(&app, "ada@example.com", 2).await;
    let nonce = nonce(&app, &key).await;
    let body = json!({"email": "ada@example.com", "code": code});
    let signed_in = post(&app, "/api/auth/otp/verify", &body, Some((&key, &nonce))).await;
    let (access, _) = bound_tokens(signed_in, &key).await;
    assert_eq!(claims(&access)["amr"], json!(["otp", "email"]));
}
