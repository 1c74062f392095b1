//! The classroom board's server: configuration, storage, the JSON API under
//! `/api`, health probes, and the Leptos pages. `main.rs` only parses the
//! command line and calls into here, so integration tests start exactly the
//! server that production runs.

pub mod api;
pub mod auth;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod error;
pub mod extract;
pub mod files;
pub mod headers;
pub mod health;
pub mod mail;
pub mod metrics;
pub mod outbound;
pub mod profiles;
pub mod provider;
pub mod secret;
pub mod serve;
pub mod sms;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use error::{AppError, Result};
