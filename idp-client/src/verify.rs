//! [`IdTokenVerification`]: the checks of one ID token, started by
//! [`Client::verify_id_token`] and run with `send().await`.

use std::fmt;
use std::marker::PhantomData;

use idp_core::{AccessToken, IdTokenClaims, NoExtra};
use serde::de::DeserializeOwned;

use crate::{Client, Error};

/// The verification of one ID token: signature (the client's algorithms), `iss`, `aud`
/// (this client), `exp`/`nbf` with leeway and `azp` always; `nonce` and `at_hash` when
/// asked for.
///
/// ```no_run
/// # async fn run(client: idp_client::Client, raw: &str, at: idp_client::idp_core::AccessToken)
/// # -> Result<(), idp_client::Error> {
/// #[derive(serde::Deserialize)]
/// struct Groups {
///     #[serde(default)]
///     groups: Vec<String>,
/// }
///
/// // The standard claims: no type to name.
/// let claims = client.verify_id_token(raw).nonce("n-0S6_WzA2Mj").send().await?;
/// println!("{}", claims.sub);
/// // Your own claims as well, and the access token's `at_hash`.
/// let claims = client
///     .verify_id_token(raw)
///     .access_token(&at)
///     .claims::<Groups>()
///     .send()
///     .await?;
/// println!("{:?}", claims.extra.groups);
/// # Ok(()) }
/// ```
#[must_use = "nothing is verified until `send().await`"]
pub struct IdTokenVerification<'a, C = NoExtra> {
    client: &'a Client,
    id_token: &'a str,
    nonce: Option<&'a str>,
    access_token: Option<&'a AccessToken>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for IdTokenVerification<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The tokens are credentials: only whether they are there.
        f.debug_struct("IdTokenVerification")
            .field("nonce", &self.nonce.is_some())
            .field("access_token", &self.access_token.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> IdTokenVerification<'a> {
    pub(crate) fn new(client: &'a Client, id_token: &'a str) -> Self {
        Self {
            client,
            id_token,
            nonce: None,
            access_token: None,
            _claims: PhantomData,
        }
    }
}

impl<'a, C> IdTokenVerification<'a, C> {
    /// Requires the token's `nonce` to equal this one (the nonce of the authorization
    /// request; a token without `nonce` is then refused).
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Checks the token's `at_hash`, when it has one, against this access token (issued
    /// with it).
    pub fn access_token(mut self, access_token: &'a AccessToken) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Deserialises your own claims `C2` (flattened next to the standard ones) into
    /// [`IdTokenClaims<C2>`]; a token whose claims do not fit is refused.
    pub fn claims<C2>(self) -> IdTokenVerification<'a, C2> {
        IdTokenVerification {
            client: self.client,
            id_token: self.id_token,
            nonce: self.nonce,
            access_token: self.access_token,
            _claims: PhantomData,
        }
    }

    /// Runs the checks, fetching the provider's keys if needed.
    pub async fn send(self) -> Result<IdTokenClaims<C>, Error>
    where
        C: DeserializeOwned,
    {
        self.client
            .check_id_token(self.id_token, self.nonce, self.access_token)
            .await
    }
}
