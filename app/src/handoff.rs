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

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

const DATABASE: &str = "classboard";
const STORE: &str = "refresh";
/// The one record: `[failed token, token that replaced it]`.
const LAST: &str = "last";

/// The token that replaced `failed`, if some tab has already refreshed it.
pub async fn replacement(failed: &str) -> Option<String> {
    let record = read().await.ok()?;
    let pair = record.dyn_into::<Array>().ok()?;
    (pair.get(0).as_string()? == failed)
        .then(|| pair.get(1).as_string())
        .flatten()
}

/// Records that `fresh` replaced `failed`, and returns once the record is
/// committed, so a tab that takes the lock after this one sees it.
pub async fn record(failed: &str, fresh: &str) {
    let pair = Array::of2(&failed.into(), &fresh.into());
    let _ = write(|store| store.put_with_key(&pair, &LAST.into())).await;
}

/// Deletes the record, so no token stays behind after the session ends, and
/// returns once the deletion is committed: a page that navigates away right
/// after would otherwise abort it.
pub async fn forget() {
    let _ = write(|store| store.delete(&LAST.into())).await;
}

async fn read() -> Result<JsValue, JsValue> {
    let db = open().await?;
    let result = async {
        let store = db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)?
            .object_store(STORE)?;
        settle(&store.get(&LAST.into())?).await
    }
    .await;
    db.close();
    result
}

async fn write(
    change: impl FnOnce(&IdbObjectStore) -> Result<IdbRequest, JsValue>,
) -> Result<(), JsValue> {
    let db = open().await?;
    let result = async {
        let transaction = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
        change(&transaction.object_store(STORE)?)?;
        committed(&transaction).await
    }
    .await;
    db.close();
    result
}

async fn open() -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window()
        .ok_or("no window")?
        .indexed_db()?
        .ok_or("no IndexedDB")?;
    let request = factory.open_with_u32(DATABASE, 1)?;
    let opening = request.clone();
    let create = Closure::once(move || {
        if let Ok(db) = opening.result() {
            let _ = db
                .unchecked_into::<IdbDatabase>()
                .create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(Some(create.as_ref().unchecked_ref()));
    let db = settle(&request).await;
    request.set_onupgradeneeded(None);
    Ok(db?.unchecked_into())
}

/// Waits for `request` to succeed or fail.
async fn settle(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let done = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(done).await?;
    request.result()
}

/// Waits until `transaction` is committed (or has failed).
async fn committed(transaction: &IdbTransaction) -> Result<(), JsValue> {
    let done = Promise::new(&mut |resolve, reject| {
        transaction.set_oncomplete(Some(&resolve));
        transaction.set_onerror(Some(&reject));
        transaction.set_onabort(Some(&reject));
    });
    JsFuture::from(done).await.map(drop)
}
