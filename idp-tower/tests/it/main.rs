#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]
//! Integration tests of idp-tower: every response of the layers through `oneshot`, and key
//! rotation against a fake provider serving discovery and JWKS on 127.0.0.1:0.

#[cfg(feature = "axum")]
mod axum_extract;
mod decodes;
mod provider;
mod responses;
mod rotation;
mod scopes;
mod support;
mod tenant;
mod token_cache;
