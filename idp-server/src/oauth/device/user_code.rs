//! User codes (RFC 8628 §6.1): eight characters from an alphabet without vowels (no words)
//! and without look-alikes (no 0/O, 1/I/L... every letter is a consonant a person reads the
//! same way), shown as `XXXX-XXXX`, stored and looked up normalised (upper case, no dash).

use rand::Rng;

/// The 20 letters a user code is made of: 20^8 ≈ 2^34.6 codes.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code.
pub(crate) const LEN: usize = 8;

/// A new random user code, normalised.
pub(crate) fn generate() -> String {
    let mut rng = rand::rng();
    (0..LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// What the user typed, normalised: surrounding space, one dash (or space) anywhere and the
/// case are forgiven. `None` unless it is eight letters of the alphabet. Reads at most a
/// few characters of whatever it is given.
pub(crate) fn normalize(input: &str) -> Option<String> {
    let input = input.trim();
    if input.len() > 2 * LEN {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    ok.then_some(code)
}

/// A normalised code as people read it: `BCDF-GHJK`.
pub(crate) fn display(code: &str) -> String {
    match (code.get(..LEN / 2), code.get(LEN / 2..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// A normalised code for a log line: its first two characters only.
pub(crate) fn loggable(code: &str) -> String {
    format!("{}******", code.get(..2).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_normal_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), LEN);
        assert_eq!(normalize(&a).as_deref(), Some(a.as_str()));
        assert_eq!(normalize(&display(&a)).as_deref(), Some(a.as_str()));
        let many: std::collections::HashSet<String> = (0..1000).map(|_| generate()).collect();
        assert!(many.len() > 990);
    }

    #[test]
    fn typing_is_forgiven_within_reason() {
        for typed in [
            "BCDF-GHJK",
            "bcdfghjk",
            "  bcdf-ghjk ",
            "BcDf GhJk",
            "bcdfghjk\n",
        ] {
            assert_eq!(normalize(typed).as_deref(), Some("BCDFGHJK"), "{typed:?}");
        }
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ0",
            "BCDF–GHJK",
            "ＢCDF-GHJK",
            &"B".repeat(10_000),
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(loggable("BCDFGHJK"), "BC******");
    }
}
