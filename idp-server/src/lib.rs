#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// The layers, top to bottom. A module only imports from layers below it; the test in
// `tests/layering.rs` keeps it so.
//
//   serve                             serving on a TCP listener, with connection bounds
//   provider                          the public face: builder, router, Tower layer
//   oauth/ · layer                    protocol endpoints · the Tower layer around them
//   account/                          what a person sees: sign-in, consent, session
//   web/                              handler state, forms, templates, cookies, CSRF
//   state                             the shared state, built once from the Config
//   manage/ · issue                   management API per resource · token minting
//   keys                              the key ring: publish, sign, rotate
//   crypto · config · issuer · hashing  key material · the one Config · the issuer · hash budget
//   mail/ · tls                       e-mail: mailers, queue, templates · TLS certificates
//   error · rate_limit · secret_cache the two errors · limiters · verified secrets
//   metrics/                          the provider's metrics, a timing store decorator
//   store/                            persistence: memory, SQLite, PostgreSQL

mod account;
mod admin;
mod attributes;
mod client_cache;
mod config;
mod crypto;
mod error;
mod hashing;
mod issue;
mod issuer;
mod keys;
mod layer;
pub mod mail;
pub mod manage;
mod metrics;
mod oauth;
mod provider;
mod rate_limit;
mod revocation;
mod secret_cache;
mod serve;
mod state;
pub mod store;
#[cfg(feature = "test-kit")]
pub mod testkit;
mod tls;
mod web;

pub use attributes::{AttributeRule, AttributeSchema, AttributeType, ClaimMapping, TokenKind};
pub use config::{Config, LogFormat, Registration, Sensitive};
pub use crypto::EncryptionKey;
pub use error::Error;
pub use layer::{ProviderLayer, ProviderService, ResponseFuture};
pub use provider::{Provider, ProviderBuilder};
pub use rate_limit::RateLimits;
