//! The WebAssembly entry point. cargo-leptos's generated loader calls
//! `hydrate()` once the module is instantiated.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
