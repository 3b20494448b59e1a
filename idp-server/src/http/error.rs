//! Protocol errors and their one mapping to HTTP responses (RFC 6749 §5.2, RFC 6750 §3).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::{ErrorCode, ErrorResponse};

/// An error answered to the client as an OAuth JSON body with `Cache-Control: no-store`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    body: ErrorResponse,
    /// Set for rate-limited requests: 429 with `Retry-After`.
    retry_after: Option<u64>,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode) -> Self {
        Self {
            body: ErrorResponse::new(code),
            retry_after: None,
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
        }
    }
}

pub(crate) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.retry_after {
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
