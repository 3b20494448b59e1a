#![cfg_attr(feature = "axum", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "axum"),
    doc = "Tower layers for resource servers: [`JwtAuthLayer`] validates bearer tokens \
           against a cached JWK Set, [`RequireScopesLayer`] checks their scope, \
           [`TenantGuardLayer`] their tenant against the request's host or a header. The README \
           (with the axum example) is the crate documentation when the `axum` feature is on."
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod challenge;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod jwt_auth;
mod keys;
mod scopes;
mod tenant;

pub use error::Error;
#[cfg(feature = "axum")]
pub use extract::{Claims, ClaimsRejection, InsufficientScope, TenantRejection};
pub use jwt_auth::{JwtAuth, JwtAuthLayer, JwtAuthLayerBuilder};
pub use scopes::{RequireScopes, RequireScopesLayer};
pub use tenant::{Tenant, TenantGuard, TenantGuardLayer};

/// The response futures of the services in this crate.
pub mod future {
    pub use crate::jwt_auth::JwtAuthFuture;
    pub use crate::scopes::RequireScopesFuture;
    pub use crate::tenant::TenantGuardFuture;
}

/// The protocol types this crate's API uses (claims, algorithms, keys, clocks).
pub use idp_core;

/// The relying-party SDK whose [`JwksCache`](idp_client::JwksCache) and
/// [`HttpClient`](idp_client::HttpClient) this crate's builder accepts.
pub use idp_client;
