//! The forms in which typed text is compared, so that what looks the same is
//! the same: a password typed on two keyboards, a login name in full-width
//! letters, an email address with a letter from another script.
//!
//! - Passwords are NFC-normalised before any rule or hash sees them (NIST SP
//!   800-63B-4 §3.1.1.2): "é" as one code point or as "e" and a combining
//!   accent is one password. Hashes made before normalisation still match:
//!   for them (and only them: `users.password_nfc`) the raw form is tried
//!   after the normalised one, and the hash is then redone from the
//!   normalised form.
//! - Login names are NFKC-normalised, then lower-cased: usernames are ASCII,
//!   so `ａｄａ`, `ADA` and `ada` name one account.
//! - Emails are NFKC-normalised and lower-cased before they are checked and
//!   stored, and an address whose local part or any domain label mixes
//!   scripts (UTS #39, e.g. a Cyrillic `а` among Latin letters) is refused.

use classboard::validate::{Email, Issue, Password};
use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

/// A new password as the rules see it (NFC), checked against them: length,
/// the account's username and email name, and the bundled list of common
/// passwords.
pub fn new_password(raw: &str, username: &str, email_local_part: &str) -> Result<Password, Issue> {
    let normalised = PasswordForms::of(raw).normalised;
    let password = Password::parse(&normalised, username, email_local_part)?;
    if super::blocklist::is_common(password.expose()) {
        return Err(Issue::Common);
    }
    Ok(password)
}

/// Longest login name looked up (the longest email address); longer is `422`.
pub const MAX_LOGIN: usize = 254;

/// A password as rules and hashes see it, and the raw form when that differs
/// (tried against hashes made before normalisation).
pub struct PasswordForms {
    pub normalised: String,
    pub raw: Option<String>,
}

impl PasswordForms {
    pub fn of(raw: &str) -> Self {
        let normalised: String = raw.nfc().collect();
        let raw = (normalised != raw).then(|| raw.to_owned());
        Self { normalised, raw }
    }

    /// The forms to try against a stored hash, normalised first.
    pub fn candidates(&self) -> Vec<&str> {
        std::iter::once(self.normalised.as_str())
            .chain(self.raw.as_deref())
            .collect()
    }

    /// The forms to try against a hash: the normalised one, and the password
    /// as typed too only for a hash made before passwords were normalised
    /// (`nfc_hash` false). Every other attempt costs one hash.
    pub fn against(&self, nfc_hash: bool) -> Vec<&str> {
        if nfc_hash {
            vec![self.normalised.as_str()]
        } else {
            self.candidates()
        }
    }
}

/// A login name (username or email) in the form accounts are looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    /// Trims, normalises, and refuses more than [`MAX_LOGIN`] characters,
    /// typed or normalised: one character can stand for eighteen once
    /// normalised (U+FDFA), and no account's name is that long either way.
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Issue::Required);
        }
        if trimmed.chars().count() > MAX_LOGIN {
            return Err(Issue::TooLong);
        }
        // Normalising can bring spaces of its own to the ends (NFKC of
        // "¸" is a space and a combining cedilla): trimmed again after.
        let name = fold(trimmed).trim().to_owned();
        if name.is_empty() {
            return Err(Issue::Required);
        }
        if name.chars().count() > MAX_LOGIN {
            return Err(Issue::TooLong);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` in the one form that compares equal when it looks the same: NFKC,
/// lower case, and NFKC again, because lower-casing can leave a letter and
/// an accent that NFKC composes (`Y` + ring has no composed capital, but
/// `y` + ring is `ẙ`).
fn fold(text: &str) -> String {
    text.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect()
}

/// Parses an email address for storage: folded (see [`fold`]), the shared
/// syntax rules, and one script per part.
pub fn email(raw: &str) -> Result<Email, Issue> {
    let email = Email::parse(&fold(raw))?;
    let (local, domain) = email.as_str().rsplit_once('@').ok_or(Issue::Invalid)?;
    if !local.is_single_script() || !domain.split('.').all(MixedScript::is_single_script) {
        return Err(Issue::Invalid);
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_password_however_its_accents_were_typed() {
        let composed = PasswordForms::of("caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e");
        let decomposed = PasswordForms::of("cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e");
        assert_eq!(composed.normalised, decomposed.normalised);
        assert_eq!(composed.candidates().len(), 1, "already normal: one form");
        assert_eq!(
            decomposed.candidates().len(),
            2,
            "raw form kept for old hashes"
        );
    }

    #[test]
    fn login_names_fold_width_and_case_and_are_bounded() {
        let fullwidth = LoginName::parse("\u{ff41}\u{ff44}\u{ff41}").unwrap();
        assert_eq!(fullwidth.as_str(), "ada");
        assert_eq!(LoginName::parse("  ADA ").unwrap().as_str(), "ada");
        assert_eq!(
            LoginName::parse("Ada@Example.COM").unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(
            LoginName::parse(&"x".repeat(254)).unwrap().as_str().len(),
            254
        );
        assert_eq!(LoginName::parse(&"x".repeat(255)), Err(Issue::TooLong));
        assert_eq!(LoginName::parse("   "), Err(Issue::Required));
    }

    /// Found by `tests/fuzz.rs`: a name within the limit as typed grew past
    /// it once normalised (U+FDFA is eighteen characters in NFKC).
    #[test]
    fn a_name_that_grows_past_the_limit_when_normalised_is_too_long() {
        let name = "\u{fdfa}".repeat(20);
        assert_eq!(LoginName::parse(&name), Err(Issue::TooLong));
        let fits = LoginName::parse(&"\u{fdfa}".repeat(14)).unwrap();
        assert_eq!(LoginName::parse(fits.as_str()).unwrap(), fits);
    }

    /// Found by `tests/fuzz.rs`: lower-casing after NFKC can leave what
    /// NFKC composes, so one name had two spellings.
    #[test]
    fn names_and_addresses_fold_to_one_spelling() {
        let capital = LoginName::parse("Y\u{30a}").unwrap();
        assert_eq!(capital.as_str(), "\u{1e99}");
        assert_eq!(LoginName::parse("y\u{30a}").unwrap(), capital);
        assert_eq!(
            email("Y\u{30a}@example.com").unwrap(),
            email("\u{1e99}@example.com").unwrap()
        );
    }

    /// Found by `tests/fuzz.rs`: NFKC turns "¸" into a space and a
    /// combining cedilla, so a name could begin with a space once normalised.
    #[test]
    fn spaces_that_normalisation_brings_are_trimmed_too() {
        let name = LoginName::parse("\u{b8}").unwrap();
        assert_eq!(name.as_str(), "\u{327}");
        assert_eq!(LoginName::parse(name.as_str()).unwrap(), name);
    }

    #[test]
    fn emails_that_look_alike_are_one_address_or_refused() {
        assert_eq!(
            email("\u{ff21}\u{ff24}\u{ff21}@example.com")
                .unwrap()
                .as_str(),
            "ada@example.com"
        );
        // A Cyrillic "а" among Latin letters, in the local part or the domain.
        assert_eq!(email("\u{430}da@example.com"), Err(Issue::Invalid));
        assert_eq!(email("ada@ex\u{430}mple.com"), Err(Issue::Invalid));
        // One script throughout is fine, whichever it is.
        assert!(email("\u{434}\u{43c}\u{438}\u{442}\u{440}\u{438}\u{439}@example.com").is_ok());
        assert!(email("j\u{f6}rg.m\u{fc}ller@example.de").is_ok());
    }
}
