//! The identity provider, driven by a relying party nobody here wrote (the
//! `openidconnect` crate: discovery, PKCE, the code exchange, and its own
//! checks of the ID token's signature, `iss`, `aud`, `nonce` and
//! `at_hash`), and by hand where an attacker would go.

use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
};
use reqwest::Method;
use serde_json::{Value, json};
use server::{provider::clients::Registration, store::rows::Origin};

use crate::helpers::{TestApp, TestUser, error_code, header};

/// A web app's redirect URI (never loaded: the tests read the code from
/// the address the browser would be sent to).
pub(crate) const REDIRECT: &str = "https://library.example/callback";

/// A registered app: its id, and its secret when it has one.
pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) async fn register(app: &TestApp, public: bool, trusted: bool, scopes: &str) -> App {
    let registered = app
        .state
        .clients
        .register(
            &Registration {
                name: "School library".into(),
                redirect_uris: vec![REDIRECT.into()],
                public,
                trusted,
                scopes: scopes.split(' ').map(str::to_owned).collect(),
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

/// The provider once its first ID key is in the ring (generated in the
/// background right after the first start).
pub(crate) async fn provider() -> TestApp {
    provider_with(&[]).await
}

/// [`provider`] with `overrides`.
pub(crate) async fn provider_with(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    for _ in 0..600 {
        if app.state.keys.has_id_key() {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no ID key after 30 s");
}

/// The issuer: `PUBLIC_URL`'s default, `http://localhost:<port>`.
pub(crate) fn issuer(app: &TestApp) -> String {
    app.address.replace("127.0.0.1", "localhost")
}

/// The relying party's HTTP client: it must not follow redirects.
fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET` the authorization endpoint at `url`; the `Location` it answers.
pub(crate) async fn authorize_at(app: &TestApp, url: &str) -> String {
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303, "{url}");
    header(&response, "location")
}

/// The request handle in the page's address `/authorize?request=…`.
pub(crate) fn handle(location: &str) -> String {
    location
        .strip_prefix("/authorize?request=")
        .unwrap_or_else(|| panic!("not the page: {location}"))
        .to_owned()
}

pub(crate) async fn step(
    app: &TestApp,
    handle: &str,
    user: Option<&TestUser>,
) -> reqwest::Response {
    let request = app
        .client
        .post(app.url("/api/oauth/authorization"))
        .json(&json!({"request": handle}));
    let request = match user {
        Some(user) => request.bearer_auth(&user.access),
        None => request,
    };
    request.send().await.unwrap()
}

pub(crate) async fn decide(app: &TestApp, handle: &str, user: &TestUser, allow: bool) -> Value {
    let response = app
        .bearer_json(
            Method::POST,
            "/api/oauth/authorization/decision",
            &user.access,
            json!({"request": handle, "allow": allow}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The query parameters of an address.
pub(crate) fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// An authorization request by hand: PKCE with `verifier`'s challenge.
pub(crate) fn authorize_url(app: &TestApp, client_id: &str, scope: &str, extra: &str) -> String {
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(VERIFIER.into()));
    format!(
        "{}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}\
         &state=st-1&code_challenge={}&code_challenge_method=S256{extra}",
        app.address,
        urlencode(REDIRECT),
        urlencode(scope),
        challenge.as_str(),
    )
}

pub(crate) const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123456789";

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs `user` in through the whole flow by hand (consent given when
/// asked); the code at the redirect URI.
pub(crate) async fn code_for(app: &TestApp, client: &App, user: &TestUser, scope: &str) -> String {
    let location = authorize_at(app, &authorize_url(app, &client.id, scope, "")).await;
    let handle = handle(&location);
    let answer: Value = step(app, &handle, Some(user)).await.json().await.unwrap();
    let answer = if answer["step"] == "consent" {
        decide(app, &handle, user, true).await
    } else {
        answer
    };
    assert_eq!(answer["step"], "redirect", "{answer}");
    query(answer["to"].as_str().unwrap())["code"].clone()
}

/// `POST /oauth/token` with `form`, as `client` (HTTP Basic when it has a
/// secret, else its `client_id` in the form).
pub(crate) async fn token(app: &TestApp, client: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let request = app.client.post(app.url("/oauth/token"));
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            form.push(("client_id", &client.id));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

pub(crate) async fn exchange(app: &TestApp, client: &App, code: &str) -> reqwest::Response {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

#[tokio::test]
async fn an_app_signs_a_person_in_and_the_openidconnect_crate_accepts_every_token() {
    let app = provider().await;
    let library = register(
        &app,
        false,
        false,
        "openid profile email offline_access grades:read",
    )
    .await;
    let ada = app.signup("ada").await;
    let http = rp_http();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer(&app)).unwrap(), &http)
            .await
            .expect("discovery and the JWKS are read");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(library.id.clone()),
        library.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new("grades:read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The discovered endpoint is the issuer's (localhost); the test talks
    // to the same server by its address.
    let url = url.as_str().replace(&issuer(&app), &app.address);
    let handle = handle(&authorize_at(&app, &url).await);
    let asked: Value = step(&app, &handle, Some(&ada)).await.json().await.unwrap();
    assert_eq!(asked["step"], "consent");
    assert_eq!(asked["app"], "School library");
    let said: Vec<&str> = asked["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["description"].as_str().unwrap())
        .collect();
    assert!(
        said.contains(&"See your grades (a teacher's: the grades they can see)"),
        "{said:?}"
    );
    let back = decide(&app, &handle, &ada, true).await;
    let to = back["to"].as_str().unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    let params = query(to);
    assert_eq!(&params["state"], csrf.secret(), "state comes back");
    assert_eq!(params["iss"], issuer(&app), "RFC 9207");

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is exchanged");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the relying party accepts the ID token");
    assert_eq!(claims.subject().as_str(), ada.id);
    assert_eq!(claims.preferred_username().unwrap().as_str(), "ada");
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert!(claims.auth_time().is_some());

    // The access token: RFC 9068, for the API, limited to its scope.
    let access = tokens.access_token().secret().clone();
    let at = crate::helpers::claims(&access);
    assert_eq!(at["iss"], issuer(&app));
    assert_eq!(at["aud"], "classboard-api");
    assert_eq!(at["client_id"], library.id);
    assert_eq!(
        at["scope"],
        "openid profile email offline_access grades:read"
    );
    let grades = app
        .bearer(Method::GET, "/api/grades", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(grades.status(), 200, "grades:read reads grades");
    let post = app
        .bearer_json(
            Method::POST,
            "/api/posts",
            &access,
            json!({"title": "t", "body": "b"}),
        )
        .await;
    assert_eq!(post.status(), 403);
    assert_eq!(
        header(&post, "www-authenticate"),
        r#"Bearer realm="api", error="insufficient_scope", scope="posts:write""#
    );
    for path in ["/api/me", "/api/auth/sessions", "/api/account/mfa"] {
        let refused = app.bearer(Method::GET, path, &access).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{path} is the person's own");
    }
    let answered = step(&app, &handle, None).await;
    assert_eq!(answered.status(), 400, "a request is answered once");

    // userinfo, read by the relying party.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().unwrap().as_str(), "ada");
    assert_eq!(info.email_verified(), Some(false));

    // The refresh token rotates; the old one, used again, ends the grant.
    let refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let renewed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("the refresh token is exchanged");
    assert_ne!(renewed.refresh_token().unwrap().secret(), refresh.secret());
    assert!(renewed.id_token().is_none(), "no new ID token at a refresh");
    // The board's own refresh endpoint knows nothing of an app's token.
    let board = app.refresh(renewed.refresh_token().unwrap().secret()).await;
    assert_eq!(board.status(), 400);
    assert_eq!(error_code(board).await, "invalid_grant");
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = spent_at - 3600000 WHERE spent_at IS NOT NULL",
    )
    .execute(&app.db().await)
    .await
    .unwrap();
    let reused = token(
        &app,
        &library,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.secret()),
        ],
    )
    .await;
    assert_eq!(reused.status(), 400);
    assert_eq!(error_code(reused).await, "invalid_grant");
    let ended = app
        .bearer(Method::GET, "/api/grades", renewed.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401, "reuse ended the grant's access tokens");
}

#[tokio::test]
async fn an_app_gets_id_tokens_in_the_algorithm_it_registered() {
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let app = provider().await;
    let ada = app.signup("ada").await;
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer(&app)).unwrap(), &http)
            .await
            .unwrap();
    for (alg, expected) in [
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("RS256", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
    ] {
        let registered = app
            .state
            .clients
            .register(
                &Registration {
                    name: format!("Timetable ({alg})"),
                    redirect_uris: vec![REDIRECT.into()],
                    id_token_signed_response_alg: Some(alg.into()),
                    trusted: true,
                    ..Registration::default()
                },
                &Origin::default(),
                None,
            )
            .await
            .unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(registered.client.id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let url = url.as_str().replace(&issuer(&app), &app.address);
        let handle = handle(&authorize_at(&app, &url).await);
        let answer: Value = step(&app, &handle, Some(&ada)).await.json().await.unwrap();
        assert_eq!(
            answer["step"], "redirect",
            "{alg}: a trusted app is not asked"
        );
        let code = query(answer["to"].as_str().unwrap())["code"].clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let id_token = tokens.id_token().unwrap();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![expected.clone()]);
        let claims = id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.subject().as_str(), ada.id);
        assert_eq!(id_token.signing_alg().unwrap(), &expected, "{alg}");
        // at_hash by the algorithm's own hash (SHA-512 for EdDSA).
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash), "{alg}");
    }
    let document: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA", "ES256"])
    );
}

#[tokio::test]
async fn a_code_and_a_consent_from_one_instance_count_on_another() {
    let app = provider_with(&[("ISSUER", "https://board.example")]).await;
    let sibling = app.sibling().await;
    let library = register(&app, false, false, "openid offline_access").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid offline_access").await;
    let tokens = exchange(&sibling, &library, &code).await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    // The consent given through one is seen by the other.
    let again = handle(
        &authorize_at(
            &sibling,
            &authorize_url(&sibling, &library.id, "openid", ""),
        )
        .await,
    );
    let answer: Value = step(&sibling, &again, Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["step"], "redirect", "{answer}");
    // A refresh token rotated on one is reuse on the other.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    assert_eq!(token(&app, &library, &form).await.status(), 200);
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = spent_at - 3600000 WHERE spent_at IS NOT NULL",
    )
    .execute(&app.db().await)
    .await
    .unwrap();
    let reused = token(&sibling, &library, &form).await;
    assert_eq!(error_code(reused).await, "invalid_grant");
    // And the code, used again on the first, is caught there.
    assert_eq!(exchange(&app, &library, &code).await.status(), 400);
    sibling.stop().await.unwrap();
}

#[tokio::test]
async fn a_consent_is_remembered_asked_again_for_more_and_never_taken_from_a_cookie() {
    let app = provider().await;
    let library = register(&app, false, false, "openid profile grades:read").await;
    let ada = app.signup("ada").await;
    code_for(&app, &library, &ada, "openid profile").await;

    // The same scopes again: no page, straight back with a code.
    let handle_again =
        handle(&authorize_at(&app, &authorize_url(&app, &library.id, "openid", "")).await);
    let answer: Value = step(&app, &handle_again, Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["step"], "redirect", "{answer}");
    assert!(query(answer["to"].as_str().unwrap()).contains_key("code"));

    // More than was allowed: asked again; prompt=consent asks always.
    for (scope, extra) in [("openid grades:read", ""), ("openid", "&prompt=consent")] {
        let asked =
            handle(&authorize_at(&app, &authorize_url(&app, &library.id, scope, extra)).await);
        let answer: Value = step(&app, &asked, Some(&ada)).await.json().await.unwrap();
        assert_eq!(answer["step"], "consent", "{scope}{extra}");
        // A decision without the bearer token (a form another site posts
        // with the browser's cookies) is refused.
        let forged = app
            .client
            .post(app.url("/api/oauth/authorization/decision"))
            .header("origin", "https://evil.example")
            .json(&json!({"request": asked, "allow": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        // Deny goes back with access_denied, state and iss.
        let denied = decide(&app, &asked, &ada, false).await;
        let params = query(denied["to"].as_str().unwrap());
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["state"], "st-1");
        assert_eq!(params["iss"], issuer(&app));
    }

    // A trusted app is not asked.
    let own = register(&app, false, true, "openid").await;
    let trusted = handle(&authorize_at(&app, &authorize_url(&app, &own.id, "openid", "")).await);
    let answer: Value = step(&app, &trusted, Some(&ada)).await.json().await.unwrap();
    assert_eq!(answer["step"], "redirect");
}

#[tokio::test]
async fn prompt_none_never_shows_a_page_and_prompt_login_asks_for_proof() {
    let app = provider().await;
    let library = register(&app, false, false, "openid").await;
    let ada = app.signup("ada").await;

    let nobody = handle(
        &authorize_at(
            &app,
            &authorize_url(&app, &library.id, "openid", "&prompt=none"),
        )
        .await,
    );
    let answer: Value = step(&app, &nobody, None).await.json().await.unwrap();
    assert_eq!(
        query(answer["to"].as_str().unwrap())["error"],
        "login_required"
    );
    let unasked = handle(
        &authorize_at(
            &app,
            &authorize_url(&app, &library.id, "openid", "&prompt=none"),
        )
        .await,
    );
    let answer: Value = step(&app, &unasked, Some(&ada)).await.json().await.unwrap();
    assert_eq!(
        query(answer["to"].as_str().unwrap())["error"],
        "consent_required"
    );

    // Anyone not signed in is sent to sign in.
    let signed_out = handle(
        &authorize_at(
            &app,
            &authorize_url(&app, &library.id, "openid", "&login_hint=ada"),
        )
        .await,
    );
    let answer: Value = step(&app, &signed_out, None).await.json().await.unwrap();
    assert_eq!(answer, json!({"step": "sign_in", "login_hint": "ada"}));

    // prompt=login, for a sign-in older than the request: prove presence,
    // then go on.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = handle(
        &authorize_at(
            &app,
            &authorize_url(&app, &library.id, "openid", "&prompt=login"),
        )
        .await,
    );
    let refused = step(&app, &fresh, Some(&ada)).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(refused).await, "reauth_required");
    app.prove(&ada).await;
    let answer: Value = step(&app, &fresh, Some(&ada)).await.json().await.unwrap();
    assert_eq!(answer["step"], "consent", "{answer}");
}

#[tokio::test]
async fn the_authorization_endpoint_refuses_what_the_security_bcp_lists() {
    let app = provider().await;
    let library = register(&app, false, false, "openid profile").await;
    let page = |location: String| {
        location
            .strip_prefix("/authorize?problem=")
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("not the problem page: {location}"))
    };

    // An unknown app, or a redirect URI that differs by anything: a page
    // of this site, never a redirect to the URI given.
    let unknown = authorize_url(&app, "nobody", "openid", "");
    assert_eq!(page(authorize_at(&app, &unknown).await), "unknown_app");
    for other in [
        "https://library.example/callback/",
        "https://library.example/callback/x",
        "https://library.example/callback?x=1",
        "https://library.example/Callback",
        "https://library.example:8443/callback",
        "http://library.example/callback",
        "https://evil.example/callback",
    ] {
        let url = authorize_url(&app, &library.id, "openid", "")
            .replace(&urlencode(REDIRECT), &urlencode(other));
        assert_eq!(
            page(authorize_at(&app, &url).await),
            "unknown_redirect_uri",
            "{other}"
        );
    }
    // A native app's loopback address may name any port (RFC 8252 §7.3),
    // and nothing else about it may differ.
    let native = app
        .state
        .clients
        .register(
            &Registration {
                name: "Timetable for phones".into(),
                redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
                public: true,
                ..Registration::default()
            },
            &Origin::default(),
            None,
        )
        .await
        .unwrap()
        .client;
    for other in [
        "http://127.0.0.1:9/callback/",
        "http://localhost:9/callback",
    ] {
        let url = authorize_url(&app, &native.id, "openid", "")
            .replace(&urlencode(REDIRECT), &urlencode(other));
        assert_eq!(
            page(authorize_at(&app, &url).await),
            "unknown_redirect_uri",
            "{other}"
        );
    }
    let other_port = authorize_url(&app, &native.id, "openid", "").replace(
        &urlencode(REDIRECT),
        &urlencode("http://127.0.0.1:51004/callback"),
    );
    assert!(
        authorize_at(&app, &other_port)
            .await
            .starts_with("/authorize?request=")
    );
    let twice = format!(
        "{}&client_id={}",
        authorize_url(&app, &library.id, "openid", ""),
        library.id
    );
    assert_eq!(page(authorize_at(&app, &twice).await), "repeated_parameter");
    let shown = app.get("/authorize?problem=unknown_app").await;
    assert_eq!(shown.status(), 400);

    // Every other error goes back to the app, with state and iss.
    let back = |location: String| {
        assert!(location.starts_with(REDIRECT), "{location}");
        query(&location)
    };
    let plain = authorize_url(&app, &library.id, "openid", "").replace("S256", "plain");
    let params = back(authorize_at(&app, &plain).await);
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "st-1");
    assert_eq!(params["iss"], issuer(&app));
    let no_pkce = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid",
        app.address,
        library.id,
        urlencode(REDIRECT)
    );
    assert_eq!(
        back(authorize_at(&app, &no_pkce).await)["error"],
        "invalid_request"
    );
    let implicit = authorize_url(&app, &library.id, "openid", "")
        .replace("response_type=code", "response_type=token");
    assert_eq!(
        back(authorize_at(&app, &implicit).await)["error"],
        "unsupported_response_type"
    );
    let more = authorize_url(&app, &library.id, "openid grades:read", "");
    assert_eq!(
        back(authorize_at(&app, &more).await)["error"],
        "invalid_scope"
    );
}

#[tokio::test]
async fn codes_work_once_for_their_app_with_their_verifier() {
    let app = provider().await;
    let library = register(&app, false, false, "openid").await;
    let public = register(&app, true, false, "openid").await;
    let ada = app.signup("ada").await;

    // A wrong verifier spends the code.
    let code = code_for(&app, &library, &ada, "openid").await;
    let wrong = token(
        &app,
        &library,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"b".repeat(43)),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(error_code(wrong).await, "invalid_grant");
    assert_eq!(exchange(&app, &library, &code).await.status(), 400, "spent");

    // A code is its app's: another app, even with a good secret, gets nothing.
    let code = code_for(&app, &library, &ada, "openid").await;
    let other = register(&app, false, false, "openid").await;
    assert_eq!(exchange(&app, &other, &code).await.status(), 400);

    // A second use ends what the first one started.
    let code = code_for(&app, &library, &ada, "openid").await;
    let first: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let again = exchange(&app, &library, &code).await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "invalid_grant");
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "the first exchange's tokens ended"
    );

    // A confidential app with a wrong secret: 401 with a challenge.
    let code = code_for(&app, &library, &ada, "openid").await;
    let wrong_secret = App {
        id: library.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let refused = exchange(&app, &wrong_secret, &code).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        header(&refused, "www-authenticate"),
        r#"Basic realm="classboard""#
    );
    assert_eq!(error_code(refused).await, "invalid_client");
    // Without its secret at all, as a public app would.
    let no_secret = App {
        id: library.id.clone(),
        secret: None,
    };
    assert_eq!(exchange(&app, &no_secret, &code).await.status(), 401);

    // A public app authenticates by its id alone; PKCE binds its code.
    let code = code_for(&app, &public, &ada, "openid").await;
    let tokens = exchange(&app, &public, &code).await;
    assert_eq!(tokens.status(), 200);
    assert_eq!(header(&tokens, "cache-control"), "no-store");
}

#[tokio::test]
async fn the_persons_sign_out_and_the_apps_removal_end_the_apps_tokens() {
    let app = provider().await;
    let library = register(&app, false, false, "openid offline_access").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid offline_access").await;
    let tokens: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The person logs out of the board: the app's grant ends with it.
    let out = app
        .post_json("/api/auth/logout", &json!({"refresh_token": ada.refresh}))
        .await;
    assert!(out.status().is_success());
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let refreshed = token(
        &app,
        &library,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), 400);

    // An app removed: its tokens end, its secret opens nothing.
    let ada = app.login("ada").await;
    let code = code_for(&app, &library, &ada, "openid").await;
    let tokens: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    app.state
        .clients
        .remove(&library.id, &Origin::default(), None)
        .await
        .unwrap();
    for _ in 0..40 {
        if app
            .bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status()
            == 401
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let code = token(
        &app,
        &library,
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(code.status(), 401);
}

#[tokio::test]
async fn discovery_names_what_is_served() {
    let app = provider().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let document: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(document["issuer"], issuer(&app));
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA", "ES256"])
        );
        assert_eq!(
            document["authorization_response_iss_parameter_supported"],
            true
        );
        assert_eq!(document["response_types_supported"], json!(["code"]));
        assert_eq!(
            document["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            document["end_session_endpoint"],
            format!("{}/oauth/logout", issuer(&app))
        );
        assert_eq!(document["backchannel_logout_supported"], true);
        assert_eq!(document["backchannel_logout_session_supported"], true);
    }
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["alg"] == "RS256"),
        "the ID key is published: {jwks}"
    );
}

#[tokio::test]
async fn the_person_lists_the_apps_with_access_and_withdraws_one() {
    let app = provider().await;
    let library = register(&app, false, false, "openid profile grades:read").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid grades:read").await;
    let tokens: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let listed = app.get_json("/api/account/apps", &ada.access).await;
    assert_eq!(listed["apps"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["apps"][0]["client_id"], library.id);
    assert_eq!(listed["apps"][0]["name"], "School library");
    assert_eq!(listed["apps"][0]["scopes"][1]["scope"], "grades:read");
    // The app itself cannot see or change the list.
    let by_app = app
        .bearer(Method::GET, "/api/account/apps", access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_app.status(), 403);

    let path = format!("/api/account/apps/{}", library.id);
    let withdrawn = app
        .bearer(Method::DELETE, &path, &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    assert_eq!(
        app.bearer(Method::GET, "/api/grades", access)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "its token ended at once"
    );
    let again = app
        .bearer(Method::DELETE, &path, &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let listed = app.get_json("/api/account/apps", &ada.access).await;
    assert_eq!(listed["apps"], json!([]));
    // Asked again next time.
    let asked = handle(&authorize_at(&app, &authorize_url(&app, &library.id, "openid", "")).await);
    let answer: Value = step(&app, &asked, Some(&ada)).await.json().await.unwrap();
    assert_eq!(answer["step"], "consent");
    // Both are in the person's activity.
    let events = app.get_json("/api/account/activity", &ada.access).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"app_allowed") && kinds.contains(&"app_access_withdrawn"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_public_app_never_gets_a_code_without_a_click() {
    let app = provider().await;
    let public = register(&app, true, false, "openid").await;
    let ada = app.signup("ada").await;
    code_for(&app, &public, &ada, "openid").await;
    // Allowed before, yet asked again: anyone can claim a public app's id.
    let asked = handle(&authorize_at(&app, &authorize_url(&app, &public.id, "openid", "")).await);
    let answer: Value = step(&app, &asked, Some(&ada)).await.json().await.unwrap();
    assert_eq!(answer["step"], "consent");
    let silent = handle(
        &authorize_at(
            &app,
            &authorize_url(&app, &public.id, "openid", "&prompt=none"),
        )
        .await,
    );
    let answer: Value = step(&app, &silent, Some(&ada)).await.json().await.unwrap();
    assert_eq!(
        query(answer["to"].as_str().unwrap())["error"],
        "consent_required"
    );

    // A confidential app that returns people to a device is no better
    // assured: its secret ships in the app. Asked every time, never trusted.
    let native = |trusted: bool| Registration {
        name: "Desktop timetable".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        trusted,
        ..Registration::default()
    };
    assert!(
        app.state
            .clients
            .register(&native(true), &Origin::default(), None)
            .await
            .is_err(),
        "a native app cannot be trusted"
    );
    let desktop = app
        .state
        .clients
        .register(&native(false), &Origin::default(), None)
        .await
        .unwrap()
        .client;
    let ask = |extra: &'static str| {
        authorize_url(&app, &desktop.id, "openid", extra).replace(
            &urlencode(REDIRECT),
            &urlencode("http://127.0.0.1:9/callback"),
        )
    };
    for _ in 0..2 {
        let asked = handle(&authorize_at(&app, &ask("")).await);
        let answer: Value = step(&app, &asked, Some(&ada)).await.json().await.unwrap();
        assert_eq!(answer["step"], "consent");
        decide(&app, &asked, &ada, true).await;
    }
    let silent = handle(&authorize_at(&app, &ask("&prompt=none")).await);
    let answer: Value = step(&app, &silent, Some(&ada)).await.json().await.unwrap();
    assert_eq!(
        query(answer["to"].as_str().unwrap())["error"],
        "consent_required"
    );
}

#[tokio::test]
async fn an_apps_token_says_and_does_only_what_its_scope_allows() {
    let app = provider().await;
    let writer = register(&app, false, false, "openid posts:write").await;
    let reader = register(&app, false, false, "openid").await;
    let admin = app.user_with_role("root", "admin").await;
    let bob = app.signup("bob").await;
    let bobs = app.publish(&bob.access, "Bob's", "post").await;

    // Without profile or posts:write the token carries no username.
    let code = code_for(&app, &reader, &admin, "openid").await;
    let tokens: Value = exchange(&app, &reader, &code).await.json().await.unwrap();
    let claims = crate::helpers::claims(tokens["access_token"].as_str().unwrap());
    assert!(claims.get("username").is_none(), "{claims}");

    // posts:write publishes in the admin's name, and deletes only theirs.
    let code = code_for(&app, &writer, &admin, "openid posts:write").await;
    let tokens: Value = exchange(&app, &writer, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let own = app
        .bearer_json(
            Method::POST,
            "/api/posts",
            access,
            json!({"title": "By app", "body": "text"}),
        )
        .await;
    assert_eq!(own.status(), 201);
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["post"]["author"]["username"], "root");
    let not_moderation = app
        .bearer(
            Method::DELETE,
            &format!("/api/posts/{}", bobs["id"].as_str().unwrap()),
            access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_moderation.status(),
        403,
        "an admin's app does not moderate"
    );
    let mine = app
        .bearer(
            Method::DELETE,
            &format!("/api/posts/{}", own["post"]["id"].as_str().unwrap()),
            access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 204);
}

#[tokio::test]
async fn failed_app_authentications_are_limited_without_locking_the_app_out() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT_IP", "3/15m")]).await;
    let library = register(&app, false, false, "openid").await;
    let wrong = App {
        id: library.id.clone(),
        secret: Some("guess".into()),
    };
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(token(&app, &wrong, &form).await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    // The app itself, with its secret, is not refused for a guesser's failures.
    let right = token(&app, &library, &form).await;
    assert_eq!(
        right.status(),
        400,
        "authenticated; the refresh token is junk"
    );
    assert_eq!(error_code(right).await, "invalid_grant");

    // Names nobody registered, or could: no query, no server error.
    for client_id in ["a\u{0}b", &"x".repeat(500), "ünïcode"] {
        let unknown = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", client_id),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            matches!(unknown.status().as_u16(), 401 | 429),
            "{client_id:?}"
        );
        let url = format!(
            "{}/oauth/authorize?client_id={}",
            app.address,
            urlencode(client_id)
        );
        let page = authorize_at(&app, &url).await;
        assert_eq!(page, "/authorize?problem=unknown_app", "{client_id:?}");
    }
}

/// `POST` a form to the revocation or introspection endpoint as `client`.
async fn about_token(app: &TestApp, path: &str, client: &App, token: &str) -> reqwest::Response {
    let request = app.client.post(app.url(path));
    let mut form = vec![("token", token)];
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            form.push(("client_id", &client.id));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

#[tokio::test]
async fn introspection_tells_live_tokens_and_revocation_ends_them() {
    let app = provider().await;
    let library = register(&app, false, false, "openid profile offline_access").await;
    let api = register(&app, false, false, "openid").await;
    let public = register(&app, true, false, "openid").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid profile offline_access").await;
    let tokens: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The app asks of its own token; another app learns nothing of it.
    let theirs: Value = about_token(&app, "/oauth/introspect", &api, access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!({"active": false}));
    let said: Value = about_token(&app, "/oauth/introspect", &library, access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(said["active"], true, "{said}");
    assert_eq!(said["client_id"], library.id);
    assert_eq!(said["sub"], ada.id);
    assert_eq!(said["username"], "ada");
    assert_eq!(said["scope"], "openid profile offline_access");
    assert_eq!(said["iss"], issuer(&app));
    // A refresh token is told only to its own app.
    let own: Value = about_token(&app, "/oauth/introspect", &library, refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true, "{own}");
    assert_eq!(own["token_type"], "refresh_token");
    let others: Value = about_token(&app, "/oauth/introspect", &api, refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(others, json!({"active": false}));
    // The board's own tokens and junk are inactive; a public app may not ask.
    for token in [ada.access.as_str(), ada.refresh.as_str(), "junk"] {
        let said: Value = about_token(&app, "/oauth/introspect", &api, token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(said, json!({"active": false}));
    }
    let refused = about_token(&app, "/oauth/introspect", &public, access).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "unauthorized_client");

    // Revocation by another app changes nothing; by its own app it ends the
    // grant: both tokens, here and in introspection.
    assert_eq!(
        about_token(&app, "/oauth/revoke", &api, refresh)
            .await
            .status(),
        200
    );
    let still: Value = about_token(&app, "/oauth/introspect", &library, refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["active"], true);
    assert_eq!(
        about_token(&app, "/oauth/revoke", &library, refresh)
            .await
            .status(),
        200
    );
    let revoked: Value = about_token(&app, "/oauth/introspect", &library, access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        revoked,
        json!({"active": false}),
        "a revoked grant's access token, and nothing else"
    );
    let revoked: Value = about_token(&app, "/oauth/introspect", &library, refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revoked, json!({"active": false}));
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        about_token(&app, "/oauth/revoke", &library, "junk")
            .await
            .status(),
        200
    );

    // An access token revoked ends its grant too.
    let code = code_for(&app, &library, &ada, "openid profile offline_access").await;
    let tokens: Value = exchange(&app, &library, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        about_token(&app, "/oauth/revoke", &library, access)
            .await
            .status(),
        200
    );
    let refreshed = token(
        &app,
        &library,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), 400);
}

pub(crate) async fn register_service(app: &TestApp, scopes: &str, grants: &[&str]) -> App {
    let registered = app
        .state
        .clients
        .register(
            &Registration {
                name: "Report card printer".into(),
                scopes: scopes.split(' ').map(str::to_owned).collect(),
                grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
                ..Registration::default()
            },
            &Origin::default(),
            None,
        )
        .await
        .expect("the service registers");
    App {
        id: registered.client.id,
        secret: registered.secret,
    }
}

#[tokio::test]
async fn a_backend_reads_grades_for_itself_until_it_is_removed() {
    // Instances of one deployment share its issuer.
    let app = provider_with(&[("ISSUER", "https://board.example")]).await;
    let printer = register_service(&app, "grades:read", &["client_credentials"]).await;
    let teacher = app.user_with_role("tess", "teacher").await;
    let ada = app.signup("ada").await;
    let graded = app
        .bearer_json(
            Method::POST,
            "/api/grades",
            &teacher.access,
            json!({"student": "ada", "course": "Essay", "grade": "A"}),
        )
        .await;
    assert_eq!(graded.status(), 201, "{}", graded.text().await.unwrap());

    let issued = token(&app, &printer, &[("grant_type", "client_credentials")]).await;
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["scope"], "grades:read");
    assert!(issued.get("refresh_token").is_none() && issued.get("id_token").is_none());
    let access = issued["access_token"].as_str().unwrap();
    let claims = crate::helpers::claims(access);
    assert_eq!(claims["sub"], printer.id, "the app is the subject");
    assert_eq!(claims["client_id"], printer.id);

    let grades = app.get_json("/api/grades", access).await;
    assert_eq!(
        grades["grades"].as_array().unwrap().len(),
        1,
        "every grade: {grades}"
    );
    for (method, path) in [
        (Method::GET, "/oauth/userinfo"),
        (Method::GET, "/api/me"),
        (Method::GET, "/api/account/apps"),
        (Method::POST, "/api/grades"),
    ] {
        let refused = app
            .bearer(method.clone(), path, access)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{method} {path}");
    }
    let said: Value = about_token(&app, "/oauth/introspect", &printer, access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(said["active"], true);
    assert_eq!(said["sub"], printer.id);

    // Only what an app may have for itself, and only a confidential app
    // registered for the grant.
    let more = token(
        &app,
        &printer,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "grades:read openid"),
        ],
    )
    .await;
    assert_eq!(error_code(more).await, "invalid_scope");
    let library = register(&app, false, false, "openid grades:read").await;
    let not_registered = token(&app, &library, &[("grant_type", "client_credentials")]).await;
    assert_eq!(error_code(not_registered).await, "unauthorized_client");
    let _ = ada;

    // Removed: its own tokens end, here at once and on another instance.
    let sibling = app.sibling().await;
    assert_eq!(
        sibling
            .bearer(Method::GET, "/api/grades", access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.state
        .clients
        .remove(&printer.id, &Origin::default(), None)
        .await
        .unwrap();
    let mut status = 0;
    for _ in 0..60 {
        status = sibling
            .bearer(Method::GET, "/api/grades", access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401, "the removal reached the other instance");
    sibling.stop().await.unwrap();
}

#[tokio::test]
async fn an_apps_own_tokens_end_with_its_secret_and_cannot_be_revoked_alone() {
    let app = provider().await;
    let printer = register_service(&app, "grades:read", &["client_credentials"]).await;
    let issued: Value = token(&app, &printer, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let access = issued["access_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/api/grades", access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let alone = about_token(&app, "/oauth/revoke", &printer, access).await;
    assert_eq!(alone.status(), 400);
    assert_eq!(error_code(alone).await, "unsupported_token_type");

    // A new secret: the tokens of the old one end; the new one's work.
    let secret = app
        .state
        .clients
        .rotate_secret(&printer.id, &Origin::default(), None)
        .await
        .unwrap();
    let renewed = App {
        id: printer.id.clone(),
        secret: Some(secret),
    };
    let mut status = 0;
    for _ in 0..60 {
        status = app
            .bearer(Method::GET, "/api/grades", access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401, "the old secret's token ended");
    let fresh: Value = token(&app, &renewed, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/api/grades", fresh)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_allow_racing_a_withdrawal_never_brings_back_what_was_withdrawn() {
    let app = provider().await;
    let library = register(&app, false, false, "openid profile email").await;
    let ada = app.signup("ada").await;
    let path = format!("/api/account/apps/{}", library.id);
    for round in 0..20 {
        // Allowed: openid and profile. Then asked for email too, while the
        // person withdraws the app in another tab, both at once.
        code_for(&app, &library, &ada, "openid profile").await;
        let asked = handle(
            &authorize_at(&app, &authorize_url(&app, &library.id, "openid email", "")).await,
        );
        assert_eq!(
            step(&app, &asked, Some(&ada))
                .await
                .json::<Value>()
                .await
                .unwrap()["step"],
            "consent"
        );
        let allow = app.bearer_json(
            Method::POST,
            "/api/oauth/authorization/decision",
            &ada.access,
            json!({"request": asked, "allow": true}),
        );
        let withdraw = app.bearer(Method::DELETE, &path, &ada.access).send();
        let (allowed, withdrawn) = tokio::join!(allow, withdraw);
        assert_eq!(allowed.status(), 200);
        assert!(withdrawn.unwrap().status().is_success());
        let consent = server::store::grants::consent(&app.state.db, &ada.id, &library.id)
            .await
            .unwrap();
        // Either order leaves no "profile": withdrawn first, only what the
        // Allow asked for is stored; allowed first, the withdrawal took all.
        assert!(
            consent
                .as_deref()
                .is_none_or(|scope| !scope.contains("profile")),
            "round {round}: {consent:?}"
        );
        app.bearer(Method::DELETE, &path, &ada.access)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_withdrawal_wins_over_a_code_not_yet_exchanged_and_covers_trusted_apps() {
    let app = provider().await;
    let library = register(&app, false, false, "openid offline_access").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid offline_access").await;
    let path = format!("/api/account/apps/{}", library.id);
    let withdrawn = app
        .bearer(Method::DELETE, &path, &ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    let late = exchange(&app, &library, &code).await;
    assert_eq!(late.status(), 400);
    assert_eq!(error_code(late).await, "invalid_grant");
    assert_eq!(
        app.get_json("/api/account/apps", &ada.access).await["apps"],
        json!([])
    );

    // A trusted app is not asked, yet listed while it holds a grant, and
    // its access withdrawn there.
    let own = register(&app, false, true, "openid").await;
    let code = code_for(&app, &own, &ada, "openid").await;
    let tokens: Value = exchange(&app, &own, &code).await.json().await.unwrap();
    let listed = app.get_json("/api/account/apps", &ada.access).await;
    assert_eq!(listed["apps"][0]["client_id"], own.id, "{listed}");
    let path = format!("/api/account/apps/{}", own.id);
    assert_eq!(
        app.bearer(Method::DELETE, &path, &ada.access)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// A code presented many times at once, through two instances: exactly
/// one exchange gets tokens, and the reuse that the others are ends them.
#[tokio::test]
async fn a_code_presented_forty_times_at_once_gives_tokens_once() {
    let app = provider_with(&[("ISSUER", "https://board.example")]).await;
    let sibling = app.sibling().await;
    let library = register(&app, false, false, "openid").await;
    let ada = app.signup("ada").await;
    let code = code_for(&app, &library, &ada, "openid").await;
    let answers = futures::future::join_all((0..40).map(|i| {
        let (server, library, code) = (if i % 2 == 0 { &app } else { &sibling }, &library, &code);
        async move { exchange(server, library, code).await }
    }))
    .await;
    let mut granted = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => granted.push(answer.json::<Value>().await.unwrap()),
            400 => assert_eq!(error_code(answer).await, "invalid_grant"),
            other => panic!("answered {other}"),
        }
    }
    assert_eq!(granted.len(), 1, "one exchange of forty");
    // The others were reuse: the one grant has ended (on this instance at
    // once, or by its poll when the reuse landed on the other).
    let access = granted[0]["access_token"].as_str().unwrap();
    let mut status = 0;
    for _ in 0..60 {
        status = app
            .bearer(Method::GET, "/oauth/userinfo", access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401);
    sibling.stop().await.unwrap();
}
