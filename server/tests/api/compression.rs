//! What is compressed per request, and what never is: the API's lists,
//! above a kilobyte, for a client that asks; never an answer that carries a
//! token, a code or a secret (BREACH). Pages are revalidated on every visit.

use std::io::Read;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, header};

/// `GET path` as `token`'s holder, accepting `encodings`.
async fn get(app: &TestApp, path: &str, token: &str, encodings: &str) -> reqwest::Response {
    app.bearer(Method::GET, path, token)
        .header("accept-encoding", encodings)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn long_lists_are_compressed_for_clients_that_ask() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for n in 0..20 {
        app.publish(
            &ada.access,
            &format!("Post number {n}"),
            "A body long enough to be worth compressing.",
        )
        .await;
    }
    let plain = get(&app, "/api/posts", &ada.access, "identity").await;
    assert_eq!(header(&plain, "content-encoding"), "");
    let expected: Value = plain.json().await.unwrap();

    let gzipped = get(&app, "/api/posts", &ada.access, "gzip").await;
    assert_eq!(gzipped.status(), 200);
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");
    assert!(
        header(&gzipped, "vary")
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);

    let brotli = get(&app, "/api/posts", &ada.access, "br, gzip").await;
    assert_eq!(header(&brotli, "content-encoding"), "br");

    // A short list is sent as it is: compressing it would cost more than it saves.
    let short = get(&app, "/api/posts?limit=1", &ada.access, "br, gzip").await;
    assert_eq!(header(&short, "content-encoding"), "");
}

/// A TOTP enrolment answers a secret with a QR code of several kilobytes:
/// long enough for any size rule, and never compressed. Nor are token
/// responses, or recovery codes.
#[tokio::test]
async fn answers_that_carry_secrets_are_never_compressed() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let enrolment = app
        .bearer(Method::POST, "/api/account/mfa/totp", &ada.access)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(enrolment.status(), 201);
    assert_eq!(header(&enrolment, "content-encoding"), "");
    let body = enrolment.bytes().await.unwrap();
    assert!(body.len() > 1024, "{} bytes", body.len());
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["secret"].is_string());

    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .header("accept-encoding", "br, gzip")
        .json(&serde_json::json!({"login": "ada", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(header(&login, "content-encoding"), "");
    let tokens: Value = login.json().await.unwrap();
    let refreshed = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("accept-encoding", "br, gzip")
        .json(&serde_json::json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    assert_eq!(header(&refreshed, "content-encoding"), "");
}

#[tokio::test]
async fn pages_are_revalidated_on_every_visit() {
    let app = TestApp::spawn().await;
    for path in ["/", "/login", "/account", "/no-such-page"] {
        let page = app.get(path).await;
        assert_eq!(header(&page, "cache-control"), "no-cache", "{path}");
    }
}

/// The pages' DPoP script, which the server keeps in memory rather than
/// in the build's files: under a name carrying its hash, kept for a year,
/// sent brotli or gzip as the browser accepts (and not in a coding it
/// refuses with `q=0`), the same text in each, without its comments.
#[tokio::test]
async fn the_pages_dpop_script_is_compressed_and_kept() {
    let app = TestApp::spawn().await;
    let path = app::dpop::script_path();
    let fetch = |encodings: &'static str| {
        app.client
            .get(app.url(&path))
            .header("accept-encoding", encodings)
            .send()
    };
    let plain = fetch("identity").await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        header(&plain, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&plain, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&plain, "content-encoding"), "");
    let text = plain.text().await.unwrap();
    assert!(text.contains("self.classboardProof"), "{text}");
    assert!(
        text.lines()
            .all(|line| !line.trim_start().starts_with("//"))
    );
    assert!(text.len() < app::dpop::SCRIPT.len());

    let brotli = fetch("gzip, deflate, br").await.unwrap();
    assert_eq!(header(&brotli, "content-encoding"), "br");
    assert!(
        header(&brotli, "vary")
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut &brotli.bytes().await.unwrap()[..], &mut decoded).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), text);

    let gzipped = fetch("br;q=0, gzip").await.unwrap();
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, text);

    // Another content's name is not this script.
    let other = app
        .client
        .get(app.url("/pkg/dpop.0123456789.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}
