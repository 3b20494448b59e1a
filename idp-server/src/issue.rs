//! Issuing user tokens: RFC 9068 access tokens, OIDC ID tokens, rotating refresh tokens.

use idp_core::{
    AccessTokenClaims, Algorithm, Audience, IdTokenClaims, RefreshToken, Scope, TokenResponse,
    TokenUse, at_hash, sha256_b64url,
};

use crate::config::Config;
use crate::error::OAuthError;
use crate::issuer::Issuer;
use crate::keys::KeyRing;
use crate::store::{Client, RefreshTokenRecord, User};
use serde_json::{Map, Value};

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
    /// The audiences this token request narrowed the access token to (RFC 8707
    /// `resource`), each one of `audiences`; empty: all of them. Refresh tokens keep
    /// `audiences`.
    pub(crate) resource: Vec<String>,
    pub(crate) auth_time: i64,
    pub(crate) sid: Option<String>,
    pub(crate) nonce: Option<String>,
    /// How the user authenticated (the ID token's `amr`): the grant's.
    pub(crate) amr: Vec<String>,
}

/// The custom claims of one issuance, per token: the configured mapping's, after the
/// before-token hook.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtraClaims {
    pub(crate) access: Map<String, Value>,
    pub(crate) id: Map<String, Value>,
}

/// The access-token audiences for a client: its registered audiences, or itself.
pub(crate) fn default_audiences(client: &Client) -> Vec<String> {
    if client.audiences.is_empty() {
        vec![client.client_id.clone()]
    } else {
        client.audiences.clone()
    }
}

/// The audiences a token request names (RFC 8707 `resource`, repeatable, or the common
/// `audience`), without repeats, each one of `allowed`; empty when it names none. One
/// outside `allowed` is `invalid_target`.
pub(crate) fn requested_audiences(
    allowed: &[String],
    req: &idp_core::TokenRequest,
) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for a in req.resource.iter().chain(req.audience.as_ref()) {
        if !allowed.contains(a) {
            return Err(OAuthError::new(idp_core::ErrorCode::InvalidTarget)
                .describe("the requested resource is not allowed for this client"));
        }
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// Whether a grant of `scope` to `client` yields refresh tokens (and so survives the end of
/// its browser session).
pub(crate) fn is_offline(scope: &Scope, client: &Client) -> bool {
    scope.contains("offline_access") && client.allows_grant(&idp_core::GrantType::RefreshToken)
}

/// Narrows a scope to what the user may have (OIDC scopes are always allowed).
pub(crate) fn restrict_to_user(scope: &Scope, user: &User) -> Scope {
    match &user.allowed_scopes {
        None => scope.clone(),
        Some(allowed) => restrict_to(scope, allowed),
    }
}

/// Narrows a scope to `allowed` (OIDC scopes are always allowed).
pub(crate) fn restrict_to(scope: &Scope, allowed: &Scope) -> Scope {
    let mut out = Scope::new();
    for s in scope.iter() {
        if OIDC_SCOPES.contains(&s) || allowed.contains(s) {
            out.insert(s);
        }
    }
    out
}

/// What minting a token needs: the issuer, the lifetimes and algorithms of the
/// configuration, the key ring and the time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Minter<'a> {
    pub(crate) issuer: &'a Issuer,
    pub(crate) config: &'a Config,
    pub(crate) keys: &'a KeyRing,
    pub(crate) now: i64,
}

/// What [`Minter::user_tokens`] returns: the response, and the refresh token's record to
/// store when one was issued.
pub(crate) type UserTokens = (TokenResponse, Option<RefreshTokenRecord>);

impl Minter<'_> {
    /// Signs `claims` with the key that signs `alg` tokens now.
    pub(crate) fn sign<T: serde::Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, OAuthError> {
        let key = self
            .keys
            .snapshot()
            .signer(alg, self.now)
            .ok_or_else(|| OAuthError::server(format!("no active {alg} signing key")))?;
        key.sign_jwt(typ, claims).map_err(OAuthError::server)
    }

    /// Signs `claims` with `custom` added. The configuration check and the before-token
    /// hook's check keep custom claims off every registered name, so they only add.
    pub(crate) fn with_custom_claims<T: serde::Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
        custom: &Map<String, Value>,
    ) -> Result<String, OAuthError> {
        if custom.is_empty() {
            return self.sign(alg, typ, claims);
        }
        let mut value = serde_json::to_value(claims).map_err(OAuthError::server)?;
        if let Some(obj) = value.as_object_mut() {
            for (k, v) in custom {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        self.sign(alg, typ, &value)
    }

    /// Access-token claims for `sub`, valid from now for the configured lifetime.
    pub(crate) fn access_claims(
        &self,
        sub: String,
        aud: Vec<String>,
        jti: String,
        client_id: String,
        token_use: TokenUse,
    ) -> AccessTokenClaims {
        AccessTokenClaims::new(
            self.issuer.as_str().to_owned(),
            sub,
            Audience::many(aud),
            self.now,
            self.now + self.config.access_token_secs(),
            jti,
            client_id,
            token_use,
        )
    }

    /// The token response for a user grant: an access token (naming the grant in `gid`),
    /// an ID token when `openid` was granted, and a refresh token when `offline_access` was
    /// granted to a client allowed the refresh_token grant.
    pub(crate) fn user_tokens(
        &self,
        client: &Client,
        user: &User,
        grant: &Grant,
        extra: &ExtraClaims,
    ) -> Result<UserTokens, OAuthError> {
        let c = self.config;
        let now = self.now;
        let audiences = if grant.resource.is_empty() {
            grant.audiences.clone()
        } else {
            grant.resource.clone()
        };
        let mut at = self.access_claims(
            user.id.clone(),
            audiences,
            uuid::Uuid::new_v4().to_string(),
            client.client_id.clone(),
            TokenUse::User,
        );
        at.gid = Some(grant.grant_id.clone());
        at.scope = Some(grant.scope.clone());
        at.auth_time = Some(grant.auth_time);
        at.tenant = user.tenant_id.clone();
        let access_token =
            self.with_custom_claims(self.config.access_token_alg, "at+jwt", &at, &extra.access)?;

        let id_token = if grant.scope.contains("openid") {
            let mut id: IdTokenClaims = IdTokenClaims::new(
                self.issuer.as_str().to_owned(),
                user.id.clone(),
                Audience::single(client.client_id.clone()),
                now,
                now + c.id_token_secs(),
            );
            id.auth_time = Some(grant.auth_time);
            id.nonce = grant.nonce.clone();
            id.azp = Some(client.client_id.clone());
            id.at_hash = Some(at_hash(&access_token, c.id_token_alg));
            id.sid = grant.sid.clone();
            id.amr = Some(if grant.amr.is_empty() {
                crate::store::password_amr()
            } else {
                grant.amr.clone()
            });
            id.tenant = user.tenant_id.clone();
            profile_claims(&mut id.profile, user, &grant.scope);
            Some(self.with_custom_claims(c.id_token_alg, "JWT", &id, &extra.id)?)
        } else {
            None
        };

        let (record, refresh) = if is_offline(&grant.scope, client) {
            let token = RefreshToken::generate();
            let mut rec = RefreshTokenRecord::new(
                sha256_b64url(token.secret().as_bytes()),
                grant.grant_id.clone(),
                client.client_id.clone(),
                user.id.clone(),
                now,
                now + c.refresh_token_secs(),
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

        let ttl = u64::try_from(c.access_token_secs()).unwrap_or(0);
        let mut resp = TokenResponse::bearer(access_token, ttl);
        resp.scope = Some(grant.scope.clone());
        resp.id_token = id_token;
        resp.refresh_token = refresh;
        Ok((resp, record))
    }
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
