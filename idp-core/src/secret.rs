//! Secret newtypes: redacted `Debug`, no `Display`, constant-time comparison, zeroized on
//! drop.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` prints the type name and `[redacted]`; equality runs in constant time; the
        /// value is zeroed when dropped.
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret itself. Call this only where the value must leave the process
            /// (a request body, a hash).
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// An OAuth client secret.
    ClientSecret
);
secret_type!(
    /// A user's password.
    Password
);
secret_type!(
    /// An opaque refresh token.
    RefreshToken
);
secret_type!(
    /// An authorization code.
    AuthorizationCode
);
secret_type!(
    /// An access token (a JWT or an opaque value).
    AccessToken
);
secret_type!(
    /// A device code (RFC 8628 §3.2): what a device polls the token endpoint with.
    DeviceCode
);

impl RefreshToken {
    /// A new random refresh token (256 bits, base64url).
    pub fn generate() -> Self {
        Self::new(random_token())
    }
}

impl AuthorizationCode {
    /// A new random authorization code (256 bits, base64url).
    pub fn generate() -> Self {
        Self::new(random_token())
    }
}

impl DeviceCode {
    /// A new random device code (256 bits, base64url).
    pub fn generate() -> Self {
        Self::new(random_token())
    }
}

/// 256 bits from a CSPRNG (ChaCha12 seeded by the operating system), base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut buf = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(buf.as_mut());
    URL_SAFE_NO_PAD.encode(buf.as_ref())
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 of `data`, base64url without padding: how opaque tokens are stored.
pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("hunter2");
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "ClientSecret([redacted])");
        assert!(!dbg.contains("hunter2"));
        let p = Password::new("pw-123456");
        assert!(!format!("{p:?}").contains("pw-123456"));
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(ClientSecret::new("a"), ClientSecret::new("a"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("b"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("aa"));
    }

    #[test]
    fn random_tokens_are_256_bits_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(RefreshToken::generate(), RefreshToken::generate());
    }

    #[test]
    fn sha256_known_vector() {
        // FIPS 180-2 "abc"
        assert_eq!(
            sha256_b64url(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
