//! The WebAssembly entry point. cargo-leptos's generated loader calls
//! `hydrate()` once the module is instantiated.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Each page's code is a chunk of its own (see `app::App`), so hydration
    // waits for the current page's chunk. Only when the server's HTML is
    // hydrated may the session read local storage: a page that changed on
    // that news while still being hydrated would no longer match its HTML.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("a page has a body");
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        app::session::hydration_finished();
    });
}
