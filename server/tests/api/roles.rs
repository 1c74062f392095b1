use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, header};

#[tokio::test]
async fn an_admin_changes_a_role_and_the_user_s_sessions_end() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(
            Method::PATCH,
            &format!("/api/users/{}/role", ada.id),
            &admin.access,
        )
        .json(&json!({"role": "teacher"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "teacher");
    assert_eq!(body["user"]["id"], ada.id.as_str());

    // The old student token and refresh token no longer work...
    assert_eq!(app.me(&ada.access).await.status(), 401);
    assert_eq!(app.refresh(&ada.refresh).await.status(), 400);
    // ...and the next login carries the new role.
    let ada = app.login("ada").await;
    let me: Value = app.me(&ada.access).await.json().await.unwrap();
    assert_eq!(me["user"]["role"], "teacher");
}

#[tokio::test]
async fn only_admins_change_roles() {
    let app = TestApp::spawn().await;
    let teacher = app.user_with_role("turing", "teacher").await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(
            Method::PATCH,
            &format!("/api/users/{}/role", ada.id),
            &teacher.access,
        )
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="api", error="insufficient_scope""#
    );
    assert_eq!(app.me(&ada.access).await.status(), 200, "nothing changed");
}

#[tokio::test]
async fn unknown_roles_and_users_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("root", "admin").await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(
            Method::PATCH,
            &format!("/api/users/{}/role", ada.id),
            &admin.access,
        )
        .json(&json!({"role": "overlord"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "role", "issue": "invalid"}])
    );
    let response = app
        .bearer(Method::PATCH, "/api/users/no-such-user/role", &admin.access)
        .json(&json!({"role": "teacher"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
}
