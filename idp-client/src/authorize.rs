//! Authorization requests with PKCE (RFC 7636), state and nonce, and validation of the
//! callback (RFC 6749 §4.1.2, RFC 9207).

use std::fmt;

use idp_core::{
    AuthorizationCode, CodeChallengeMethod, CodeVerifier, ErrorCode, ErrorResponse, Scope,
    random_token,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use url::Url;

use crate::{CallbackError, Client, Error};

/// Parameters the builder sets itself; [`AuthorizationRequestBuilder::param`] refuses them.
const RESERVED: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "max_age",
];

/// What an application keeps (server-side, e.g. in its session) between sending the user to
/// the provider and handling the callback: the `state`, the `nonce` and the PKCE verifier.
///
/// Serialisable so that it can be stored; `Debug` prints none of its values.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(serialize_with = "ser_verifier", deserialize_with = "de_verifier")]
    code_verifier: CodeVerifier,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<String>,
    /// The `max_age` asked for, in seconds: the ID token's `auth_time` must be within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
}

fn ser_verifier<S: Serializer>(v: &CodeVerifier, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.secret())
}

fn de_verifier<'de, D: Deserializer<'de>>(d: D) -> Result<CodeVerifier, D::Error> {
    let s = String::deserialize(d)?;
    CodeVerifier::parse(&s).map_err(serde::de::Error::custom)
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &"[redacted]")
            .field("nonce", &self.nonce.as_ref().map(|_| "[redacted]"))
            .field("code_verifier", &self.code_verifier)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl PendingAuthorization {
    /// The `state` sent to the provider.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `nonce` sent to the provider (set when `openid` was requested).
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The PKCE verifier, sent with the code.
    pub fn code_verifier(&self) -> &CodeVerifier {
        &self.code_verifier
    }

    /// The `redirect_uri` sent to the provider, if any.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The `max_age` sent to the provider, in seconds, if any.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }
}

/// Builds an authorization URL; from [`Client::authorization_request`].
///
/// Always sends `response_type=code`, a fresh 256-bit `state`, and an S256 PKCE challenge;
/// sends a fresh `nonce` when the scope includes `openid` (the default scope).
#[derive(Debug)]
pub struct AuthorizationRequestBuilder<'a> {
    client: &'a Client,
    scope: Result<Scope, Error>,
    redirect_uri: Option<String>,
    params: Vec<(String, String)>,
    max_age: Option<u64>,
}

impl<'a> AuthorizationRequestBuilder<'a> {
    pub(crate) fn new(client: &'a Client, redirect_uri: Option<String>) -> Self {
        let mut scope = Scope::new();
        scope.insert("openid");
        Self {
            client,
            scope: Ok(scope),
            redirect_uri,
            params: Vec::new(),
            max_age: None,
        }
    }

    /// `prompt` (OIDC Core §3.1.2.1): `none`, `login`, `consent`, `select_account`,
    /// space-separated.
    pub fn prompt(self, prompt: &str) -> Self {
        self.param("prompt", prompt)
    }

    /// `login_hint`: the e-mail address or name the sign-in form starts with.
    pub fn login_hint(self, hint: &str) -> Self {
        self.param("login_hint", hint)
    }

    /// `acr_values`, space-separated.
    pub fn acr_values(self, acr: &str) -> Self {
        self.param("acr_values", acr)
    }

    /// `ui_locales`, space-separated BCP 47 tags.
    pub fn ui_locales(self, locales: &str) -> Self {
        self.param("ui_locales", locales)
    }

    /// `max_age`: the user must have signed in within this long. The code exchange then
    /// checks the ID token's `auth_time` (OIDC Core §3.1.3.7), with the client's leeway.
    pub fn max_age(mut self, max_age: std::time::Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// The requested scope, space-separated (default `openid`).
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Scope::parse(scope).map_err(Error::from);
        self
    }

    /// The `redirect_uri` (default: the client's).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Another parameter (`prompt`, `login_hint`, `acr_values`, `ui_locales`, …). The
    /// parameters the builder manages itself cannot be set this way; `build` fails.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The URL to send the user to, and what to keep for the callback.
    pub fn build(self) -> Result<(Url, PendingAuthorization), Error> {
        let scope = self.scope?;
        if self
            .params
            .iter()
            .any(|(n, _)| RESERVED.contains(&n.as_str()))
        {
            return Err(Error::Config(
                "this authorization parameter is set by the builder itself",
            ));
        }
        let endpoint = self
            .client
            .metadata()
            .authorization_endpoint
            .as_deref()
            .ok_or(Error::MissingEndpoint("authorization_endpoint"))?;
        let mut url = crate::transport::parse_url(endpoint)?;
        let pending = PendingAuthorization {
            state: random_token(),
            nonce: scope.contains("openid").then(random_token),
            code_verifier: CodeVerifier::generate(),
            redirect_uri: self.redirect_uri,
            max_age: self.max_age,
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", self.client.client_id());
            if let Some(r) = &pending.redirect_uri {
                q.append_pair("redirect_uri", r);
            }
            if !scope.is_empty() {
                q.append_pair("scope", &scope.to_string());
            }
            q.append_pair("state", &pending.state);
            if let Some(n) = &pending.nonce {
                q.append_pair("nonce", n);
            }
            q.append_pair("code_challenge", pending.code_verifier.challenge().as_str())
                .append_pair("code_challenge_method", CodeChallengeMethod::S256.as_str());
            if let Some(m) = pending.max_age {
                q.append_pair("max_age", &m.to_string());
            }
            for (k, v) in &self.params {
                q.append_pair(k, v);
            }
        }
        Ok((url, pending))
    }
}

/// Checks an authorization callback and returns its code (pure).
///
/// `callback` is the query string of the redirect (with or without the leading `?`) or the
/// whole redirect URL. Order of checks: `state` (CSRF), `iss` (mix-up, RFC 9207), then the
/// provider's `error`, then `code`.
pub(crate) fn validate_callback(
    pending: &PendingAuthorization,
    callback: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<AuthorizationCode, Error> {
    let query = match callback.split_once('?') {
        Some((_, q)) => q,
        None => callback,
    };
    let query = query.split('#').next().unwrap_or_default();
    let mut state = None;
    let mut iss = None;
    let mut code = None;
    let mut error = None;
    let mut error_description = None;
    let mut error_uri = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut state,
            "iss" => &mut iss,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut error_description,
            "error_uri" => &mut error_uri,
            _ => continue,
        };
        if slot.is_some() {
            return Err(CallbackError::DuplicateParameter.into());
        }
        *slot = Some(v.into_owned());
    }
    let state = state.ok_or(CallbackError::MissingState)?;
    if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
        return Err(CallbackError::StateMismatch.into());
    }
    match iss {
        Some(iss) if iss != issuer => return Err(CallbackError::IssuerMismatch.into()),
        None if iss_required => return Err(CallbackError::MissingIssuer.into()),
        _ => {}
    }
    if let Some(code) = error {
        let mut e = ErrorResponse::new(ErrorCode::parse(&code));
        if let ErrorCode::Other(c) = &e.error {
            e.error = ErrorCode::Other(c.chars().filter(char::is_ascii_graphic).take(64).collect());
        }
        if let Some(d) = error_description {
            e = e.with_description(d);
        }
        e.error_uri =
            error_uri.map(|u| u.chars().filter(char::is_ascii_graphic).take(256).collect());
        return Err(CallbackError::Authorization(e).into());
    }
    match code {
        Some(c) if !c.is_empty() => Ok(AuthorizationCode::new(c)),
        _ => Err(CallbackError::MissingCode.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingAuthorization {
        PendingAuthorization {
            state: "st4te".into(),
            nonce: Some("n0nce".into()),
            code_verifier: CodeVerifier::generate(),
            redirect_uri: None,
            max_age: None,
        }
    }

    const ISS: &str = "https://id.example.com";

    fn cb(q: &str, iss_required: bool) -> Result<AuthorizationCode, Error> {
        validate_callback(&pending(), q, ISS, iss_required)
    }

    fn cb_err(q: &str, iss_required: bool) -> CallbackError {
        match cb(q, iss_required) {
            Err(Error::Callback(e)) => e,
            other => panic!("expected a callback error, got {other:?}"),
        }
    }

    #[test]
    fn good_callbacks() {
        assert_eq!(cb("code=abc&state=st4te", false).unwrap().secret(), "abc");
        assert_eq!(
            cb(
                "?code=abc&state=st4te&iss=https%3A%2F%2Fid.example.com",
                true
            )
            .unwrap()
            .secret(),
            "abc"
        );
        assert_eq!(
            cb("https://app.example/cb?code=abc&state=st4te#x", false)
                .unwrap()
                .secret(),
            "abc"
        );
    }

    #[test]
    fn refused_callbacks() {
        assert_eq!(cb_err("code=abc", false), CallbackError::MissingState);
        assert_eq!(
            cb_err("code=abc&state=other", false),
            CallbackError::StateMismatch
        );
        assert_eq!(
            cb_err("code=abc&state=st4te&state=st4te", false),
            CallbackError::DuplicateParameter
        );
        assert_eq!(
            cb_err("code=abc&state=st4te&iss=https%3A%2F%2Fevil.example", false),
            CallbackError::IssuerMismatch
        );
        assert_eq!(
            cb_err("code=abc&state=st4te", true),
            CallbackError::MissingIssuer
        );
        assert_eq!(cb_err("state=st4te", false), CallbackError::MissingCode);
        // A forged error without the right state is a state mismatch, not a provider error.
        assert_eq!(
            cb_err("error=access_denied&state=x", false),
            CallbackError::StateMismatch
        );
        match cb_err(
            "error=access_denied&error_description=User+said+no%0A&state=st4te",
            false,
        ) {
            CallbackError::Authorization(e) => {
                assert_eq!(e.error, ErrorCode::AccessDenied);
                assert_eq!(e.error_description.as_deref(), Some("User said no"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pending_round_trips_and_debug_is_redacted() {
        let p = pending();
        let json = serde_json::to_string(&p).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code_verifier, p.code_verifier);
        assert_eq!(back.state, "st4te");
        let dbg = format!("{p:?}");
        assert!(
            !dbg.contains("st4te")
                && !dbg.contains("n0nce")
                && !dbg.contains(p.code_verifier.secret())
        );
    }
}
