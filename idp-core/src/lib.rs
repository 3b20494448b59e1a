#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod claims;
mod clock;
mod discovery;
mod duration;
mod error;
mod jwk;
mod jws;
mod oauth_error;
mod pkce;
mod scope;
mod secret;
#[doc(hidden)]
pub mod test_support;
mod token;
mod validator;

pub use claims::{AccessTokenClaims, Audience, IdTokenClaims, NoExtra, StandardClaims, TokenUse};
pub use clock::{Clock, FixedClock, SystemClock};
pub use discovery::ProviderMetadata;
pub use duration::{HumanDuration, parse_duration};
pub use error::{Error, JwkError, PkceError, TokenError};
pub use jwk::{Algorithm, Jwk, JwkSet, KeyType, VerificationKey, VerificationKeys};
pub use jws::{JwsSigner, MAX_TOKEN_LEN, UnverifiedJwt, encode_jws};
pub use oauth_error::{BearerChallenge, ErrorCode, ErrorResponse};
pub use pkce::{CodeChallenge, CodeChallengeMethod, CodeVerifier};
pub use scope::Scope;
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, DeviceCode, Password, RefreshToken, random_token,
    sha256, sha256_b64url,
};
pub use token::{
    DeviceAuthorizationResponse, GrantType, IntrospectionResponse, TokenRequest, TokenResponse,
    TokenTypeHint, at_hash,
};
pub use validator::{JwtHeader, Validated, ValidationPolicy, ValidationPolicyBuilder};
