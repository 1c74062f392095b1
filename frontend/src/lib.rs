//! The WebAssembly entry point. cargo-leptos's generated loader calls
//! `hydrate()` once the module is instantiated, then hydrates each island of
//! the page through the function `app` exports for it.

// Linked for its islands' exported hydration functions; nothing here names them.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
