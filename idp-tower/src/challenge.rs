//! Rejections and the request extensions the layers share.
//!
//! Every refusal in this crate is built here, in one place, from a [`Rejection`]: the status
//! and the RFC 6750 §3 `WWW-Authenticate` challenge. Bodies are empty; the challenge carries
//! the error, and `503`/`500` carry no detail at all.

use std::sync::Arc;

use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use idp_core::{BearerChallenge, ErrorCode, Scope};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No bearer token (no `Authorization` header, or another scheme): `401`, a bare
    /// challenge without an error code (RFC 6750 §3.1).
    Missing,
    /// A malformed `Authorization` header (repeated, empty credentials, not visible ASCII):
    /// `400 invalid_request`.
    InvalidRequest(&'static str),
    /// The token was refused: `401 invalid_token` with a short description.
    InvalidToken(&'static str),
    /// The token lacks scope: `403 insufficient_scope` with the scope the resource needs.
    InsufficientScope(String),
    /// The token is not for the request's tenant (another tenant, or none): `403
    /// insufficient_scope` with a short description and no `scope` (no scope would help).
    WrongTenant,
    /// No signing keys could be obtained: `503`, no detail.
    Unavailable,
    /// The server is wired wrongly (a guard or an extractor without the auth layer in front
    /// of it): `500`, no detail.
    Misconfigured,
}

impl Rejection {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) | Self::WrongTenant => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` value, for the statuses that carry one.
    pub(crate) fn challenge(&self, realm: Option<&str>) -> Option<HeaderValue> {
        let base = match realm {
            Some(r) => BearerChallenge::new().realm(r),
            None => BearerChallenge::new(),
        };
        let challenge = match self {
            Self::Missing => base,
            Self::InvalidRequest(d) => base.error(ErrorCode::InvalidRequest).description(d),
            Self::InvalidToken(d) => base.error(ErrorCode::InvalidToken).description(d),
            Self::InsufficientScope(scope) => base.error(ErrorCode::InsufficientScope).scope(scope),
            Self::WrongTenant => base
                .error(ErrorCode::InsufficientScope)
                .description("token not valid for this tenant"),
            Self::Unavailable | Self::Misconfigured => return None,
        };
        // BearerChallenge drops every character a quoted header value cannot hold, so this
        // conversion does not fail; fall back to a bare challenge rather than trust that.
        Some(
            HeaderValue::try_from(challenge.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer")),
        )
    }

    /// The response, with an empty body of the inner service's type.
    pub(crate) fn into_response<B: Default>(self, realm: Option<&str>) -> Response<B> {
        let mut res = Response::new(B::default());
        *res.status_mut() = self.status();
        if let Some(v) = self.challenge(realm) {
            res.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// What the auth layer leaves in the request's extensions besides the claims, for the scope
/// and tenant guards and the extractors: whether a token was verified, its scope and tenant
/// (read here because the guards do not know the layer's claims type), and the realm to name
/// in further challenges. Private: only `JwtAuth` inserts it, so its presence proves the
/// layer ran.
#[derive(Debug, Clone)]
pub(crate) enum AuthState {
    /// The layer allows anonymous requests and this one carried no bearer token.
    Anonymous { realm: Arc<str> },
    /// A token was verified.
    Verified {
        realm: Arc<str>,
        scope: Scope,
        tenant: Option<String>,
    },
}

impl AuthState {
    pub(crate) fn realm(&self) -> &Arc<str> {
        match self {
            Self::Anonymous { realm } | Self::Verified { realm, .. } => realm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &Rejection, realm: Option<&str>) -> Option<String> {
        r.challenge(realm).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn challenges() {
        assert_eq!(
            header(&Rejection::Missing, Some("api")).as_deref(),
            Some(r#"Bearer realm="api""#)
        );
        assert_eq!(
            header(&Rejection::InvalidToken("token expired"), Some("api")).as_deref(),
            Some(r#"Bearer realm="api", error="invalid_token", error_description="token expired""#)
        );
        assert_eq!(
            header(&Rejection::InsufficientScope("a b".into()), None).as_deref(),
            Some(r#"Bearer error="insufficient_scope", scope="a b""#)
        );
        assert_eq!(
            header(&Rejection::WrongTenant, Some("api")).as_deref(),
            Some(
                r#"Bearer realm="api", error="insufficient_scope", error_description="token not valid for this tenant""#
            )
        );
        assert_eq!(header(&Rejection::Unavailable, Some("api")), None);
        assert_eq!(header(&Rejection::Misconfigured, Some("api")), None);
    }

    #[test]
    fn realm_cannot_break_the_header() {
        let v = header(&Rejection::Missing, Some("a\"b\r\nX-Evil: 1")).unwrap();
        assert_eq!(v, r#"Bearer realm="abX-Evil: 1""#);
    }

    #[test]
    fn statuses() {
        let res: Response<String> = Rejection::Unavailable.into_response(Some("api"));
        assert_eq!(res.status(), 503);
        assert!(res.headers().is_empty());
        assert!(res.body().is_empty());
        let res: Response<String> = Rejection::InvalidRequest("x").into_response(None);
        assert_eq!(res.status(), 400);
    }
}
