//! DPoP (RFC 9449) for the board's own pages: the browser makes one ES256
//! key with WebCrypto, whose private half cannot be exported
//! (`extractable: false`), keeps the `CryptoKey` in IndexedDB for every tab,
//! and signs a proof for each request that starts, renews or uses its
//! session. The server binds the session to the key, so an access token or
//! refresh token read out of this site works nowhere else.
//!
//! The signing is JavaScript (`app/js/dpop.js`): WebCrypto and IndexedDB
//! are JavaScript APIs, and the same steps as Rust glue weighed 12 KB of a
//! page's first visit against its 0.9 KB. A page adds the script the first
//! time it proves anything, so a visitor who is not signed in never loads
//! it. What is left here is what the pages know: the address a proof names,
//! the server's clock and its nonce.
//!
//! A browser without WebCrypto or IndexedDB (some private modes), or whose
//! script did not arrive, gets no proof: its requests go with bearer tokens,
//! as before, unless the server refuses that (`FIRST_PARTY_DPOP=required`).

/// The script's text, served by the server (`script_path`).
#[cfg(feature = "ssr")]
pub const SCRIPT: &str = include_str!("../js/dpop.js");

/// Where the server serves the script: under a name carrying a hash of its
/// content, so that browsers keep it as long as the site's other files.
/// The hash is computed while compiling, so the WebAssembly carries the
/// name and not the text.
pub fn script_path() -> String {
    format!("/pkg/dpop.{:010x}.js", SCRIPT_HASH & 0xff_ffff_ffff)
}

/// FNV-1a (64 bits) of the script's bytes: a name for this content, not a
/// protection (the script comes from this origin either way).
const SCRIPT_HASH: u64 = {
    let bytes = include_bytes!("../js/dpop.js");
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
};

pub use browser::proof;

mod browser {
    use std::cell::RefCell;

    use js_sys::{Array, Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use wasm_bindgen_futures::JsFuture;

    use crate::storage;

    /// The function the script defines.
    const PROVE: &str = "classboardProof";

    thread_local! {
        /// The script's arrival, once asked for.
        static LOADED: RefCell<Option<Promise>> = const { RefCell::new(None) };
    }

    /// A proof for `method` on `path` of this site (its query is not part
    /// of it), with the hash of `token` when one goes with the request;
    /// `None` where the browser cannot keep a key.
    pub async fn proof(method: &str, path: &str, token: Option<&str>) -> Option<String> {
        let prove = prover().await?;
        let path = path.split('?').next().unwrap_or(path);
        let args = Array::of5(
            &method.into(),
            &format!("{}{path}", base()?).into(),
            // By the server's clock, as its answers' `Date` tells it: a
            // device whose clock is off would have its proofs refused.
            &((js_sys::Date::now() + storage::clock_offset()) / 1000.0)
                .floor()
                .into(),
            &storage::dpop_nonce().map_or(JsValue::NULL, JsValue::from),
            &token.map_or(JsValue::NULL, JsValue::from),
        );
        let promise = prove.apply(&JsValue::NULL, &args).ok()?;
        JsFuture::from(Promise::from(promise))
            .await
            .ok()?
            .as_string()
    }

    /// The script's function, the script added to the page the first time.
    /// A script that did not arrive is asked for again at the next proof.
    async fn prover() -> Option<Function> {
        let loaded = LOADED.with(|l| l.borrow_mut().get_or_insert_with(load).clone());
        if JsFuture::from(loaded.clone()).await.is_err() {
            // Only this attempt's: another may have begun since.
            LOADED.with(|l| {
                let mut l = l.borrow_mut();
                if l.as_ref()
                    .is_some_and(|now| JsValue::from(now) == JsValue::from(&loaded))
                {
                    *l = None;
                }
            });
            return None;
        }
        Reflect::get(&js_sys::global(), &PROVE.into())
            .ok()?
            .dyn_into()
            .ok()
    }

    /// Adds the script to the page; settles when it has run or failed. A
    /// script that failed is taken out of the page again, so each retry
    /// leaves one element at most.
    fn load() -> Promise {
        Promise::new(&mut |resolve, reject| {
            let added = (|| {
                let document = web_sys::window()?.document()?;
                let script = document.create_element("script").ok()?;
                script.set_attribute("src", &super::script_path()).ok()?;
                script
                    .add_event_listener_with_callback("load", &resolve)
                    .ok()?;
                let (failed, reject) = (script.clone(), reject.clone());
                let fail = Closure::once_into_js(move || {
                    failed.remove();
                    let _ = reject.call0(&JsValue::NULL);
                });
                script
                    .add_event_listener_with_callback("error", fail.unchecked_ref())
                    .ok()?;
                document.head()?.append_child(&script).ok()
            })();
            if added.is_none() {
                let _ = reject.call0(&JsValue::NULL);
            }
        })
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
}
