//! The site's one IndexedDB database, `classboard`, shared by every tab:
//! the refresh hand-off's record (`handoff`) and the browser's DPoP key
//! (`dpop`). Each call opens the database, does one transaction and closes
//! it again, so an older page never blocks a newer one's upgrade for long.

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

const DATABASE: &str = "classboard";
/// Version 2 added the `keys` store.
const VERSION: u32 = 2;
/// Every object store, each made by the upgrade that first finds it missing.
const STORES: [&str; 2] = ["refresh", "keys"];

/// The value under `key` in `store`.
pub async fn read(store: &str, key: &str) -> Result<JsValue, JsValue> {
    let db = open().await?;
    let result = async {
        let store = db
            .transaction_with_str_and_mode(store, IdbTransactionMode::Readonly)?
            .object_store(store)?;
        settle(&store.get(&key.into())?).await
    }
    .await;
    db.close();
    result
}

/// Makes `change` to `store` in one transaction, and returns once it is
/// committed (or has failed, as `add` of a key that exists does), so a tab
/// that reads after this one sees it.
pub async fn write(
    store: &str,
    change: impl FnOnce(&IdbObjectStore) -> Result<IdbRequest, JsValue>,
) -> Result<(), JsValue> {
    let db = open().await?;
    let result = async {
        let transaction = db.transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)?;
        change(&transaction.object_store(store)?)?;
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
    let request = factory.open_with_u32(DATABASE, VERSION)?;
    let opening = request.clone();
    let create = Closure::once(move || {
        if let Ok(db) = opening.result() {
            let db = db.unchecked_into::<IdbDatabase>();
            for store in STORES {
                if !db.object_store_names().contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
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
