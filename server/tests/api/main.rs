//! Integration tests: each starts the real server on port 0 with a fresh
//! SQLite file and talks HTTP to it.

mod helpers;

mod health;
mod pages;
mod process;
