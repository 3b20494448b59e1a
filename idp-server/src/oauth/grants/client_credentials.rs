//! `grant_type=client_credentials` (RFC 6749 §4.4) with RFC 8707 resource indicators.

use std::net::IpAddr;

use idp_core::{ErrorCode, GrantType, Scope, TokenRequest, TokenResponse, TokenUse};

use crate::attributes::TokenKind;
use crate::error::OAuthError;
use crate::issue::{default_audiences, requested_audiences};
use crate::state::State;
use crate::store::Client;

/// The audiences a token request may name (RFC 8707 `resource`, or `audience`), each one
/// registered for the client; none named → the client's registered audiences (or the
/// client itself when it has none).
fn audiences(client: &Client, req: &TokenRequest) -> Result<Vec<String>, OAuthError> {
    let asked = requested_audiences(&client.audiences, req)?;
    Ok(if asked.is_empty() {
        default_audiences(client)
    } else {
        asked
    })
}

pub(crate) async fn client_credentials(
    state: &State,
    client: &Client,
    req: &TokenRequest,
    addr: Option<IpAddr>,
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
    // Enforced scopes_supported: an unknown scope asked for is refused; by default, what
    // the client has and the provider still knows.
    let scope = if state.config.scopes_enforced() {
        if req.scope.is_some() && !scope.is_subset(&state.scopes_supported) {
            return Err(OAuthError::new(ErrorCode::InvalidScope)
                .describe("requested scope is not supported"));
        }
        scope.intersection(&state.scopes_supported)
    } else {
        scope
    };
    // A registered tenant's scope restriction (from the tenant cache).
    let scope = match client.tenant_id.as_deref() {
        None => scope,
        Some(t) => match state.tenant(t).await.map_err(OAuthError::server)? {
            Some(tenant) => match &tenant.allowed_scopes {
                Some(allowed) if req.scope.is_some() && !scope.is_subset(allowed) => {
                    return Err(OAuthError::new(ErrorCode::InvalidScope)
                        .describe("requested scope is not allowed for this tenant"));
                }
                Some(allowed) => scope.intersection(allowed),
                None => scope,
            },
            None => scope,
        },
    };
    let aud = audiences(client, req)?;
    let minter = state.minter();
    let mut claims = minter.access_claims(
        client.client_id.clone(),
        aud,
        uuid::Uuid::new_v4().to_string(),
        client.client_id.clone(),
        TokenUse::Service,
    );
    claims.scope = (!scope.is_empty()).then(|| scope.clone());
    claims.tenant = client.tenant_id.clone();
    let custom = state
        .custom_claims(
            TokenKind::AccessToken,
            (&client.client_id, client.tenant_id.as_deref()),
            None,
            &scope,
            addr,
        )
        .await?;
    let token =
        minter.with_custom_claims(state.config.access_token_alg, "at+jwt", &claims, &custom)?;
    let ttl = u64::try_from(state.config.access_token_secs()).unwrap_or(0);
    let mut resp = TokenResponse::bearer(token, ttl);
    resp.scope = (!scope.is_empty()).then_some(scope);
    Ok(resp)
}
