//! Development SSO: the provider embedded in a few lines of Rust (pattern 1).
//!
//! Run with `cargo run --example dev-sso`, then open
//! `http://localhost:4004/.well-known/openid-configuration` (its own port, so that it runs
//! beside `idp serve --dev` on 4000). A user `dev@example.com` /
//! `dev-password-123` and a client `test-app` / `test-secret` (redirect
//! `http://localhost:3000/callback`) are created in memory. `IDP_LISTEN` changes the address.

use std::sync::Arc;

use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let listen = std::env::var("IDP_LISTEN").unwrap_or_else(|_| "127.0.0.1:4004".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let issuer = std::env::var("IDP_ISSUER").unwrap_or_else(|_| {
        format!(
            "http://localhost:{}",
            listener.local_addr().map(|a| a.port()).unwrap_or(4004)
        )
    });

    let provider = Provider::builder()
        .issuer(issuer.clone())
        .store(Arc::new(MemoryStore::new()))
        .encryption_key("development only: not a secret, at least 32 bytes")
        .build()
        .await?;
    provider
        .users()
        .insert(NewUser {
            email: "dev@example.com".into(),
            password: Some("dev-password-123".into()),
            name: Some("Dev User".into()),
            email_verified: true,
            ..Default::default()
        })
        .await?;
    provider
        .clients()
        .insert(NewClient {
            client_id: "test-app".into(),
            secret: Some("test-secret".into()),
            redirect_uris: vec!["http://localhost:3000/callback".into()],
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            first_party: true,
            ..Default::default()
        })
        .await?;

    println!("dev-sso listening on http://{}", listener.local_addr()?);
    println!("issuer: {issuer}");
    println!("dev user: dev@example.com / dev-password-123");
    axum::serve(listener, provider.router()).await?;
    Ok(())
}
