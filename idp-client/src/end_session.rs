//! The URL that signs the user out at the provider (OpenID Connect RP-Initiated Logout 1.0).

use url::Url;

use crate::client::Client;
use crate::error::Error;

/// Builds an end-session URL; from [`Client::end_session_url`]. Always sends `client_id`.
///
/// ```no_run
/// # fn f(client: &idp_client::Client, id_token: &str) -> Result<(), idp_client::Error> {
/// let url = client
///     .end_session_url()
///     .id_token_hint(id_token)
///     .post_logout_redirect_uri("https://app.example.com/bye")
///     .state("s-1")
///     .build()?;
/// // Redirect the browser to `url`.
/// # let _ = url; Ok(()) }
/// ```
#[derive(Debug)]
pub struct EndSessionUrl<'a> {
    client: &'a Client,
    params: Vec<(&'static str, String)>,
}

impl<'a> EndSessionUrl<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self {
            client,
            params: Vec::new(),
        }
    }

    fn set(mut self, name: &'static str, value: &str) -> Self {
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name, value.to_owned()));
        self
    }

    /// The ID token the provider issued for this session (`id_token_hint`): with it the
    /// provider can end the session without asking the user to confirm.
    pub fn id_token_hint(self, id_token: &str) -> Self {
        self.set("id_token_hint", id_token)
    }

    /// Where the provider sends the browser afterwards (registered for the client).
    pub fn post_logout_redirect_uri(self, uri: &str) -> Self {
        self.set("post_logout_redirect_uri", uri)
    }

    /// Returned unchanged with the redirect to `post_logout_redirect_uri`.
    pub fn state(self, state: &str) -> Self {
        self.set("state", state)
    }

    /// `logout_hint`: who is signing out, when there is no ID token to send.
    pub fn logout_hint(self, hint: &str) -> Self {
        self.set("logout_hint", hint)
    }

    /// `ui_locales`, space-separated BCP 47 tags.
    pub fn ui_locales(self, locales: &str) -> Self {
        self.set("ui_locales", locales)
    }

    /// The URL; fails if the provider advertises no `end_session_endpoint`.
    pub fn build(self) -> Result<Url, Error> {
        let endpoint = self
            .client
            .metadata()
            .end_session_endpoint
            .as_deref()
            .ok_or(Error::MissingEndpoint("end_session_endpoint"))?;
        let mut url = crate::transport::parse_url(endpoint)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", self.client.client_id());
            for (k, v) in &self.params {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }
}
