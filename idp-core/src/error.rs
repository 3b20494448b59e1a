//! The crate's error type.

use thiserror::Error as ThisError;

/// Everything that can fail in idp-core.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A token failed validation; the inner value says which check.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] TokenError),
    /// A JSON Web Key could not be used.
    #[error("invalid JWK: {0}")]
    InvalidJwk(#[from] JwkError),
    /// A PKCE verifier, challenge or method was refused.
    #[error("PKCE: {0}")]
    Pkce(#[from] PkceError),
    /// A duration string was not a whole number followed by `s`, `m`, `h` or `d`.
    #[error("invalid duration {0:?}: expected a number followed by s, m, h or d, e.g. \"15m\"")]
    InvalidDuration(String),
    /// A scope string contained a character RFC 6749 §3.3 does not allow.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// A validation policy was built without something it needs.
    #[error("invalid validation policy: {0}")]
    InvalidPolicy(&'static str),
    /// A signing algorithm name that idp does not accept (including `none` and HMAC).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A JWS could not be produced: the claims do not serialise, or the signer failed.
    #[error("JWS signing failed: {0}")]
    Signing(&'static str),
}

/// Why a token was rejected by the validator.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts, or a header or payload that is not the expected JSON.
    #[error("malformed token")]
    Malformed,
    /// A claim the policy needs (such as `exp`) is absent.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// No key in the key set matches the token's `kid` (a key set refresh may help).
    #[error("no key with the token's key id")]
    UnknownKey,
    /// The header's `alg` is `none`, HMAC, not in the policy's allow-list, or does not fit
    /// the key.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` (plus leeway) is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` (minus leeway) is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` differs from the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No `aud` value is one of the accepted audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// The header's `typ` is not the required type.
    #[error("wrong token type")]
    WrongType,
    /// The `nonce` claim differs from the expected nonce.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// `azp` is missing where several audiences require it, or names another client.
    #[error("wrong authorized party")]
    WrongAuthorizedParty,
}

impl TokenError {
    /// The short text for the `error_description` of an RFC 6750 §3 `invalid_token`
    /// challenge (or an RFC 6749 error body): lower case, a few words, only characters
    /// RFC 6750 §3 allows in the attribute, and nothing taken from the token.
    ///
    /// ```
    /// use idp_core::{BearerChallenge, ErrorCode, TokenError};
    /// let e = TokenError::Expired;
    /// let challenge = BearerChallenge::new()
    ///     .error(ErrorCode::InvalidToken)
    ///     .description(e.error_description());
    /// assert_eq!(
    ///     challenge.to_string(),
    ///     r#"Bearer error="invalid_token", error_description="token expired""#
    /// );
    /// ```
    pub fn error_description(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed token",
            Self::MissingClaim(_) => "missing claim",
            Self::UnknownKey => "unknown key id",
            Self::AlgorithmNotAllowed => "algorithm not allowed",
            Self::BadSignature => "bad signature",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::WrongIssuer => "wrong issuer",
            Self::WrongAudience => "wrong audience",
            Self::WrongType => "wrong token type",
            Self::NonceMismatch => "nonce mismatch",
            Self::WrongAuthorizedParty => "wrong authorized party",
        }
    }
}

/// Why a JSON Web Key cannot be used for verification.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum JwkError {
    /// A member the key type requires is missing.
    #[error("missing member `{0}`")]
    MissingMember(&'static str),
    /// A member is not valid base64url or has the wrong length.
    #[error("bad member `{0}`")]
    BadMember(&'static str),
    /// A key type or curve that idp does not verify with (e.g. `oct`: never HMAC with a
    /// published key).
    #[error("unsupported key type or curve")]
    Unsupported,
    /// The key's `use` is not `sig`.
    #[error("key is not for signatures")]
    NotForSignatures,
}

/// Why a PKCE value was refused.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum PkceError {
    /// A verifier outside 43–128 unreserved characters (RFC 7636 §4.1).
    #[error("code_verifier must be 43 to 128 unreserved characters")]
    BadVerifier,
    /// A challenge that is not 43 base64url characters.
    #[error("code_challenge must be 43 base64url characters")]
    BadChallenge,
    /// `code_challenge_method=plain`, which idp never accepts.
    #[error("code_challenge_method plain is not allowed; use S256")]
    PlainNotAllowed,
    /// A method other than `S256` or `plain`.
    #[error("unknown code_challenge_method")]
    UnknownMethod,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_descriptions_fit_rfc6750() {
        let all = [
            TokenError::Malformed,
            TokenError::MissingClaim("exp"),
            TokenError::UnknownKey,
            TokenError::AlgorithmNotAllowed,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::WrongIssuer,
            TokenError::WrongAudience,
            TokenError::WrongType,
            TokenError::NonceMismatch,
            TokenError::WrongAuthorizedParty,
        ];
        for e in all {
            let d = e.error_description();
            assert!(!d.is_empty());
            // error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
            assert!(
                d.bytes()
                    .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                "{d}"
            );
        }
        assert_eq!(
            TokenError::MissingClaim("exp").error_description(),
            "missing claim"
        );
        assert_eq!(
            TokenError::WrongType.error_description(),
            "wrong token type"
        );
    }
}
