//! `provider.users()`: create, find, update, disable users and check passwords.

use idp_core::Password;

use super::validate::{hash_off_thread, parse_scopes, validate_email, validate_password};
use std::net::IpAddr;

use super::hooks::run as run_hook;
use super::{Actor, Ctx, HookContext, NewUser, UserUpdate};
use crate::Error;
use crate::hashing::{hash_secret, verify_secret};
use crate::revocation::UserEnd;
use crate::store::{StoreError, User};

/// Users of a provider.
#[derive(Debug)]
pub struct Users<'a> {
    ctx: Ctx<'a>,
    actor: Actor,
    client_addr: Option<IpAddr>,
}

impl<'a> Users<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self {
            ctx,
            actor: Actor::Code,
            client_addr: None,
        }
    }

    /// The same users, with changes made by `actor` (what hooks see; [`Actor::Code`] by
    /// default).
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// The same users, with changes made from `addr` (what hooks see); an
    /// `Option<IpAddr>` is accepted as it is, `None` meaning the address is unknown.
    pub fn from_addr(mut self, addr: impl Into<Option<IpAddr>>) -> Self {
        self.client_addr = addr.into();
        self
    }

    fn hook_ctx(&self, tenant: Option<&str>) -> HookContext {
        HookContext::new(self.actor.clone())
            .tenant(tenant)
            .client_addr(self.client_addr)
    }

    /// Creates a user (after the before-insert hook, see [`HookContext`]); fails on a
    /// malformed e-mail, a short password, attributes the schema refuses or an e-mail
    /// already used in the tenant.
    pub async fn insert(&self, new: NewUser) -> Result<User, Error> {
        let ctx = self.hook_ctx(new.tenant_id.as_deref());
        let new = run_hook(
            self.ctx.hooks.insert_user.as_ref(),
            "before_insert_user",
            ctx,
            new,
            |n| n,
        )
        .await?;
        let email = new.email.trim().to_owned();
        validate_email(&email)?;
        let mut attributes = new.attributes;
        self.ctx
            .schemas
            .user(new.tenant_id.as_deref())
            .apply(&mut attributes)
            .map_err(|e| Error::InvalidInput(e.0))?;
        let password_hash = match &new.password {
            Some(p) => {
                validate_password(p)?;
                Some(hash_off_thread(self.ctx.hashing, p.secret()).await?)
            }
            None => None,
        };
        let allowed_scopes = new
            .allowed_scopes
            .as_deref()
            .map(|s| parse_scopes(s, "allowed_scopes"))
            .transpose()?;
        let now = self.ctx.now();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: new.tenant_id,
            email,
            email_verified: new.email_verified,
            password_hash,
            name: new.name,
            given_name: new.given_name,
            family_name: new.family_name,
            picture: new.picture,
            locale: new.locale,
            active: true,
            allowed_scopes,
            attributes,
            created_at: now,
            updated_at: now,
        };
        self.ctx
            .store
            .insert_user(&user)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict(format!(
                    "email {} is already registered in this tenant",
                    user.email
                )),
                other => other.into(),
            })?;
        audit("user_created", &user.id, user.tenant_id.as_deref());
        Ok(user)
    }

    /// A user by id.
    pub async fn get(&self, id: &str) -> Result<Option<User>, Error> {
        Ok(self.ctx.store.get_user(id).await?)
    }

    /// A user by e-mail within a tenant.
    pub async fn find_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, Error> {
        Ok(self
            .ctx
            .store
            .find_user_by_email(tenant_id, email.trim())
            .await?)
    }

    /// Users of a tenant, or every user with `None`.
    pub async fn list(&self, tenant_id: Option<&str>) -> Result<Vec<User>, Error> {
        Ok(self.ctx.store.list_users(tenant_id).await?)
    }

    /// One page of [`list`](Self::list): up to `limit` users after the user with id
    /// `after` (none: from the first), read from the store as a page.
    pub async fn list_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, Error> {
        Ok(self
            .ctx
            .store
            .list_users_after(tenant_id, after, limit)
            .await?)
    }

    /// Applies `f` to the stored user and stores it; `event` names the change in the
    /// audit log.
    async fn modify(
        &self,
        id: &str,
        event: &'static str,
        f: impl FnOnce(&mut User) -> Result<(), Error>,
    ) -> Result<User, Error> {
        let mut user = self.ctx.store.get_user(id).await?.ok_or(Error::NotFound)?;
        f(&mut user)?;
        user.updated_at = self.ctx.now();
        self.ctx.store.update_user(&user).await?;
        audit(event, &user.id, user.tenant_id.as_deref());
        Ok(user)
    }

    /// Applies an update.
    pub async fn update(&self, id: &str, update: UserUpdate) -> Result<User, Error> {
        let update = match &self.ctx.hooks.update_user {
            None => update,
            Some(h) => {
                let current = self.ctx.store.get_user(id).await?.ok_or(Error::NotFound)?;
                let ctx = self.hook_ctx(current.tenant_id.as_deref());
                run_hook(
                    Some(h),
                    "before_update_user",
                    ctx,
                    (current, update),
                    |(_, u)| u,
                )
                .await?
            }
        };
        let schemas = self.ctx.schemas;
        self.modify(id, "user_updated", |u| {
            if let Some(email) = update.email {
                let email = email.trim().to_owned();
                validate_email(&email)?;
                u.email = email;
            }
            if let Some(v) = update.name {
                u.name = Some(v);
            }
            if let Some(v) = update.given_name {
                u.given_name = Some(v);
            }
            if let Some(v) = update.family_name {
                u.family_name = Some(v);
            }
            if let Some(v) = update.picture {
                u.picture = Some(v);
            }
            if let Some(v) = update.locale {
                u.locale = Some(v);
            }
            if let Some(v) = update.email_verified {
                u.email_verified = v;
            }
            if let Some(s) = update.allowed_scopes {
                u.allowed_scopes = Some(parse_scopes(&s, "allowed_scopes")?);
            }
            if let Some(attrs) = update.attributes {
                u.attributes.extend(attrs);
            }
            schemas
                .user(u.tenant_id.as_deref())
                .apply(&mut u.attributes)
                .map_err(|e| Error::InvalidInput(e.0))?;
            Ok(())
        })
        .await
    }

    /// Sets a new password, and ends everything the old one let in: every session of the
    /// user ends, every grant (refresh tokens, access tokens) is revoked, and clients with
    /// a back-channel logout URI are told.
    pub async fn set_password(&self, id: &str, password: Password) -> Result<User, Error> {
        validate_password(&password)?;
        let hash = hash_off_thread(self.ctx.hashing, password.secret()).await?;
        let user = self
            .modify(id, "password_changed", |u| {
                u.password_hash = Some(hash);
                Ok(())
            })
            .await?;
        self.ctx
            .revoker
            .end_user(id, UserEnd::PasswordChanged)
            .await?;
        Ok(user)
    }

    /// Disables a user: sign-in and refresh stop working, every session ends and every
    /// grant is revoked (as for [`set_password`](Self::set_password)).
    pub async fn disable(&self, id: &str) -> Result<User, Error> {
        let user = self
            .modify(id, "user_disabled", |u| {
                u.active = false;
                Ok(())
            })
            .await?;
        self.ctx.revoker.end_user(id, UserEnd::Disabled).await?;
        Ok(user)
    }

    /// Ends every session of a user and revokes every grant, without changing the account
    /// ("sign out everywhere").
    pub async fn end_sessions(&self, id: &str) -> Result<(), Error> {
        if self.ctx.store.get_user(id).await?.is_none() {
            return Err(Error::NotFound);
        }
        self.ctx.revoker.end_user(id, UserEnd::SignedOut).await
    }

    /// Re-enables a user.
    pub async fn enable(&self, id: &str) -> Result<User, Error> {
        self.modify(id, "user_enabled", |u| {
            u.active = true;
            Ok(())
        })
        .await
    }

    /// Deletes a user, ending every session and grant first.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        if self.ctx.store.get_user(id).await?.is_none() {
            return Err(Error::NotFound);
        }
        self.ctx.revoker.end_user(id, UserEnd::Deleted).await?;
        self.ctx.store.delete_two_factor(id).await?;
        if self.ctx.store.delete_user(id).await? {
            audit("user_deleted", id, None);
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Spends the time of one password hash on the hashing budget, for a path that must
    /// take as long as one that hashes (registration with an address already in use).
    pub(crate) async fn spend_hash(&self, password: &Password) -> Result<(), Error> {
        let pw = password.clone();
        self.ctx
            .hashing
            .run(move || {
                let _ = hash_secret(pw.secret());
            })
            .await
            .map_err(|_| Error::Busy)
    }

    /// Two-factor authentication of users: status and operator reset.
    pub fn two_factor(&self) -> super::TwoFactor<'a> {
        super::TwoFactor::new(self.ctx, self.actor.clone())
    }

    /// Checks a password; the user if it is right and the user is active. Takes about as
    /// long whether or not the user exists. [`Error::Busy`] when the hashing budget has no
    /// turn free within its wait.
    pub async fn verify_password(
        &self,
        tenant_id: Option<&str>,
        email: &str,
        password: &Password,
    ) -> Result<Option<User>, Error> {
        let user = self.find_by_email(tenant_id, email).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let pw = password.clone();
        let ok = self
            .ctx
            .hashing
            .run(move || match hash {
                Some(h) => verify_secret(pw.secret(), &h),
                None => {
                    // Spend the same time as a real check so that timing does not reveal
                    // which e-mail addresses exist.
                    let _ = hash_secret(pw.secret());
                    false
                }
            })
            .await
            .map_err(|_| Error::Busy)?;
        Ok(user.filter(|u| ok && u.active))
    }
}

/// A change to a user, in the audit log (ids only: never a password or its hash).
fn audit(event: &'static str, user_id: &str, tenant: Option<&str>) {
    tracing::info!(target: "idp::audit", event, user_id = %user_id, tenant = tenant.unwrap_or("-"), "user changed");
}
