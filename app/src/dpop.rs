//! DPoP (RFC 9449) for the board's own pages: the browser makes one ES256
//! key with WebCrypto, whose private half cannot be exported
//! (`extractable: false`), keeps the `CryptoKey` in IndexedDB for every tab,
//! and signs a proof for each request that starts, renews or uses its
//! session. The server binds the session to the key, so an access token or
//! refresh token read out of this site works nowhere else.
//!
//! A browser without WebCrypto or IndexedDB (some private modes) gets no
//! proof: its requests go with bearer tokens, as before, unless the server
//! refuses that (`FIRST_PARTY_DPOP=required`).
//!
//! WebCrypto does the cryptography; what is left here is the JWS compact
//! form (two base64url JSON parts and the signature) and the claims.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{idb, storage};

const STORE: &str = "keys";
const RECORD: &str = "dpop";

/// The browser's key: the private `CryptoKey`, and the proofs' JWS header
/// (which names the public half), base64url.
#[derive(Clone)]
struct Key {
    private: JsValue,
    header: String,
}

thread_local! {
    /// This page's key, once found.
    static KEY: RefCell<Option<Key>> = const { RefCell::new(None) };
}

/// A proof's claims.
#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    htm: &'a str,
    htu: String,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

/// A proof for `method` on `path` of this site (its query is not part of
/// it), with the hash of `token` when one goes with the request; `None`
/// where the browser cannot keep a key.
///
/// Its code (and all of this module's) arrives on demand, the first time a
/// page proves anything: a visitor who is not signed in never loads it.
#[leptos::lazy]
pub async fn proof(method: String, path: String, token: Option<String>) -> Option<String> {
    let (method, path, token) = (method.as_str(), path.as_str(), token.as_deref());
    let key = key().await?;
    let subtle = subtle()?;
    let ath = match token {
        Some(token) => Some(b64(&bytes(
            call(
                &subtle,
                "digest",
                &["SHA-256".into(), bytes_of(token.as_bytes())],
            )
            .await?,
        ))),
        None => None,
    };
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let jti = method_of(&crypto, "randomUUID")?
        .call0(&crypto)
        .ok()?
        .as_string()?;
    let path = path.split('?').next().unwrap_or(path);
    let claims = Claims {
        jti,
        htm: method,
        htu: format!("{}{path}", base()?),
        // By the server's clock, as its answers' `Date` tells it: a
        // device whose clock is off would have its proofs refused.
        iat: ((js_sys::Date::now() + storage::clock_offset()) / 1000.0) as u64,
        nonce: storage::dpop_nonce(),
        ath,
    };
    let input = format!(
        "{}.{}",
        key.header,
        b64(serde_json::to_string(&claims).ok()?.as_bytes())
    );
    let algorithm = object(&[("name", "ECDSA"), ("hash", "SHA-256")]);
    let signature = call(
        &subtle,
        "sign",
        &[algorithm, key.private, bytes_of(input.as_bytes())],
    )
    .await?;
    Some(format!("{input}.{}", b64(&bytes(signature))))
}

/// This browser's key: looked up once per page, made when there is none.
/// A lookup that failed is tried again at the next request: a moment's
/// failure of IndexedDB must not leave the page without its key.
async fn key() -> Option<Key> {
    if let Some(known) = KEY.with(|k| k.borrow().clone()) {
        return Some(known);
    }
    let key = match stored().await {
        Some(key) => key,
        None => made().await?,
    };
    KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    Some(key)
}

/// The key another page of this browser made, if any.
async fn stored() -> Option<Key> {
    let record = idb::read(STORE, RECORD).await.ok()?;
    Some(Key {
        private: Reflect::get(&record, &"private".into())
            .ok()
            .filter(JsValue::is_object)?,
        header: Reflect::get(&record, &"header".into()).ok()?.as_string()?,
    })
}

/// Makes a key and stores it, then reads back the one stored: `add`, not
/// `put`, so that of two tabs making one at the same moment the first to
/// commit wins and the other takes that one.
async fn made() -> Option<Key> {
    let subtle = subtle()?;
    let algorithm = object(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
    let usages = Array::of1(&"sign".into());
    let pair = call(
        &subtle,
        "generateKey",
        &[algorithm, JsValue::FALSE, usages.into()],
    )
    .await?;
    let public = Reflect::get(&pair, &"publicKey".into()).ok()?;
    let jwk = call(&subtle, "exportKey", &["jwk".into(), public]).await?;
    let member = |name: &str| Reflect::get(&jwk, &name.into()).ok()?.as_string();
    let (x, y) = (member("x")?, member("y")?);
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}}}"#
    );
    let record = Object::new();
    Reflect::set(
        &record,
        &"private".into(),
        &Reflect::get(&pair, &"privateKey".into()).ok()?,
    )
    .ok()?;
    Reflect::set(&record, &"header".into(), &b64(header.as_bytes()).into()).ok()?;
    let _ = idb::write(STORE, |store| store.add_with_key(&record, &RECORD.into())).await;
    stored().await
}

/// The origin proofs name: the server's public address as the page's
/// `<meta>` gives it (the browser may have reached the server by another
/// name), else the page's own.
fn base() -> Option<String> {
    let document = web_sys::window()?.document()?;
    let selector = format!("meta[name={}]", crate::PROOF_BASE_META);
    match document.query_selector(&selector).ok().flatten() {
        Some(meta) => meta.get_attribute("content"),
        None => document.location()?.origin().ok(),
    }
}

fn subtle() -> Option<JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    Reflect::get(&crypto, &"subtle".into())
        .ok()
        .filter(JsValue::is_object)
}

/// Awaits `object.name(args…)`, a method that returns a promise.
async fn call(object: &JsValue, name: &str, args: &[JsValue]) -> Option<JsValue> {
    let promise = method_of(object, name)?
        .apply(object, &args.iter().collect::<Array>())
        .ok()?;
    JsFuture::from(js_sys::Promise::from(promise)).await.ok()
}

fn method_of(object: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(object, &name.into()).ok()?.dyn_into().ok()
}

fn object(members: &[(&str, &str)]) -> JsValue {
    let object = Object::new();
    for (name, value) in members {
        let _ = Reflect::set(&object, &(*name).into(), &(*value).into());
    }
    object.into()
}

fn bytes_of(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

/// The bytes of an `ArrayBuffer`.
fn bytes(buffer: JsValue) -> Vec<u8> {
    Uint8Array::new(&buffer).to_vec()
}

/// Base64url without padding (RFC 7515 §2).
fn b64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::b64;

    #[test]
    fn base64url_without_padding() {
        // RFC 4648 §10's vectors, in the URL alphabet without `=`.
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(b64(plain.as_bytes()), encoded);
        }
        // The two characters where the URL alphabet differs.
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
    }
}
