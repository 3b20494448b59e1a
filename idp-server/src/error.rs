//! The crate's error type.

use crate::store::StoreError;

/// Everything that can go wrong in idp-server outside a protocol exchange (protocol errors
/// are answered to the client as RFC 6749 / 6750 bodies and never surface as this type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message says which setting.
    #[error("configuration: {0}")]
    Config(String),
    /// Input to the management API was refused; the message says why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A record with the same identity exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A `before_insert` hook refused the record.
    #[error("rejected by hook: {0}")]
    Rejected(String),
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A cryptographic operation failed (key generation, decryption of a stored key with
    /// the wrong encryption key, signing).
    #[error("crypto: {0}")]
    Crypto(String),
    /// An I/O error (binding the listener, reading a file).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::NotFound => Error::NotFound,
            StoreError::Backend(m) => Error::Storage(m),
            // A database URL is configuration.
            StoreError::UnsupportedUrl(m) => Error::Config(m),
        }
    }
}
