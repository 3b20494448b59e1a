//! The user grants of the token endpoint: `authorization_code` (RFC 6749 §4.1.3, RFC 7636)
//! and `refresh_token` with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14).

use idp_core::{
    CodeChallenge, CodeVerifier, ErrorCode, GrantType, RefreshToken, TokenRequest, TokenResponse,
    sha256_b64url,
};

use super::error::OAuthError;
use crate::issue::{Grant, default_audiences, restrict_to_user, user_tokens};
use crate::provider::Inner;
use crate::store::{Client, ConsumeOutcome, User};

fn invalid_grant(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant).describe(d)
}

async fn active_user(inner: &Inner, id: &str, client: &Client) -> Result<User, OAuthError> {
    let user = inner
        .store
        .get_user(id)
        .await
        .map_err(OAuthError::server)?
        .filter(|u| u.active)
        .ok_or_else(|| invalid_grant("the user is disabled or no longer exists"))?;
    if client.tenant_id.is_some() && user.tenant_id != client.tenant_id {
        return Err(invalid_grant("the user belongs to another tenant"));
    }
    Ok(user)
}

pub(crate) async fn authorization_code(
    inner: &Inner,
    client: &Client,
    req: &TokenRequest,
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
    let now = inner.now();
    let rec = match inner
        .store
        .consume_code(&hash, now)
        .await
        .map_err(OAuthError::server)?
    {
        ConsumeOutcome::Consumed(rec) => rec,
        ConsumeOutcome::AlreadyUsed(rec) => {
            // A replayed code: revoke what its first use issued (the first access token
            // carries the grant id as jti; the refresh family is the grant).
            tracing::warn!(client_id = %rec.client_id, "authorization code reused; revoking its grant");
            let _ = inner.store.revoke_refresh_family(&rec.grant_id, now).await;
            let _ = inner
                .store
                .revoke_access_token(&rec.grant_id, now + inner.settings.access_token_ttl + 60)
                .await;
            return Err(invalid_grant(
                "the authorization code has already been used",
            ));
        }
        _ => {
            return Err(invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
    };
    if rec.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    match (&req.redirect_uri, rec.redirect_uri.is_empty()) {
        (Some(given), false) if *given == rec.redirect_uri => {}
        (None, true) => {}
        (Some(given), true)
            if client.redirect_uris.len() == 1 && *given == client.redirect_uris[0] => {}
        _ => {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    match (&rec.code_challenge, &req.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let verifier = CodeVerifier::parse(verifier)
                .map_err(|_| invalid_grant("malformed code_verifier"))?;
            CodeChallenge::parse(challenge)
                .and_then(|c| c.verify(&verifier))
                .map_err(|_| invalid_grant("code_verifier does not match the code_challenge"))?;
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier given but no code_challenge was sent",
            ));
        }
        (None, None) => {
            if client.is_public() {
                return Err(invalid_grant("public clients must use PKCE"));
            }
        }
    }
    let user = active_user(inner, &rec.user_id, client).await?;
    let grant = Grant {
        grant_id: rec.grant_id.clone(),
        scope: restrict_to_user(&rec.scope, &user),
        audiences: default_audiences(client),
        auth_time: rec.auth_time,
        sid: rec.session_id.clone(),
        nonce: rec.nonce.clone(),
    };
    let (resp, refresh, _) =
        user_tokens(inner, client, &user, &grant, rec.grant_id.clone()).await?;
    if let Some(r) = refresh {
        inner
            .store
            .insert_refresh_token(&r)
            .await
            .map_err(OAuthError::server)?;
    }
    Ok(resp)
}

pub(crate) async fn refresh_token(
    inner: &Inner,
    client: &Client,
    req: &TokenRequest,
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
    let now = inner.now();
    let old = inner
        .store
        .get_refresh_token(&hash)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| invalid_grant("the refresh token is invalid"))?;
    if old.client_id != client.client_id {
        return Err(invalid_grant(
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
    let user = active_user(inner, &old.user_id, client).await?;
    let grant = Grant {
        grant_id: old.family_id.clone(),
        scope: restrict_to_user(&scope, &user),
        audiences: if old.audiences.is_empty() {
            default_audiences(client)
        } else {
            old.audiences.clone()
        },
        auth_time: old.auth_time,
        sid: old.session_id.clone(),
        nonce: None,
    };
    let (mut resp, successor, _) = user_tokens(
        inner,
        client,
        &user,
        &grant,
        uuid::Uuid::new_v4().to_string(),
    )
    .await?;
    // Rotation: the successor keeps the family; if the grant no longer yields a refresh token
    // (offline_access narrowed away), the old one is still retired.
    let successor = match successor {
        Some(s) => s,
        None => {
            let t = RefreshToken::generate();
            let mut r = crate::store::RefreshTokenRecord::new(
                sha256_b64url(t.secret().as_bytes()),
                old.family_id.clone(),
                client.client_id.clone(),
                user.id.clone(),
                now,
                now,
            );
            r.revoked_at = Some(now);
            r
        }
    };
    match inner
        .store
        .rotate_refresh_token(&hash, &successor, now)
        .await
        .map_err(OAuthError::server)?
    {
        ConsumeOutcome::Consumed(_) => Ok(resp),
        ConsumeOutcome::AlreadyUsed(old) => {
            tracing::warn!(client_id = %old.client_id, "refresh token reused; revoking its family");
            inner
                .store
                .revoke_refresh_family(&old.family_id, now)
                .await
                .map_err(OAuthError::server)?;
            resp.refresh_token = None;
            Err(invalid_grant("the refresh token has already been used"))
        }
        _ => Err(invalid_grant("the refresh token is invalid or expired")),
    }
}
