//! Where the auth layer gets its verification keys: a fixed set, a [`JwksCache`], or a
//! cache created on first use from the provider's discovery document.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use idp_client::{Discovery, HttpClient, JwksCache};
use idp_core::{
    AccessTokenClaims, Clock, SystemClock, TokenError, ValidationPolicy, VerificationKeys,
};
use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;

use crate::challenge::Rejection;

/// Seconds during which a failed discovery is not retried (every request meanwhile gets
/// `503` without touching the provider).
const DISCOVERY_RETRY_SECS: i64 = 30;

pub(crate) enum KeySource {
    /// Keys given at construction; validation needs no I/O.
    Static {
        keys: Arc<VerificationKeys>,
        clock: Arc<dyn Clock>,
    },
    /// A JWK Set cache (given, or built from a `jwks_uri`).
    Jwks(JwksCache),
    /// The `jwks_uri` is read from the discovery document on first use.
    Discovery(Discovered),
}

pub(crate) struct Discovered {
    pub(crate) discovery: Discovery,
    pub(crate) http: HttpClient,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: OnceLock<JwksCache>,
    /// Unix time before which a failed discovery is not retried.
    pub(crate) retry_at: AtomicI64,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static { keys, .. } => f
                .debug_struct("Static")
                .field("keys", &keys.len())
                .finish_non_exhaustive(),
            Self::Jwks(cache) => f.debug_tuple("Jwks").field(cache).finish(),
            Self::Discovery(d) => f
                .debug_struct("Discovery")
                .field("url", &d.discovery.url().as_str())
                .field("jwks", &d.cache.get())
                .finish_non_exhaustive(),
        }
    }
}

impl KeySource {
    /// Validates without waiting when the keys are at hand (static keys); `None` when the
    /// keys must be fetched or looked up asynchronously.
    pub(crate) fn validate_now<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        token: &str,
    ) -> Option<Result<AccessTokenClaims<C>, Rejection>> {
        match self {
            Self::Static { keys, clock } => Some(
                policy
                    .validate::<AccessTokenClaims<C>>(token, keys, &**clock)
                    .map(|v| v.claims)
                    .map_err(|e| core_rejection(&e)),
            ),
            Self::Jwks(_) | Self::Discovery(_) => None,
        }
    }

    /// Validates `token` against the keys, fetching them if needed.
    pub(crate) async fn validate<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        token: &str,
    ) -> Result<AccessTokenClaims<C>, Rejection> {
        let cache = match self {
            Self::Static { .. } => {
                return match self.validate_now(policy, token) {
                    Some(r) => r,
                    None => Err(Rejection::Unavailable),
                };
            }
            // JwksCache::validate refuses hopeless tokens before it fetches keys.
            Self::Jwks(cache) => cache,
            Self::Discovery(d) => match d.cache.get() {
                Some(cache) => cache,
                None => {
                    // Nothing fetched yet: a hopeless token must not cost a discovery fetch.
                    precheck(policy, token)?;
                    d.cache().await?
                }
            },
        };
        cache
            .validate::<AccessTokenClaims<C>>(policy, token)
            .await
            .map(|v| v.claims)
            .map_err(|e| client_rejection(&e))
    }
}

impl Discovered {
    async fn cache(&self) -> Result<&JwksCache, Rejection> {
        if let Some(c) = self.cache.get() {
            return Ok(c);
        }
        let now = self.clock.unix_now();
        if now < self.retry_at.load(Ordering::Acquire) {
            return Err(Rejection::Unavailable);
        }
        let built = async {
            let metadata = self.discovery.metadata().await?;
            let uri = metadata
                .jwks_uri
                .as_deref()
                .ok_or(idp_client::Error::MissingEndpoint("jwks_uri"))?;
            JwksCache::builder(uri)
                .http_client(self.http.clone())
                .clock(self.clock.clone())
                .build()
        }
        .await;
        match built {
            Ok(cache) => Ok(self.cache.get_or_init(|| cache)),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    url = %self.discovery.url(),
                    "discovery failed; answering 503 and retrying in {DISCOVERY_RETRY_SECS} s"
                );
                self.retry_at
                    .store(now.saturating_add(DISCOVERY_RETRY_SECS), Ordering::Release);
                Err(Rejection::Unavailable)
            }
        }
    }
}

/// Refuses, before discovery, a token that no key could make valid: not a JWS, `alg`
/// outside the allow-list (`none`, HMAC), `crit`, an empty signature. Garbage then costs no
/// fetch of the provider's discovery document (`JwksCache::validate` does the same before
/// fetching keys). Validating against an empty key set
/// runs exactly the checks that come before the key lookup, which then fails with
/// `UnknownKey`.
fn precheck(policy: &ValidationPolicy, token: &str) -> Result<(), Rejection> {
    match policy.validate::<IgnoredAny>(token, &VerificationKeys::default(), &SystemClock) {
        Err(idp_core::Error::InvalidToken(TokenError::UnknownKey)) | Ok(_) => Ok(()),
        Err(e) => Err(core_rejection(&e)),
    }
}

/// The one mapping from validator errors to what goes on the wire.
fn token_rejection(e: &TokenError) -> Rejection {
    tracing::debug!(reason = %e, "bearer token rejected");
    Rejection::InvalidToken(match e {
        TokenError::Malformed => "malformed token",
        TokenError::MissingClaim(_) => "missing claim",
        TokenError::UnknownKey => "unknown key id",
        TokenError::AlgorithmNotAllowed => "algorithm not allowed",
        TokenError::BadSignature => "bad signature",
        TokenError::Expired => "token expired",
        TokenError::NotYetValid => "token not yet valid",
        TokenError::WrongIssuer => "wrong issuer",
        TokenError::WrongAudience => "wrong audience",
        TokenError::WrongType => "wrong token type",
        _ => "invalid token",
    })
}

fn core_rejection(e: &idp_core::Error) -> Rejection {
    match e {
        idp_core::Error::InvalidToken(t) => token_rejection(t),
        other => {
            tracing::debug!(reason = %other, "bearer token rejected");
            Rejection::InvalidToken("invalid token")
        }
    }
}

fn client_rejection(e: &idp_client::Error) -> Rejection {
    match e {
        idp_client::Error::Token(core) => core_rejection(core),
        e if e.is_token_rejected() => {
            tracing::debug!(reason = %e, "bearer token rejected");
            Rejection::InvalidToken("invalid token")
        }
        e => {
            // JwksUnavailable, or anything else that is not about the token: the keys
            // cannot be had. Detail goes to the log, never onto the wire.
            tracing::warn!(error = %e, "no usable signing keys; answering 503");
            Rejection::Unavailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ValidationPolicy {
        ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .audience("api")
            .algorithms([idp_core::Algorithm::ES256])
            .build()
            .unwrap()
    }

    fn jws(header: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn precheck_refuses_what_no_key_can_fix() {
        let p = policy();
        assert!(precheck(&p, &jws(r#"{"alg":"ES256","kid":"new"}"#)).is_ok());
        assert!(precheck(&p, &jws(r#"{"alg":"ES256"}"#)).is_ok());
        for (header, why) in [
            (r#"{"alg":"none","kid":"new"}"#, "algorithm not allowed"),
            (r#"{"alg":"HS256","kid":"new"}"#, "algorithm not allowed"),
            (r#"{"alg":"RS256","kid":"new"}"#, "algorithm not allowed"),
            (
                r#"{"alg":"ES256","kid":"new","crit":["x"]}"#,
                "malformed token",
            ),
        ] {
            assert_eq!(
                precheck(&p, &jws(header)),
                Err(Rejection::InvalidToken(why))
            );
        }
        assert_eq!(
            precheck(&p, "garbage"),
            Err(Rejection::InvalidToken("malformed token"))
        );
    }

    #[test]
    fn client_errors_map_to_401_or_503() {
        let e: idp_client::Error = idp_core::Error::InvalidToken(TokenError::Expired).into();
        assert_eq!(
            client_rejection(&e),
            Rejection::InvalidToken("token expired")
        );
        let e = idp_client::Error::JwksUnavailable(None);
        assert_eq!(client_rejection(&e), Rejection::Unavailable);
        let e = idp_client::Error::Status {
            status: 500,
            retry_after: None,
        };
        assert_eq!(client_rejection(&e), Rejection::Unavailable);
    }
}
