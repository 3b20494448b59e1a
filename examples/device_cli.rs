//! A device without a browser or a keyboard (RFC 8628, the device authorization grant): it
//! asks the provider for a code, shows where to enter it, and polls until the person has
//! approved on their phone or computer; then prints who signed in.
//!
//! Run the provider (`cargo run --bin idp -- serve --dev`), then
//! `cargo run --example device-cli`, open the printed URL in a browser and enter the code.
//! Settings: `IDP_ISSUER`, `IDP_CLIENT_ID` (default `dev-device`, a public client allowed
//! the device grant), `IDP_CLIENT_SECRET` (for a confidential client), `IDP_SCOPES`
//! (`openid profile offline_access`).

use idp_client::{Client, ClientAuth, Discovery};
use idp_core::Scope;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let env = examples::Env::read("dev-device", None, "openid profile offline_access", None);
    let metadata = Discovery::builder(env.issuer.clone())
        .build()?
        .metadata()
        .await?;
    let auth = match &env.client_secret {
        Some(s) => ClientAuth::basic(s.as_str()),
        None => ClientAuth::None,
    };
    let client = Client::builder(metadata, env.client_id.clone())
        .auth(auth)
        .build()?;
    let scope = Scope::from_tokens(&env.scopes)?;
    let device = client.device_authorization(Some(&scope)).await?;
    println!("On your phone or computer, open:");
    println!("{}", device.verification_uri);
    println!("and enter the code: {}", device.user_code);
    if let Some(complete) = &device.verification_uri_complete {
        println!("(or open {complete})");
    }
    println!(
        "waiting for approval (polling every {} s, for up to {} s)...",
        device.interval.unwrap_or(5),
        device.expires_in
    );
    let set = client.poll_device(&device).await?;
    let claims = set.id_token_claims.clone().ok_or("no ID token")?;
    println!("signed in:");
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "sub": claims.sub,
            "name": claims.profile.name,
            "auth_time": claims.auth_time,
            "scope": set.tokens.scope.as_ref().map(|s| s.to_string()),
            "refresh_token": set.refresh_token().is_some(),
        }))?
    );
    println!("(tokens were kept in memory only and are dropped now)");
    Ok(())
}
