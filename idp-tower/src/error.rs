//! The crate's error type: what can go wrong while building a layer.

/// Why a layer could not be built from its configuration.
///
/// Requests never produce this type: a rejected token is a `401`/`403` response and a key
/// store that cannot be reached is a `503` response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The validation policy is incomplete or contradictory (no issuer, no audience, no
    /// algorithm, leeway above five minutes).
    #[error(transparent)]
    Policy(idp_core::Error),
    /// The discovery document or JWK Set URL is unusable, or the HTTP client could not be
    /// built.
    #[error(transparent)]
    Client(idp_client::Error),
    /// The settings cannot work together.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}
