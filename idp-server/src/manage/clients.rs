//! `provider.clients()`: register clients, rotate secrets, disable and delete them.

use std::net::IpAddr;

use idp_core::{ClientSecret, GrantType, random_token};

use super::hooks::run as run_hook;
use super::validate::{
    check_known_scopes, hash_off_thread, invalid, parse_scopes, validate_client_id,
    validate_redirect_uri,
};
use super::{Actor, ClientUpdate, CreatedClient, Ctx, HookContext, NewClient};
use crate::Error;
use crate::store::{AuthMethod, Client, StoreError};

/// Clients of a provider.
#[derive(Debug)]
pub struct Clients<'a> {
    ctx: Ctx<'a>,
    actor: Actor,
    client_addr: Option<IpAddr>,
}

fn parse_grants(grants: &[String]) -> Result<Vec<GrantType>, Error> {
    let mut out = Vec::new();
    for g in grants {
        // `device_code` is short for RFC 8628's URN.
        let gt = match g.as_str() {
            "device_code" => GrantType::DeviceCode,
            other => GrantType::parse(other),
        };
        match gt {
            GrantType::AuthorizationCode
            | GrantType::RefreshToken
            | GrantType::ClientCredentials
            | GrantType::DeviceCode => {}
            _ => return Err(invalid(format!("unknown or unsupported grant type {g:?}"))),
        }
        if !out.contains(&gt) {
            out.push(gt);
        }
    }
    Ok(out)
}

impl<'a> Clients<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self {
            ctx,
            actor: Actor::Code,
            client_addr: None,
        }
    }

    /// The same clients, with changes made by `actor` (what hooks see; [`Actor::Code`] by
    /// default).
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// The same clients, with changes made from `addr` (what hooks see); an
    /// `Option<IpAddr>` is accepted as it is, `None` meaning the address is unknown.
    pub fn from_addr(mut self, addr: impl Into<Option<IpAddr>>) -> Self {
        self.client_addr = addr.into();
        self
    }

    /// Registers a client (after the `before_insert_client` hook). A confidential client
    /// without a secret gets a generated one, returned once in [`CreatedClient`].
    pub async fn insert(&self, new: NewClient) -> Result<CreatedClient, Error> {
        let ctx = HookContext::new(self.actor.clone())
            .tenant(new.tenant_id.as_deref())
            .client_addr(self.client_addr);
        let mut new = run_hook(
            self.ctx.hooks.insert_client.as_ref(),
            "before_insert_client",
            ctx,
            new,
            |n| n,
        )
        .await?;
        validate_client_id(&new.client_id)?;
        self.ctx
            .schemas
            .client(new.tenant_id.as_deref())
            .apply(&mut new.attributes)
            .map_err(|e| Error::InvalidInput(e.0))?;
        let allow_http = self.ctx.insecure_http_redirect_uris;
        for u in new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
            .chain(&new.backchannel_logout_uri)
        {
            validate_redirect_uri(u, allow_http)?;
        }
        let grant_types = grant_types(&new)?;
        let method = auth_method(&new, &grant_types)?;
        let (secret_hash, generated) = if new.public {
            (None, None)
        } else {
            let (secret, generated) = match new.secret.take() {
                Some(s) => {
                    if s.secret().is_empty() || s.secret().len() > 512 {
                        return Err(invalid("client secret must be 1-512 bytes"));
                    }
                    (s, None)
                }
                None => {
                    let s = ClientSecret::new(random_token());
                    (s.clone(), Some(s))
                }
            };
            let hash = hash_off_thread(self.ctx.hashing, secret.secret()).await?;
            (Some(hash), generated)
        };
        for a in &new.audiences {
            if a.is_empty() || a.contains(' ') {
                return Err(invalid(format!(
                    "audience {a:?} must be non-empty without spaces"
                )));
            }
        }
        let now = self.ctx.now();
        let client = Client {
            client_id: new.client_id,
            tenant_id: new.tenant_id,
            name: new.name,
            secret_hash,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            backchannel_logout_uri: new.backchannel_logout_uri,
            allowed_scopes: {
                let s = parse_scopes(&new.allowed_scopes, "allowed_scopes")?;
                check_known_scopes(&s, self.ctx.known_scopes, "allowed_scopes")?;
                s
            },
            grant_types,
            token_endpoint_auth_method: method,
            audiences: new.audiences,
            first_party: new.first_party,
            active: true,
            attributes: new.attributes,
            created_at: now,
            updated_at: now,
        };
        self.ctx
            .store
            .insert_client(&client)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict(format!(
                    "client_id {} is already registered",
                    client.client_id
                )),
                other => other.into(),
            })?;
        self.changed(&client.client_id).await;
        audit("client_created", &client.client_id);
        Ok(CreatedClient {
            client,
            generated_secret: generated,
        })
    }

    /// After a change: this process forgets the client at once, and the others sharing the
    /// store are told (PostgreSQL); if telling them fails, their caches' lifetime bounds it.
    async fn changed(&self, client_id: &str) {
        self.ctx.client_cache.invalidate(client_id).await;
        if let Err(e) = self.ctx.store.announce_client_change(client_id).await {
            tracing::warn!(client_id = %client_id, error = %e, "cannot announce a client change to other replicas");
        }
    }

    /// A client by id.
    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, Error> {
        Ok(self.ctx.store.get_client(client_id).await?)
    }

    /// Clients of a tenant, or every client with `None`.
    pub async fn list(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, Error> {
        Ok(self.ctx.store.list_clients(tenant_id).await?)
    }

    /// One page of [`list`](Self::list): up to `limit` clients after the client
    /// `after` (none: from the first), read from the store as a page.
    pub async fn list_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Client>, Error> {
        Ok(self
            .ctx
            .store
            .list_clients_after(tenant_id, after, limit)
            .await?)
    }

    /// Applies `f` to the stored client and stores it; `event` names the change in the
    /// audit log.
    async fn modify(
        &self,
        id: &str,
        event: &'static str,
        f: impl FnOnce(&mut Client),
    ) -> Result<Client, Error> {
        let mut c = self
            .ctx
            .store
            .get_client(id)
            .await?
            .ok_or(Error::NotFound)?;
        f(&mut c);
        c.updated_at = self.ctx.now();
        self.ctx.store.update_client(&c).await?;
        self.changed(&c.client_id).await;
        audit(event, &c.client_id);
        Ok(c)
    }

    /// Applies an update: redirect URIs, scopes and attributes are checked as at
    /// registration; the change reaches every replica's cache at once (PostgreSQL) or
    /// within `client_cache_ttl`.
    pub async fn update(&self, client_id: &str, update: ClientUpdate) -> Result<Client, Error> {
        let mut c = self.get(client_id).await?.ok_or(Error::NotFound)?;
        let update = match &self.ctx.hooks.update_client {
            None => update,
            Some(h) => {
                let ctx = HookContext::new(self.actor.clone())
                    .tenant(c.tenant_id.as_deref())
                    .client_addr(self.client_addr);
                run_hook(
                    Some(h),
                    "before_update_client",
                    ctx,
                    (c.clone(), update),
                    |(_, u)| u,
                )
                .await?
            }
        };
        let allow_http = self.ctx.insecure_http_redirect_uris;
        if let Some(v) = update.name {
            c.name = Some(v);
        }
        if let Some(uris) = update.redirect_uris {
            for u in &uris {
                validate_redirect_uri(u, allow_http)?;
            }
            if uris.is_empty() && c.allows_grant(&GrantType::AuthorizationCode) {
                return Err(invalid(
                    "authorization_code needs at least one redirect URI",
                ));
            }
            c.redirect_uris = uris;
        }
        if let Some(uris) = update.post_logout_redirect_uris {
            for u in &uris {
                validate_redirect_uri(u, allow_http)?;
            }
            c.post_logout_redirect_uris = uris;
        }
        if let Some(s) = update.allowed_scopes {
            let s = parse_scopes(&s, "allowed_scopes")?;
            check_known_scopes(&s, self.ctx.known_scopes, "allowed_scopes")?;
            c.allowed_scopes = s;
        }
        if let Some(a) = update.audiences {
            if let Some(bad) = a.iter().find(|a| a.is_empty() || a.contains(' ')) {
                return Err(invalid(format!(
                    "audience {bad:?} must be non-empty without spaces"
                )));
            }
            c.audiences = a;
        }
        if let Some(f) = update.first_party {
            c.first_party = f;
        }
        if let Some(attrs) = update.attributes {
            c.attributes.extend(attrs);
            self.ctx
                .schemas
                .client(c.tenant_id.as_deref())
                .apply(&mut c.attributes)
                .map_err(|e| Error::InvalidInput(e.0))?;
        }
        self.modify(client_id, "client_updated", move |stored| *stored = c)
            .await
    }

    /// Replaces the secret of a confidential client with a generated one (returned once);
    /// the old secret stops working at once.
    pub async fn rotate_secret(&self, client_id: &str) -> Result<ClientSecret, Error> {
        let existing = self.get(client_id).await?.ok_or(Error::NotFound)?;
        if existing.is_public() {
            return Err(invalid("a public client has no secret"));
        }
        let secret = ClientSecret::new(random_token());
        let hash = hash_off_thread(self.ctx.hashing, secret.secret()).await?;
        self.modify(client_id, "client_secret_rotated", |c| {
            c.secret_hash = Some(hash)
        })
        .await?;
        Ok(secret)
    }

    /// Disables a client: it gets `invalid_client` from now on, and every grant to it is
    /// revoked (its refresh tokens fail, its access tokens are inactive).
    pub async fn disable(&self, client_id: &str) -> Result<Client, Error> {
        let client = self
            .modify(client_id, "client_disabled", |c| c.active = false)
            .await?;
        self.ctx.revoker.end_client(client_id).await?;
        Ok(client)
    }

    /// Re-enables a client.
    pub async fn enable(&self, client_id: &str) -> Result<Client, Error> {
        self.modify(client_id, "client_enabled", |c| c.active = true)
            .await
    }

    /// Deletes a client, revoking every grant to it first.
    pub async fn delete(&self, client_id: &str) -> Result<(), Error> {
        if self.ctx.store.get_client(client_id).await?.is_none() {
            return Err(Error::NotFound);
        }
        self.ctx.revoker.end_client(client_id).await?;
        if self.ctx.store.delete_client(client_id).await? {
            self.changed(client_id).await;
            audit("client_deleted", client_id);
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

/// The client's grant types: as given, or by default `client_credentials` without redirect
/// URIs and `authorization_code` + `refresh_token` with them.
fn grant_types(new: &NewClient) -> Result<Vec<GrantType>, Error> {
    let grant_types = if new.grant_types.is_empty() {
        if new.redirect_uris.is_empty() {
            vec![GrantType::ClientCredentials]
        } else {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        }
    } else {
        parse_grants(&new.grant_types)?
    };
    if grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(invalid(
            "authorization_code needs at least one redirect URI",
        ));
    }
    Ok(grant_types)
}

/// How the client authenticates at the token endpoint.
fn auth_method(new: &NewClient, grant_types: &[GrantType]) -> Result<AuthMethod, Error> {
    if new.public {
        if new.secret.is_some() {
            return Err(invalid("a public client has no secret"));
        }
        if grant_types.contains(&GrantType::ClientCredentials) {
            return Err(invalid("a public client cannot use client_credentials"));
        }
        return Ok(AuthMethod::None);
    }
    match new.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") => Ok(AuthMethod::ClientSecretBasic),
        Some("client_secret_post") => Ok(AuthMethod::ClientSecretPost),
        Some(other) => Err(invalid(format!(
            "token_endpoint_auth_method {other:?}: use client_secret_basic or client_secret_post (or public)"
        ))),
    }
}

/// A change to a client, in the audit log (never its secret or the secret's hash).
fn audit(event: &'static str, client_id: &str) {
    tracing::info!(target: "idp::audit", event, client_id = %client_id, "client changed");
}
