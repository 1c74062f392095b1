use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, header};

#[tokio::test]
async fn a_member_publishes_and_anyone_reads() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let post = app.publish(&ada.access, "Hello class", "Text").await;
    assert_eq!(post["title"], "Hello class");
    assert_eq!(post["author"], json!({"id": ada.id, "username": "ada"}));
    assert!(post["id"].is_string());
    assert!(post["created_at"].as_str().unwrap().ends_with('Z'));

    let response = app
        .get(&format!("/api/posts/{}", post["id"].as_str().unwrap()))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["post"], post);
    let feed: Value = app.get("/api/posts").await.json().await.unwrap();
    assert_eq!(feed["posts"][0], post);
}

#[tokio::test]
async fn publishing_needs_a_bearer_token() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/api/posts", &json!({"title": "t", "body": "b"}))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="api""#
    );
}

#[tokio::test]
async fn titles_and_bodies_are_validated_together() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(Method::POST, "/api/posts", &ada.access)
        .json(&json!({"title": "   ", "body": "b".repeat(20_001)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{"field": "title", "issue": "too_short"}, {"field": "body", "issue": "too_long"}])
    );
    let response = app
        .bearer(Method::POST, "/api/posts", &ada.access)
        .json(&json!({"title": "t".repeat(200), "body": "b".repeat(20_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the limits themselves are allowed");
}

#[tokio::test]
async fn the_feed_pages_newest_first_and_is_stable_under_new_posts() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for i in 1..=5 {
        app.publish(&ada.access, &format!("post {i}"), "Text").await;
    }
    let page: Value = app.get("/api/posts?limit=2").await.json().await.unwrap();
    let titles = |p: &Value| {
        p["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&page), ["post 5", "post 4"]);

    // A post published meanwhile does not shift the next page.
    app.publish(&ada.access, "post 6", "Text").await;
    let next = page["next"].as_str().unwrap();
    let page: Value = app
        .get(&format!("/api/posts?limit=2&before={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&page), ["post 3", "post 2"]);
    let next = page["next"].as_str().unwrap();
    let page: Value = app
        .get(&format!("/api/posts?limit=2&before={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&page), ["post 1"]);
    assert!(page["next"].is_null());

    let default: Value = app.get("/api/posts").await.json().await.unwrap();
    assert_eq!(
        default["posts"].as_array().unwrap().len(),
        6,
        "default limit 20"
    );
}

#[tokio::test]
async fn limits_outside_one_to_a_hundred_are_invalid_request() {
    let app = TestApp::spawn().await;
    for query in ["limit=0", "limit=101", "limit=abc", "before=xyz"] {
        let response = app.get(&format!("/api/posts?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
    assert_eq!(app.get("/api/posts?limit=100").await.status(), 200);
    assert_eq!(app.get("/api/posts?limit=1").await.status(), 200);
}

#[tokio::test]
async fn an_unknown_post_is_not_found() {
    let app = TestApp::spawn().await;
    for id in ["999", "not-a-number"] {
        let response = app.get(&format!("/api/posts/{id}")).await;
        assert_eq!(response.status(), 404);
        assert_eq!(error_code(response).await, "not_found");
    }
}

#[tokio::test]
async fn the_author_or_an_admin_may_delete_and_nobody_else() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let admin = app.user_with_role("root", "admin").await;
    let post = app.publish(&ada.access, "mine", "Text").await;
    let path = format!("/api/posts/{}", post["id"].as_str().unwrap());

    let response = app
        .bearer(Method::DELETE, &path, &bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="api", error="insufficient_scope""#
    );
    assert_eq!(error_code(response).await, "forbidden");

    assert_eq!(
        app.bearer(Method::DELETE, &path, &ada.access)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.get(&path).await.status(), 404);

    let post = app.publish(&ada.access, "moderated", "Text").await;
    let path = format!("/api/posts/{}", post["id"].as_str().unwrap());
    assert_eq!(
        app.bearer(Method::DELETE, &path, &admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
}
