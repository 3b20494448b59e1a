//! `provider.tenants()`: register tenants, list them, change their look and scopes.

use super::Ctx;
use super::records::{NewTenant, TenantUpdate};
use super::validate::{check_known_scopes, invalid, parse_scopes};
use crate::Error;
use crate::store::{StoreError, Tenant};

/// The longest tenant id.
const MAX_ID: usize = 64;
/// The longest display name.
const MAX_NAME: usize = 128;

/// Tenants of a provider.
#[derive(Debug)]
pub struct Tenants<'a> {
    ctx: Ctx<'a>,
}

/// 1–64 ASCII letters, digits, `-`, `_` or `.`: it appears in tokens, host names and URLs.
fn validate_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "tenant id {id:?} must be 1-{MAX_ID} letters, digits, '-', '_' or '.'"
        )))
    }
}

fn validate_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "display name must be 1-{MAX_NAME} characters without control characters"
        )));
    }
    Ok(())
}

/// An `https` URL (or `http` on a loopback host), at most 2048 bytes: the pages show it as
/// an image, and their CSP allows its origin.
fn validate_logo(url: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(url).ok().filter(|_| url.len() <= 2048);
    let ok = parsed.is_some_and(|u| match u.scheme() {
        "https" => u.host().is_some(),
        "http" => matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "logo URL {:?} must be an https URL (http only on loopback)",
            crate::error::loggable(url)
        )))
    }
}

impl<'a> Tenants<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Registers a tenant; fails on a malformed id, name, logo URL or scope, or an id
    /// already registered.
    pub async fn insert(&self, new: NewTenant) -> Result<Tenant, Error> {
        validate_id(&new.id)?;
        let mut tenant = Tenant::new(new.id, self.ctx.now());
        if let Some(n) = new.display_name {
            validate_name(&n)?;
            tenant.display_name = Some(n);
        }
        if let Some(l) = new.logo_url {
            validate_logo(&l)?;
            tenant.logo_url = Some(l);
        }
        tenant.allowed_scopes = new
            .allowed_scopes
            .as_deref()
            .map(|s| parse_scopes(s, "allowed_scopes"))
            .transpose()?;
        if let Some(s) = &tenant.allowed_scopes {
            check_known_scopes(s, self.ctx.known_scopes, "allowed_scopes")?;
        }
        self.ctx
            .store
            .insert_tenant(&tenant)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Conflict(format!("tenant {} is already registered", tenant.id))
                }
                other => other.into(),
            })?;
        self.changed(&tenant.id).await;
        audit("tenant_created", &tenant.id);
        Ok(tenant)
    }

    /// A tenant by id.
    pub async fn get(&self, id: &str) -> Result<Option<Tenant>, Error> {
        Ok(self.ctx.store.get_tenant(id).await?)
    }

    /// Every registered tenant, by id.
    pub async fn list(&self) -> Result<Vec<Tenant>, Error> {
        Ok(self.ctx.store.list_tenants().await?)
    }

    /// Applies an update (`Some("")` clears the display name or logo).
    pub async fn update(&self, id: &str, update: TenantUpdate) -> Result<Tenant, Error> {
        let mut t = self
            .ctx
            .store
            .get_tenant(id)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(n) = update.display_name {
            if n.is_empty() {
                t.display_name = None;
            } else {
                validate_name(&n)?;
                t.display_name = Some(n);
            }
        }
        if let Some(l) = update.logo_url {
            if l.is_empty() {
                t.logo_url = None;
            } else {
                validate_logo(&l)?;
                t.logo_url = Some(l);
            }
        }
        if let Some(s) = update.allowed_scopes {
            t.allowed_scopes = s
                .as_deref()
                .map(|s| parse_scopes(s, "allowed_scopes"))
                .transpose()?;
            if let Some(s) = &t.allowed_scopes {
                check_known_scopes(s, self.ctx.known_scopes, "allowed_scopes")?;
            }
        }
        t.updated_at = self.ctx.now();
        self.ctx.store.update_tenant(&t).await?;
        self.changed(&t.id).await;
        audit("tenant_updated", &t.id);
        Ok(t)
    }

    /// After a change: this process forgets the tenant at once, and the others sharing the
    /// store are told (PostgreSQL); if telling them fails, their caches' lifetime bounds it.
    async fn changed(&self, id: &str) {
        self.ctx.tenant_cache.invalidate(id).await;
        if let Err(e) = self.ctx.store.announce_tenant_change(id).await {
            tracing::warn!(tenant = %id, error = %e, "cannot announce a tenant change to other replicas");
        }
    }
}

fn audit(event: &'static str, tenant: &str) {
    tracing::info!(target: "idp::audit", event, tenant = %tenant, "tenant changed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_logos() {
        for ok in ["acme", "acme-eu", "a.b_c", "A1"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "ac/me", "é", &"x".repeat(65)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name("Acme Corporation ✓").is_ok());
        assert!(validate_name("  ").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_logo("https://cdn.example.com/logo.svg").is_ok());
        assert!(validate_logo("http://localhost:3000/logo.png").is_ok());
        for bad in [
            "http://cdn.example.com/x.png",
            "javascript:alert(1)",
            "data:image/png;base64,AA",
            "/logo.png",
        ] {
            assert!(validate_logo(bad).is_err(), "{bad}");
        }
    }
}
