//! What the browser keeps between page loads, in local storage: the access
//! token, the user it was issued to (for the header), and why the last
//! session ended. Other tabs see every change through the `storage` event.
//! The latest DPoP nonce the server gave (`dpop`): not a secret, the
//! server hands it to anyone who sends a proof; and how far the server's
//! clock is from this device's, which proofs' `iat` corrects for.
//! In this tab's session storage: a message for the next page to show.

use classboard::api::User;
use gloo_storage::{LocalStorage, SessionStorage, Storage};

/// How a session ended, as the person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Expired, logged out elsewhere, or revoked.
    Expired,
    /// Reuse detection ended it.
    ForSafety,
}

impl Ended {
    pub fn message(self) -> &'static str {
        match self {
            Self::Expired => "Your session has ended. Please log in again.",
            Self::ForSafety => {
                "Your session was ended for your safety because a sign-in token was used twice. Please log in again."
            }
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::ForSafety => "for_safety",
        }
    }

    pub fn from_code(code: &str) -> Self {
        if code == "for_safety" {
            Self::ForSafety
        } else {
            Self::Expired
        }
    }
}

pub const TOKEN_KEY: &str = "classboard.access_token";
pub const USER_KEY: &str = "classboard.user";
pub const ENDED_KEY: &str = "classboard.session_ended";
pub const FLASH_KEY: &str = "classboard.flash";
pub const DPOP_NONCE_KEY: &str = "classboard.dpop_nonce";

/// The nonce for the next DPoP proof, if the server gave one.
pub fn dpop_nonce() -> Option<String> {
    LocalStorage::get::<String>(DPOP_NONCE_KEY).ok()
}

pub fn keep_dpop_nonce(nonce: &str) {
    let _ = LocalStorage::set(DPOP_NONCE_KEY, nonce);
}

pub const CLOCK_OFFSET_KEY: &str = "classboard.clock_offset";

/// How far the server's clock is ahead of this device's, in milliseconds,
/// as the server's last answer told it (`Date`); `0.0` until one did.
pub fn clock_offset() -> f64 {
    LocalStorage::get::<f64>(CLOCK_OFFSET_KEY).unwrap_or(0.0)
}

/// Keeps the offset between the server's `Date` and this device's clock,
/// when the header reads as a date.
pub fn keep_clock_offset(server_date: &str) {
    let server = js_sys::Date::parse(server_date);
    if server.is_finite() {
        let _ = LocalStorage::set(CLOCK_OFFSET_KEY, server - js_sys::Date::now());
    }
}

pub fn token() -> Option<String> {
    LocalStorage::get::<String>(TOKEN_KEY).ok()
}

pub fn user() -> Option<User> {
    token().and(LocalStorage::get::<User>(USER_KEY).ok())
}

/// Why the last session ended, if it ended on its own.
pub fn ended() -> Option<Ended> {
    LocalStorage::get::<String>(ENDED_KEY)
        .ok()
        .map(|code| Ended::from_code(&code))
}

pub fn save(token: &str, user: &User) {
    LocalStorage::delete(ENDED_KEY);
    // The user first: a tab woken by the token's change reads both.
    let _ = LocalStorage::set(USER_KEY, user);
    let _ = LocalStorage::set(TOKEN_KEY, token);
}

/// Forgets the session; `ended` says why when the person did not ask for it.
pub fn clear(ended: Option<Ended>) {
    match ended {
        Some(ended) => drop(LocalStorage::set(ENDED_KEY, ended.code())),
        None => LocalStorage::delete(ENDED_KEY),
    }
    LocalStorage::delete(USER_KEY);
    LocalStorage::delete(TOKEN_KEY);
    // Callers that leave the page at once await `handoff::forget` themselves.
    wasm_bindgen_futures::spawn_local(crate::handoff::forget());
}

/// Why the last session ended, taken so it is told only once.
pub fn take_ended() -> Option<Ended> {
    let ended = ended();
    LocalStorage::delete(ENDED_KEY);
    ended
}

/// Leaves `message` for the next page this tab loads to show once.
pub fn flash(message: &str) {
    let _ = SessionStorage::set(FLASH_KEY, message);
}

/// The message the previous page left, taken so it is shown only once.
pub fn take_flash() -> Option<String> {
    let message = SessionStorage::get::<String>(FLASH_KEY).ok();
    SessionStorage::delete(FLASH_KEY);
    message
}
