//! The relying-party client: authorization requests, code exchange, refresh, revocation,
//! introspection, userinfo and ID-token verification.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response};
use idp_core::{
    AccessToken, Algorithm, AuthorizationCode, Clock, DeviceAuthorizationResponse, ErrorCode,
    GrantType, IdTokenClaims, IntrospectionResponse, ProviderMetadata, RefreshToken, Scope,
    StandardClaims, SystemClock, TokenRequest, TokenResponse, TokenTypeHint, UnverifiedJwt,
    ValidationPolicy, at_hash,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use crate::authorize::{self, AuthorizationRequestBuilder, PendingAuthorization};
use crate::grant::{ClientCredentials, CodeExchange, Refresh};
use crate::logout::{self, LogoutToken};
use crate::transport::{self as h, HttpClient, Transport};
use crate::verify::IdTokenVerification;
use crate::{ClientAuth, Error, JwksCache};

/// An OAuth 2.0 / OpenID Connect client of one provider. Cheap to clone.
///
/// Built from the provider's metadata (see [`Discovery`](crate::Discovery)), a `client_id`
/// and a [`ClientAuth`]. Unless given one, it makes a [`JwksCache`] for the metadata's
/// `jwks_uri` sharing its HTTP client and clock.
///
/// ```no_run
/// # async fn run() -> Result<(), idp_client::Error> {
/// use idp_client::{Client, ClientAuth, Discovery};
///
/// let metadata = Discovery::builder("https://id.example.com").build()?.metadata().await?;
/// let client = Client::builder(metadata, "web-app")
///     .auth(ClientAuth::basic("s3cret"))
///     .redirect_uri("https://app.example.com/callback")
///     .build()?;
/// let (url, pending) = client.authorization_request().scope("openid email").build()?;
/// // Redirect the user to `url`; keep `pending` in the session. On the callback:
/// # let callback_query = "";
/// let code = client.validate_callback(&pending, callback_query)?;
/// let tokens = client.exchange_code(&pending, code).send().await?;
/// println!("signed in: {:?}", tokens.id_token_claims.map(|c| c.sub));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    metadata: Arc<ProviderMetadata>,
    client_id: String,
    auth: ClientAuth,
    redirect_uri: Option<String>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    jwks: Option<JwksCache>,
    id_token_policy: ValidationPolicy,
    /// The ID-token policy without `azp`, which logout tokens do not carry.
    logout_token_policy: ValidationPolicy,
    leeway: Duration,
}

/// Builder for [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    metadata: Arc<ProviderMetadata>,
    client_id: String,
    auth: ClientAuth,
    redirect_uri: Option<String>,
    http: Option<HttpClient>,
    clock: Option<Arc<dyn Clock>>,
    jwks: Option<JwksCache>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Duration,
}

/// The result of a code exchange or a refresh: the token response and, when it carried an
/// ID token, that token's verified claims. `Debug` prints no token.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenSet {
    /// The token response. After a refresh, `refresh_token` is the one to use next: the
    /// rotated token, or the one sent if the provider did not rotate it.
    pub tokens: TokenResponse,
    /// The verified claims of the ID token (`tokens.id_token`), if there was one.
    pub id_token_claims: Option<IdTokenClaims>,
    /// `expires_in` added to the client's clock when the response was read.
    expires_at: Option<SystemTime>,
}

impl TokenSet {
    /// When the access token expires: the response's `expires_in` counted from when the
    /// client read it, on the client's [`Clock`]. `None` when the provider sent no
    /// `expires_in` (or an absurd one).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.tokens.access_token
    }

    /// The refresh token to use next, if the provider issued one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.tokens.refresh_token.as_ref()
    }
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.tokens;
        f.debug_struct("TokenSet")
            .field("access_token", &t.access_token)
            .field("token_type", &t.token_type)
            .field("expires_in", &t.expires_in)
            .field("refresh_token", &t.refresh_token)
            .field("scope", &t.scope)
            .field("id_token", &t.id_token.as_ref().map(|_| "[redacted]"))
            .field("id_token_claims", &self.id_token_claims)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A token to revoke or introspect; its type gives the `token_type_hint`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TokenRef<'a> {
    /// An access token (`token_type_hint=access_token`).
    Access(&'a AccessToken),
    /// A refresh token (`token_type_hint=refresh_token`).
    Refresh(&'a RefreshToken),
}

impl TokenRef<'_> {
    fn secret(&self) -> &str {
        match self {
            Self::Access(t) => t.secret(),
            Self::Refresh(t) => t.secret(),
        }
    }

    /// The `token_type_hint` sent with this token.
    pub fn hint(&self) -> TokenTypeHint {
        match self {
            Self::Access(_) => TokenTypeHint::AccessToken,
            Self::Refresh(_) => TokenTypeHint::RefreshToken,
        }
    }
}

impl<'a> From<&'a AccessToken> for TokenRef<'a> {
    fn from(t: &'a AccessToken) -> Self {
        Self::Access(t)
    }
}

impl<'a> From<&'a RefreshToken> for TokenRef<'a> {
    fn from(t: &'a RefreshToken) -> Self {
        Self::Refresh(t)
    }
}

/// A UserInfo response (OIDC Core §5.3): `sub`, the standard profile claims, and every
/// claim as received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UserInfo {
    /// The subject. Check it equals the ID token's `sub` before trusting the rest (OIDC Core
    /// §5.3.2).
    pub sub: String,
    /// The standard claims; claims of the wrong JSON type are left out.
    pub profile: StandardClaims,
    /// Every claim, as received.
    pub claims: Map<String, Value>,
}

impl Client {
    /// Starts a builder for `client_id` at the provider described by `metadata`.
    pub fn builder(
        metadata: impl Into<Arc<ProviderMetadata>>,
        client_id: impl Into<String>,
    ) -> ClientBuilder {
        ClientBuilder {
            metadata: metadata.into(),
            client_id: client_id.into(),
            auth: ClientAuth::None,
            redirect_uri: None,
            http: None,
            clock: None,
            jwks: None,
            algorithms: None,
            leeway: Duration::from_secs(60),
        }
    }

    /// Discovers the provider at `issuer` (OpenID Connect Discovery, the document's issuer
    /// checked) and builds a confidential client with every other default: the reqwest
    /// transport, the system clock, a JWKS cache for the ID tokens. The client authenticates
    /// with `client_secret_basic`, or `client_secret_post` when the provider advertises
    /// that and not the other. For anything else (a redirect URI, a transport, a clock) use
    /// [`Discovery`](crate::Discovery) and [`Client::builder`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), idp_client::Error> {
    /// let client = idp_client::Client::discover("http://localhost:4000", "dev-service", "secret").await?;
    /// let token = client.client_credentials().scope("read:orders".parse()?).send().await?;
    /// # let _ = token;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "reqwest")]
    pub async fn discover(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        secret: impl Into<idp_core::ClientSecret>,
    ) -> Result<Client, Error> {
        let http = HttpClient::new()?;
        let metadata = crate::Discovery::builder(issuer)
            .http_client(http.clone())
            .build()?
            .metadata()
            .await?;
        let auth = secret_auth(&metadata, secret.into());
        Client::builder(metadata, client_id)
            .auth(auth)
            .http_client(http)
            .build()
    }

    /// The provider's metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The key cache used for ID tokens, if the provider publishes a `jwks_uri`.
    pub fn jwks(&self) -> Option<&JwksCache> {
        self.inner.jwks.as_ref()
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The leeway of time checks.
    pub(crate) fn leeway(&self) -> Duration {
        self.inner.leeway
    }

    /// The registered name of the client authentication method.
    pub fn auth_method(&self) -> &'static str {
        self.inner.auth.method()
    }

    /// Builds the URL that signs the user out at the provider (RP-Initiated Logout 1.0):
    /// add `id_token_hint`, `post_logout_redirect_uri`, `state`, then `build`.
    pub fn end_session_url(&self) -> crate::end_session::EndSessionUrl<'_> {
        crate::end_session::EndSessionUrl::new(self)
    }

    /// Starts an authorization request (authorization code flow with PKCE S256, `state` and,
    /// for `openid`, `nonce`).
    pub fn authorization_request(&self) -> AuthorizationRequestBuilder<'_> {
        AuthorizationRequestBuilder::new(self, self.inner.redirect_uri.clone())
    }

    /// Checks the callback of an authorization request and returns the code: `state` must
    /// match, `iss` (RFC 9207) must name this provider when present (and must be present
    /// when the provider advertises `authorization_response_iss_parameter_supported`), and
    /// an `error` from the provider becomes [`CallbackError::Authorization`](crate::CallbackError::Authorization).
    ///
    /// `callback` is the redirect's query string or its whole URL.
    pub fn validate_callback(
        &self,
        pending: &PendingAuthorization,
        callback: &str,
    ) -> Result<AuthorizationCode, Error> {
        let m = &self.inner.metadata;
        let iss_required = m.authorization_response_iss_parameter_supported == Some(true);
        authorize::validate_callback(pending, callback, &m.issuer, iss_required)
    }

    /// Starts the exchange of an authorization code (with the PKCE verifier and
    /// `redirect_uri` of `pending`); add `resource`, `audience` or other parameters, then
    /// [`send`](CodeExchange::send) it. An ID token in the response is verified.
    ///
    /// ```no_run
    /// # async fn run(client: idp_client::Client, pending: idp_client::PendingAuthorization,
    /// #              code: idp_client::idp_core::AuthorizationCode) -> Result<(), idp_client::Error> {
    /// let tokens = client
    ///     .exchange_code(&pending, code)
    ///     .resource("https://orders.example.com")
    ///     .send()
    ///     .await?;
    /// # let _ = tokens;
    /// # Ok(()) }
    /// ```
    pub fn exchange_code<'a>(
        &'a self,
        pending: &'a PendingAuthorization,
        code: AuthorizationCode,
    ) -> CodeExchange<'a> {
        CodeExchange::new(self, pending, code)
    }

    /// Starts a refresh with `refresh_token`; add a narrower `scope`, `resource` or other
    /// parameters, then [`send`](Refresh::send) it. The result's `tokens.refresh_token` is
    /// the token to use next (rotated or not).
    pub fn refresh<'a>(&'a self, refresh_token: &'a RefreshToken) -> Refresh<'a> {
        Refresh::new(self, refresh_token)
    }

    /// Starts a `client_credentials` grant, uncached (see
    /// [`ServiceTokenCache`](crate::ServiceTokenCache) for the cached form); add `scope`,
    /// `resource`, `audience` or other parameters, then [`send`](ClientCredentials::send) it.
    pub fn client_credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials::new(self)
    }

    /// A [`TokenSet`] of `tokens`, read at `received` (the client's clock).
    pub(crate) fn token_set(
        tokens: TokenResponse,
        id_token: Option<IdTokenClaims>,
        received: SystemTime,
    ) -> TokenSet {
        let expires_at = tokens
            .expires_in
            .and_then(|s| received.checked_add(Duration::from_secs(s)));
        TokenSet {
            tokens,
            id_token_claims: id_token,
            expires_at,
        }
    }

    /// Starts a device authorization (RFC 8628 §3.1): the codes to show the user, from the
    /// provider's `device_authorization_endpoint`. Then [`poll_device`](Self::poll_device).
    pub async fn device_authorization(
        &self,
        scope: Option<&Scope>,
    ) -> Result<DeviceAuthorizationResponse, Error> {
        let url = self.endpoint(
            self.inner.metadata.device_authorization_endpoint.as_deref(),
            "device_authorization_endpoint",
        )?;
        let mut form = Vec::new();
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            form.push(("scope", s.to_string()));
        }
        let req = self.form_post(&url, &mut form)?;
        let resp = self.inner.http.send(req).await?;
        h::parse_json(
            &resp,
            self.inner.clock.now(),
            "device authorization response",
        )
    }

    /// Polls the token endpoint with the device code (RFC 8628 §3.4–3.5) until the user has
    /// decided: waits `interval` seconds (5 when the provider named none) between polls,
    /// five more after each `slow_down`, and gives up with the provider's error once the
    /// codes have expired, or at once on any error but `authorization_pending` and
    /// `slow_down` (`access_denied`, `expired_token`). An ID token in the response is
    /// verified (without a nonce).
    pub async fn poll_device(
        &self,
        device: &DeviceAuthorizationResponse,
    ) -> Result<TokenSet, Error> {
        let mut interval = Duration::from_secs(device.interval.unwrap_or(5).max(1));
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(device.expires_in.saturating_add(1));
        let mut req = TokenRequest::new(GrantType::DeviceCode);
        req.device_code = Some(device.device_code.clone());
        loop {
            tokio::time::sleep(interval).await;
            match self.token(&req, &[]).await {
                Ok(tokens) => {
                    let received = self.inner.clock.now();
                    let id_token = match &tokens.id_token {
                        Some(t) => Some(
                            self.check_id_token(t, None, Some(&tokens.access_token))
                                .await?,
                        ),
                        None => None,
                    };
                    return Ok(Self::token_set(tokens, id_token, received));
                }
                Err(e) if tokio::time::Instant::now() + interval > deadline => return Err(e),
                Err(Error::OAuth { response, .. })
                    if response.error == ErrorCode::AuthorizationPending => {}
                Err(Error::OAuth { response, .. }) if response.error == ErrorCode::SlowDown => {
                    interval += Duration::from_secs(5);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a token request (with `extra` parameters after the standard ones) and parses
    /// the response.
    pub(crate) async fn token(
        &self,
        req: &TokenRequest,
        extra: &[(String, String)],
    ) -> Result<TokenResponse, Error> {
        let http_req = self.token_request_with(req, extra)?;
        let resp = self.inner.http.send(http_req).await?;
        parse_token_response(&resp, self.inner.clock.now())
    }

    /// The HTTP request for `req` at the token endpoint, with this client's
    /// authentication (sans-I/O: nothing is sent). Send it with a transport of your own
    /// and read the answer with [`parse_token_response`](crate::parse_token_response).
    ///
    /// ```
    /// use idp_client::idp_core::{GrantType, ProviderMetadata, TokenRequest};
    /// use idp_client::{Client, ClientAuth};
    ///
    /// let mut m = ProviderMetadata::new("https://id.example.com");
    /// m.token_endpoint = Some("https://id.example.com/oauth/token".into());
    /// let client = Client::builder(m, "worker").auth(ClientAuth::post("s3cret")).build().unwrap();
    /// let req = client.token_request(&TokenRequest::new(GrantType::ClientCredentials)).unwrap();
    /// assert_eq!(req.method(), "POST");
    /// assert_eq!(req.uri(), "https://id.example.com/oauth/token");
    /// let body = String::from_utf8(req.into_body()).unwrap();
    /// assert!(body.contains("grant_type=client_credentials") && body.contains("client_secret=s3cret"));
    /// ```
    pub fn token_request(&self, req: &TokenRequest) -> Result<Request<Vec<u8>>, Error> {
        self.token_request_with(req, &[])
    }

    /// [`token_request`](Self::token_request) with `extra` parameters after the others.
    fn token_request_with(
        &self,
        req: &TokenRequest,
        extra: &[(String, String)],
    ) -> Result<Request<Vec<u8>>, Error> {
        let url = self.endpoint(
            self.inner.metadata.token_endpoint.as_deref(),
            "token_endpoint",
        )?;
        let mut form = req.to_form();
        self.form_post_with(&url, &mut form, extra)
    }

    fn endpoint(&self, url: Option<&str>, name: &'static str) -> Result<Url, Error> {
        h::parse_url(url.ok_or(Error::MissingEndpoint(name))?)
    }

    fn form_post(
        &self,
        url: &Url,
        form: &mut Vec<(&'static str, String)>,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.form_post_with(url, form, &[])
    }

    /// A form `POST` of `form`, the client authentication, then `extra`.
    fn form_post_with(
        &self,
        url: &Url,
        form: &mut Vec<(&'static str, String)>,
        extra: &[(String, String)],
    ) -> Result<Request<Vec<u8>>, Error> {
        let authorization = self.inner.auth.apply(&self.inner.client_id, form)?;
        let pairs: Vec<(&str, &str)> = form
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        h::post_form(url, &pairs, authorization)
    }

    /// Revokes a token (RFC 7009), with its `token_type_hint`. Revoking a token the
    /// provider does not know is a success, as the RFC says.
    pub async fn revoke<'a>(&self, token: impl Into<TokenRef<'a>>) -> Result<(), Error> {
        let token = token.into();
        let url = self.endpoint(
            self.inner.metadata.revocation_endpoint.as_deref(),
            "revocation_endpoint",
        )?;
        let mut form = vec![
            ("token", token.secret().to_owned()),
            ("token_type_hint", token.hint().as_str().to_owned()),
        ];
        let req = self.form_post(&url, &mut form)?;
        let resp = self.inner.http.send(req).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(h::error_from_response(&resp, self.inner.clock.now()))
        }
    }

    /// Introspects a token (RFC 7662), with its `token_type_hint`.
    pub async fn introspect<'a>(
        &self,
        token: impl Into<TokenRef<'a>>,
    ) -> Result<IntrospectionResponse, Error> {
        let token = token.into();
        let url = self.endpoint(
            self.inner.metadata.introspection_endpoint.as_deref(),
            "introspection_endpoint",
        )?;
        let mut form = vec![
            ("token", token.secret().to_owned()),
            ("token_type_hint", token.hint().as_str().to_owned()),
        ];
        let req = self.form_post(&url, &mut form)?;
        let resp = self.inner.http.send(req).await?;
        h::parse_json(&resp, self.inner.clock.now(), "introspection response")
    }

    /// Calls the UserInfo endpoint with an access token (OIDC Core §5.3). Signed or
    /// encrypted (JWT) UserInfo responses are not supported.
    pub async fn userinfo(&self, access_token: &AccessToken) -> Result<UserInfo, Error> {
        let url = self.endpoint(
            self.inner.metadata.userinfo_endpoint.as_deref(),
            "userinfo_endpoint",
        )?;
        let req = userinfo_request(&url, access_token)?;
        let resp = self.inner.http.send(req).await?;
        parse_userinfo_response(&resp, self.inner.clock.now())
    }

    /// Verifies an ID token with the provider's keys: signature (algorithms from the
    /// builder), `iss`, `aud` (this client), `exp`/`nbf` with leeway and `azp`; `nonce` and
    /// `at_hash` when the [`IdTokenVerification`] is given them. Run it with
    /// `send().await`.
    ///
    /// Tokens from [`exchange_code`](Self::exchange_code) and [`refresh`](Self::refresh)
    /// are verified already ([`TokenSet::id_token_claims`]); this is for an ID token that reached
    /// the application another way.
    pub fn verify_id_token<'a>(&'a self, id_token: &'a str) -> IdTokenVerification<'a> {
        IdTokenVerification::new(self, id_token)
    }

    pub(crate) async fn check_id_token<C: DeserializeOwned>(
        &self,
        id_token: &str,
        nonce: Option<&str>,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims<C>, Error> {
        let jwks = self
            .inner
            .jwks
            .as_ref()
            .ok_or(Error::MissingEndpoint("jwks_uri"))?;
        let validated = match nonce {
            Some(n) => {
                let policy = self.inner.id_token_policy.with_nonce(n);
                jwks.validate::<IdTokenClaims<C>>(&policy, id_token).await?
            }
            None => {
                jwks.validate::<IdTokenClaims<C>>(&self.inner.id_token_policy, id_token)
                    .await?
            }
        };
        if let (Some(expected), Some(at)) = (&validated.claims.at_hash, access_token)
            && at_hash(at.secret(), validated.header.alg) != *expected
        {
            return Err(Error::AtHashMismatch);
        }
        Ok(validated.claims)
    }

    /// Verifies a logout token, the `logout_token` parameter of a back-channel logout
    /// request (OpenID Connect Back-Channel Logout 1.0 §2.6), with the provider's ID-token
    /// keys and algorithms: the header `typ`, when present, is `logout+jwt` or `JWT`; then
    /// the signature, `iss`, `aud` (this client), `exp` with leeway; `iat` present and not
    /// in the future beyond the leeway; an `events` claim holding the object
    /// `http://schemas.openid.net/event/backchannel-logout`; `sub` or `sid`; no `nonce`.
    ///
    /// Answer the provider `200` (with `Cache-Control: no-store`) once the sessions are
    /// ended, and `400` when this refuses the token. Refusing a replayed `jti` is left to
    /// the application, which may keep the ids it has seen until their `exp`.
    ///
    /// ```no_run
    /// # async fn run(client: idp_client::Client, body: &[u8]) -> Result<(), idp_client::Error> {
    /// use idp_client::logout_token_from_form;
    ///
    /// // `body`: the request body POSTed to the client's backchannel_logout_uri.
    /// let Some(token) = logout_token_from_form(body) else {
    ///     return Ok(()); // answer 400
    /// };
    /// let logout = client.verify_logout_token(&token).await?;
    /// if let Some(sid) = &logout.sid {
    ///     println!("end the sessions whose ID token had sid {sid}");
    /// } else if let Some(sub) = &logout.sub {
    ///     println!("end every session of {sub}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutToken, Error> {
        let jwks = self
            .inner
            .jwks
            .as_ref()
            .ok_or(Error::MissingEndpoint("jwks_uri"))?;
        let jwt = UnverifiedJwt::parse(token)?;
        // Before any key fetch: an access token (`at+jwt`) is refused for what it is.
        logout::check_type(jwt.typ())?;
        let validated = jwks
            .verify::<Map<String, Value>>(&self.inner.logout_token_policy, &jwt)
            .await?;
        Ok(logout::check_claims(
            validated.claims,
            self.inner.clock.unix_now(),
            self.inner.leeway,
        )?)
    }
}

/// `client_secret_basic` unless the provider advertises `client_secret_post` without it
/// (RFC 8414 §2: basic is the default when nothing is advertised).
#[cfg(any(feature = "reqwest", test))]
fn secret_auth(metadata: &ProviderMetadata, secret: idp_core::ClientSecret) -> ClientAuth {
    let methods = metadata.token_endpoint_auth_methods_supported.as_deref();
    let has = |m: &str| methods.is_some_and(|ms| ms.iter().any(|x| x == m));
    if has("client_secret_post") && !has("client_secret_basic") {
        ClientAuth::post(secret)
    } else {
        ClientAuth::basic(secret)
    }
}

/// The UserInfo request (pure).
fn userinfo_request(url: &Url, token: &AccessToken) -> Result<Request<Vec<u8>>, Error> {
    let mut req = h::get_json(url)?;
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.secret()))
        .map_err(|_| Error::Config("the access token cannot form a header"))?;
    v.set_sensitive(true);
    req.headers_mut().insert(header::AUTHORIZATION, v);
    Ok(req)
}

/// Parses a UserInfo response (pure).
fn parse_userinfo_response(resp: &Response<Bytes>, now: SystemTime) -> Result<UserInfo, Error> {
    let claims: Map<String, Value> = h::parse_json(resp, now, "userinfo response")?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_response("userinfo response has no sub"))?
        .to_owned();
    let profile = serde_json::from_value::<StandardClaims>(Value::Object(claims.clone()))
        .unwrap_or_else(|_| lenient_profile(&claims));
    Ok(UserInfo {
        sub,
        profile,
        claims,
    })
}

/// The standard claims that have the right JSON type, one by one.
fn lenient_profile(claims: &Map<String, Value>) -> StandardClaims {
    let mut ok = Map::new();
    for (k, v) in claims {
        let mut one = Map::new();
        one.insert(k.clone(), v.clone());
        if serde_json::from_value::<StandardClaims>(Value::Object(one)).is_ok() {
            ok.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(ok)).unwrap_or_default()
}

/// Parses a token endpoint response (sans-I/O): a 2xx JSON body with a non-empty `Bearer`
/// token, or else the provider's error ([`Error::OAuth`] with its body, [`Error::Status`],
/// [`Error::Redirect`]); `now` (the client's clock) dates an HTTP-date `Retry-After`.
///
/// ```
/// use std::time::SystemTime;
/// let resp = http::Response::new(br#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#.to_vec());
/// let tokens = idp_client::parse_token_response(&resp, SystemTime::now()).unwrap();
/// assert_eq!(tokens.access_token.secret(), "at");
///
/// let mut refused = http::Response::new(br#"{"error":"invalid_grant"}"#.to_vec());
/// *refused.status_mut() = http::StatusCode::BAD_REQUEST;
/// let e = idp_client::parse_token_response(&refused, SystemTime::now()).unwrap_err();
/// assert_eq!(e.oauth_error().unwrap().error, idp_client::idp_core::ErrorCode::InvalidGrant);
/// ```
pub fn parse_token_response<B: AsRef<[u8]>>(
    resp: &Response<B>,
    now: SystemTime,
) -> Result<TokenResponse, Error> {
    let t: TokenResponse = h::parse_json(resp, now, "token response")?;
    if !t.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::invalid_response("token_type is not Bearer"));
    }
    if t.access_token.secret().is_empty() {
        return Err(Error::invalid_response("empty access_token"));
    }
    Ok(t)
}

impl ClientBuilder {
    /// How the client authenticates (default [`ClientAuth::None`], a public client).
    pub fn auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The default `redirect_uri` of authorization requests.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Sends every request through `transport`, with the default policy of
    /// [`HttpClient::with_transport`] (timeout, bounded bodies, `https` except to loopback).
    pub fn http(self, transport: impl Transport) -> Self {
        self.http_client(HttpClient::with_transport(transport))
    }

    /// The HTTP client: a transport and its policy (default: [`HttpClient::new`]).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for every time check (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The key cache for ID tokens (default: one for the metadata's `jwks_uri`, with this
    /// client's HTTP client and clock).
    pub fn jwks(mut self, jwks: JwksCache) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// The algorithms accepted for ID tokens (default: those of the metadata's
    /// `id_token_signing_alg_values_supported` that idp supports, else RS256).
    pub fn id_token_algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    /// Clock skew tolerated on ID-token `exp`/`nbf` and logout-token `exp`/`iat` (default
    /// 60 s, at most 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if self.client_id.is_empty() {
            return Err(Error::Config("client_id is empty"));
        }
        let http = match self.http {
            Some(h) => h,
            None => HttpClient::new()?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let jwks = match (self.jwks, &self.metadata.jwks_uri) {
            (Some(j), _) => Some(j),
            (None, Some(uri)) => Some(
                JwksCache::builder(uri.clone())
                    .http_client(http.clone())
                    .clock(clock.clone())
                    .build()?,
            ),
            (None, None) => None,
        };
        let algorithms = match self.algorithms {
            Some(a) => a,
            None => {
                let advertised: Vec<Algorithm> = self
                    .metadata
                    .id_token_signing_alg_values_supported
                    .iter()
                    .flatten()
                    .filter_map(|a| a.parse().ok())
                    .collect();
                if advertised.is_empty() {
                    vec![Algorithm::RS256]
                } else {
                    advertised
                }
            }
        };
        let logout_token_policy = ValidationPolicy::builder()
            .issuer(self.metadata.issuer.clone())
            .audience(self.client_id.clone())
            .algorithms(algorithms.iter().copied())
            .leeway(self.leeway)
            .build()?;
        let id_token_policy = ValidationPolicy::builder()
            .issuer(self.metadata.issuer.clone())
            .audience(self.client_id.clone())
            .authorized_party(self.client_id.clone())
            .algorithms(algorithms)
            .leeway(self.leeway)
            .build()?;
        Ok(Client {
            inner: Arc::new(Inner {
                metadata: self.metadata,
                client_id: self.client_id,
                auth: self.auth,
                redirect_uri: self.redirect_uri,
                http,
                clock,
                jwks,
                id_token_policy,
                logout_token_policy,
                leeway: self.leeway,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use std::time::UNIX_EPOCH;

    fn client(auth: ClientAuth) -> Client {
        let mut m = ProviderMetadata::new("https://id.example.com");
        m.token_endpoint = Some("https://id.example.com/oauth/token".into());
        m.authorization_endpoint = Some("https://id.example.com/oauth/authorize?tenant=a".into());
        Client::builder(m, "web").auth(auth).build().unwrap()
    }

    fn body(req: &Request<Vec<u8>>) -> Vec<(String, String)> {
        url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect()
    }

    #[test]
    fn token_requests_carry_the_client_auth() {
        let mut tr = TokenRequest::new(GrantType::RefreshToken);
        tr.refresh_token = Some(RefreshToken::new("rt"));
        let r = client(ClientAuth::basic("s")).token_request(&tr).unwrap();
        assert!(
            r.headers()[header::AUTHORIZATION]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        assert!(!body(&r).iter().any(|(k, _)| k == "client_secret"));
        let r = client(ClientAuth::post("s")).token_request(&tr).unwrap();
        assert!(r.headers().get(header::AUTHORIZATION).is_none());
        let b = body(&r);
        assert!(b.contains(&("client_secret".into(), "s".into())));
        assert!(b.contains(&("refresh_token".into(), "rt".into())));
        assert_eq!(r.uri(), "https://id.example.com/oauth/token");
    }

    #[test]
    fn authorization_url_has_pkce_state_nonce() {
        let c = client(ClientAuth::None);
        let (url, pending) = c
            .authorization_request()
            .scope("openid email")
            .redirect_uri("https://app.example/cb")
            .param("prompt", "login")
            .build()
            .unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "a");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "web");
        assert_eq!(q["scope"], "email openid");
        assert_eq!(q["state"], pending.state());
        assert_eq!(q["nonce"], pending.nonce().unwrap());
        assert_eq!(
            q["code_challenge"],
            pending.code_verifier().challenge().as_str()
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], "https://app.example/cb");
        assert_eq!(q["prompt"], "login");
        let (_, p2) = c.authorization_request().scope("api").build().unwrap();
        assert!(p2.nonce().is_none());
        assert_ne!(p2.state(), pending.state());
        assert!(
            c.authorization_request()
                .param("state", "x")
                .build()
                .is_err()
        );
    }

    #[test]
    fn discovered_clients_pick_basic_unless_only_post_is_offered() {
        let with = |methods: Option<&[&str]>| {
            let mut m = ProviderMetadata::new("https://id.example.com");
            m.token_endpoint_auth_methods_supported =
                methods.map(|ms| ms.iter().map(|s| (*s).to_owned()).collect());
            secret_auth(&m, idp_core::ClientSecret::new("s")).method()
        };
        assert_eq!(with(None), "client_secret_basic");
        assert_eq!(with(Some(&["client_secret_post"])), "client_secret_post");
        assert_eq!(
            with(Some(&["client_secret_post", "client_secret_basic"])),
            "client_secret_basic"
        );
        assert_eq!(with(Some(&["private_key_jwt"])), "client_secret_basic");
    }

    #[test]
    fn expiry_is_counted_from_receipt_without_overflow() {
        let at = |expires_in: Option<u64>| {
            let mut t: TokenResponse =
                serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
            t.expires_in = expires_in;
            Client::token_set(t, None, UNIX_EPOCH + Duration::from_secs(1_000)).expires_at()
        };
        assert_eq!(at(Some(60)), Some(UNIX_EPOCH + Duration::from_secs(1_060)));
        assert_eq!(at(None), None);
        assert_eq!(at(Some(u64::MAX)), None);
    }

    #[test]
    fn token_responses() {
        let ok = |b: &str| {
            let r = Response::new(Bytes::from(b.to_owned()));
            parse_token_response(&r, UNIX_EPOCH)
        };
        assert!(ok(r#"{"access_token":"a","token_type":"bearer","expires_in":60}"#).is_ok());
        assert!(ok(r#"{"access_token":"a","token_type":"DPoP"}"#).is_err());
        assert!(ok(r#"{"access_token":"","token_type":"Bearer"}"#).is_err());
        assert!(ok(r#"{"token_type":"Bearer"}"#).is_err());
        let mut r = Response::new(Bytes::from_static(br#"{"error":"invalid_client"}"#));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        let e = parse_token_response(&r, UNIX_EPOCH).unwrap_err();
        assert_eq!(
            e.oauth_error().unwrap().error,
            idp_core::ErrorCode::InvalidClient
        );
    }

    #[test]
    fn userinfo_is_lenient_with_wrong_types() {
        let r = Response::new(Bytes::from_static(
            br#"{"sub":"u1","email":"a@b.c","email_verified":"yes","custom":[1]}"#,
        ));
        let u = parse_userinfo_response(&r, UNIX_EPOCH).unwrap();
        assert_eq!(u.sub, "u1");
        assert_eq!(u.profile.email.as_deref(), Some("a@b.c"));
        assert_eq!(u.profile.email_verified, None);
        assert_eq!(u.claims["custom"][0], 1);
        let r = Response::new(Bytes::from_static(br#"{"email":"a@b.c"}"#));
        assert!(parse_userinfo_response(&r, UNIX_EPOCH).is_err());
    }
}
