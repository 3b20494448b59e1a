//! Token requests as builders: [`CodeExchange`], [`Refresh`] and [`ClientCredentials`],
//! started by [`Client::exchange_code`], [`Client::refresh`] and
//! [`Client::client_credentials`], sent with `send().await`.
//!
//! Every grant takes the same extras: RFC 8707 `resource` (repeatable), `audience` (the
//! common non-standard alternative), and any other parameter with `param`. Refresh and
//! client credentials also take a `scope`.

use idp_core::{AuthorizationCode, GrantType, RefreshToken, Scope, TokenRequest, TokenResponse};

use crate::{Client, Error, PendingAuthorization, TokenSet};

/// Parameters the builders set themselves; `param` refuses them (`send` fails).
const RESERVED: [&str; 13] = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "device_code",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "resource",
    "audience",
];

/// What every grant's builder carries besides the grant itself.
#[derive(Debug, Default)]
struct Extras {
    scope: Option<Scope>,
    resources: Vec<String>,
    audience: Option<String>,
    params: Vec<(String, String)>,
}

impl Extras {
    /// Fills `req` and checks the free-form parameters.
    fn apply(self, req: &mut TokenRequest) -> Result<Vec<(String, String)>, Error> {
        if self
            .params
            .iter()
            .any(|(k, _)| k.is_empty() || RESERVED.contains(&k.as_str()))
        {
            return Err(Error::Config(
                "this token parameter is empty or set by the builder itself",
            ));
        }
        req.scope = self.scope.filter(|s| !s.is_empty());
        req.resource = self.resources;
        req.audience = self.audience;
        Ok(self.params)
    }
}

/// The setters every grant builder has.
macro_rules! extras {
    () => {
        /// Adds an RFC 8707 `resource` indicator (an absolute URI or, with providers that
        /// accept it, an API identifier). Repeatable: each call adds one.
        pub fn resource(mut self, resource: impl Into<String>) -> Self {
            self.extras.resources.push(resource.into());
            self
        }

        /// Sets the `audience` parameter (not standardised; Auth0, Keycloak and others).
        pub fn audience(mut self, audience: impl Into<String>) -> Self {
            self.extras.audience = Some(audience.into());
            self
        }

        /// Adds another parameter to the request body. The parameters the builder sets
        /// itself (`grant_type`, `scope`, `resource`, `audience`, the grant's own and the
        /// client authentication's) cannot be set this way: `send` fails with
        /// [`Error::Config`].
        pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.extras.params.push((name.into(), value.into()));
            self
        }
    };
}

macro_rules! scope {
    () => {
        /// The scope to request (an empty scope is not sent).
        pub fn scope(mut self, scope: Scope) -> Self {
            self.extras.scope = Some(scope);
            self
        }
    };
}

/// An authorization code exchange, from [`Client::exchange_code`].
#[derive(Debug)]
#[must_use = "a token request does nothing until `send().await`"]
pub struct CodeExchange<'a> {
    client: &'a Client,
    pending: &'a PendingAuthorization,
    code: AuthorizationCode,
    extras: Extras,
}

impl<'a> CodeExchange<'a> {
    pub(crate) fn new(
        client: &'a Client,
        pending: &'a PendingAuthorization,
        code: AuthorizationCode,
    ) -> Self {
        Self {
            client,
            pending,
            code,
            extras: Extras::default(),
        }
    }

    extras!();

    /// Sends the request. An ID token in the response is verified (signature, issuer,
    /// audience, expiry, `nonce`, `azp`, `at_hash`); when the authorization had a nonce (an
    /// `openid` request), an ID token is required.
    pub async fn send(self) -> Result<TokenSet, Error> {
        let mut req = TokenRequest::new(GrantType::AuthorizationCode);
        req.code = Some(self.code);
        req.redirect_uri = self.pending.redirect_uri().map(str::to_owned);
        req.code_verifier = Some(self.pending.code_verifier().secret().to_owned());
        let extra = self.extras.apply(&mut req)?;
        let tokens = self.client.token(&req, &extra).await?;
        let received = self.client.clock().now();
        let id_token = match (&tokens.id_token, self.pending.nonce()) {
            (Some(t), nonce) => Some(
                self.client
                    .check_id_token(t, nonce, Some(&tokens.access_token))
                    .await?,
            ),
            (None, Some(_)) => {
                return Err(Error::invalid_response(
                    "an openid authorization returned no id_token",
                ));
            }
            (None, None) => None,
        };
        if let Some(max_age) = self.pending.max_age() {
            // OIDC Core §3.1.3.7 (13): with max_age, auth_time is required and recent.
            let auth_time = id_token.as_ref().and_then(|c| c.auth_time).ok_or_else(|| {
                Error::invalid_response("max_age was requested but the ID token has no auth_time")
            })?;
            let now = self.client.clock().unix_now();
            let limit = i64::try_from(max_age)
                .unwrap_or(i64::MAX)
                .saturating_add(i64::try_from(self.client.leeway().as_secs()).unwrap_or(0));
            if now.saturating_sub(auth_time) > limit {
                return Err(Error::invalid_response(
                    "the ID token's auth_time is older than the requested max_age",
                ));
            }
        }
        Ok(Client::token_set(tokens, id_token, received))
    }
}

/// A refresh token grant, from [`Client::refresh`].
#[derive(Debug)]
#[must_use = "a token request does nothing until `send().await`"]
pub struct Refresh<'a> {
    client: &'a Client,
    refresh_token: &'a RefreshToken,
    extras: Extras,
}

impl<'a> Refresh<'a> {
    pub(crate) fn new(client: &'a Client, refresh_token: &'a RefreshToken) -> Self {
        Self {
            client,
            refresh_token,
            extras: Extras::default(),
        }
    }

    scope!();
    extras!();

    /// Sends the request. The returned `tokens.refresh_token` is the token to use next: the
    /// provider's rotated token, or the one sent if it did not rotate. An ID token in the
    /// response is verified (without a nonce, OIDC Core §12.2).
    pub async fn send(self) -> Result<TokenSet, Error> {
        let mut req = TokenRequest::new(GrantType::RefreshToken);
        req.refresh_token = Some(self.refresh_token.clone());
        let extra = self.extras.apply(&mut req)?;
        let mut tokens = self.client.token(&req, &extra).await?;
        let received = self.client.clock().now();
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(self.refresh_token.clone());
        }
        let id_token = match &tokens.id_token {
            Some(t) => Some(
                self.client
                    .check_id_token(t, None, Some(&tokens.access_token))
                    .await?,
            ),
            None => None,
        };
        Ok(Client::token_set(tokens, id_token, received))
    }
}

/// A `client_credentials` grant, uncached, from [`Client::client_credentials`]; see
/// [`ServiceTokenCache`](crate::ServiceTokenCache) for the cached form.
#[derive(Debug)]
#[must_use = "a token request does nothing until `send().await`"]
pub struct ClientCredentials<'a> {
    client: &'a Client,
    extras: Extras,
}

impl<'a> ClientCredentials<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self {
            client,
            extras: Extras::default(),
        }
    }

    scope!();
    extras!();

    /// Sends the request.
    pub async fn send(self) -> Result<TokenResponse, Error> {
        let mut req = TokenRequest::new(GrantType::ClientCredentials);
        let extra = self.extras.apply(&mut req)?;
        self.client.token(&req, &extra).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_fill_the_request_and_refuse_reserved_names() {
        let mut req = TokenRequest::new(GrantType::ClientCredentials);
        let extras = Extras {
            scope: Some("read:orders".parse().unwrap()),
            resources: vec!["https://a".into(), "https://b".into()],
            audience: Some("orders-api".into()),
            params: vec![("actor".into(), "x".into())],
        };
        let params = extras.apply(&mut req).unwrap();
        assert_eq!(params, vec![("actor".to_owned(), "x".to_owned())]);
        let form = req.to_form();
        let resources: Vec<_> = form.iter().filter(|(k, _)| *k == "resource").collect();
        assert_eq!(resources.len(), 2);
        assert!(form.contains(&("audience", "orders-api".into())));
        assert!(form.contains(&("scope", "read:orders".into())));

        for name in ["client_secret", "grant_type", "resource", ""] {
            let extras = Extras {
                params: vec![(name.into(), "x".into())],
                ..Extras::default()
            };
            let mut req = TokenRequest::new(GrantType::ClientCredentials);
            assert!(matches!(extras.apply(&mut req), Err(Error::Config(_))));
        }

        let extras = Extras {
            scope: Some(Scope::default()),
            ..Extras::default()
        };
        let mut req = TokenRequest::new(GrantType::ClientCredentials);
        extras.apply(&mut req).unwrap();
        assert!(req.scope.is_none());
    }
}
