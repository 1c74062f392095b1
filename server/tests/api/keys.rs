//! The ring of signing keys: rotation that logs nobody out, revocation that
//! ends a key's tokens at once, every instance following within seconds,
//! and deployments of earlier versions keeping the key they signed with.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::helpers::{TestApp, header};

/// The `kid` in an access token's header.
fn kid_of(access: &str) -> String {
    let header = access.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// Polls `check` until it holds, failing after `within` (measured, not slept).
async fn within<F: std::future::Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn rotating_never_logs_anyone_out_and_new_tokens_carry_the_new_key() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let before = kid_of(&ada.access);
    let said = server::commands::keys_rotate(&app.config()).await.unwrap();
    assert!(said.contains("it signs now"), "HS256 signs at once: {said}");
    // This instance re-reads the ring within seconds; the old token works
    // throughout and after.
    within("the new key signs", Duration::from_secs(5), || async {
        kid_of(&app.login("ada").await.access) != before
    })
    .await;
    assert_eq!(
        app.me(&ada.access).await.status(),
        200,
        "old key still verifies"
    );
    let refreshed: Value = app.refresh(&ada.refresh).await.json().await.unwrap();
    assert_ne!(kid_of(refreshed["access_token"].as_str().unwrap()), before);
    // HS256 keys are never published: the JWKS holds only the ID keys
    // (RS256, EdDSA and ES256, for the apps' ID tokens), once the ring has
    // made them.
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys.len() <= 3, "{jwks}");
    assert!(
        keys.iter().all(|k| k["kty"] != "oct"
            && ["RS256", "EdDSA", "ES256"].contains(&k["alg"].as_str().unwrap())),
        "{jwks}"
    );
}

#[tokio::test]
async fn an_asymmetric_key_is_in_jwks_before_it_signs_and_after_it_retires() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA"), ("KEY_PUBLISH_LEAD", "3s")]).await;
    let ada = app.signup("ada").await;
    let first = kid_of(&ada.access);
    let said = server::commands::keys_rotate(&app.config()).await.unwrap();
    assert!(said.contains("it signs in 3s"), "{said}");
    let kids = || async {
        let response = app.get("/.well-known/jwks.json").await;
        assert_eq!(header(&response, "cache-control"), "public, max-age=60");
        let jwks: Value = response.json().await.unwrap();
        // The board's keys; the ID keys (one of them EdDSA too) rotate on
        // their own.
        let board: Vec<String> = server::store::keys::all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.purpose == "access")
            .map(|row| row.kid)
            .collect();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .filter(|kid| board.contains(kid))
            .collect::<Vec<_>>()
    };
    within(
        "the new key is published",
        Duration::from_secs(5),
        || async { kids().await.len() == 2 },
    )
    .await;
    // Published, not yet signing.
    assert_eq!(kid_of(&app.login("ada").await.access), first);
    within(
        "the new key signs after the lead",
        Duration::from_secs(10),
        || async { kid_of(&app.login("ada").await.access) != first },
    )
    .await;
    // The retired key stays in JWKS, and its tokens keep working.
    assert!(kids().await.contains(&first));
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

#[tokio::test]
async fn revoking_a_key_ends_its_tokens_and_another_signs_at_once() {
    let app = TestApp::spawn_with(&[("JWT_ALG", "EdDSA")]).await;
    let ada = app.signup("ada").await;
    let kid = kid_of(&ada.access);
    let said = server::commands::keys_revoke(&app.config(), &kid)
        .await
        .unwrap();
    assert!(said.contains("signs from now on"), "{said}");
    within(
        "the revoked key's tokens are refused",
        Duration::from_secs(5),
        || async { app.me(&ada.access).await.status() == 401 },
    )
    .await;
    let fresh = app.login("ada").await;
    assert_ne!(kid_of(&fresh.access), kid);
    assert_eq!(app.me(&fresh.access).await.status(), 200);
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !jwks.to_string().contains(&kid),
        "a revoked key is not published"
    );
    // Revoking it again, or a key that does not exist, says so.
    let again = server::commands::keys_revoke(&app.config(), &kid)
        .await
        .unwrap();
    assert!(again.contains("revoked already"), "{again}");
    let unknown = server::commands::keys_revoke(&app.config(), "no-such-kid")
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no signing key has the id"),
        "{unknown}"
    );
}

#[tokio::test]
async fn every_instance_signs_with_a_rotated_key_within_five_seconds() {
    let first =
        TestApp::spawn_with(&[("JWT_SECRET", "shared-secret-shared-secret-shared-secret")]).await;
    let second = first.sibling().await;
    first.signup("ada").await;
    let before = kid_of(&second.login("ada").await.access);
    server::commands::keys_rotate(&first.config())
        .await
        .unwrap();
    let took = within(
        "the other instance signs with the new key",
        Duration::from_secs(5),
        || async { kid_of(&second.login("ada").await.access) != before },
    )
    .await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn keys_rotate_on_schedule() {
    let app = TestApp::spawn_with(&[("KEY_ROTATION_INTERVAL", "2s")]).await;
    let ada = app.signup("ada").await;
    let first = kid_of(&ada.access);
    within("a scheduled rotation", Duration::from_secs(8), || async {
        kid_of(&app.login("ada").await.access) != first
    })
    .await;
    assert_eq!(app.me(&ada.access).await.status(), 200);
}

/// An HS256 deployment of an earlier version signed with the server secret
/// itself: on upgrade, that secret is the ring's first key, so tokens it
/// signed before the upgrade keep working.
#[tokio::test]
async fn the_key_an_earlier_version_signed_with_becomes_the_first_key() {
    let secret = "upgrade-secret-upgrade-secret-upgrade-secret";
    let app = TestApp::spawn_with(&[("JWT_SECRET", secret)]).await;
    let ada = app.signup("ada").await;
    // A token exactly as the earlier version signed it.
    let earlier = server::auth::jwt::Keys::hs256(secret.as_bytes(), Duration::from_secs(900))
        .issue(
            &ada.id,
            "ada",
            classboard::api::Role::Student,
            "an-earlier-session",
        )
        .unwrap();
    assert_eq!(kid_of(&earlier), kid_of(&ada.access));
    assert_eq!(app.me(&earlier).await.status(), 200);
}

/// An EdDSA deployment of an earlier version kept its key in the data
/// folder: on upgrade, that key is the ring's first.
#[tokio::test]
async fn a_kept_ed25519_key_becomes_the_first_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let pem = server::auth::jwt::new_ed25519_pem();
    server::files::create_private(&data.join("jwt_ed25519.pem"), &pem).unwrap();
    let key = server::auth::jwt::Key::eddsa(&pem, "kept").unwrap();
    let app = TestApp::spawn_in_dir(data, &[("JWT_ALG", "EdDSA")]).await;
    let ada = app.signup("ada").await;
    assert_eq!(kid_of(&ada.access), key.kid());
}

#[tokio::test]
async fn private_halves_are_never_stored_readable() {
    let secret = "at-rest-secret-at-rest-secret-at-rest-secret";
    let app = TestApp::spawn_with(&[("JWT_SECRET", secret)]).await;
    app.signup("ada").await;
    server::commands::keys_rotate(&app.config()).await.unwrap();
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT private_key FROM signing_keys WHERE purpose = 'access'")
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    for sealed in stored {
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the first key (the secret) is stored encrypted"
        );
    }
}
