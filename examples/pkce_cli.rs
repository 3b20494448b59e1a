//! A native-app-style sign-in (pattern 3): a loopback redirect on an ephemeral port, PKCE
//! (S256), a public client without a secret; prints the user's claims and stores nothing.
//!
//! Run the provider (`cargo run --bin idp -- serve --dev`), then
//! `cargo run --example pkce-cli` and open the printed URL. Settings: `IDP_ISSUER`,
//! `IDP_CLIENT_ID` (default `test-cli`, a public client registered with
//! `http://127.0.0.1/callback`; any port is accepted for loopback redirects, RFC 8252),
//! `IDP_SCOPES` (`openid profile email`).

use std::time::Duration;

use axum::extract::RawQuery;
use axum::routing::get;
use idp_client::{Client, ClientAuth, Discovery};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let env = examples::Env::read("test-cli", None, "openid profile email", None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let redirect_uri = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr()?.port()
    );

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
        .redirect_uri(redirect_uri.clone())
        .build()?;
    let (url, pending) = client
        .authorization_request()
        .scope(&env.scopes.join(" "))
        .build()?;
    println!("Open this URL in your browser to sign in:");
    println!("{url}");

    // Wait for the one redirect back to the loopback address.
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = axum::Router::new().route(
        "/callback",
        get(move |RawQuery(q): RawQuery| {
            if let Some(tx) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(q.unwrap_or_default());
            }
            async { "Signed in. You can close this window and return to the terminal." }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let query = tokio::time::timeout(Duration::from_secs(300), rx).await??;
    server.abort();

    let code = client.validate_callback(&pending, &query)?;
    let set = client.exchange_code(&pending, code).send().await?;
    let claims = set.id_token_claims.clone().ok_or("no ID token")?;
    let info = client.userinfo(set.access_token()).await?;
    println!("signed in:");
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "sub": claims.sub,
            "email": claims.profile.email,
            "name": claims.profile.name,
            "auth_time": claims.auth_time,
            "userinfo": info.claims,
        }))?
    );
    println!("(tokens were kept in memory only and are dropped now)");
    Ok(())
}
