#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod client_auth;
mod crypto;
mod error;
mod http;
mod issue;
mod keys;
mod layer;
pub mod manage;
mod provider;
mod rate_limit;
pub mod store;

pub use crypto::EncryptionKey;
pub use error::Error;
pub use layer::{ProviderLayer, ProviderService, ResponseFuture};
pub use provider::{ClientHook, Provider, ProviderBuilder, UserHook};
pub use rate_limit::RateLimits;
