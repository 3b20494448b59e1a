//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the device
//! polls with its device code. The code is checked against its presenter (the client it was
//! issued to) before the poll is recorded, so another client neither learns its state nor
//! disturbs it; then one store call records the poll and, once the user approved, consumes
//! the code in one statement: the tokens are issued exactly once.

use std::net::IpAddr;

use idp_core::{ErrorCode, GrantType, TokenRequest, TokenResponse, sha256_b64url};

use super::{active_user, grant_amr};
use crate::error::OAuthError;
use crate::issue::{Grant, default_audiences};
use crate::state::State;
use crate::store::{Client, DeviceCodeRecord, DevicePoll};

pub(crate) async fn device_code(
    state: &State,
    client: &Client,
    req: &TokenRequest,
    addr: Option<IpAddr>,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(&GrantType::DeviceCode) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient)
            .describe("this client may not use the device authorization grant"));
    }
    let code = req
        .device_code
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_request("missing device_code"))?;
    let hash = sha256_b64url(code.secret().as_bytes());
    let unknown = || OAuthError::invalid_grant("the device code is invalid");
    let stored = state
        .store
        .get_device_code(&hash)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(unknown)?;
    if stored.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the device code was issued to another client",
        ));
    }
    let now = state.now();
    let rec = match state
        .store
        .poll_device_code(&hash, now)
        .await
        .map_err(OAuthError::server)?
    {
        DevicePoll::Consumed(rec) => rec,
        DevicePoll::Pending(_) => {
            return Err(OAuthError::new(ErrorCode::AuthorizationPending)
                .describe("the user has not decided yet"));
        }
        DevicePoll::SlowDown(rec) => {
            return Err(OAuthError::new(ErrorCode::SlowDown).describe(format!(
                "polling too fast: wait at least {} seconds between requests",
                rec.interval
            )));
        }
        DevicePoll::Denied(_) => {
            return Err(OAuthError::new(ErrorCode::AccessDenied)
                .describe("the user denied the authorization"));
        }
        DevicePoll::Expired(_) => {
            return Err(OAuthError::new(ErrorCode::ExpiredToken)
                .describe("the device code has expired; start again"));
        }
        DevicePoll::AlreadyUsed(_) => {
            return Err(OAuthError::invalid_grant(
                "the device code has already been used",
            ));
        }
        _ => return Err(unknown()),
    };
    issue(state, client, &rec, addr).await
}

/// The tokens of an approval: from its grant, if the grant is still live (a logout or a
/// password change between the approval and the poll revoked it), for its user, if still
/// active and of the client's tenant.
async fn issue(
    state: &State,
    client: &Client,
    rec: &DeviceCodeRecord,
    addr: Option<IpAddr>,
) -> Result<TokenResponse, OAuthError> {
    let revoked = || OAuthError::invalid_grant("the authorization has been revoked");
    let (Some(grant_id), Some(user_id)) = (&rec.grant_id, &rec.user_id) else {
        return Err(OAuthError::server(
            "approved device code without grant or user",
        ));
    };
    let live = state
        .store
        .get_grant(grant_id)
        .await
        .map_err(OAuthError::server)?
        .is_some_and(|g| g.is_live(state.now()) && g.user_id == *user_id);
    if !live {
        return Err(revoked());
    }
    let user = active_user(state, user_id, client).await?;
    let mut grant = Grant {
        grant_id: grant_id.clone(),
        scope: rec.granted_scope.clone().unwrap_or_default(),
        audiences: default_audiences(client),
        resource: Vec::new(),
        auth_time: rec.auth_time.unwrap_or(rec.created_at),
        sid: rec.session_id.clone(),
        amr: Vec::new(),
        nonce: None,
    };
    grant.amr = grant_amr(state, grant_id, &grant.scope).await?;
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
