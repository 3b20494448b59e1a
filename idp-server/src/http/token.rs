//! `POST /oauth/token` (RFC 6749 §3.2). This issue implements `client_credentials`; the
//! browser grants arrive with the authorization endpoint.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use idp_core::{
    AccessTokenClaims, Audience, ErrorCode, GrantType, Scope, TokenRequest, TokenResponse, TokenUse,
};

use super::error::{OAuthError, no_store};
use super::{State, form_pairs};
use crate::client_auth::{authenticate, presented};
use crate::provider::Inner;
use crate::store::Client;

pub(crate) async fn token(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&inner, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(inner: &Inner, headers: &HeaderMap, body: &Bytes) -> Result<Response, OAuthError> {
    let pairs = form_pairs(headers, body)?;
    let req = TokenRequest::from_form(&pairs)?;
    let creds = presented(
        headers,
        req.client_id.as_deref(),
        req.client_secret.as_ref(),
    )?;
    let client = authenticate(inner, creds).await?;
    let response = match &req.grant_type {
        GrantType::ClientCredentials => client_credentials(inner, &client, &req).await?,
        GrantType::AuthorizationCode => {
            super::grants::authorization_code(inner, &client, &req).await?
        }
        GrantType::RefreshToken => super::grants::refresh_token(inner, &client, &req).await?,
        _ => {
            return Err(OAuthError::new(ErrorCode::UnsupportedGrantType)
                .describe("this grant type is not supported"));
        }
    };
    let mut resp = axum::Json(response).into_response();
    no_store(&mut resp);
    Ok(resp)
}

/// The audiences a token request may name (RFC 8707 `resource`, or `audience`), each one
/// registered for the client; none named → the client's registered audiences (or the
/// client itself when it has none).
fn audiences(client: &Client, req: &TokenRequest) -> Result<Vec<String>, OAuthError> {
    let mut asked: Vec<String> = req.resource.clone();
    if let Some(a) = &req.audience {
        asked.push(a.clone());
    }
    if asked.is_empty() {
        return Ok(crate::issue::default_audiences(client));
    }
    let mut out = Vec::new();
    for a in asked {
        if !client.audiences.contains(&a) {
            return Err(OAuthError::new(ErrorCode::InvalidTarget)
                .describe("the requested resource is not allowed for this client"));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

async fn client_credentials(
    inner: &Inner,
    client: &Client,
    req: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() || !client.allows_grant(&GrantType::ClientCredentials) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient)
            .describe("this client may not use client_credentials"));
    }
    let scope: Scope = match &req.scope {
        Some(s) => {
            if !s.is_subset(&client.allowed_scopes) {
                return Err(OAuthError::new(ErrorCode::InvalidScope)
                    .describe("requested scope is not allowed for this client"));
            }
            s.clone()
        }
        None => client.allowed_scopes.clone(),
    };
    let aud = audiences(client, req)?;
    let now = inner.now();
    let ttl = inner.settings.access_token_ttl;
    let mut claims: AccessTokenClaims = AccessTokenClaims::new(
        inner.settings.issuer.clone(),
        client.client_id.clone(),
        Audience::many(aud),
        now,
        now + ttl,
        uuid::Uuid::new_v4().to_string(),
        client.client_id.clone(),
        TokenUse::Service,
    );
    claims.scope = (!scope.is_empty()).then(|| scope.clone());
    claims.tenant = client.tenant_id.clone();
    let token = crate::issue::sign(
        inner,
        inner.settings.access_token_alg,
        "at+jwt",
        &claims,
        now,
    )?;
    let mut resp = TokenResponse::bearer(token, u64::try_from(ttl).unwrap_or(0));
    resp.scope = (!scope.is_empty()).then_some(scope);
    Ok(resp)
}
