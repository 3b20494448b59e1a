//! The password policy of the pages where people choose their own password (registration,
//! reset, change): long enough, not too long, not the e-mail address, not one of the most
//! common passwords. Operators setting a password (`idp users set-password`, the
//! management API) are held only to the length bounds.

use idp_core::Password;

/// The fewest characters a chosen password may have.
pub(crate) const MIN_LENGTH: usize = 8;
/// The most characters a chosen password may have (argon2 hashes any length, but a
/// megabyte of password is an attack, not a password).
pub(crate) const MAX_LENGTH: usize = 128;

/// Passwords that appear at the top of every published list of leaked passwords, and their
/// obvious variants, lower-cased. A password is refused when its lower-cased form is here.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "87654321",
    "11111111",
    "00000000",
    "88888888",
    "99999999",
    "12341234",
    "11223344",
    "12121212",
    "123123123",
    "147258369",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1qaz2wsx",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "q1w2e3r4",
    "zaq12wsx",
    "asdfghjk",
    "asdfghjkl",
    "zxcvbnm1",
    "abcd1234",
    "abc12345",
    "abcdefgh",
    "aa123456",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "whatever",
    "trustno1",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "admin123",
    "administrator",
    "changeme",
    "changeme1",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "passport",
    "master123",
    "mustang1",
    "shadow12",
    "dragon12",
    "monkey12",
    "basketball",
    "chocolate",
    "butterfly",
    "liverpool",
    "babygirl",
    "secret123",
    "test1234",
    "testtest",
    "default1",
    "unknown1",
    "access14",
    "qazwsxedc",
];

/// Why a chosen password is refused: a sentence to show the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyViolation(pub(crate) &'static str);

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Checks a password someone chose for the account with address `email`.
pub(crate) fn check(password: &Password, email: &str) -> Result<(), PolicyViolation> {
    let p = password.secret();
    let n = p.chars().count();
    if n < MIN_LENGTH {
        return Err(PolicyViolation(
            "Choose a password of at least 8 characters.",
        ));
    }
    if n > MAX_LENGTH {
        return Err(PolicyViolation(
            "Choose a password of at most 128 characters.",
        ));
    }
    let lower = p.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    if lower == email || (local.chars().count() >= MIN_LENGTH && lower == local) {
        return Err(PolicyViolation(
            "Choose a password that is not your email address.",
        ));
    }
    if COMMON.contains(&lower.as_str()) || p.chars().all(|c| p.starts_with(c)) {
        return Err(PolicyViolation(
            "This password is one of the most common ones. Choose another.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &str, email: &str) -> Option<&'static str> {
        check(&Password::new(p), email).err().map(|e| e.0)
    }

    #[test]
    fn the_rules() {
        assert_eq!(
            refused("correct horse battery staple", "ada@example.com"),
            None
        );
        assert!(
            refused("short", "ada@example.com")
                .unwrap()
                .contains("at least 8")
        );
        assert!(
            refused(&"x1".repeat(65), "a@example.com")
                .unwrap()
                .contains("at most 128")
        );
        assert!(
            refused("Ada@Example.com", "ada@example.com")
                .unwrap()
                .contains("email")
        );
        assert!(
            refused("adalovelace", "adalovelace@example.com")
                .unwrap()
                .contains("email")
        );
        for common in [
            "password",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
            "aaaaaaaaaa",
        ] {
            assert!(
                refused(common, "ada@example.com")
                    .unwrap()
                    .contains("common"),
                "{common}"
            );
        }
        // Length counts characters, not bytes.
        assert_eq!(refused("ünïcödé!", "ada@example.com"), None);
    }

    #[test]
    fn the_list_is_lower_case_and_long_enough_to_matter() {
        assert!(COMMON.len() >= 70);
        for p in COMMON {
            assert_eq!(*p, p.to_lowercase());
            assert!(p.chars().count() >= MIN_LENGTH, "{p} could never be chosen");
        }
    }
}
