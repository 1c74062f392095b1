//! Integration tests: each starts the real server on port 0 with a fresh
//! SQLite file and talks HTTP to it.

mod binary;
mod helpers;

mod attacks;
mod audit;
mod clients;
mod compression;
mod cors;
mod crash;
mod device;
mod dpop;
mod email_codes;
mod first_party_dpop;

mod grades;
mod health;
mod hygiene;
mod instances;
mod keys;
mod lifecycle;
mod limits;
mod login;
mod logout;
mod metrics;
mod mfa;
mod openapi;
mod outage;
mod pages;
mod passkeys;
mod posts;
mod process;
mod proof;
mod provider;
mod refresh;
mod registration;
mod roles;
mod signup;
mod slow_readers;
mod sms;
mod sqlite_only;
mod tokens;
mod verifier;
