//! Issuing user tokens: RFC 9068 access tokens, OIDC ID tokens, rotating refresh tokens.

use idp_core::{
    AccessTokenClaims, Algorithm, Audience, IdTokenClaims, RefreshToken, Scope, TokenResponse,
    TokenUse, at_hash, sha256_b64url,
};

use crate::http::error::OAuthError;
use crate::provider::Inner;
use crate::store::{Client, RefreshTokenRecord, User};

/// Scopes of OpenID Connect itself; a user's `allowed_scopes` never restricts them.
pub(crate) const OIDC_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "address",
    "phone",
];

/// What a grant carries from the authorization to every token issued for it.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) grant_id: String,
    pub(crate) scope: Scope,
    pub(crate) audiences: Vec<String>,
    pub(crate) auth_time: i64,
    pub(crate) sid: Option<String>,
    pub(crate) nonce: Option<String>,
}

/// The access-token audiences for a client: its registered audiences, or itself.
pub(crate) fn default_audiences(client: &Client) -> Vec<String> {
    if client.audiences.is_empty() {
        vec![client.client_id.clone()]
    } else {
        client.audiences.clone()
    }
}

/// Narrows a scope to what the user may have (OIDC scopes are always allowed).
pub(crate) fn restrict_to_user(scope: &Scope, user: &User) -> Scope {
    match &user.allowed_scopes {
        None => scope.clone(),
        Some(allowed) => {
            let mut out = Scope::new();
            for s in scope.iter() {
                if OIDC_SCOPES.contains(&s) || allowed.contains(s) {
                    out.insert(s);
                }
            }
            out
        }
    }
}

/// Signs `claims` with the key that signs `alg` tokens at `now`.
pub(crate) fn sign<T: serde::Serialize>(
    inner: &Inner,
    alg: Algorithm,
    typ: &str,
    claims: &T,
    now: i64,
) -> Result<String, OAuthError> {
    let key = inner
        .keys
        .snapshot()
        .signer(alg, now)
        .ok_or_else(|| OAuthError::server(format!("no active {alg} signing key")))?;
    key.sign_jwt(typ, claims).map_err(OAuthError::server)
}

/// Issues the token response for a user grant: an access token, an ID token when `openid`
/// was granted, and a refresh token when `offline_access` was granted to a client allowed
/// the refresh_token grant. `first_jti` names the access token (the grant id for the first
/// one, so that a replayed code can revoke it).
pub(crate) async fn user_tokens(
    inner: &Inner,
    client: &Client,
    user: &User,
    grant: &Grant,
    jti: String,
) -> Result<
    (
        TokenResponse,
        Option<RefreshTokenRecord>,
        Option<RefreshToken>,
    ),
    OAuthError,
> {
    let s = &inner.settings;
    let now = inner.now();
    let mut at: AccessTokenClaims = AccessTokenClaims::new(
        s.issuer.clone(),
        user.id.clone(),
        Audience::many(grant.audiences.clone()),
        now,
        now + s.access_token_ttl,
        jti,
        client.client_id.clone(),
        TokenUse::User,
    );
    at.scope = Some(grant.scope.clone());
    at.auth_time = Some(grant.auth_time);
    at.tenant = user.tenant_id.clone();
    let access_token = sign(inner, s.access_token_alg, "at+jwt", &at, now)?;

    let id_token = if grant.scope.contains("openid") {
        let mut id: IdTokenClaims = IdTokenClaims::new(
            s.issuer.clone(),
            user.id.clone(),
            Audience::single(client.client_id.clone()),
            now,
            now + s.id_token_ttl,
        );
        id.auth_time = Some(grant.auth_time);
        id.nonce = grant.nonce.clone();
        id.azp = Some(client.client_id.clone());
        id.at_hash = Some(at_hash(&access_token, s.id_token_alg));
        id.sid = grant.sid.clone();
        id.amr = Some(vec!["pwd".into()]);
        id.tenant = user.tenant_id.clone();
        profile_claims(&mut id.profile, user, &grant.scope);
        Some(sign(inner, s.id_token_alg, "JWT", &id, now)?)
    } else {
        None
    };

    let (record, refresh) = if grant.scope.contains("offline_access")
        && client.allows_grant(&idp_core::GrantType::RefreshToken)
    {
        let token = RefreshToken::generate();
        let mut rec = RefreshTokenRecord::new(
            sha256_b64url(token.secret().as_bytes()),
            grant.grant_id.clone(),
            client.client_id.clone(),
            user.id.clone(),
            now,
            now + s.refresh_token_ttl,
        );
        rec.scope = grant.scope.clone();
        rec.audiences = grant.audiences.clone();
        rec.auth_time = grant.auth_time;
        rec.session_id = grant.sid.clone();
        rec.tenant_id = user.tenant_id.clone();
        (Some(rec), Some(token))
    } else {
        (None, None)
    };

    let mut resp =
        TokenResponse::bearer(access_token, u64::try_from(s.access_token_ttl).unwrap_or(0));
    resp.scope = Some(grant.scope.clone());
    resp.id_token = id_token;
    resp.refresh_token = refresh.clone();
    Ok((resp, record, refresh))
}

/// Fills the profile claims the granted scope allows (OIDC Core §5.4).
pub(crate) fn profile_claims(p: &mut idp_core::StandardClaims, user: &User, scope: &Scope) {
    if scope.contains("profile") {
        p.name = user.name.clone();
        p.given_name = user.given_name.clone();
        p.family_name = user.family_name.clone();
        p.picture = user.picture.clone();
        p.locale = user.locale.clone();
        p.updated_at = Some(user.updated_at);
    }
    if scope.contains("email") {
        p.email = Some(user.email.clone());
        p.email_verified = Some(user.email_verified);
    }
}

/// Validates one of our ID tokens used as a hint (`id_token_hint`): signature and issuer;
/// an expired token is accepted, as OIDC allows.
pub(crate) fn parse_id_token_hint(inner: &Inner, token: &str) -> Option<IdTokenClaims> {
    if token.len() > 16 * 1024 {
        return None;
    }
    let snap = inner.keys.snapshot();
    inner
        .policies
        .id_token_hint
        .validate::<IdTokenClaims>(token, &snap.verification, inner.clock.as_ref())
        .ok()
        .map(|v| v.claims)
}
