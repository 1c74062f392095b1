//! Which access token replaced which, kept in IndexedDB for every tab.
//!
//! A tab that gets the refresh lock has to learn whether another tab already
//! replaced the token that failed. Local storage cannot tell it for sure:
//! Chromium copies one tab's write into another tab's view of local storage a
//! little later, and the lock can be handed over first, so the waiting tab
//! sees the old token and refreshes a second time (CI caught this once).
//! IndexedDB can: a transaction that completed before the lock was released is
//! seen by every transaction begun after the lock was taken.
//!
//! The record is a hint. Where IndexedDB is missing or fails, the tabs fall
//! back to comparing local storage, which is right nearly always.

use js_sys::Array;
use wasm_bindgen::JsCast;

use crate::idb;

const STORE: &str = "refresh";
/// The one record: `[failed token, token that replaced it]`.
const LAST: &str = "last";

/// The token that replaced `failed`, if some tab has already refreshed it.
pub async fn replacement(failed: &str) -> Option<String> {
    let record = idb::read(STORE, LAST).await.ok()?;
    let pair = record.dyn_into::<Array>().ok()?;
    (pair.get(0).as_string()? == failed)
        .then(|| pair.get(1).as_string())
        .flatten()
}

/// Records that `fresh` replaced `failed`, and returns once the record is
/// committed, so a tab that takes the lock after this one sees it.
pub async fn record(failed: &str, fresh: &str) {
    let pair = Array::of2(&failed.into(), &fresh.into());
    let _ = idb::write(STORE, |store| store.put_with_key(&pair, &LAST.into())).await;
}

/// Deletes the record, so no token stays behind after the session ends, and
/// returns once the deletion is committed: a page that navigates away right
/// after would otherwise abort it.
pub async fn forget() {
    let _ = idb::write(STORE, |store| store.delete(&LAST.into())).await;
}
