//! The browser's WebAuthn, for passkeys: the server's options go in as
//! JSON (`PublicKeyCredential.parseCreationOptionsFromJSON` and
//! `parseRequestOptionsFromJSON`), the authenticator's answer comes out as
//! JSON (`PublicKeyCredential.toJSON()`), and the server checks it. A browser
//! without these has no passkey buttons.

use js_sys::{Function, JSON, Object, Reflect};
use serde_json::value::RawValue;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a ceremony gave no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The person cancelled, the time ran out, or (on signing in) this
    /// device has no passkey for this site: browsers do not tell these
    /// apart, on purpose.
    NotAllowed,
    /// (Registering) this authenticator holds a passkey for this account
    /// already.
    AlreadyRegistered,
    /// Anything else, with the browser's message.
    Other(String),
}

impl Failure {
    /// What to tell the person.
    pub fn message(&self, signing_in: bool) -> String {
        match self {
            Self::NotAllowed if signing_in => "No passkey was used. If this device has no passkey \
                 for this site, use your password, or another device's passkey."
                .into(),
            Self::NotAllowed => "No passkey was made: it was cancelled or took too long.".into(),
            Self::AlreadyRegistered => "This device already has a passkey for your account.".into(),
            Self::Other(why) => format!("The browser could not use a passkey: {why}"),
        }
    }
}

/// Whether this browser can make and use passkeys from JSON options.
pub fn supported() -> bool {
    let Some(class) = class() else {
        return false;
    };
    [
        "parseCreationOptionsFromJSON",
        "parseRequestOptionsFromJSON",
    ]
    .iter()
    .all(|name| Reflect::get(&class, &(*name).into()).is_ok_and(|f| f.is_function()))
}

/// Makes a passkey: `navigator.credentials.create` with creation options.
pub async fn create(options: &RawValue) -> Result<Box<RawValue>, Failure> {
    ceremony("parseCreationOptionsFromJSON", "create", options).await
}

/// Uses a passkey: `navigator.credentials.get` with request options.
pub async fn get(options: &RawValue) -> Result<Box<RawValue>, Failure> {
    ceremony("parseRequestOptionsFromJSON", "get", options).await
}

fn class() -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &"PublicKeyCredential".into())
        .ok()
        .filter(|c| !c.is_undefined())
}

async fn ceremony(parse: &str, call: &str, options: &RawValue) -> Result<Box<RawValue>, Failure> {
    let other = |e: JsValue| Failure::Other(e.as_string().unwrap_or_else(|| format!("{e:?}")));
    let class = class().ok_or_else(|| Failure::Other("no WebAuthn here".into()))?;
    let json = JSON::parse(options.get()).map_err(other)?;
    let parsed = method(&class, parse)?.call1(&class, &json).map_err(other)?;
    let arg = Object::new();
    Reflect::set(&arg, &"publicKey".into(), &parsed).map_err(other)?;
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).map_err(other)?;
    let credentials = Reflect::get(&navigator, &"credentials".into()).map_err(other)?;
    let promise = method(&credentials, call)?
        .call1(&credentials, &arg)
        .map_err(other)?;
    let credential = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(|e| match dom_error_name(&e).as_deref() {
            Some("NotAllowedError" | "AbortError") => Failure::NotAllowed,
            Some("InvalidStateError") => Failure::AlreadyRegistered,
            _ => Failure::Other(dom_error_message(&e)),
        })?;
    if credential.is_null() {
        return Err(Failure::NotAllowed);
    }
    let as_json = method(&credential, "toJSON")?
        .call0(&credential)
        .map_err(other)?;
    let text: String = JSON::stringify(&as_json).map_err(other)?.into();
    // Without serde's own error text: its formatting code would come along.
    RawValue::from_string(text).map_err(|_| Failure::Other("the credential is not JSON".into()))
}

fn method(object: &JsValue, name: &str) -> Result<Function, Failure> {
    Reflect::get(object, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| Failure::Other(format!("{name} is missing")))
}

fn dom_error_name(error: &JsValue) -> Option<String> {
    Reflect::get(error, &"name".into()).ok()?.as_string()
}

fn dom_error_message(error: &JsValue) -> String {
    Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".into())
}
