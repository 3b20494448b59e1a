//! Where the auth layer gets its verification keys: a fixed set, a [`JwksCache`], or a
//! cache created on first use from the provider's discovery document.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use idp_client::{Discovery, HttpClient, JwksCache};
use idp_core::{
    AccessTokenClaims, Clock, TokenError, UnverifiedJwt, ValidationPolicy, VerificationKeys,
};
use serde::de::DeserializeOwned;

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

/// A bearer token that has been parsed (the request's one JOSE header decode) and has passed
/// the policy's pre-check. Only [`parse`] makes one, so holding one proves that a hopeless
/// token can no longer cost a fetch of keys or of the discovery document.
#[derive(Debug)]
pub(crate) struct Prechecked<'t>(UnverifiedJwt<'t>);

impl Prechecked<'_> {
    /// The same token, owning its text, to move into the validation future.
    pub(crate) fn into_owned(self) -> Prechecked<'static> {
        Prechecked(self.0.into_owned())
    }
}

/// Parses `token` and runs `policy`'s pre-check ([`ValidationPolicy::precheck`]): refuses
/// what no key could make valid (not a JWS, `alg` outside the allow-list, `none`, HMAC,
/// `crit`, an empty signature) before any key is looked up or fetched.
pub(crate) fn parse<'t>(
    policy: &ValidationPolicy,
    token: &'t str,
) -> Result<Prechecked<'t>, Rejection> {
    let jwt = UnverifiedJwt::parse(token).map_err(|e| core_rejection(&e))?;
    policy.precheck(&jwt).map_err(|e| core_rejection(&e))?;
    Ok(Prechecked(jwt))
}

impl KeySource {
    /// Validates without waiting when the keys are at hand (static keys); `None` when the
    /// keys must be fetched or looked up asynchronously.
    pub(crate) fn validate_now<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        jwt: &Prechecked<'_>,
    ) -> Option<Result<AccessTokenClaims<C>, Rejection>> {
        match self {
            Self::Static { keys, clock } => Some(
                policy
                    .verify::<AccessTokenClaims<C>>(&jwt.0, keys, &**clock)
                    .map(|v| v.claims)
                    .map_err(|e| core_rejection(&e)),
            ),
            Self::Jwks(_) | Self::Discovery(_) => None,
        }
    }

    /// Validates `jwt` against the keys, fetching them if needed.
    pub(crate) async fn validate<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        jwt: &Prechecked<'_>,
    ) -> Result<AccessTokenClaims<C>, Rejection> {
        let cache = match self {
            Self::Static { .. } => {
                return match self.validate_now(policy, jwt) {
                    Some(r) => r,
                    None => Err(Rejection::Unavailable),
                };
            }
            Self::Jwks(cache) => cache,
            // `jwt` is `Prechecked`: a hopeless token never gets here to cost a discovery
            // fetch.
            Self::Discovery(d) => d.cache().await?,
        };
        cache
            .verify::<AccessTokenClaims<C>>(policy, &jwt.0)
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

/// The one mapping from validator errors to what goes on the wire: the description is
/// idp-core's [`TokenError::error_description`].
fn token_rejection(e: &TokenError) -> Rejection {
    tracing::debug!(reason = %e, "bearer token rejected");
    Rejection::InvalidToken(e.error_description())
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

    fn precheck(p: &ValidationPolicy, token: &str) -> Result<(), Rejection> {
        parse(p, token).map(|_| ())
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
