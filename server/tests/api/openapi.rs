//! The OpenAPI document: served, complete, and the same as the copy in
//! `docs/openapi.json`.

use serde_json::Value;

use crate::helpers::TestApp;

const COMMITTED: &str = include_str!("../../../docs/openapi.json");

#[tokio::test]
async fn the_served_document_is_the_committed_copy() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(crate::helpers::header(&response, "content-type").starts_with("application/json"),);
    let served = response.text().await.unwrap();
    assert!(
        served.trim_end() == COMMITTED.trim_end(),
        "docs/openapi.json differs from what the server serves; write it again with \
         `cargo run -p server -- openapi > docs/openapi.json` and read the difference"
    );
}

#[tokio::test]
async fn every_operation_is_described_with_its_errors_and_security() {
    let document: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_cookie"]["in"], "cookie");
    let paths = document["paths"].as_object().unwrap();
    // Every route of the contract, and nothing else.
    assert_eq!(paths.len(), 68, "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let error = &operation["responses"]["default"]["content"]["application/json"]["schema"];
            assert_eq!(
                error["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path}: the error body"
            );
            let bearer = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s.get("bearer").is_some()));
            let public = path.starts_with("/api/auth/")
                && !path.starts_with("/api/auth/sessions")
                && !path.ends_with("/logout-all")
                || ["/api/posts", "/api/posts/{id}"].contains(&path.as_str()) && method == "get"
                || !path.starts_with("/api/")
                    && path != "/oauth/userinfo"
                    && !path.starts_with("/oauth/register")
                || path == "/api/openapi.json";
            assert_eq!(bearer, !public, "{method} {path}: bearer security");
        }
    }
    for schema in [
        "ErrorBody",
        "ErrorCode",
        "TokenResponse",
        "MfaRequired",
        "Event",
        "AdminUser",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

/// Found by schemathesis: the document lets a refresh or a logout send
/// `null` for "no body"; the server refused it as malformed JSON.
#[tokio::test]
async fn a_null_body_is_no_body_as_the_document_says() {
    let app = TestApp::spawn().await;
    let logout = app.post_json("/api/auth/logout", &Value::Null).await;
    assert_eq!(logout.status(), 204);
    let refresh = app.post_json("/api/auth/refresh", &Value::Null).await;
    assert_eq!(refresh.status(), 400);
    assert_eq!(crate::helpers::error_code(refresh).await, "invalid_request");
    let wrong_type = app
        .post_json("/api/auth/logout", &serde_json::json!({"refresh_token": 5}))
        .await;
    assert_eq!(
        wrong_type.status(),
        400,
        "a body of the wrong shape is still refused"
    );
}

/// Found by schemathesis: serde reads a JSON array as a struct, field by
/// field, so `[]` was a logout with no token (`204`) and `["ada", "pw"]` a
/// login. The document says objects; anything else is `400`.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    for (path, body) in [
        ("/api/auth/logout", serde_json::json!([])),
        ("/api/auth/refresh", serde_json::json!([])),
        (
            "/api/auth/login",
            serde_json::json!(["ada", crate::helpers::PASSWORD]),
        ),
        ("/api/auth/signup", serde_json::json!("ada")),
        ("/api/auth/password-reset", serde_json::json!(5)),
    ] {
        let response = app.post_json(path, &body).await;
        assert_eq!(response.status(), 400, "{path} {body}");
        assert_eq!(
            crate::helpers::error_code(response).await,
            "invalid_request"
        );
    }
}
