#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of idp-client against an in-process fake provider on 127.0.0.1:0.

mod discovery;
mod fake;
mod flows;
mod jwks;
mod service_token;
