//! Phone numbers and the codes texted to them: a number is read with
//! `phonenumber` (Google's libphonenumber metadata), must be a mobile
//! number (or one its country's plan cannot tell from a landline) of a
//! country texts may go to, and is stored in E.164. Codes are 6 digits,
//! uniform, kept as a keyed hash of the account, the purpose and the code.

use std::time::Duration;

use classboard::validate::Issue;
use phonenumber::{Mode, Type, metadata::DATABASE};

pub use crate::store::phones::Purpose;

/// Digits of a texted code.
pub const CODE_DIGITS: usize = 6;
/// How long a texted code works.
pub const CODE_TTL: Duration = Duration::from_secs(600);
/// The longest number as typed that is read at all (E.164 has at most 15
/// digits; people add spaces, dots and dashes).
const MAX_TYPED: usize = 40;

/// Which numbers may be texted: every country's, or those of these
/// calling codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Countries {
    All,
    Only(Vec<u16>),
}

impl Countries {
    /// `SMS_ALLOWED_COUNTRIES` when set; unset, every country while texts
    /// go to the folder and none once they go to a provider, who is paid
    /// per message (SMS toll fraud).
    pub fn of(config: &crate::config::Config) -> Self {
        match (&config.sms_allowed_countries, &config.sms_url) {
            (Some(codes), _) => Self::Only(codes.clone()),
            (None, None) => Self::All,
            (None, Some(_)) => Self::Only(Vec::new()),
        }
    }

    fn allow(&self, calling_code: u16) -> bool {
        match self {
            Self::All => true,
            Self::Only(codes) => codes.contains(&calling_code),
        }
    }
}

/// `typed` as an E.164 number (`+447400123456`), if it is a valid mobile
/// number, in international form, of an allowed country.
pub fn number(typed: &str, countries: &Countries) -> Result<String, Issue> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(Issue::Required);
    }
    // Only the international form: a national one would be read as some
    // country's by a guess.
    if typed.chars().count() > MAX_TYPED || !typed.starts_with('+') {
        return Err(Issue::Invalid);
    }
    // Only what people type into a number: the parser, made for every
    // notation (letters, `tel:` URIs, extensions), then never sees
    // anything else; and a panic of it, were one left, refuses the number
    // rather than the connection.
    if !typed[1..]
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
    {
        return Err(Issue::Invalid);
    }
    let parsed = std::panic::catch_unwind(|| phonenumber::parse(None, typed))
        .map_err(|_| Issue::Invalid)?
        .map_err(|_| Issue::Invalid)?;
    if !parsed.is_valid() || parsed.extension().is_some() {
        return Err(Issue::Invalid);
    }
    // Texts go to mobiles: premium-rate, shared-cost and other numbers are
    // where toll fraud sends them.
    if !matches!(
        parsed.number_type(&DATABASE),
        Type::Mobile | Type::FixedLineOrMobile
    ) {
        return Err(Issue::Invalid);
    }
    if !countries.allow(parsed.code().value()) {
        return Err(Issue::CountryNotAllowed);
    }
    Ok(parsed.format().mode(Mode::E164).to_string())
}

/// A new code for `purpose` of `user_id`, and its stored hash.
pub fn mint(key: &[u8; 32], user_id: &str, purpose: Purpose) -> (String, [u8; 32]) {
    let code = super::random_digits(CODE_DIGITS);
    let hash = hash(key, user_id, purpose, &code);
    (code, hash)
}

/// The stored form of `code` (as [`code`] reads it).
pub fn hash(key: &[u8; 32], user_id: &str, purpose: Purpose, code: &str) -> [u8; 32] {
    let data = [
        b"sms\0".as_slice(),
        purpose.as_str().as_bytes(),
        b"\0",
        user_id.as_bytes(),
        b"\0",
        code.as_bytes(),
    ]
    .concat();
    super::hmac_sha256(key, &data)
}

/// A texted code as typed, read as its digits (spaces and hyphens dropped);
/// `None` unless 6 ASCII digits remain.
pub fn code(typed: &str) -> Option<String> {
    super::typed_digits(typed, CODE_DIGITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_in_e164_and_only_mobiles_of_allowed_countries_pass() {
        let all = Countries::All;
        for (typed, e164) in [
            ("+44 7400 123456", "+447400123456"),
            ("+447400123456", "+447400123456"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+49 151 23456789", "+4915123456789"),
            ("+1 (201) 555-0123", "+12015550123"),
        ] {
            assert_eq!(number(typed, &all).as_deref(), Ok(e164), "{typed}");
        }
        for bad in [
            "07400 123456",       // national form
            "+44 20 7946 0000",   // a London landline
            "+44 909 8790000",    // premium rate
            "+44 7400",           // too short
            "+999 123456789",     // no such country
            "+44 7400 123456 x1", // an extension
            "+44 7400 123456;ext=1",
            "tel:+447400123456",
            "+44 74OO 123456", // letters
            "+44 7400 123456 and some more text that is very long",
            "+４４ 7400 123456",
        ] {
            assert_eq!(number(bad, &all), Err(Issue::Invalid), "{bad}");
        }
        assert_eq!(number("  ", &all), Err(Issue::Required));
        let some = Countries::Only(vec![33, 49]);
        assert_eq!(
            number("+44 7400 123456", &some),
            Err(Issue::CountryNotAllowed)
        );
        assert!(number("+33 6 12 34 56 78", &some).is_ok());
        assert_eq!(
            number("+33 6 12 34 56 78", &Countries::Only(Vec::new())),
            Err(Issue::CountryNotAllowed)
        );
    }

    #[test]
    fn codes_are_six_digits_bound_to_account_and_purpose() {
        let key = [7u8; 32];
        let (code, stored) = mint(&key, "a", Purpose::Login);
        assert_eq!(code.len(), CODE_DIGITS);
        assert_eq!(hash(&key, "a", Purpose::Login, &code), stored);
        assert_ne!(hash(&key, "b", Purpose::Login, &code), stored);
        assert_ne!(hash(&key, "a", Purpose::Proof, &code), stored);
        assert_eq!(code_of("123 456"), Some("123456".into()));
        assert_eq!(code_of("123-456"), Some("123456".into()));
        for bad in ["12345", "1234567", "12345a", "１２３４５６", ""] {
            assert_eq!(code_of(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever is typed, the number is refused or read, never a panic.
        #[test]
        fn numbers_never_panic(typed in "\\+[0-9 .()\\-]{0,39}") {
            let _ = number(&typed, &Countries::All);
        }
    }

    fn code_of(typed: &str) -> Option<String> {
        code(typed)
    }
}
