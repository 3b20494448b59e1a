//! Who calls the admin API, and its errors.

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::{BearerChallenge, ErrorCode};
use serde_json::json;

use crate::Error;
use crate::state::Subject;
use crate::web::App;
use crate::web::client_addr::ClientAddr;

/// The audience an admin token must have, relative to the issuer.
const AUDIENCE_PATH: &str = "/admin/api";
/// Scope for everything.
const SCOPE_ADMIN: &str = "idp:admin";
/// Scope for one tenant's records.
const SCOPE_TENANT_ADMIN: &str = "idp:tenant-admin";

/// What the caller may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    All,
    Tenant(String),
}

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    /// The token's subject (a user id, or a client id for a service token).
    pub(crate) sub: String,
    pub(crate) reach: Reach,
    pub(crate) addr: Option<IpAddr>,
}

impl Admin {
    /// Whether a record of `tenant` is within reach.
    pub(crate) fn sees(&self, tenant: Option<&str>) -> bool {
        match &self.reach {
            Reach::All => true,
            Reach::Tenant(t) => tenant == Some(t.as_str()),
        }
    }

    /// The tenant a list or a new record is confined to: the caller's for a tenant
    /// admin (asking for another is refused), else what was asked.
    pub(crate) fn confine(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (&self.reach, asked) {
            (Reach::All, asked) => Ok(asked),
            (Reach::Tenant(t), None) => Ok(Some(t.clone())),
            (Reach::Tenant(t), Some(a)) if &a == t => Ok(Some(a)),
            (Reach::Tenant(_), Some(_)) => Err(ApiError::forbidden(
                "a tenant administrator manages only their own tenant",
            )),
        }
    }
}

/// An error of the API, in its one JSON shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such record")
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput(m) => Self::invalid(m),
            Error::NotFound => Self::not_found(),
            Error::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            Error::Rejected(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", m),
            Error::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many password checks at once; try again in a moment",
            ),
            other => {
                tracing::error!(error = %other, "admin API: server failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server could not complete the request",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "message": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let challenge = match self.status {
            StatusCode::UNAUTHORIZED => Some(
                BearerChallenge::new()
                    .realm("idp-admin")
                    .error(ErrorCode::InvalidToken)
                    .description(&self.message),
            ),
            StatusCode::FORBIDDEN => Some(
                BearerChallenge::new()
                    .realm("idp-admin")
                    .error(ErrorCode::InsufficientScope)
                    .scope(SCOPE_ADMIN),
            ),
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c.to_string()).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// The administrator behind a request: a live access token of this provider, for the
/// admin API's audience, with one of the admin scopes.
pub(crate) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    addr: Option<IpAddr>,
) -> Result<Admin, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty())
        .map(|(_, t)| t.trim())
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let invalid = || ApiError::unauthorized("the access token is invalid, expired or revoked");
    let claims = app.verify_access_token(token, false).ok_or_else(invalid)?;
    let audience = app.issuer.endpoint(AUDIENCE_PATH);
    if !claims.aud.contains(&audience) {
        return Err(ApiError::unauthorized(
            "the access token is not for the admin API",
        ));
    }
    match app.live_subject(&claims).await {
        Ok(Some(Subject::User(_) | Subject::Service)) => {}
        Ok(None) => return Err(invalid()),
        Err(e) => return Err(Error::from(e).into()),
    }
    let scope = claims.scope.clone().unwrap_or_default();
    let reach = if scope.contains(SCOPE_ADMIN) {
        Reach::All
    } else if scope.contains(SCOPE_TENANT_ADMIN) {
        match &claims.tenant {
            Some(t) => Reach::Tenant(t.clone()),
            None => {
                return Err(ApiError::forbidden(
                    "idp:tenant-admin needs a token with a tenant",
                ));
            }
        }
    } else {
        return Err(ApiError::forbidden("the idp:admin scope is required"));
    };
    Ok(Admin {
        sub: claims.sub,
        reach,
        addr,
    })
}

/// The administrator of a request, as an extractor: a handler that takes an [`Admin`]
/// runs only for an authenticated one; others get the API's 401 or 403.
impl axum::extract::FromRequestParts<std::sync::Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        app: &std::sync::Arc<App>,
    ) -> Result<Self, ApiError> {
        let addr = match ClientAddr::from_request_parts(parts, app).await {
            Ok(ClientAddr(addr)) => addr,
            Err(never) => match never {},
        };
        authenticate(app, &parts.headers, addr).await
    }
}
