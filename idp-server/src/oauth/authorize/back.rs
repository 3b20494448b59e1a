//! Responses that go back to the client's redirect URI once it is known to be registered:
//! a code or an error, always with `state` and `iss` (RFC 9207).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::ErrorCode;
use url::Url;

use crate::web::App;

/// Where errors and codes go once the client and redirect URI are known.
pub(crate) struct Back<'a> {
    pub(crate) app: &'a App,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) after_post: bool,
}

impl Back<'_> {
    /// A redirect to the client with `params`, `state` and `iss`.
    pub(crate) fn to(&self, params: &[(&str, &str)]) -> Response {
        let mut url = match Url::parse(&self.redirect_uri) {
            Ok(u) => u,
            Err(_) => {
                return self.app.templates.error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The redirect URI is invalid.",
                );
            }
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(s) = &self.state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", self.app.issuer.as_str());
        }
        let status = if self.after_post {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        };
        let mut resp = status.into_response();
        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    /// An error redirect (RFC 6749 §4.1.2.1).
    pub(crate) fn error(&self, code: ErrorCode, description: &str) -> Response {
        let d = idp_core::ErrorResponse::new(code.clone()).with_description(description);
        self.to(&[
            ("error", code.as_str()),
            (
                "error_description",
                d.error_description.as_deref().unwrap_or(""),
            ),
        ])
    }
}
