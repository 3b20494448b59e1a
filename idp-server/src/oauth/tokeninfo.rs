//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use idp_core::{AccessTokenClaims, IntrospectionResponse, TokenTypeHint, sha256_b64url};

use super::client_auth::form_client;
use crate::error::{OAuthError, no_store};
use crate::state::State;
use crate::store::Client;
use crate::web::AppState;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{Bounds, RawBody, body, form_pairs, single};

struct Request {
    client: std::sync::Arc<Client>,
    token: String,
    hint: Option<TokenTypeHint>,
}

async fn read(
    state: &State,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    body: &Bytes,
    public_allowed: bool,
) -> Result<Request, OAuthError> {
    let pairs = form_pairs(headers, body, Bounds::of(&state.config))?;
    let token = single(&pairs, "token")?.map(str::to_owned);
    let hint = single(&pairs, "token_type_hint")?.and_then(TokenTypeHint::parse);
    let client = form_client(state, headers, &pairs, addr).await?;
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

pub(crate) async fn introspect(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let result = async {
        let body = body(raw)?;
        let req = read(&app, addr, &headers, &body, false).await?;
        let found = match req.hint {
            Some(TokenTypeHint::RefreshToken) => match refresh_info(&app, &req).await? {
                Some(r) => Some(r),
                None => access_info(&app, &req).await?,
            },
            _ => match access_info(&app, &req).await? {
                Some(r) => Some(r),
                None => refresh_info(&app, &req).await?,
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

/// Whether `client` may learn about an access token with these claims (RFC 7662 §4): its
/// own tokens, and tokens meant for it (its id, or one of its registered audiences, in
/// `aud`); a client of a tenant only about tokens of that tenant.
fn may_see(client: &Client, c: &AccessTokenClaims) -> bool {
    let meant_for = c.client_id == client.client_id
        || c.aud.contains(&client.client_id)
        || client.audiences.iter().any(|a| c.aud.contains(a));
    let same_tenant = client.tenant_id.is_none() || client.tenant_id == c.tenant;
    meant_for && same_tenant
}

async fn access_info(
    state: &State,
    req: &Request,
) -> Result<Option<IntrospectionResponse>, OAuthError> {
    let Some(c) = state.verify_access_token(&req.token, false) else {
        return Ok(None);
    };
    if !may_see(&req.client, &c) {
        return Ok(None);
    }
    if state
        .live_subject(&c)
        .await
        .map_err(OAuthError::server)?
        .is_none()
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
    state: &State,
    req: &Request,
) -> Result<Option<IntrospectionResponse>, OAuthError> {
    let hash = sha256_b64url(req.token.as_bytes());
    let Some(t) = state
        .store
        .get_refresh_token(&hash)
        .await
        .map_err(OAuthError::server)?
    else {
        return Ok(None);
    };
    // A refresh token is only described to the client it was issued to.
    if t.client_id != req.client.client_id || !t.is_usable(state.now()) {
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
    r.iss = Some(state.issuer.as_str().to_owned());
    r.tenant = t.tenant_id;
    Ok(Some(r))
}

pub(crate) async fn revoke(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let result = async {
        let body = body(raw)?;
        let req = read(&app, addr, &headers, &body, true).await?;
        // RFC 7009 §2.2: an invalid or unknown token, or one of another client, is not an
        // error; the answer is 200 either way.
        let hash = sha256_b64url(req.token.as_bytes());
        let refresh = app
            .store
            .get_refresh_token(&hash)
            .await
            .map_err(OAuthError::server)?;
        // A refresh token takes its whole grant with it (RFC 7009 §2.1): the access
        // tokens issued from it become inactive too. An access token is revoked alone.
        if let Some(t) = refresh {
            if t.client_id == req.client.client_id {
                app.revoker()
                    .end_grant(&t.family_id, "refresh_token_revoked")
                    .await
                    .map_err(OAuthError::server)?;
            }
        } else if let Some(c) = app.verify_access_token(&req.token, true)
            && c.client_id == req.client.client_id
        {
            app.store
                .revoke_access_token(&c.jti, c.exp)
                .await
                .map_err(OAuthError::server)?;
            tracing::info!(target: "idp::audit", event = "access_token_revoked", client_id = %c.client_id, jti = %c.jti, "access token revoked");
        }
        let mut resp = StatusCode::OK.into_response();
        no_store(&mut resp);
        Ok::<_, OAuthError>(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
