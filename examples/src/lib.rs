//! Shared bits of the idp examples: reading the `IDP_*` environment with defaults that
//! match `idp serve --dev`, and tracing set-up. The programs themselves are the
//! `[[example]]` entries (`cargo run --example NAME`).

use std::env;

/// Settings every example reads from the environment.
#[derive(Debug, Clone)]
pub struct Env {
    /// `IDP_ISSUER` (default `http://localhost:4000`).
    pub issuer: String,
    /// `IDP_CLIENT_ID`.
    pub client_id: String,
    /// `IDP_CLIENT_SECRET` (empty for a public client).
    pub client_secret: Option<String>,
    /// `IDP_SCOPES`, space-separated.
    pub scopes: Vec<String>,
    /// `IDP_AUDIENCE`.
    pub audience: Option<String>,
}

impl Env {
    /// Reads the environment, with the given defaults for the client.
    pub fn read(
        client_id: &str,
        client_secret: Option<&str>,
        scopes: &str,
        audience: Option<&str>,
    ) -> Self {
        let var = |k: &str| env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            issuer: var("IDP_ISSUER").unwrap_or_else(|| "http://localhost:4000".into()),
            client_id: var("IDP_CLIENT_ID").unwrap_or_else(|| client_id.into()),
            client_secret: match env::var("IDP_CLIENT_SECRET") {
                Ok(s) if s.is_empty() => None,
                Ok(s) => Some(s),
                Err(_) => client_secret.map(str::to_owned),
            },
            scopes: var("IDP_SCOPES")
                .unwrap_or_else(|| scopes.into())
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            audience: var("IDP_AUDIENCE").or_else(|| audience.map(str::to_owned)),
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
