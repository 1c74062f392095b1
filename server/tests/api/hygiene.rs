use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, error_code, header};

#[tokio::test]
async fn a_body_with_the_wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "text/plain")
        .body(r#"{"login":"ada","password":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(error_code(response).await, "unsupported_media_type");
}

#[tokio::test]
async fn malformed_json_or_a_missing_field_is_400_invalid_request() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"login": "ada", "#,
        r#"{"login": "ada"}"#,
        r#"{"login": 5, "password": "x"}"#,
        "[]",
    ] {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
}

#[tokio::test]
async fn unknown_json_fields_are_ignored() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD, "role": "admin", "x": 1}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["user"]["role"], "student",
        "a role cannot be chosen at signup"
    );
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(Method::POST, "/api/posts", &ada.access)
        .json(&json!({"title": "big", "body": "b".repeat(70 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

/// A body in chunks has no length to refuse up front: it is read up to the
/// limit, then refused.
#[tokio::test]
async fn a_chunked_body_over_64_kib_is_413() {
    let app = TestApp::spawn().await;
    let mut request = b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..80 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut stream = raw(&app, &request).await;
    let answer = read_to_close(&mut stream, std::time::Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

/// A client that announces a body over the limit is refused before it
/// sends a byte of it: no `100 Continue`, nothing read.
#[tokio::test]
async fn an_announced_body_over_64_kib_is_refused_before_it_is_sent() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn().await;
    let mut stream = raw(
        &app,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    let mut answer = vec![0; 512];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn unknown_api_routes_and_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/nothing/here").await;
    assert_eq!(response.status(), 404);
    assert!(header(&response, "content-type").starts_with("application/json"));
    assert_eq!(error_code(response).await, "not_found");
    let response = app.client.put(app.url("/api/posts")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(error_code(response).await, "invalid_request");
}

/// No shared cache keeps an answer of the API: the public feed changes with
/// every post and deletion, and the rest is a bearer's own.
#[tokio::test]
async fn api_answers_are_kept_by_no_cache() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for response in [
        app.get("/api/posts").await,
        app.get("/api/nothing").await,
        app.me(&ada.access).await,
    ] {
        assert_eq!(header(&response, "cache-control"), "no-store");
    }
}

#[tokio::test]
async fn json_responses_are_utf8_json() {
    let app = TestApp::spawn().await;
    let ada = app.signup_response("ada").await;
    assert_eq!(
        header(&ada, "content-type"),
        "application/json; charset=utf-8"
    );
    for path in [
        "/api/posts",
        "/api/nothing",
        "/api/me",
        "/healthz",
        "/.well-known/jwks.json",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            header(&response, "content-type"),
            "application/json; charset=utf-8",
            "{path}"
        );
    }
}

/// Opens a raw connection to the server and sends `request` as written.
async fn raw(app: &TestApp, request: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

/// Reads until the server closes the connection; fails after `limit`.
async fn read_to_close(stream: &mut tokio::net::TcpStream, limit: std::time::Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection in time")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn().await;
    let started = std::time::Instant::now();
    let mut stream = raw(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let limit = server::serve::HEADER_READ_TIMEOUT + std::time::Duration::from_secs(5);
    read_to_close(&mut stream, limit).await;
    assert!(
        started.elapsed() >= server::serve::HEADER_READ_TIMEOUT - std::time::Duration::from_secs(1)
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_whole_is_answered_408() {
    let app = TestApp::spawn().await;
    let mut stream = raw(
        &app,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"login\":",
    )
    .await;
    let limit = server::serve::BODY_READ_TIMEOUT + std::time::Duration::from_secs(5);
    let answer = tokio::time::timeout(limit, async {
        use tokio::io::AsyncReadExt;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        // Until the error body is in, or the server closes.
        while !String::from_utf8_lossy(&answer).contains("invalid_request") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("answered in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
}
