#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod authorize;
mod client;
mod discovery;
mod end_session;
mod error;
mod flight;
mod grant;
mod jwks;
mod logout;
mod service_token;
mod session;
mod transport;
mod verify;

pub use auth::ClientAuth;
pub use authorize::{AuthorizationRequestBuilder, PendingAuthorization};
pub use client::{Client, ClientBuilder, TokenRef, TokenSet, UserInfo, parse_token_response};
pub use discovery::{
    Discovery, DiscoveryBuilder, WellKnown, discovery_request, parse_discovery_response,
};
pub use end_session::EndSessionUrl;
pub use error::{CallbackError, Error, LogoutTokenError, TransportError};
pub use grant::{ClientCredentials, CodeExchange, Refresh};
pub use jwks::{JwksCache, JwksCacheBuilder};
pub use logout::{LogoutToken, logout_token_from_form};
pub use service_token::{
    AudienceParameter, ServiceTokenCache, ServiceTokenCacheBuilder, ServiceTokenRequest,
};
pub use session::TokenManager;
#[cfg(feature = "reqwest")]
pub use transport::ReqwestTransport;
pub use transport::{HttpClient, HttpClientBuilder, Transport, TransportFuture};
pub use verify::IdTokenVerification;

/// The protocol types this crate's API uses (tokens, claims, metadata, errors, clocks).
pub use idp_core;
