//! Another backend verifying this server's access tokens from its JWKS alone
//! (the `verifier` crate), across a rotation of the signing keys.

use std::time::{Duration, Instant};

use verifier::{Verifier, VerifyError};

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
    server::admin::keys_rotate(&app.config()).await.unwrap();
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
