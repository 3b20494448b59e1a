//! The crate's two errors: [`Error`] for everything outside a protocol exchange, and the
//! protocol error (`OAuthError`) with its one mapping to HTTP responses (RFC 6749 §5.2,
//! RFC 6750 §3).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::{ErrorCode, ErrorResponse};

use crate::store::StoreError;

/// Everything that can go wrong in idp-server outside a protocol exchange (protocol errors
/// are answered to the client as RFC 6749 / 6750 bodies and never surface as this type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message starts with the setting's name.
    #[error("configuration: {0}")]
    Config(String),
    /// Input to the management API was refused; the message says why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A record with the same identity exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A hook refused the operation; the message is the hook's.
    #[error("rejected by hook: {0}")]
    Rejected(String),
    /// A hook panicked, or a before-token hook produced a registered claim: the operation
    /// failed (a 500 without detail over HTTP). Names the moment.
    #[error("the {0} hook failed")]
    HookFailed(&'static str),
    /// The storage backend failed; the source says how.
    #[error("storage: {0}")]
    Storage(#[source] StoreError),
    /// A cryptographic operation failed (key generation, decryption of a stored key with
    /// the wrong encryption key, signing).
    #[error("crypto: {0}")]
    Crypto(String),
    /// Every turn of the password-hashing budget was taken for longer than its wait: try
    /// again in a moment.
    #[error("busy: too many password checks at once")]
    Busy,
    /// An I/O error (binding the listener, reading a file).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::NotFound => Error::NotFound,
            // A database URL is configuration.
            StoreError::UnsupportedUrl(m) => Error::Config(m),
            other => Error::Storage(other),
        }
    }
}

/// A value an attacker sent (a client id, an e-mail address), cut for a log line: at most
/// 128 characters. Log it with `?` (Debug), which quotes and escapes it, so that it cannot
/// forge a line of its own.
pub(crate) fn loggable(value: &str) -> &str {
    match value.char_indices().nth(128) {
        Some((at, _)) => &value[..at],
        None => value,
    }
}

/// An error answered to the client as an OAuth JSON body with `Cache-Control: no-store`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    body: ErrorResponse,
    /// Set for rate-limited and busy answers: `Retry-After`.
    retry_after: Option<u64>,
    /// 503 rather than 429.
    busy: bool,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode) -> Self {
        Self {
            body: ErrorResponse::new(code),
            retry_after: None,
            busy: false,
        }
    }

    /// Too many requests: 429 with `Retry-After` (seconds, at least 1).
    pub(crate) fn too_many(retry_after: std::time::Duration) -> Self {
        let mut e = Self::new(ErrorCode::TemporarilyUnavailable).describe("too many requests");
        e.retry_after = Some(retry_after.as_secs().max(1));
        e
    }

    pub(crate) fn describe(mut self, d: impl AsRef<str>) -> Self {
        self.body = self.body.with_description(d);
        self
    }

    pub(crate) fn invalid_request(d: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidRequest).describe(d)
    }

    pub(crate) fn invalid_client(d: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidClient).describe(d)
    }

    pub(crate) fn invalid_grant(d: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidGrant).describe(d)
    }

    /// The server is at a budget (password hashing): 503 with `Retry-After` (RFC 6749
    /// §5.2 `temporarily_unavailable`).
    pub(crate) fn busy() -> Self {
        let mut e = Self::new(ErrorCode::TemporarilyUnavailable).describe("the server is busy");
        e.retry_after = Some(1);
        e.busy = true;
        e
    }

    /// A failure on our side: logged in full, answered without detail.
    pub(crate) fn server(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(ErrorCode::ServerError)
    }
}

impl From<ErrorResponse> for OAuthError {
    fn from(body: ErrorResponse) -> Self {
        Self {
            body,
            retry_after: None,
            busy: false,
        }
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.retry_after {
            Some(_) if self.busy => StatusCode::SERVICE_UNAVAILABLE,
            Some(_) => StatusCode::TOO_MANY_REQUESTS,
            None => {
                StatusCode::from_u16(self.body.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
        };
        let retry_after = self.retry_after;
        let is_client = self.body.error == ErrorCode::InvalidClient;
        let mut resp = (status, axum::Json(self.body)).into_response();
        no_store(&mut resp);
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if is_client {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idp\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
