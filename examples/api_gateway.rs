//! An API gateway that accepts access tokens (pattern 4): `/api/orders` is protected with
//! `JwtAuthLayer` (keys from the provider's discovery document, cached) and requires the
//! `read:orders` scope; `/health` is public.
//!
//! Run the provider (`cargo run --bin idp -- serve --dev`), then
//! `cargo run --example api-gateway`, and call it with `cargo run --example service-worker`.
//! Settings: `IDP_ISSUER`, `IDP_AUDIENCE` (`orders-api`), `GATEWAY_LISTEN` (`127.0.0.1:8080`).

use axum::Json;
use axum::routing::get;
use idp_core::{Algorithm, ValidationPolicy};
use idp_tower::{Claims, JwtAuthLayer, RequireScopesLayer};
use serde_json::{Value, json};

async fn orders(claims: Claims) -> Json<Value> {
    Json(json!({
        "caller": claims.sub,
        "tenant": claims.tenant,
        "orders": [{"id": 1, "item": "anvil"}, {"id": 2, "item": "rocket skates"}],
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let env = examples::Env::read("", None, "", Some("orders-api"));
    let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let audience = env.audience.clone().unwrap_or_else(|| "orders-api".into());

    let policy = ValidationPolicy::builder()
        .issuer(env.issuer.clone())
        .audience(audience)
        .algorithms([Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA])
        .required_typ("at+jwt")
        .build()?;
    let auth = JwtAuthLayer::discover(policy).build()?;
    let api = axum::Router::new()
        .route(
            "/api/orders",
            get(orders).route_layer(RequireScopesLayer::new(["read:orders"])),
        )
        .layer(auth);
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(api);

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("api-gateway listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
