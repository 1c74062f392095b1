//! The bundled list of common and breached passwords (see `assets/README.md`).

use std::{collections::HashSet, sync::LazyLock};

use classboard::validate::len;

static LIST: &str = include_str!("../../assets/common-passwords-100k.txt");

/// Entries that could pass the length rule; shorter or longer ones are
/// refused by length before the list is consulted, so keeping them in
/// memory would cost megabytes and change no answer.
static SET: LazyLock<HashSet<String>> = LazyLock::new(|| {
    LIST.lines()
        .filter(|p| (len::PASSWORD.0..=len::PASSWORD.1).contains(&p.chars().count()))
        .map(str::to_lowercase)
        .collect()
});

/// Whether `password` is on the list, compared case-insensitively.
pub fn is_common(password: &str) -> bool {
    SET.contains(&password.to_lowercase())
}

/// Loads the list now rather than on the first signup.
pub fn preload() {
    LazyLock::force(&SET);
}

/// Number of passwords in the bundled list.
pub fn bundled_len() -> usize {
    LIST.lines().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_list_has_the_hundred_thousand_most_common() {
        assert_eq!(bundled_len(), 100_000);
        assert_eq!(LIST.lines().next(), Some("123456"));
    }

    #[test]
    fn long_common_passwords_are_found_whatever_their_case() {
        assert!(is_common("1qaz2wsx3edc4rfv"));
        assert!(is_common("1QAZ2WSX3EDC4RFV"));
        assert!(is_common("qazwsxedcrfvtgb"));
        assert!(!is_common("correct horse battery staple"));
    }
}
