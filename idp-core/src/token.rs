//! Token endpoint requests and responses (RFC 6749 §4–6), introspection (RFC 7662) and
//! revocation hints (RFC 7009).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::{
    AccessToken, Algorithm, Audience, AuthorizationCode, ClientSecret, DeviceCode, ErrorCode,
    ErrorResponse, RefreshToken, Scope, TokenUse,
};

/// A `grant_type` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// `client_credentials`
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:device_code`
    DeviceCode,
    /// `password` (never enabled by default)
    Password,
    /// Anything else.
    Other(String),
}

impl GrantType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::Password => "password",
            Self::Other(s) => s,
        }
    }

    /// Parses a value; unknown ones become [`GrantType::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "authorization_code" => Self::AuthorizationCode,
            "refresh_token" => Self::RefreshToken,
            "client_credentials" => Self::ClientCredentials,
            "urn:ietf:params:oauth:grant-type:device_code" => Self::DeviceCode,
            "password" => Self::Password,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GrantType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// A token endpoint request, parsed from (or written to) its form body. Secrets inside are
/// newtypes, so `Debug` never prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequest {
    /// `grant_type`
    pub grant_type: GrantType,
    /// `code` (authorization_code)
    pub code: Option<AuthorizationCode>,
    /// `redirect_uri` (authorization_code)
    pub redirect_uri: Option<String>,
    /// `code_verifier` (PKCE), unchecked here
    pub code_verifier: Option<String>,
    /// `refresh_token`
    pub refresh_token: Option<RefreshToken>,
    /// `device_code` (RFC 8628 §3.4)
    pub device_code: Option<DeviceCode>,
    /// `scope`
    pub scope: Option<Scope>,
    /// `client_id` (body authentication or public clients)
    pub client_id: Option<String>,
    /// `client_secret` (client_secret_post)
    pub client_secret: Option<ClientSecret>,
    /// `resource` (RFC 8707; may repeat)
    pub resource: Vec<String>,
    /// `audience` (a common non-standard alternative to `resource`)
    pub audience: Option<String>,
}

impl TokenRequest {
    /// A request of `grant_type` with nothing else set.
    pub fn new(grant_type: GrantType) -> Self {
        Self {
            grant_type,
            code: None,
            redirect_uri: None,
            code_verifier: None,
            refresh_token: None,
            device_code: None,
            scope: None,
            client_id: None,
            client_secret: None,
            resource: Vec::new(),
            audience: None,
        }
    }

    /// Parses the decoded form pairs of a token request. A parameter given twice (other
    /// than `resource`) is `invalid_request` (RFC 6749 §3.2); a missing `grant_type` is
    /// `invalid_request`; a malformed `scope` is `invalid_scope`. Unknown parameters are
    /// ignored. Empty values count as absent (RFC 6749 §3.1).
    pub fn from_form<K, V>(pairs: &[(K, V)]) -> Result<Self, ErrorResponse>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // A set, so that a request with many parameters costs linear time.
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut req = Self::new(GrantType::Other(String::new()));
        let mut grant = None;
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            if k != "resource" && !seen.insert(k) {
                return Err(ErrorResponse::new(ErrorCode::InvalidRequest)
                    .with_description(format!("parameter {k} given more than once")));
            }
            if v.is_empty() {
                continue;
            }
            match k {
                "grant_type" => grant = Some(GrantType::parse(v)),
                "code" => req.code = Some(AuthorizationCode::new(v)),
                "redirect_uri" => req.redirect_uri = Some(v.to_owned()),
                "code_verifier" => req.code_verifier = Some(v.to_owned()),
                "refresh_token" => req.refresh_token = Some(RefreshToken::new(v)),
                "device_code" => req.device_code = Some(DeviceCode::new(v)),
                "scope" => {
                    req.scope = Some(Scope::parse(v).map_err(|_| {
                        ErrorResponse::new(ErrorCode::InvalidScope)
                            .with_description("malformed scope")
                    })?)
                }
                "client_id" => req.client_id = Some(v.to_owned()),
                "client_secret" => req.client_secret = Some(ClientSecret::new(v)),
                "resource" => req.resource.push(v.to_owned()),
                "audience" => req.audience = Some(v.to_owned()),
                _ => {}
            }
        }
        req.grant_type = grant.ok_or_else(|| {
            ErrorResponse::new(ErrorCode::InvalidRequest).with_description("missing grant_type")
        })?;
        Ok(req)
    }

    /// The form pairs for this request (secrets included: this is what goes on the wire).
    pub fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![("grant_type", self.grant_type.as_str().to_owned())];
        let mut opt = |k: &'static str, v: Option<&str>| {
            if let Some(v) = v {
                f.push((k, v.to_owned()));
            }
        };
        opt("code", self.code.as_ref().map(|c| c.secret()));
        opt("redirect_uri", self.redirect_uri.as_deref());
        opt("code_verifier", self.code_verifier.as_deref());
        opt(
            "refresh_token",
            self.refresh_token.as_ref().map(|c| c.secret()),
        );
        opt("device_code", self.device_code.as_ref().map(|c| c.secret()));
        let scope = self.scope.as_ref().map(|s| s.to_string());
        opt("scope", scope.as_deref());
        opt("client_id", self.client_id.as_deref());
        opt(
            "client_secret",
            self.client_secret.as_ref().map(|c| c.secret()),
        );
        opt("audience", self.audience.as_deref());
        for r in &self.resource {
            f.push(("resource", r.clone()));
        }
        f
    }
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3). `Debug` redacts the
/// tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires_in: Option<u64>,
    /// A refresh token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<Scope>,
    /// An ID token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl TokenResponse {
    /// A bearer token response.
    pub fn bearer(access_token: impl Into<String>, expires_in: u64) -> Self {
        Self {
            access_token: AccessToken::new(access_token),
            token_type: "Bearer".to_owned(),
            expires_in: Some(expires_in),
            refresh_token: None,
            scope: None,
            id_token: None,
        }
    }
}

/// A device authorization response (RFC 8628 §3.2). `Debug` redacts the device code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceAuthorizationResponse {
    /// What the device polls the token endpoint with.
    pub device_code: DeviceCode,
    /// What the user types on the verification page.
    pub user_code: String,
    /// Where the user goes to enter the code.
    pub verification_uri: String,
    /// The verification URI with the user code in it (for a QR code or a link).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verification_uri_complete: Option<String>,
    /// Lifetime of the codes in seconds.
    pub expires_in: u64,
    /// Seconds to wait between polls (RFC 8628: 5 when absent).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interval: Option<u64>,
}

impl DeviceAuthorizationResponse {
    /// A response without `verification_uri_complete` or `interval`.
    pub fn new(
        device_code: DeviceCode,
        user_code: impl Into<String>,
        verification_uri: impl Into<String>,
        expires_in: u64,
    ) -> Self {
        Self {
            device_code,
            user_code: user_code.into(),
            verification_uri: verification_uri.into(),
            verification_uri_complete: None,
            expires_in,
            interval: None,
        }
    }
}

/// A `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `access_token`
    AccessToken,
    /// `refresh_token`
    RefreshToken,
}

impl TokenTypeHint {
    /// Parses a hint; unknown values are `None` (a server then searches all types).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access_token" => Some(Self::AccessToken),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// An introspection response (RFC 7662 §2.2). An inactive token has only `active: false`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scope.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<Scope>,
    /// Client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    /// Human-readable resource owner identifier.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// `Bearer` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token_type: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
    /// Tenant.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant: Option<String>,
    /// User or service token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token_use: Option<TokenUse>,
}

impl IntrospectionResponse {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// The `at_hash` (or `c_hash`) of a token for an ID token signed with `alg` (OIDC Core
/// §3.1.3.6): the left half of the hash of the token's ASCII bytes, base64url.
pub fn at_hash(token: &str, alg: Algorithm) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => {
            Sha256::digest(token.as_bytes()).to_vec()
        }
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
            Sha384::digest(token.as_bytes()).to_vec()
        }
        // RS512/PS512 use SHA-512; so does Ed25519 (its internal hash).
        Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => {
            Sha512::digest(token.as_bytes()).to_vec()
        }
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_client_credentials() {
        let r = TokenRequest::from_form(&[
            ("grant_type", "client_credentials"),
            ("scope", "b a"),
            ("resource", "https://api.one"),
            ("resource", "https://api.two"),
            ("unknown", "x"),
        ])
        .unwrap();
        assert_eq!(r.grant_type, GrantType::ClientCredentials);
        assert_eq!(r.scope.unwrap().to_string(), "a b");
        assert_eq!(r.resource.len(), 2);
    }

    #[test]
    fn duplicate_parameter_is_invalid_request() {
        let e = TokenRequest::from_form(&[
            ("grant_type", "client_credentials"),
            ("scope", "a"),
            ("scope", "b"),
        ])
        .unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        let e = TokenRequest::from_form(&[("scope", "a")]).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        let e = TokenRequest::from_form(&[("grant_type", "x"), ("scope", "a\"")]).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidScope);
    }

    #[test]
    fn form_round_trip_and_redacted_debug() {
        let mut r = TokenRequest::new(GrantType::RefreshToken);
        r.refresh_token = Some(RefreshToken::new("rt-secret-value"));
        r.client_secret = Some(ClientSecret::new("cs-secret-value"));
        let form = r.to_form();
        let back = TokenRequest::from_form(&form).unwrap();
        assert_eq!(back, r);
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("rt-secret-value") && !dbg.contains("cs-secret-value"));
    }

    #[test]
    fn device_code_requests_and_responses() {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"),
            ("client_id", "1406020730"),
        ];
        let r = TokenRequest::from_form(&form).unwrap();
        assert_eq!(r.grant_type, GrantType::DeviceCode);
        let code = r.device_code.clone().unwrap();
        assert_eq!(code.secret(), form[1].1);
        assert!(!format!("{r:?}").contains(form[1].1));
        assert_eq!(TokenRequest::from_form(&r.to_form()).unwrap(), r);
        // RFC 8628 §3.2, the example response.
        let resp: DeviceAuthorizationResponse = serde_json::from_str(
            r#"{"device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://example.com/device",
                "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT",
                "expires_in": 1800, "interval": 5}"#,
        )
        .unwrap();
        assert_eq!(resp.user_code, "WDJB-MJHT");
        assert_eq!((resp.expires_in, resp.interval), (1800, Some(5)));
        assert!(!format!("{resp:?}").contains("GmRhmh"));
        for code in ["authorization_pending", "slow_down", "expired_token"] {
            let c = ErrorCode::parse(code);
            assert!(!matches!(c, ErrorCode::Other(_)), "{code}");
            assert_eq!(c.as_str(), code);
            assert_eq!(c.http_status(), 400);
        }
    }

    #[test]
    fn token_response_parses_rfc6749_example() {
        let body = r#"{
            "access_token":"2YotnFZFEjr1zCsicMWpAA",
            "token_type":"example",
            "expires_in":3600,
            "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
            "example_parameter":"example_value"
        }"#;
        let t: TokenResponse = serde_json::from_str(body).unwrap();
        assert_eq!(t.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
        assert_eq!(t.expires_in, Some(3600));
        assert!(!format!("{t:?}").contains("2YotnFZFEjr1zCsicMWpAA"));
    }

    /// OIDC Core §3.1.3.6 / Appendix A.3: the at_hash of the example access token.
    #[test]
    fn at_hash_oidc_example() {
        assert_eq!(
            at_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                Algorithm::RS256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        // EdDSA hashes with SHA-512 (OpenID Connect issue 1125).
        assert_eq!(
            at_hash("dNZX1hEZ9wBCzNL40Upu646bdzQA", Algorithm::EdDSA),
            "8xltSlOGYrWy8W9yNvRlEth1i_bXW-JROWPLvCv5zog"
        );
    }

    #[test]
    fn introspection_inactive_is_minimal() {
        assert_eq!(
            serde_json::to_string(&IntrospectionResponse::inactive()).unwrap(),
            r#"{"active":false}"#
        );
    }
}
