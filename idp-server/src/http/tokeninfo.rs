//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use idp_core::{
    AccessTokenClaims, ClientSecret, IntrospectionResponse, TokenTypeHint, sha256_b64url,
};

use super::error::{OAuthError, no_store};
use super::{State, form_pairs, single};
use crate::client_auth::{authenticate, presented};
use crate::provider::Inner;
use crate::store::Client;

struct Request {
    client: Client,
    token: String,
    hint: Option<TokenTypeHint>,
}

async fn read(
    inner: &Inner,
    headers: &HeaderMap,
    body: &Bytes,
    public_allowed: bool,
) -> Result<Request, OAuthError> {
    let pairs = form_pairs(headers, body)?;
    let client_id = single(&pairs, "client_id")?;
    let secret = single(&pairs, "client_secret")?.map(ClientSecret::new);
    let token = single(&pairs, "token")?.map(str::to_owned);
    let hint = single(&pairs, "token_type_hint")?.and_then(TokenTypeHint::parse);
    let creds = presented(headers, client_id, secret.as_ref())?;
    let client = authenticate(inner, creds).await?;
    if client.is_public() && !public_allowed {
        return Err(OAuthError::invalid_client(
            "introspection needs a confidential client",
        ));
    }
    let token = token.ok_or_else(|| OAuthError::invalid_request("missing token"))?;
    Ok(Request {
        client,
        token,
        hint,
    })
}

/// Verifies one of our access tokens: signature, issuer and type; `exp` is checked by the
/// caller so that revocation can also accept recently expired tokens.
pub(crate) fn our_access_token(
    inner: &Inner,
    token: &str,
    leeway_ok: bool,
) -> Option<AccessTokenClaims> {
    if token.len() > 8192 || token.matches('.').count() != 2 {
        return None;
    }
    let snap = inner.keys.snapshot();
    let policy = if leeway_ok {
        &inner.policies.access_recent
    } else {
        &inner.policies.access
    };
    policy
        .validate::<AccessTokenClaims>(token, &snap.verification, inner.clock.as_ref())
        .ok()
        .map(|v| v.claims)
}

pub(crate) async fn introspect(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let req = read(&inner, &headers, &body, false).await?;
        let found = match req.hint {
            Some(TokenTypeHint::RefreshToken) => match refresh_info(&inner, &req).await? {
                Some(r) => Some(r),
                None => access_info(&inner, &req).await?,
            },
            _ => match access_info(&inner, &req).await? {
                Some(r) => Some(r),
                None => refresh_info(&inner, &req).await?,
            },
        };
        let mut resp =
            axum::Json(found.unwrap_or_else(IntrospectionResponse::inactive)).into_response();
        no_store(&mut resp);
        Ok::<_, OAuthError>(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn access_info(
    inner: &Inner,
    req: &Request,
) -> Result<Option<IntrospectionResponse>, OAuthError> {
    let Some(c) = our_access_token(inner, &req.token, false) else {
        return Ok(None);
    };
    if inner
        .store
        .is_access_token_revoked(&c.jti)
        .await
        .map_err(OAuthError::server)?
    {
        return Ok(None);
    }
    let mut r = IntrospectionResponse::inactive();
    r.active = true;
    r.scope = c.scope;
    r.client_id = Some(c.client_id);
    r.token_type = Some("Bearer".into());
    r.exp = Some(c.exp);
    r.iat = Some(c.iat);
    r.nbf = c.nbf;
    r.sub = Some(c.sub);
    r.aud = Some(c.aud);
    r.iss = Some(c.iss);
    r.jti = Some(c.jti);
    r.tenant = c.tenant;
    r.token_use = c.token_use;
    Ok(Some(r))
}

async fn refresh_info(
    inner: &Inner,
    req: &Request,
) -> Result<Option<IntrospectionResponse>, OAuthError> {
    let hash = sha256_b64url(req.token.as_bytes());
    let Some(t) = inner
        .store
        .get_refresh_token(&hash)
        .await
        .map_err(OAuthError::server)?
    else {
        return Ok(None);
    };
    // A refresh token is only described to the client it was issued to.
    if t.client_id != req.client.client_id || !t.is_usable(inner.now()) {
        return Ok(None);
    }
    let mut r = IntrospectionResponse::inactive();
    r.active = true;
    r.scope = Some(t.scope);
    r.client_id = Some(t.client_id);
    r.token_type = Some("refresh_token".into());
    r.exp = Some(t.expires_at);
    r.iat = Some(t.created_at);
    r.sub = Some(t.user_id);
    r.iss = Some(inner.settings.issuer.clone());
    r.tenant = t.tenant_id;
    Ok(Some(r))
}

pub(crate) async fn revoke(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let req = read(&inner, &headers, &body, true).await?;
        // RFC 7009 §2.2: an invalid or unknown token, or one of another client, is not an
        // error; the answer is 200 either way.
        let hash = sha256_b64url(req.token.as_bytes());
        let refresh = inner
            .store
            .get_refresh_token(&hash)
            .await
            .map_err(OAuthError::server)?;
        if let Some(t) = refresh {
            if t.client_id == req.client.client_id {
                inner
                    .store
                    .revoke_refresh_family(&t.family_id, inner.now())
                    .await
                    .map_err(OAuthError::server)?;
            }
        } else if let Some(c) = our_access_token(&inner, &req.token, true)
            && c.client_id == req.client.client_id
        {
            inner
                .store
                .revoke_access_token(&c.jti, c.exp)
                .await
                .map_err(OAuthError::server)?;
        }
        let mut resp = StatusCode::OK.into_response();
        no_store(&mut resp);
        Ok::<_, OAuthError>(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
