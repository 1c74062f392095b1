//! Input nobody types by hand, thrown at every parser that reads what a
//! client sends before anything else has vetted it: the `Authorization`
//! header and the access token in it, the refresh token (body or cookie),
//! `X-Forwarded-For`, and the validators of names, addresses and passwords.
//!
//! These are property tests run with many cases (`FUZZ_CASES`, default
//! 10,000 per property). Coverage-guided fuzzing (`cargo fuzz`) needs a
//! nightly compiler's sanitizer flags, which this project's machines do not
//! have; see docs/DEVELOPMENT.md. A failure prints the smallest input found,
//! which then becomes a named regression test at the bottom of this file.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use classboard::{
    api::Role,
    validate::{Email, Password, Username},
};
use proptest::prelude::*;
use server::{
    api::tokens::cookie_token,
    auth::{
        jwt::Keys,
        limits::RequesterNet,
        normalize::{self, LoginName, PasswordForms},
        refresh_token::{Presented, TokenKeys},
    },
    extract::{forwarded_client, presented_token},
};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

const SECRET: &[u8] = b"fuzzing secret, thirty-two bytes at least";

fn keys() -> Keys {
    Keys::hs256(SECRET, Duration::from_secs(900))
}

/// `wanted`, or a different character when that is `current`: every case
/// alters something (rejecting cases instead would exhaust proptest's budget
/// of rejections at high case counts).
fn other_than(current: char, wanted: char) -> char {
    if current != wanted {
        wanted
    } else if current == 'A' {
        'B'
    } else {
        'A'
    }
}

/// Text of every kind: any characters, JWT-shaped dots, base64url runs.
fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,300}",
        ".{0,200}",
        "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}",
        "[A-Za-z0-9_=-]{0,100}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_authorization_header_is_refused_or_yields_its_token(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((_, token)) = presented_token(&raw) {
            // Only ever a trimmed part of what was sent.
            let text = std::str::from_utf8(&raw).unwrap();
            prop_assert!(text.contains(token));
            prop_assert_eq!(token.trim(), token);
        }
    }

    #[test]
    fn no_made_up_token_verifies(token in texts()) {
        prop_assert!(keys().verify(&token).is_err());
    }

    /// Changing any one character of a real token never yields other
    /// claims: it is refused, or (base64's unused bits) decodes the same.
    #[test]
    fn a_token_altered_anywhere_never_verifies_with_other_claims(
        at in any::<prop::sample::Index>(),
        with in "[A-Za-z0-9_.=+/ -]",
    ) {
        let keys = keys();
        let token = keys.issue("user-1", "ada", Role::Student, "session-1").unwrap();
        let original = keys.verify(&token).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let i = at.index(chars.len());
        chars[i] = other_than(chars[i], with.chars().next().unwrap());
        let altered: String = chars.into_iter().collect();
        if let Ok(claims) = keys.verify(&altered) {
            prop_assert_eq!(claims, original);
        }
    }

    /// Claims re-signed with another key, or with the header's algorithm
    /// changed, never verify.
    #[test]
    fn tokens_signed_by_anyone_else_never_verify(
        role in prop_oneof![Just("admin"), Just("teacher"), Just("student")],
        alg in prop_oneof![Just("none"), Just("HS256"), Just("HS512"), Just("RS256"), Just("EdDSA")],
        exp in any::<u32>(),
    ) {
        let header = serde_json::json!({"alg": alg, "typ": "at+jwt"});
        let claims = serde_json::json!({
            "iss": "classboard", "aud": "classboard-api", "sub": "u", "exp": exp, "iat": 0,
            "jti": "j", "sid": "s", "role": role, "username": "eve",
        });
        let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        for signature in ["", "AAAA", &URL_SAFE_NO_PAD.encode([0u8; 32])] {
            let forged = format!("{}.{}.{signature}", encode(&header), encode(&claims));
            prop_assert!(keys().verify(&forged).is_err());
        }
    }

    #[test]
    fn only_minted_refresh_tokens_pass_the_memory_check(token in texts()) {
        prop_assert_ne!(TokenKeys::derive(SECRET).check(&token), Presented::Minted);
    }

    #[test]
    fn a_refresh_token_altered_anywhere_is_junk(at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_-]") {
        let keys = TokenKeys::derive(SECRET);
        let token = keys.mint();
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = other_than(char::from(bytes[i]), char::from(with.as_bytes()[0])) as u8;
        prop_assert_eq!(keys.check(&String::from_utf8(bytes).unwrap()), Presented::Junk);
    }

    #[test]
    fn any_cookie_header_yields_at_most_the_refresh_token_it_names(raw in "[ -~]{0,300}") {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&raw) {
            headers.insert(header::COOKIE, value);
            if let Some(token) = cookie_token(&headers) {
                prop_assert!(!token.is_empty());
                prop_assert!(raw.contains(&token));
            }
        }
    }

    #[test]
    fn forwarded_for_yields_only_its_exact_last_entry(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some(ip) = forwarded_client(&raw) {
            let text = std::str::from_utf8(&raw).unwrap();
            let last = text.rsplit(',').next().unwrap().trim();
            prop_assert_eq!(last.parse::<std::net::IpAddr>().unwrap(), ip);
        }
    }

    #[test]
    fn addresses_in_one_64_are_one_client(high in any::<u64>(), low_a in any::<u64>(), low_b in any::<u64>()) {
        let a = std::net::Ipv6Addr::from((u128::from(high) << 64) | u128::from(low_a));
        let b = std::net::Ipv6Addr::from((u128::from(high) << 64) | u128::from(low_b));
        prop_assert_eq!(RequesterNet::of(a.into()), RequesterNet::of(b.into()));
    }

    #[test]
    fn validators_never_panic_and_parse_what_they_print(raw in "\\PC{0,300}") {
        if let Ok(u) = Username::parse(&raw) {
            prop_assert_eq!(Username::parse(u.as_str()).unwrap(), u);
        }
        if let Ok(e) = normalize::email(&raw) {
            prop_assert_eq!(normalize::email(e.as_str()).unwrap(), e.clone());
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
        }
        if let Ok(name) = LoginName::parse(&raw) {
            prop_assert_eq!(LoginName::parse(name.as_str()).unwrap(), name);
        }
        let forms = PasswordForms::of(&raw);
        prop_assert_eq!(&PasswordForms::of(&forms.normalised).normalised, &forms.normalised);
        let _ = Password::parse(&forms.normalised, "ada", "ada");
    }
}
