//! Relying-party SDK for OAuth 2.0 / OpenID Connect providers.
//!
//! Planned (issue 5): discovery, a cached JWKS, PKCE authorization requests, code exchange,
//! refresh, revocation, introspection, userinfo and a service-token cache. Until then this
//! crate only re-exports the protocol types of [`idp_core`].

pub use idp_core;
