//! The crate's error type.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use idp_core::ErrorResponse;

/// Everything that can fail in idp-client.
///
/// Callers usually branch on a few questions, each answered by a method:
/// [`Error::oauth_error`] (did the provider answer with an OAuth error body?),
/// [`Error::retry_after`] (did it ask us to come back later?) and
/// [`Error::is_token_rejected`] (was a token refused, as opposed to the provider or the
/// network failing?).
///
/// The type is `Clone` so that a single failed request can be reported to every caller that
/// was waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be sent or its response could not be read (connection refused,
    /// DNS, TLS, timeout).
    #[error("request to the provider failed")]
    Transport(#[source] TransportError),

    /// The provider answered with a redirect. Redirects are never followed: a provider
    /// endpoint that redirects is misconfigured or is not the provider.
    #[error("the provider answered with a redirect (HTTP {status}); redirects are not followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },

    /// The provider answered with an OAuth error body (RFC 6749 §5.2, RFC 7009, RFC 7662,
    /// RFC 6750 §3).
    #[error("the provider refused the request (HTTP {status}): {response}")]
    OAuth {
        /// The HTTP status.
        status: u16,
        /// The error body.
        response: ErrorResponse,
        /// The provider's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },

    /// The provider answered with an unexpected status and no OAuth error body.
    #[error("unexpected HTTP status {status} from the provider")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The provider's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },

    /// A response body was not what the protocol requires (bad JSON, missing members, too
    /// large, an unsupported `token_type`).
    #[error("invalid response from the provider: {0}")]
    InvalidResponse(String),

    /// Discovery returned metadata for another issuer.
    #[error("discovery returned issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` in the document.
        found: String,
    },

    /// The provider metadata has no endpoint for this operation.
    #[error("the provider metadata has no {0}")]
    MissingEndpoint(&'static str),

    /// A URL is malformed, or uses plain `http` for a host that is not loopback.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),

    /// The user must sign in again: the refresh token was refused with `invalid_grant` (the
    /// grant was revoked or has expired), or the access token expired and there is no
    /// refresh token ([`TokenManager`](crate::TokenManager)).
    #[error("the session's tokens can no longer be refreshed; sign in again")]
    SignInRequired,

    /// A builder was given settings that cannot work.
    #[error("invalid configuration: {0}")]
    Config(&'static str),

    /// A token (ID token or access token) failed validation.
    #[error(transparent)]
    Token(#[from] idp_core::Error),

    /// An ID token passed the validator but its `at_hash` does not match the access token.
    #[error("the ID token's at_hash does not match the access token")]
    AtHashMismatch,

    /// The authorization callback was refused.
    #[error("authorization callback refused: {0}")]
    Callback(#[from] CallbackError),

    /// A logout token passed the validator (signature, `iss`, `aud`, `exp`) but breaks a
    /// rule of Back-Channel Logout 1.0 §2.6.
    #[error("logout token refused: {0}")]
    LogoutToken(#[from] LogoutTokenError),

    /// No usable signing keys: the JWK Set was never fetched, or the last good one has been
    /// stale for longer than allowed and fetching it again failed.
    #[error("no usable signing keys (the JWK Set could not be fetched)")]
    JwksUnavailable(#[source] Option<Box<Error>>),
}

impl Error {
    /// The provider's OAuth error body, when it sent one (a token, revocation or
    /// introspection error, or an error in the authorization callback).
    pub fn oauth_error(&self) -> Option<&ErrorResponse> {
        match self {
            Self::OAuth { response, .. } => Some(response),
            Self::Callback(CallbackError::Authorization(response)) => Some(response),
            _ => None,
        }
    }

    /// The HTTP status of the provider's answer, for [`Error::OAuth`], [`Error::Status`] and
    /// [`Error::Redirect`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Status { status, .. }
            | Self::Redirect { status } => Some(*status),
            _ => None,
        }
    }

    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::OAuth { retry_after, .. } | Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a token was refused (bad signature, expired, unknown key, wrong nonce, a
    /// logout token without its event, …),
    /// as opposed to the provider, the network or the configuration failing. A resource
    /// server answers the former with 401 and the latter with 5xx.
    pub fn is_token_rejected(&self) -> bool {
        matches!(
            self,
            Self::Token(idp_core::Error::InvalidToken(_))
                | Self::AtHashMismatch
                | Self::LogoutToken(_)
        )
    }

    pub(crate) fn invalid_response(what: impl Into<String>) -> Self {
        Self::InvalidResponse(what.into())
    }
}

/// Why an authorization callback (the redirect back from the provider) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The provider reported an error (`error=access_denied`, `login_required`, …). The
    /// callback's `state` and `iss` were checked first, so this came from the provider.
    #[error("{0}")]
    Authorization(ErrorResponse),
    /// The callback has no `state`.
    #[error("missing state")]
    MissingState,
    /// The callback's `state` is not the one this authorization request sent: a forged or
    /// replayed callback (CSRF).
    #[error("state mismatch")]
    StateMismatch,
    /// The callback's `iss` (RFC 9207) names another issuer: a mix-up attack.
    #[error("iss mismatch")]
    IssuerMismatch,
    /// The provider advertises `authorization_response_iss_parameter_supported` but the
    /// callback has no `iss`.
    #[error("missing iss")]
    MissingIssuer,
    /// The callback has neither `code` nor `error`.
    #[error("missing code")]
    MissingCode,
    /// A parameter appears more than once.
    #[error("duplicate parameter")]
    DuplicateParameter,
}

/// Why a logout token was refused after its signature, `iss`, `aud` and `exp` were found
/// good (OpenID Connect Back-Channel Logout 1.0 §2.6). Those four, and the algorithm, fail
/// as [`Error::Token`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// The header's `typ` is neither `logout+jwt` nor `JWT` (e.g. `at+jwt`: another kind
    /// of token).
    #[error("the typ header is neither logout+jwt nor JWT")]
    WrongType,
    /// There is no `iat` claim.
    #[error("no iat claim")]
    MissingIat,
    /// `iat` is later than now plus the leeway.
    #[error("iat is in the future")]
    IssuedInFuture,
    /// There is no `events` claim, it is not a JSON object, or it lacks the member
    /// `http://schemas.openid.net/event/backchannel-logout`.
    #[error("no events claim with the member http://schemas.openid.net/event/backchannel-logout")]
    MissingEvent,
    /// The value of the back-channel logout event is not a JSON object.
    #[error("the backchannel-logout member of events is not a JSON object")]
    EventNotObject,
    /// The token has a `nonce` claim, which logout tokens must not have (so that one cannot
    /// pass for an ID token, nor an ID token for one).
    #[error("a nonce claim is present")]
    NoncePresent,
    /// The token has neither `sub` nor `sid`.
    #[error("neither sub nor sid is present")]
    MissingSubject,
    /// A claim has the wrong JSON type, or is an empty string.
    #[error("the {0} claim has the wrong type or is empty")]
    BadClaim(&'static str),
}

/// A transport failure (connect, TLS, timeout, reading the body). The underlying error is
/// available through [`std::error::Error::source`].
///
/// A [`Transport`](crate::Transport) of your own reports its failures with
/// [`TransportError::new`]; the [`Client`](crate::Client) wraps them in [`Error::Transport`].
#[derive(Clone)]
pub struct TransportError {
    inner: Arc<dyn std::error::Error + Send + Sync>,
    timeout: bool,
    connect: bool,
}

impl TransportError {
    /// Wraps the error of a transport. A `TransportError` given here is returned as is.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let boxed = error.into();
        match boxed.downcast::<TransportError>() {
            Ok(e) => *e,
            Err(other) => Self {
                inner: Arc::from(other),
                timeout: false,
                connect: false,
            },
        }
    }

    /// Marks the error as a timeout (see [`is_timeout`](Self::is_timeout)).
    pub fn timed_out(mut self) -> Self {
        self.timeout = true;
        self
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        let (timeout, connect) = (e.is_timeout(), e.is_connect());
        // reqwest puts the URL (query string included) into its errors; the URLs we call
        // carry no secrets in their query, but strip it anyway before it can reach a log.
        Self {
            inner: Arc::new(e.without_url()),
            timeout,
            connect,
        }
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// Whether the connection could not be established.
    pub fn is_connect(&self) -> bool {
        self.connect
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("timeout", &self.is_timeout())
            .field("connect", &self.is_connect())
            .field("source", &self.inner)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_timeout() {
            f.write_str("timed out")
        } else if self.is_connect() {
            f.write_str("could not connect")
        } else {
            f.write_str("transport error")
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::ErrorCode;

    #[test]
    fn errors_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn accessors() {
        let e = Error::OAuth {
            status: 400,
            response: ErrorResponse::new(ErrorCode::InvalidGrant),
            retry_after: None,
        };
        assert_eq!(e.oauth_error().unwrap().error, ErrorCode::InvalidGrant);
        assert_eq!(e.status(), Some(400));
        assert!(!e.is_token_rejected());
        let e = Error::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let e: Error = idp_core::Error::InvalidToken(idp_core::TokenError::Expired).into();
        assert!(e.is_token_rejected());
        let e: Error = LogoutTokenError::NoncePresent.into();
        assert!(e.is_token_rejected());
        assert_eq!(
            e.to_string(),
            "logout token refused: a nonce claim is present"
        );
        let e: Error =
            CallbackError::Authorization(ErrorResponse::new(ErrorCode::AccessDenied)).into();
        assert_eq!(e.oauth_error().unwrap().error, ErrorCode::AccessDenied);
    }
}
