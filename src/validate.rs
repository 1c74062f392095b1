//! The input rules of the API, in one place, so that the browser checks a form
//! with exactly the rules (and words) the server enforces. Each value type can
//! only be built through `parse`, so holding one proves the input was checked.
//!
//! The common-password list is not here: it is large, and belongs on the
//! server only (see `server::auth::blocklist`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a field was rejected. The wire form (`code()`) is stable for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Issue {
    Required,
    TooShort,
    TooLong,
    InvalidCharacters,
    Invalid,
    ContainsUsername,
    ContainsEmail,
    Common,
    Taken,
    UnknownStudent,
    /// A phone number of a country texts may not be sent to.
    CountryNotAllowed,
}

impl Issue {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::Invalid => "invalid",
            Self::ContainsUsername => "contains_username",
            Self::ContainsEmail => "contains_email",
            Self::Common => "common",
            Self::Taken => "taken",
            Self::UnknownStudent => "unknown_student",
            Self::CountryNotAllowed => "country_not_allowed",
        }
    }

    /// The issue with this wire code, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::Required,
            Self::TooShort,
            Self::TooLong,
            Self::InvalidCharacters,
            Self::Invalid,
            Self::ContainsUsername,
            Self::ContainsEmail,
            Self::Common,
            Self::Taken,
            Self::UnknownStudent,
            Self::CountryNotAllowed,
        ]
        .into_iter()
        .find(|i| i.code() == code)
    }

    /// A sentence for people, the same in the browser and in the API.
    pub fn message(self, field: &str) -> String {
        let (min, max) = limits(field);
        let label = label(field);
        match self {
            Self::Required => format!("{label} is required."),
            Self::TooShort if min <= 1 => format!("{label} cannot be empty."),
            Self::TooShort => format!("{label} must be at least {min} characters."),
            Self::TooLong => format!("{label} must be at most {max} characters."),
            Self::InvalidCharacters => {
                format!("{label} may contain only letters, digits, and . _ -")
            }
            Self::Invalid if field == "email" => {
                "Enter an email address such as ada@example.com.".into()
            }
            Self::Invalid if field == "phone" => {
                "Enter a mobile number with its country code, such as +44 7400 123456.".into()
            }
            Self::Invalid => format!("{label} is not valid."),
            Self::ContainsUsername => "Password must not contain your username.".into(),
            Self::ContainsEmail => "Password must not contain the name part of your email.".into(),
            Self::Common => {
                "This password is on a list of common or breached passwords; choose another.".into()
            }
            Self::Taken if field == "username" => "This username is taken.".into(),
            Self::Taken => format!("{label} is already in use."),
            Self::UnknownStudent => "There is no student with this username.".into(),
            Self::CountryNotAllowed => {
                "Texts cannot be sent to this country; use an authenticator app or a passkey."
                    .into()
            }
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Length bounds, in characters (Unicode scalar values), by field.
pub mod len {
    pub const USERNAME: (usize, usize) = (3, 32);
    pub const EMAIL: (usize, usize) = (3, 254);
    pub const PASSWORD: (usize, usize) = (15, 128);
    pub const TITLE: (usize, usize) = (1, 200);
    pub const BODY: (usize, usize) = (1, 20_000);
    pub const COURSE: (usize, usize) = (1, 100);
    pub const GRADE: (usize, usize) = (1, 16);
}

fn limits(field: &str) -> (usize, usize) {
    match field {
        "username" => len::USERNAME,
        "email" => len::EMAIL,
        "password" | "new_password" => len::PASSWORD,
        "title" => len::TITLE,
        "body" => len::BODY,
        "course" => len::COURSE,
        "grade" => len::GRADE,
        _ => (1, usize::MAX),
    }
}

/// The field's name as words with a capital first letter (`new_password`:
/// "New password"). Field names are ASCII, and the ASCII form keeps
/// Unicode's case tables out of the WebAssembly.
fn label(field: &str) -> String {
    let mut label = field.replace('_', " ");
    if let Some(first) = label.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    label
}

fn check_len(s: &str, (min, max): (usize, usize)) -> Result<(), Issue> {
    let n = s.chars().count();
    if n < min {
        Err(Issue::TooShort)
    } else if n > max {
        Err(Issue::TooLong)
    } else {
        Ok(())
    }
}

/// 3–32 characters from `A-Z a-z 0-9 _ . -`; unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        check_len(raw, len::USERNAME)?;
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Issue::InvalidCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A syntactically valid address (RFC 5322 addr-spec), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Issue::Required);
        }
        check_len(trimmed, len::EMAIL)?;
        let lower = trimmed.to_lowercase();
        // The crate accepts forms no mail system delivers to people, such as
        // `a@b` or display names; a dot in the domain and no spaces rule
        // those out.
        let (_, domain) = lower.rsplit_once('@').ok_or(Issue::Invalid)?;
        if !email_address::EmailAddress::is_valid(&lower)
            || !domain.contains('.')
            || domain.starts_with('[')
            || lower.contains(char::is_whitespace)
            || lower.contains('<')
        {
            return Err(Issue::Invalid);
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }
}

/// A password that meets the length and personal-information rules. It is
/// never serialised, and `Debug` does not show it.
#[derive(Clone)]
pub struct Password(String);

/// Personal strings shorter than this are not looked for inside passwords:
/// a one-letter email name would otherwise forbid most passwords.
const MIN_PERSONAL_LEN: usize = 3;

impl Password {
    /// Checks the rules that need no list: 15–128 characters (never
    /// truncated), and not containing the username or the email's local
    /// part, compared case-insensitively.
    pub fn parse(raw: &str, username: &str, email_local_part: &str) -> Result<Self, Issue> {
        check_len(raw, len::PASSWORD)?;
        let lower = raw.to_lowercase();
        let contains = |part: &str| {
            part.chars().count() >= MIN_PERSONAL_LEN && lower.contains(&part.to_lowercase())
        };
        if contains(username) {
            return Err(Issue::ContainsUsername);
        }
        if contains(email_local_part) {
            return Err(Issue::ContainsEmail);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// Trimmed text whose length in characters lies within `bounds`.
fn text(raw: &str, bounds: (usize, usize)) -> Result<String, Issue> {
    let trimmed = raw.trim();
    check_len(trimmed, bounds)?;
    Ok(trimmed.to_owned())
}

/// A post's title: 1–200 characters after trimming.
pub fn title(raw: &str) -> Result<String, Issue> {
    text(raw, len::TITLE)
}

/// A post's body: 1–20,000 characters after trimming.
pub fn body(raw: &str) -> Result<String, Issue> {
    text(raw, len::BODY)
}

/// A course name: 1–100 characters after trimming.
pub fn course(raw: &str) -> Result<String, Issue> {
    text(raw, len::COURSE)
}

/// A grade, free-form (`A-`, `17/20`, `pass`): 1–16 characters after trimming.
pub fn grade(raw: &str) -> Result<String, Issue> {
    text(raw, len::GRADE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_length_and_alphabet_rules() {
        assert!(Username::parse("ada").is_ok());
        assert!(Username::parse("Ada.Lovelace_1815-x").is_ok());
        assert_eq!(Username::parse("ab"), Err(Issue::TooShort));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(Issue::TooLong));
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        for bad in ["ada lovelace", "ada@home", "adä", "ada!", "<script>"] {
            assert_eq!(Username::parse(bad), Err(Issue::InvalidCharacters), "{bad}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(Email::parse("ada@example.com").unwrap().local_part(), "ada");
        assert_eq!(Email::parse(""), Err(Issue::Required));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "Ada <ada@example.com>",
            "ada@@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(Issue::Invalid), "{bad}");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters_not_bytes() {
        // 15 characters, 45 bytes.
        assert!(Password::parse(&"密".repeat(15), "ada", "ada").is_ok());
        assert_eq!(
            Password::parse(&"密".repeat(14), "ada", "ada").unwrap_err(),
            Issue::TooShort
        );
        assert!(Password::parse(&"x".repeat(128), "ada", "ada").is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129), "ada", "ada").unwrap_err(),
            Issue::TooLong
        );
    }

    #[test]
    fn passwords_may_not_contain_username_or_email_name() {
        assert_eq!(
            Password::parse("my name is ADA.L and I rule", "ada.l", "someone").unwrap_err(),
            Issue::ContainsUsername
        );
        assert_eq!(
            Password::parse("correct horse lovelace battery", "ada", "Lovelace").unwrap_err(),
            Issue::ContainsEmail
        );
        // A very short email name is not searched for.
        assert!(Password::parse("correct horse battery staple", "ada", "b").is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("correct horse battery staple", "ada", "ada").unwrap();
        assert_eq!(format!("{p:?}"), "Password([redacted])");
    }

    #[test]
    fn text_fields_are_trimmed_then_measured() {
        assert_eq!(title("  Hello  ").unwrap(), "Hello");
        assert_eq!(title("   "), Err(Issue::TooShort));
        assert_eq!(title(&"t".repeat(201)), Err(Issue::TooLong));
        assert!(body(&"b".repeat(20_000)).is_ok());
        assert_eq!(body(&"b".repeat(20_001)), Err(Issue::TooLong));
        assert_eq!(grade(""), Err(Issue::TooShort));
        assert!(course("Maths 101").is_ok());
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            Issue::TooShort.message("password"),
            "Password must be at least 15 characters."
        );
        assert_eq!(Issue::TooShort.message("title"), "Title cannot be empty.");
        assert_eq!(Issue::Taken.message("email"), "Email is already in use.");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn usernames_from_the_alphabet_and_length_are_accepted(name in "[A-Za-z0-9_.-]{3,32}") {
                let parsed = Username::parse(&name).unwrap();
                prop_assert_eq!(parsed.as_str(), name.as_str());
            }

            #[test]
            fn usernames_with_any_other_character_are_refused(
                prefix in "[a-z]{1,10}",
                bad in "[^A-Za-z0-9_.-]",
                suffix in "[a-z]{1,10}",
            ) {
                let name = format!("{prefix}{bad}{suffix}");
                prop_assert!(Username::parse(&name).is_err());
            }

            #[test]
            fn password_length_is_counted_in_characters(password in "\\PC{1,140}") {
                let n = password.chars().count();
                let result = Password::parse(&password, "zz_user", "zz_mail");
                match result {
                    Err(Issue::TooShort) => prop_assert!(n < 15),
                    Err(Issue::TooLong) => prop_assert!(n > 128),
                    Ok(_) => prop_assert!((15..=128).contains(&n)),
                    Err(_) => {} // contains a personal string: fine either way
                }
            }

            #[test]
            fn accepted_emails_are_lower_case_and_have_one_domain_dot(raw in "\\PC{0,80}") {
                if let Ok(email) = Email::parse(&raw) {
                    let lower = email.as_str().to_lowercase();
                    prop_assert_eq!(email.as_str(), lower.as_str());
                    prop_assert!(email.as_str().contains('@'));
                }
            }

            #[test]
            fn simple_addresses_are_accepted(local in "[a-z0-9]{1,20}", domain in "[a-z]{1,20}", tld in "[a-z]{2,6}") {
                let raw = format!("{local}@{domain}.{tld}");
                let email = Email::parse(&raw.to_uppercase()).unwrap();
                prop_assert_eq!(email.as_str(), raw.as_str());
            }

            #[test]
            fn titles_are_trimmed_and_bounded(raw in "\\PC{0,260}") {
                match title(&raw) {
                    Ok(t) => {
                        prop_assert_eq!(t.as_str(), raw.trim());
                        prop_assert!((1..=200).contains(&t.chars().count()));
                    }
                    Err(issue) => prop_assert!(matches!(issue, Issue::TooShort | Issue::TooLong)),
                }
            }
        }
    }
}
