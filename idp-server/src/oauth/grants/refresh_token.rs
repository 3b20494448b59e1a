//! `grant_type=refresh_token` with rotation and reuse detection (RFC 6749 §6, RFC 9700
//! §4.14): every use rotates the token; reuse of a rotated one revokes the family.

use std::net::IpAddr;

use idp_core::{ErrorCode, GrantType, RefreshToken, TokenRequest, TokenResponse, sha256_b64url};

use super::{active_user, grant_amr};
use crate::error::OAuthError;
use crate::issue::{Grant, default_audiences, requested_audiences, restrict_to_user};
use crate::state::State;
use crate::store::{Client, ConsumeOutcome, RefreshTokenRecord};

pub(crate) async fn refresh_token(
    state: &State,
    client: &Client,
    req: &TokenRequest,
    addr: Option<IpAddr>,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(&GrantType::RefreshToken) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient)
            .describe("this client may not use refresh_token"));
    }
    let presented = req
        .refresh_token
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_request("missing refresh_token"))?;
    let hash = sha256_b64url(presented.secret().as_bytes());
    let now = state.now();
    let old = state
        .store
        .get_refresh_token(&hash)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    if old.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scope = match &req.scope {
        Some(s) if !s.is_subset(&old.scope) => {
            return Err(OAuthError::new(ErrorCode::InvalidScope)
                .describe("a refresh may only narrow the scope"));
        }
        Some(s) => s.clone(),
        None => old.scope.clone(),
    };
    let audiences = if old.audiences.is_empty() {
        default_audiences(client)
    } else {
        old.audiences.clone()
    };
    // RFC 8707 §2.2: a refresh may ask for an access token for some of the grant's
    // audiences; the new refresh token keeps them all.
    let resource = requested_audiences(&audiences, req)?;
    let user = active_user(state, &old.user_id, client).await?;
    let mut grant = Grant {
        grant_id: old.family_id.clone(),
        scope: restrict_to_user(&scope, &user),
        audiences,
        resource,
        auth_time: old.auth_time,
        sid: old.session_id.clone(),
        amr: Vec::new(),
        nonce: None,
    };
    grant.amr = grant_amr(state, &old.family_id, &grant.scope).await?;
    let (resp, successor) = {
        let extra = state
            .extra_claims(client, &user, &grant.scope, addr)
            .await?;
        state.minter().user_tokens(client, &user, &grant, &extra)?
    };
    let ttl = state.config.access_token_secs();
    let successor = successor.unwrap_or_else(|| retired_successor(&old, now, ttl));
    rotate(state, &hash, &successor, now).await?;
    Ok(resp)
}

/// Rotation needs a successor in the family; when the grant no longer yields a refresh
/// token (offline_access narrowed away), the old one is retired all the same, in favour of
/// an already revoked record that keeps the grant alive as long as the access token just
/// issued (`access_ttl`).
fn retired_successor(old: &RefreshTokenRecord, now: i64, access_ttl: i64) -> RefreshTokenRecord {
    let t = RefreshToken::generate();
    let mut r = RefreshTokenRecord::new(
        sha256_b64url(t.secret().as_bytes()),
        old.family_id.clone(),
        old.client_id.clone(),
        old.user_id.clone(),
        now,
        now + access_ttl,
    );
    r.revoked_at = Some(now);
    r
}

/// Marks the presented token rotated and stores its successor (one atomic step); a token
/// already rotated is a reuse, which revokes the whole family.
async fn rotate(
    state: &State,
    hash: &str,
    successor: &RefreshTokenRecord,
    now: i64,
) -> Result<(), OAuthError> {
    match state
        .store
        .rotate_refresh_token(hash, successor, now)
        .await
        .map_err(OAuthError::server)?
    {
        ConsumeOutcome::Consumed(_) => Ok(()),
        ConsumeOutcome::AlreadyUsed(old) if old.rotated_at.is_none() => Err(
            OAuthError::invalid_grant("the refresh token has been revoked"),
        ),
        ConsumeOutcome::AlreadyUsed(old) => {
            tracing::warn!(target: "idp::audit", event = "refresh_token_reused", client_id = %old.client_id, grant_id = %old.family_id, "refresh token reused; revoking its grant");
            state
                .revoker()
                .end_grant(&old.family_id, "refresh_token_reused")
                .await
                .map_err(OAuthError::server)?;
            Err(OAuthError::invalid_grant(
                "the refresh token has already been used",
            ))
        }
        _ => Err(OAuthError::invalid_grant(
            "the refresh token is invalid or expired",
        )),
    }
}
