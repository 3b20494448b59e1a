//! OAuth 2.0 error codes and bodies (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3; OIDC Core §3.1.2.6).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth 2.0 / OpenID Connect error code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `invalid_token` (RFC 6750)
    InvalidToken,
    /// `insufficient_scope` (RFC 6750)
    InsufficientScope,
    /// `unsupported_token_type` (RFC 7009)
    UnsupportedTokenType,
    /// `invalid_target` (RFC 8707)
    InvalidTarget,
    /// `login_required` (OIDC)
    LoginRequired,
    /// `consent_required` (OIDC)
    ConsentRequired,
    /// `interaction_required` (OIDC)
    InteractionRequired,
    /// `account_selection_required` (OIDC)
    AccountSelectionRequired,
    /// `invalid_request_uri` (OIDC)
    InvalidRequestUri,
    /// `request_not_supported` (OIDC)
    RequestNotSupported,
    /// `request_uri_not_supported` (OIDC)
    RequestUriNotSupported,
    /// `registration_not_supported` (OIDC)
    RegistrationNotSupported,
    /// `authorization_pending` (RFC 8628 §3.5): the user has not decided yet.
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5): poll less often (the interval grows by 5 s).
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5): the device code has expired.
    ExpiredToken,
    /// Any other code, as received from a provider.
    Other(String),
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Other(s) => s,
        }
    }

    /// Parses a code; unknown codes become [`ErrorCode::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            "invalid_target" => Self::InvalidTarget,
            "login_required" => Self::LoginRequired,
            "consent_required" => Self::ConsentRequired,
            "interaction_required" => Self::InteractionRequired,
            "account_selection_required" => Self::AccountSelectionRequired,
            "invalid_request_uri" => Self::InvalidRequestUri,
            "request_not_supported" => Self::RequestNotSupported,
            "request_uri_not_supported" => Self::RequestUriNotSupported,
            "registration_not_supported" => Self::RegistrationNotSupported,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The HTTP status a token, introspection or revocation endpoint answers with for this
    /// code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// An OAuth 2.0 error body (RFC 6749 §5.2), also used for the query parameters of an
/// authorization error redirect.
///
/// ```
/// use idp_core::{ErrorCode, ErrorResponse};
/// let e = ErrorResponse::new(ErrorCode::InvalidGrant).with_description("code already used");
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"error":"invalid_grant","error_description":"code already used"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// Human-readable detail, limited to the characters RFC 6749 allows.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_description: Option<String>,
    /// A page about the error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_uri: Option<String>,
}

/// Keeps only the characters RFC 6749 allows in `error_description` (%x20-21 / %x23-5B /
/// %x5D-7E), so that the value can also go into a quoted header parameter.
fn sanitize_description(s: &str) -> String {
    s.chars()
        .filter(|c| {
            let b = *c as u32;
            b == 0x20 || b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
        })
        .take(256)
        .collect()
}

impl ErrorResponse {
    /// An error with no description.
    pub fn new(error: ErrorCode) -> Self {
        Self {
            error,
            error_description: None,
            error_uri: None,
        }
    }

    /// Adds a description; characters RFC 6749 does not allow are dropped.
    pub fn with_description(mut self, d: impl AsRef<str>) -> Self {
        self.error_description = Some(sanitize_description(d.as_ref()));
        self
    }

    /// The HTTP status for this error at a token-style endpoint.
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.as_str())?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorResponse {}

/// Builds the value of a `WWW-Authenticate` header for a Bearer challenge (RFC 6750 §3).
///
/// ```
/// use idp_core::{BearerChallenge, ErrorCode};
/// let v = BearerChallenge::new()
///     .realm("api")
///     .error(ErrorCode::InsufficientScope)
///     .scope("read:orders")
///     .to_string();
/// assert_eq!(v, r#"Bearer realm="api", error="insufficient_scope", scope="read:orders""#);
/// assert_eq!(BearerChallenge::new().to_string(), "Bearer");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    realm: Option<String>,
    error: Option<ErrorCode>,
    description: Option<String>,
    scope: Option<String>,
}

impl BearerChallenge {
    /// A bare `Bearer` challenge (what to send when no token was presented).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `realm`.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(sanitize_description(realm.as_ref()));
        self
    }

    /// Sets `error`.
    pub fn error(mut self, code: ErrorCode) -> Self {
        self.error = Some(code);
        self
    }

    /// Sets `error_description` (characters not allowed in a quoted value are dropped).
    pub fn description(mut self, d: impl AsRef<str>) -> Self {
        self.description = Some(sanitize_description(d.as_ref()));
        self
    }

    /// Sets `scope`: the scope needed for the resource.
    pub fn scope(mut self, scope: impl AsRef<str>) -> Self {
        self.scope = Some(sanitize_description(scope.as_ref()));
        self
    }
}

impl fmt::Display for BearerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer")?;
        let mut sep = " ";
        let error = self
            .error
            .as_ref()
            .map(|e| sanitize_description(e.as_str()));
        for (k, v) in [
            ("realm", self.realm.as_deref()),
            ("error", error.as_deref()),
            ("error_description", self.description.as_deref()),
            ("scope", self.scope.as_deref()),
        ] {
            if let Some(v) = v {
                write!(f, "{sep}{k}=\"{v}\"")?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "access_denied",
            "unsupported_response_type",
            "server_error",
            "temporarily_unavailable",
            "invalid_token",
            "insufficient_scope",
            "unsupported_token_type",
            "invalid_target",
            "login_required",
            "consent_required",
            "interaction_required",
            "account_selection_required",
            "invalid_request_uri",
            "request_not_supported",
            "request_uri_not_supported",
            "registration_not_supported",
            "slow_down",
        ] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(ErrorCode::parse("x"), ErrorCode::Other("x".into()));
    }

    #[test]
    fn statuses() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
    }

    #[test]
    fn rfc6749_example_body_parses() {
        let e: ErrorResponse =
            serde_json::from_str(r#"{"error":"invalid_request","extra":1}"#).unwrap();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert_eq!(e.error_description, None);
    }

    #[test]
    fn description_is_sanitized() {
        let e = ErrorResponse::new(ErrorCode::InvalidRequest).with_description("a\"b\\c\nd é");
        assert_eq!(e.error_description.as_deref(), Some("abcd "));
        let c = BearerChallenge::new()
            .realm("r\"")
            .error(ErrorCode::InvalidToken)
            .description("bad \"token\"");
        assert_eq!(
            c.to_string(),
            r#"Bearer realm="r", error="invalid_token", error_description="bad token""#
        );
    }
}
