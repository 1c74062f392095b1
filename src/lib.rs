//! What the server and the browser share: the HTTP API's wire types, its error
//! codes, and (as the API grows) the validation rules both sides apply, so that
//! they reject the same input with the same words.
//!
//! This crate does no I/O and depends on no web framework; it compiles for the
//! server and for `wasm32-unknown-unknown`.

pub mod api;
pub mod error;
pub mod validate;

pub use error::{ErrorBody, ErrorCode, FieldIssue};
