#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]
//! Integration tests of idp-client: against an in-process fake provider on 127.0.0.1:0
//! (what a real provider rarely does on demand), and against the real idp-server on
//! loopback (`server`).

mod discovery;
mod fake;
mod flows;
mod jwks;
mod logout;
mod resource;
mod server;
mod service_token;
mod session;
mod transport;
