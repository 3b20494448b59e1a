//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1), through the verified-secret cache so that a client's secret costs one
//! argon2 check, not one per request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;
use idp_core::{ClientSecret, ErrorCode};

use crate::error::{OAuthError, loggable};
use crate::hashing::Busy;
use crate::hashing::verify_secret;
use crate::secret_cache::Check;
use crate::state::State;
use crate::store::{AuthMethod, Client};
use crate::web::form::single;

/// How the request presented client credentials.
#[derive(Debug)]
pub(crate) struct Presented {
    client_id: String,
    secret: Option<ClientSecret>,
    method: AuthMethod,
}

fn decode_component(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Reads client credentials from the `Authorization: Basic` header or the form body.
pub(crate) fn presented(
    headers: &HeaderMap,
    body_client_id: Option<&str>,
    body_secret: Option<&ClientSecret>,
) -> Result<Option<Presented>, OAuthError> {
    let bad_header = || OAuthError::invalid_client("malformed Basic credentials");
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| bad_header())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(bad_header)?;
        if scheme.eq_ignore_ascii_case("basic") {
            if body_secret.is_some() {
                return Err(OAuthError::new(ErrorCode::InvalidRequest)
                    .describe("use one client authentication method, not two"));
            }
            let raw = STANDARD.decode(rest.trim()).map_err(|_| bad_header())?;
            let raw = String::from_utf8(raw).map_err(|_| bad_header())?;
            let (id, secret) = raw.split_once(':').ok_or_else(bad_header)?;
            let id = decode_component(id).ok_or_else(bad_header)?;
            let secret = decode_component(secret).ok_or_else(bad_header)?;
            if let Some(body_id) = body_client_id
                && body_id != id
            {
                return Err(OAuthError::new(ErrorCode::InvalidRequest)
                    .describe("client_id in the body differs from the Basic credentials"));
            }
            return Ok(Some(Presented {
                client_id: id,
                secret: Some(ClientSecret::new(secret)),
                method: AuthMethod::ClientSecretBasic,
            }));
        }
    }
    match (body_client_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Some(Presented {
            client_id: id.to_owned(),
            secret: Some(secret.clone()),
            method: AuthMethod::ClientSecretPost,
        })),
        (Some(id), None) => Ok(Some(Presented {
            client_id: id.to_owned(),
            secret: None,
            method: AuthMethod::None,
        })),
        (None, Some(_)) => {
            Err(OAuthError::new(ErrorCode::InvalidRequest)
                .describe("client_secret without client_id"))
        }
        (None, None) => Ok(None),
    }
}

/// The authenticated client of a form-posted request (the device authorization,
/// introspection and revocation endpoints): its credentials from the `Authorization` header
/// or the form's `client_id` and `client_secret`, checked by [`authenticate`].
pub(crate) async fn form_client(
    state: &State,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    addr: Option<IpAddr>,
) -> Result<Arc<Client>, OAuthError> {
    let client_id = single(pairs, "client_id")?;
    let secret = single(pairs, "client_secret")?.map(ClientSecret::new);
    let creds = presented(headers, client_id, secret.as_ref())?;
    authenticate(state, creds, addr).await
}

/// Authenticates the client. Unknown client, disabled client, wrong secret and a method the
/// client is not registered for all answer `invalid_client` with the same description, and
/// count as a failure of that client id from `addr`; too many failures from one address
/// answer 429 there, and only there. An authenticated client then spends its own request
/// quota.
pub(crate) async fn authenticate(
    state: &State,
    presented: Option<Presented>,
    addr: Option<IpAddr>,
) -> Result<Arc<Client>, OAuthError> {
    let p =
        presented.ok_or_else(|| OAuthError::invalid_client("client authentication required"))?;
    let limiters = &state.limiters;
    if let Err(wait) = limiters.client_auth_allowed(&p.client_id, addr).await {
        tracing::warn!(target: "idp::audit", event = "client_auth_throttled", client_id = ?loggable(&p.client_id), client_addr = ?addr, "client authentication throttled");
        return Err(OAuthError::too_many(wait));
    }
    let client_id = p.client_id.clone();
    match verify(state, p).await {
        Ok(client) => {
            limiters
                .client(&client.client_id)
                .await
                .map_err(OAuthError::too_many)?;
            Ok(client)
        }
        Err(Failure::Busy) => Err(OAuthError::busy()),
        Err(Failure::Server(e)) => Err(e),
        Err(Failure::Wrong) => {
            tracing::info!(target: "idp::audit", event = "client_auth_failed", client_id = ?loggable(&client_id), client_addr = ?addr, "client authentication failed");
            limiters.client_auth_failed(&client_id, addr).await;
            Err(OAuthError::invalid_client("client authentication failed"))
        }
    }
}

enum Failure {
    Wrong,
    Busy,
    Server(OAuthError),
}

/// The client, if the presented credentials are its own.
async fn verify(state: &State, p: Presented) -> Result<Arc<Client>, Failure> {
    let client = state
        .client(&p.client_id)
        .await
        .map_err(|e| Failure::Server(OAuthError::server(e)))?
        .ok_or(Failure::Wrong)?;
    if !client.active || client.token_endpoint_auth_method != p.method {
        return Err(Failure::Wrong);
    }
    if p.method == AuthMethod::None {
        return Ok(client);
    }
    let (Some(secret), Some(hash)) = (p.secret, client.secret_hash.clone()) else {
        return Err(Failure::Wrong);
    };
    let cache = &state.verified_secrets;
    let tag = cache.tag(&client.client_id, secret.secret(), hash.as_str());
    let budget = &state.hashing;
    let outcome = cache
        .check(tag, || async move {
            match budget
                .run(move || verify_secret(secret.secret(), &hash))
                .await
            {
                Ok(true) => Check::Verified,
                Ok(false) => Check::Wrong,
                Err(Busy) => Check::Busy,
            }
        })
        .await;
    match outcome {
        Check::Verified => Ok(client),
        Check::Busy => Err(Failure::Busy),
        Check::Wrong => Err(Failure::Wrong),
    }
}
