//! Protocol errors and their one mapping to HTTP responses (RFC 6749 §5.2, RFC 6750 §3).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::{ErrorCode, ErrorResponse};

/// An error answered to the client as an OAuth JSON body with `Cache-Control: no-store`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    body: ErrorResponse,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode) -> Self {
        Self {
            body: ErrorResponse::new(code),
        }
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
        Self { body }
    }
}

pub(crate) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.body.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let is_client = self.body.error == ErrorCode::InvalidClient;
        let mut resp = (status, axum::Json(self.body)).into_response();
        no_store(&mut resp);
        if is_client {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idp\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
