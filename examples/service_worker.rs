//! A worker calling an API with client_credentials tokens (pattern 4): tokens come from a
//! `ServiceTokenCache` (one token request, reused until 60 s before expiry).
//!
//! Run the provider (`cargo run --bin idp -- serve --dev`) and the gateway
//! (`cargo run --example api-gateway`), then `cargo run --example service-worker`.
//! Settings: `IDP_ISSUER`, `IDP_CLIENT_ID` (`test-service`), `IDP_CLIENT_SECRET`
//! (`test-service-secret`), `IDP_SCOPES` (`read:orders`), `IDP_AUDIENCE` (`orders-api`),
//! `GATEWAY_URL` (`http://127.0.0.1:8080`), `WORKER_CALLS` (3).

use idp_client::{Client, ClientAuth, Discovery, ServiceTokenCache, ServiceTokenRequest};
use idp_core::Scope;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let env = examples::Env::read(
        "test-service",
        Some("test-service-secret"),
        "read:orders",
        Some("orders-api"),
    );
    let gateway = std::env::var("GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let calls: u32 = std::env::var("WORKER_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);

    let metadata = Discovery::builder(env.issuer.clone())
        .build()?
        .metadata()
        .await?;
    let secret = env
        .client_secret
        .clone()
        .ok_or("IDP_CLIENT_SECRET is required")?;
    let client = Client::builder(metadata, env.client_id.clone())
        .auth(ClientAuth::basic(secret.as_str()))
        .build()?;
    let tokens = ServiceTokenCache::new(client)?;
    let mut request = ServiceTokenRequest::new().scope(Scope::from_tokens(&env.scopes)?);
    if let Some(aud) = &env.audience {
        request = request.audience(aud.clone());
    }

    let http = reqwest::Client::new();
    let mut previous: Option<String> = None;
    for i in 1..=calls.min(100) {
        let token = tokens.get(&request).await?;
        let reused = previous.as_deref() == Some(token.secret());
        previous = Some(token.secret().to_owned());
        let resp = http
            .get(format!("{gateway}/api/orders"))
            .bearer_auth(token.secret())
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = resp.text().await?;
        println!(
            "call {i}: {status} {body} (token {})",
            if reused {
                "reused from cache"
            } else {
                "fetched"
            }
        );
    }
    Ok(())
}
