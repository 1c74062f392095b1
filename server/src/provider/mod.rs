//! The identity provider: other apps sign people in through this server
//! (OpenID Connect 1.0 on OAuth 2.1). It sits on the auth core (accounts,
//! sessions, keys) and below the handlers; nothing here knows about HTTP.

pub mod assertions;
pub mod authorization;
pub mod clients;
pub mod device;
pub mod logout;
pub mod registration;
pub mod scopes;
pub mod tokens;
