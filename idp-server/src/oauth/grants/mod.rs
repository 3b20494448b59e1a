//! The grants of the token endpoint, one module each.

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod refresh_token;

use crate::error::OAuthError;
use crate::state::State;
use crate::store::{Client, User};

/// The active user a grant names, in the client's tenant.
pub(super) async fn active_user(
    state: &State,
    id: &str,
    client: &Client,
) -> Result<User, OAuthError> {
    let user = state
        .store
        .get_user(id)
        .await
        .map_err(OAuthError::server)?
        .filter(|u| u.active)
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or no longer exists"))?;
    if client.tenant_id.is_some() && user.tenant_id != client.tenant_id {
        return Err(OAuthError::invalid_grant(
            "the user belongs to another tenant",
        ));
    }
    Ok(user)
}

/// How the user of grant `grant_id` authenticated (the ID token's `amr`), read only when
/// `scope` yields an ID token; a grant stored before `amr` was is a password sign-in.
pub(super) async fn grant_amr(
    state: &State,
    grant_id: &str,
    scope: &idp_core::Scope,
) -> Result<Vec<String>, OAuthError> {
    if !scope.contains("openid") {
        return Ok(Vec::new());
    }
    let grant = state
        .store
        .get_grant(grant_id)
        .await
        .map_err(OAuthError::server)?;
    Ok(grant.map_or_else(crate::store::password_amr, |g| g.amr))
}
