//! Proof Key for Code Exchange (RFC 7636).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Error, PkceError, sha256};

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A PKCE `code_verifier`: 43 to 128 unreserved characters. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(Zeroizing<String>);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}

impl CodeVerifier {
    /// A new verifier of 64 characters drawn uniformly from the unreserved set by a CSPRNG.
    pub fn generate() -> Self {
        Self::generate_len(64)
    }

    /// A new random verifier of `len` characters, clamped to 43..=128.
    pub fn generate_len(len: usize) -> Self {
        let len = len.clamp(43, 128);
        let mut rng = rand::rng();
        let s: String = (0..len)
            .map(|_| char::from(UNRESERVED[rng.random_range(0..UNRESERVED.len())]))
            .collect();
        Self(Zeroizing::new(s))
    }

    /// Accepts a verifier received from a client, checking its length and alphabet.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if !(43..=128).contains(&s.len()) || !s.bytes().all(is_unreserved) {
            return Err(PkceError::BadVerifier.into());
        }
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// The verifier, to send in the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The S256 challenge for this verifier.
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(URL_SAFE_NO_PAD.encode(sha256(self.0.as_bytes())))
    }
}

/// The `code_challenge_method` parameter. `Plain` exists only so that it can be named in
/// an error: idp never accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeChallengeMethod {
    /// `S256`: BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: refused.
    Plain,
}

impl CodeChallengeMethod {
    /// Parses the parameter; anything but `S256` and `plain` is an error. Absent means
    /// `plain` per RFC 7636 §4.3, so callers should pass `"plain"` for a missing method.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "S256" => Ok(Self::S256),
            "plain" => Ok(Self::Plain),
            _ => Err(PkceError::UnknownMethod.into()),
        }
    }

    /// Accepts only `S256`.
    pub fn require_s256(self) -> Result<(), Error> {
        match self {
            Self::S256 => Ok(()),
            Self::Plain => Err(PkceError::PlainNotAllowed.into()),
        }
    }

    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// An S256 `code_challenge`: 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Accepts a challenge received in an authorization request.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(s)
                .map(|v| v.len() == 32)
                .unwrap_or(false);
        if !ok {
            return Err(PkceError::BadChallenge.into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The challenge string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a verifier against this challenge in constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> Result<(), Error> {
        let expected = verifier.challenge();
        if bool::from(expected.0.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(PkceError::Mismatch.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        let v = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            v.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        c.verify(&v).unwrap();
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        for len in [0, 43, 64, 128, 500] {
            let v = CodeVerifier::generate_len(len);
            CodeVerifier::parse(v.secret()).unwrap();
            assert!((43..=128).contains(&v.secret().len()));
        }
        assert_ne!(CodeVerifier::generate(), CodeVerifier::generate());
    }

    #[test]
    fn verifier_bounds() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}+", "a".repeat(43))).is_err());
    }

    #[test]
    fn plain_is_refused() {
        let m = CodeChallengeMethod::parse("plain").unwrap();
        assert_eq!(
            m.require_s256().unwrap_err(),
            Error::Pkce(PkceError::PlainNotAllowed)
        );
        assert!(CodeChallengeMethod::parse("s256").is_err());
        CodeChallengeMethod::parse("S256")
            .unwrap()
            .require_s256()
            .unwrap();
    }

    #[test]
    fn wrong_verifier_mismatches() {
        let v = CodeVerifier::generate();
        let c = CodeVerifier::generate().challenge();
        assert_eq!(c.verify(&v).unwrap_err(), Error::Pkce(PkceError::Mismatch));
        assert!(CodeChallenge::parse("short").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let v = CodeVerifier::generate();
        assert!(!format!("{v:?}").contains(v.secret()));
    }
}
