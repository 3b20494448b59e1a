#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// The layers, top to bottom (a module only imports from layers below it; the test in
// `tests/layering.rs` keeps it so):
//
//   provider, layer                       the public faces: builder, router, Tower layer
//   oauth/ · account/                     protocol endpoints · pages a person sees
//   web/                                  handler state, forms, templates, cookies, CSRF
//   state                                 the shared state, built once from the Config
//   manage/ · issue · client secrets      management API · token minting · secret cache
//   keys · rate_limit                     key ring · limiters
//   config · issuer · crypto · error      the one Config · the parsed issuer · key material
//   store/                                persistence

mod account;
mod config;
mod crypto;
mod error;
mod issue;
mod issuer;
mod keys;
mod layer;
pub mod manage;
mod oauth;
mod provider;
mod rate_limit;
mod secret_cache;
mod state;
pub mod store;
mod web;

pub use config::{Config, Sensitive};
pub use crypto::EncryptionKey;
pub use error::Error;
pub use layer::{ProviderLayer, ProviderService, ResponseFuture};
pub use manage::{ClientHook, UserHook};
pub use provider::{Provider, ProviderBuilder};
pub use rate_limit::RateLimits;
