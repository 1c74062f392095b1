//! The authentication core: passwords, access tokens, sessions and refresh
//! tokens, revocation and abuse limits. Nothing here knows about HTTP.

pub mod blocklist;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod mfa;
pub mod normalize;
pub mod password;
pub mod refresh_token;
pub mod revocation;
pub mod sealing;
pub mod sessions;
