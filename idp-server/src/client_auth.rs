//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1), with a cache so that a client's secret costs one argon2 check, not one
//! per request.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use idp_core::{ClientSecret, ErrorCode};

use crate::crypto::verify_secret;
use crate::http::error::OAuthError;
use crate::provider::Inner;
use crate::store::{AuthMethod, Client};

/// Secrets verified recently, keyed by an HMAC (under a per-process random key) of client
/// id, secret and stored hash: a changed secret hash misses, and the cache holds no secret.
pub(crate) struct VerifiedSecrets {
    key: hmac::Key,
    cache: moka::sync::Cache<[u8; 32], ()>,
}

impl VerifiedSecrets {
    pub(crate) fn new() -> Self {
        let mut k = [0u8; 32];
        // Without randomness the process cannot operate securely at all.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut k).expect("system random number generator failed");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &k),
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    fn tag(&self, client_id: &str, secret: &str, hash: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [client_id, secret, hash] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

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

/// Authenticates the client. Unknown client, disabled client, wrong secret and a method the
/// client is not registered for all answer `invalid_client` with the same description.
pub(crate) async fn authenticate(
    inner: &Inner,
    presented: Option<Presented>,
) -> Result<Client, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let p =
        presented.ok_or_else(|| OAuthError::invalid_client("client authentication required"))?;
    inner
        .limiters
        .client(&p.client_id)
        .map_err(OAuthError::too_many)?;
    let client = inner
        .store
        .get_client(&p.client_id)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(failed)?;
    if !client.active {
        return Err(failed());
    }
    if client.token_endpoint_auth_method != p.method {
        return Err(failed());
    }
    if p.method == AuthMethod::None {
        return Ok(client);
    }
    let (Some(secret), Some(hash)) = (p.secret, client.secret_hash.clone()) else {
        return Err(failed());
    };
    let cache = &inner.client_auth_cache;
    let tag = cache.tag(&client.client_id, secret.secret(), hash.as_str());
    if cache.cache.contains_key(&tag) {
        return Ok(client);
    }
    let ok = tokio::task::spawn_blocking(move || verify_secret(secret.secret(), &hash))
        .await
        .map_err(|_| OAuthError::server("secret verification task failed"))?;
    if !ok {
        tracing::info!(client_id = %client.client_id, "client authentication failed");
        return Err(failed());
    }
    cache.cache.insert(tag, ());
    Ok(client)
}
