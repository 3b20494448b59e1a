//! The management API: `provider.users().insert(NewUser { .. })` and friends.

mod clients;
pub(crate) mod hooks;
mod keys;
pub(crate) mod password_policy;
mod records;
mod tenants;
pub(crate) mod two_factor;
mod users;
mod validate;

use idp_core::Clock;

use crate::attributes::Schemas;
use crate::client_cache::{ClientCache, TenantCache};
use crate::hashing::HashBudget;
use crate::keys::KeyRing;
use crate::revocation::Revoker;
use crate::store::Store;

pub use clients::Clients;
use hooks::Hooks;
pub use hooks::{Actor, HookContext, TokenClaims};
pub use keys::Keys;
pub use records::{
    ClientUpdate, CreatedClient, NewClient, NewTenant, NewUser, TenantUpdate, UserUpdate,
};
pub use tenants::Tenants;
pub use two_factor::{TwoFactor, TwoFactorStatus};
pub use users::Users;

/// What the management facades work on: the provider's store, clock, keys and hooks.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) revoker: Revoker<'a>,
    pub(crate) client_cache: &'a ClientCache,
    pub(crate) keys: &'a KeyRing,
    pub(crate) hooks: &'a Hooks,
    pub(crate) hashing: &'a HashBudget,
    /// `insecure_allow_http_redirect_uris` of the configuration.
    pub(crate) insecure_http_redirect_uris: bool,
    /// The attribute schemas of users and clients.
    pub(crate) schemas: &'a Schemas,
    /// Tenants read by the endpoints; a change here invalidates its entry.
    pub(crate) tenant_cache: &'a TenantCache,
    /// `scopes_supported` when it is enforced: clients and tenants may name only these.
    pub(crate) known_scopes: Option<&'a idp_core::Scope>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    fn now(&self) -> i64 {
        self.clock.unix_now()
    }
}
