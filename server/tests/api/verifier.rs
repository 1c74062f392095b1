//! Another backend verifying this server's access tokens from its JWKS alone
//! (the `verifier` crate), across a rotation of the signing keys.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verifier::{Timing, Verifier, VerifyError};

use crate::helpers::TestApp;

#[tokio::test]
async fn another_backend_verifies_tokens_from_jwks_alone_across_a_key_rotation() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA"), ("KEY_PUBLISH_LEAD", "0s")]).await;
    let ada = app.signup("ada").await;
    let verifier = Verifier::new(&app.url("/.well-known/jwks.json"))
        .await
        .unwrap();
    let claims = verifier.verify(&ada.access).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.role.as_str()),
        (ada.id.as_str(), "student")
    );
    assert_eq!(verifier.fetches(), 1);

    // The server rotates; once it signs with the new key, the verifier meets
    // an unknown kid, fetches the keys again, once, and accepts the token.
    let old_kid = app.state.keys.active_kid().unwrap();
    server::commands::keys_rotate(&app.config()).await.unwrap();
    let started = Instant::now();
    while app.state.keys.active_kid().unwrap() == old_kid {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server did not rotate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = app.login("ada").await;
    assert_eq!(verifier.verify(&fresh.access).await.unwrap().sub, ada.id);
    assert_eq!(verifier.fetches(), 2, "one refetch for the new kid");
    // The token signed before the rotation still verifies (retired key).
    assert!(verifier.verify(&ada.access).await.is_ok());

    // Made-up key ids within 30 s of that refetch cost no request.
    let forged = forge_with_kid(&fresh.access, "made-up-kid");
    for _ in 0..20 {
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(VerifyError::UnknownKey)
        ));
    }
    assert_eq!(verifier.fetches(), 2);

    // And it refuses what the server would: a tampered payload.
    let mut parts: Vec<String> = fresh.access.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replace('a', "b");
    assert!(verifier.verify(&parts.join(".")).await.is_err());
}

/// `access` with its header's kid replaced (the signature no longer matches,
/// but the kid is what the verifier looks at first).
fn forge_with_kid(access: &str, kid: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    header["kid"] = kid.into();
    parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    parts.join(".")
}

/// A JWKS endpoint on loopback that counts the requests it gets, and can be
/// told to stop answering (a server that hangs) or to fail (`500`).
struct FakeJwks {
    url: String,
    requests: Arc<AtomicUsize>,
    hang: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
}

impl FakeJwks {
    async fn start(jwks: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let (requests, hang, fail) = (Arc::default(), Arc::default(), Arc::default());
        let fake = Self {
            url,
            requests: Arc::clone(&requests),
            hang: Arc::clone(&hang),
            fail: Arc::clone(&fail),
        };
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (requests, hang, fail): (Arc<AtomicUsize>, Arc<AtomicBool>, Arc<AtomicBool>) =
                    (requests.clone(), hang.clone(), fail.clone());
                let jwks = jwks.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    if hang.load(Ordering::SeqCst) {
                        // Holds the connection, answers nothing.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let (status, body) = if fail.load(Ordering::SeqCst) {
                        ("500 Internal Server Error", String::new())
                    } else {
                        ("200 OK", jwks)
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        fake
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A token of the shape a verifier looks at first, with header `header`.
fn with_header(access: &str, header: serde_json::Value) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    parts.join(".")
}

/// While the JWKS cannot be fetched (the server hangs), a verifier with
/// stale keys went to it for every token, each waiting up to ten seconds.
/// Now one fetch runs in the background, once per interval, and every token
/// meanwhile is checked at once against the keys known; junk never makes it
/// call the server at all.
#[tokio::test]
async fn a_stale_key_set_is_refetched_by_one_flight_while_the_known_keys_serve() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA"), ("KEY_PUBLISH_LEAD", "0s")]).await;
    let ada = app.signup("ada").await;
    let jwks = app
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .unwrap();
    let fake = FakeJwks::start(jwks).await;
    let timing = Timing {
        fresh_for: Duration::from_millis(300),
        stale_grace: Duration::from_secs(60),
        refetch_at_most_every: Duration::from_secs(30),
        fetch_timeout: Duration::from_secs(10),
    };
    let verifier = Verifier::with_timing(&fake.url, timing).await.unwrap();
    assert_eq!(fake.requests(), 1);
    fake.hang.store(true, Ordering::SeqCst);
    // The keys go stale: a clock to wait for, not a race.
    tokio::time::sleep(Duration::from_millis(400)).await;

    for wave in 0..2 {
        let verified = tokio::time::timeout(
            Duration::from_secs(5),
            join_all((0..50).map(|_| verifier.verify(&ada.access))),
        )
        .await
        .expect("no token waits on the hanging fetch");
        assert!(verified.iter().all(Result::is_ok), "wave {wave}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.requests() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.requests(), 2, "one flight for a hundred stale tokens");

    // Tokens that cannot be the server's are refused before anything else.
    let junk = [
        "not a token".to_owned(),
        with_header(
            &ada.access,
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt"}),
        ),
        with_header(
            &ada.access,
            serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": "x"}),
        ),
        with_header(
            &ada.access,
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": "x"}),
        ),
        with_header(
            &ada.access,
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "x"}),
        ),
    ];
    for token in &junk {
        assert!(verifier.verify(token).await.is_err(), "{token}");
    }
    assert_eq!(fake.requests(), 2, "junk calls nobody");
}

/// Once the keys are past their grace, a failing JWKS is tried once per
/// interval, by one request, and every other token is refused at once; when
/// the JWKS answers again, tokens verify again.
#[tokio::test]
async fn keys_past_their_grace_are_fetched_by_one_request_at_a_time() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA"), ("KEY_PUBLISH_LEAD", "0s")]).await;
    let ada = app.signup("ada").await;
    let jwks = app
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .unwrap();
    let fake = FakeJwks::start(jwks).await;
    let timing = Timing {
        fresh_for: Duration::from_millis(200),
        stale_grace: Duration::from_millis(200),
        refetch_at_most_every: Duration::from_millis(600),
        fetch_timeout: Duration::from_secs(10),
    };
    let verifier = Verifier::with_timing(&fake.url, timing).await.unwrap();
    fake.fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let refused = join_all((0..20).map(|_| verifier.verify(&ada.access))).await;
    assert!(refused.iter().all(Result::is_err));
    assert_eq!(fake.requests(), 2, "one attempt for twenty tokens");
    assert!(
        refused
            .iter()
            .filter(|r| matches!(r, Err(VerifyError::KeysStale)))
            .count()
            >= 19,
        "the others are refused without a fetch"
    );
    fake.fail.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert!(verifier.verify(&ada.access).await.is_ok());
    assert_eq!(fake.requests(), 3);
}
