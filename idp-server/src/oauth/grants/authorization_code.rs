//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636): the presenter is checked
//! against the code (client, redirect URI, PKCE) before the code is consumed, so a wrong
//! presenter neither burns it nor revokes anything; the code is consumed once, and a replay
//! by its rightful client revokes the grant (everything its first use issued).

use std::net::IpAddr;

use idp_core::{
    CodeChallenge, CodeVerifier, ErrorCode, GrantType, TokenRequest, TokenResponse, sha256_b64url,
};

use super::{active_user, grant_amr};
use crate::error::OAuthError;
use crate::issue::{Grant, default_audiences, requested_audiences, restrict_to_user};
use crate::state::State;
use crate::store::{AuthCodeRecord, Client, ConsumeOutcome};

pub(crate) async fn authorization_code(
    state: &State,
    client: &Client,
    req: &TokenRequest,
    addr: Option<IpAddr>,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(&GrantType::AuthorizationCode) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient)
            .describe("this client may not use authorization_code"));
    }
    let code = req
        .code
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_request("missing code"))?;
    let hash = sha256_b64url(code.secret().as_bytes());
    let now = state.now();
    let stored = state
        .store
        .get_code(&hash)
        .await
        .map_err(OAuthError::server)?
        .filter(|c| c.consumed_at.is_some() || c.expires_at > now)
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid or expired"))?;
    check_binding(&stored, client, req)?;
    // RFC 8707 at the token endpoint: checked before the code is spent, so that a wrong
    // resource does not cost the user a sign-in.
    let audiences = default_audiences(client);
    let resource = requested_audiences(&audiences, req)?;
    let rec = consume(state, &hash, now).await?;
    let user = active_user(state, &rec.user_id, client).await?;
    let mut grant = Grant {
        grant_id: rec.grant_id.clone(),
        scope: restrict_to_user(&rec.scope, &user),
        audiences,
        resource,
        auth_time: rec.auth_time,
        sid: rec.session_id.clone(),
        amr: Vec::new(),
        nonce: rec.nonce.clone(),
    };
    grant.amr = grant_amr(state, &rec.grant_id, &grant.scope).await?;
    let (resp, refresh) = {
        let extra = state
            .extra_claims(client, &user, &grant.scope, addr)
            .await?;
        state.minter().user_tokens(client, &user, &grant, &extra)?
    };
    if let Some(r) = refresh {
        state
            .store
            .insert_refresh_token(&r)
            .await
            .map_err(OAuthError::server)?;
    }
    Ok(resp)
}

/// Consumes the code (one atomic statement), once its presenter has been checked. A
/// replayed code revokes its grant: every token its first use issued.
async fn consume(state: &State, hash: &str, now: i64) -> Result<AuthCodeRecord, OAuthError> {
    match state
        .store
        .consume_code(hash, now)
        .await
        .map_err(OAuthError::server)?
    {
        ConsumeOutcome::Consumed(rec) => Ok(rec),
        ConsumeOutcome::AlreadyUsed(rec) => {
            tracing::warn!(target: "idp::audit", event = "code_replayed", client_id = %rec.client_id, grant_id = %rec.grant_id, "authorization code reused; revoking its grant");
            state
                .revoker()
                .end_grant(&rec.grant_id, "code_replayed")
                .await
                .map_err(OAuthError::server)?;
            Err(OAuthError::invalid_grant(
                "the authorization code has already been used",
            ))
        }
        _ => Err(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        )),
    }
}

/// The code was issued to this client, for this redirect URI, with this PKCE verifier.
fn check_binding(
    rec: &AuthCodeRecord,
    client: &Client,
    req: &TokenRequest,
) -> Result<(), OAuthError> {
    if rec.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    match (&req.redirect_uri, rec.redirect_uri.is_empty()) {
        (Some(given), false) if *given == rec.redirect_uri => {}
        (None, true) => {}
        (Some(given), true)
            if client.redirect_uris.len() == 1 && *given == client.redirect_uris[0] => {}
        _ => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    match (&rec.code_challenge, &req.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let verifier = CodeVerifier::parse(verifier)
                .map_err(|_| OAuthError::invalid_grant("malformed code_verifier"))?;
            CodeChallenge::parse(challenge)
                .and_then(|c| c.verify(&verifier))
                .map_err(|_| {
                    OAuthError::invalid_grant("code_verifier does not match the code_challenge")
                })?;
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier given but no code_challenge was sent",
            ));
        }
        (None, None) => {
            if client.is_public() {
                return Err(OAuthError::invalid_grant("public clients must use PKCE"));
            }
        }
    }
    Ok(())
}
