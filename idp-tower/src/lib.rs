//! Tower layers for resource servers.
//!
//! Planned (issue 6): `JwtAuthLayer` (bearer validation against a cached JWKS), a scope guard
//! and axum extractors. Until then this crate only re-exports the protocol types of
//! [`idp_core`].

pub use idp_core;
