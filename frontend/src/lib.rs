//! The WebAssembly entry point. cargo-leptos's generated loader calls
//! `hydrate()` once the module is instantiated, then hydrates each island of
//! the page through the function `app` exports for it.

// Linked for its islands' exported hydration functions; nothing here names them.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the browser's console (which adds where it was
    // called from). `console_error_panic_hook` did the same, plus a stack
    // string, for 0.4 KB more on every page.
    std::panic::set_hook(Box::new(|info| leptos::logging::error!("{info}")));
    leptos::mount::hydrate_islands();
}
