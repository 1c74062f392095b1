//! `CORS_ALLOWED_ORIGINS`: pages of the listed origins may call the API;
//! any other origin gets no CORS header.

use reqwest::Method;

use crate::helpers::{TestApp, header};

const ALLOWED: &str = "https://app.example.org";
const OTHER: &str = "https://evil.example";

async fn app() -> TestApp {
    TestApp::spawn_with(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.org, http://localhost:5173",
    )])
    .await
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_answered_and_its_requests_allowed() {
    let app = app().await;
    let ada = app.signup("ada").await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/posts"))
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(header(&preflight, "access-control-allow-origin"), ALLOWED);
    assert_eq!(
        header(&preflight, "access-control-allow-credentials"),
        "true"
    );
    let headers = header(&preflight, "access-control-allow-headers").to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(header(&preflight, "access-control-allow-methods").contains("POST"));
    assert!(header(&preflight, "vary").to_lowercase().contains("origin"));

    let me = app
        .bearer(Method::GET, "/api/me", &ada.access)
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(header(&me, "access-control-allow-origin"), ALLOWED);
    // A refusal is readable too: its challenge header is exposed.
    let refused = app
        .client
        .get(app.url("/api/me"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        header(&refused, "access-control-expose-headers")
            .to_lowercase()
            .contains("www-authenticate")
    );
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let app = app().await;
    let ada = app.signup("ada").await;
    for (method, path) in [(Method::OPTIONS, "/api/posts"), (Method::GET, "/api/me")] {
        let response = app
            .bearer(method, path, &ada.access)
            .header("origin", OTHER)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{path}"
        );
    }
    // Without the variable, nobody gets them.
    let plain = TestApp::spawn().await;
    let response = plain
        .client
        .get(plain.url("/api/posts"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_cookie_origin_check_accepts_listed_origins_only() {
    let app = app().await;
    let response = app
        .post_json(
            "/api/auth/signup",
            &serde_json::json!({"username": "ada", "email": "ada@example.com",
                                "password": crate::helpers::PASSWORD}),
        )
        .await;
    let cookie = header(&response, "set-cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let refresh_from = |origin: &'static str| {
        app.client
            .post(app.url("/api/auth/refresh"))
            .header("cookie", cookie.clone())
            .header("origin", origin)
            .send()
    };
    let other = refresh_from(OTHER).await.unwrap();
    assert_eq!(other.status(), 403);
    let listed = refresh_from(ALLOWED).await.unwrap();
    assert_eq!(listed.status(), 200);
}
