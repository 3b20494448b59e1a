//! TOTP (RFC 6238) as authenticator apps support it: HMAC-SHA-1, six digits, 30-second
//! steps from the Unix epoch; the secret in base32 (RFC 4648, no padding) and the
//! `otpauth://` URI of the Key Uri Format that apps read from a QR code. Pure functions.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// Seconds per time step.
pub(crate) const PERIOD: i64 = 30;
/// Digits per code.
pub(crate) const DIGITS: usize = 6;
/// Steps of clock skew accepted on either side of the current one.
pub(crate) const SKEW: i64 = 1;
/// Length of a secret in bytes (160 bits, RFC 4226 §4).
pub(crate) const SECRET_LEN: usize = 20;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The time step of Unix time `now`.
pub(crate) fn step_of(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// The code of `secret` at time step `step` (RFC 4226 §5.3 dynamic truncation).
pub(crate) fn code_at(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!("{:0width$}", bin % 10u32.pow(DIGITS as u32), width = DIGITS)
}

/// The digits of what a person typed (spaces and dashes dropped), if it has the shape of a
/// code.
pub(crate) fn normalise(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The time step within ±[`SKEW`] of `now` whose code is `code`, comparing in constant
/// time; the latest one if several match (they do not, but the answer should not depend on
/// the order). The caller refuses a step already used.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let current = step_of(now);
    let mut found = None;
    for step in current - SKEW..=current + SKEW {
        if bool::from(code_at(secret, step).as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// `bytes` in base32 without padding (what apps expect for the secret).
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://totp/` URI of the Key Uri Format: label `issuer:account`, the secret,
/// the issuer, and the parameters (SHA1, 6 digits, 30 s) spelled out.
pub(crate) fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        enc(issuer),
        enc(account),
        enc(issuer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (the last six of the eight digits).
    #[test]
    fn rfc6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, step_of(time)), code, "T = {time}");
        }
    }

    #[test]
    fn one_step_of_skew_either_way() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for (s, ok) in [
            (step - 2, false),
            (step - 1, true),
            (step, true),
            (step + 1, true),
            (step + 2, false),
        ] {
            let code = code_at(secret, s);
            assert_eq!(matching_step(secret, &code, now) == Some(s), ok, "step {s}");
        }
        assert_eq!(
            matching_step(secret, "000000", now).is_some(),
            code_at(secret, step) == "000000"
        );
    }

    #[test]
    fn base32_of_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), expected);
        }
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(normalise(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalise("123-456").as_deref(), Some("123456"));
        assert_eq!(normalise("12345"), None);
        assert_eq!(normalise("12345a"), None);
        assert_eq!(normalise("１２３４５６"), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri(
            "http://localhost:4000",
            "ada@example.com",
            "JBSWY3DPEHPK3PXP",
        );
        assert_eq!(
            uri,
            "otpauth://totp/http%3A%2F%2Flocalhost%3A4000:ada%40example%2Ecom?secret=JBSWY3DPEHPK3PXP\
             &issuer=http%3A%2F%2Flocalhost%3A4000&algorithm=SHA1&digits=6&period=30"
        );
    }
}
