//! Multi-tenant SaaS (pattern 5): users and clients of two tenants, the tenant assigned by a
//! `before_insert` hook from the e-mail domain, per-tenant listing, a tenant's client that
//! refuses another tenant's user, and the tenant claim in tokens.
//!
//! Run with `cargo run --example multi-tenant`. It runs an in-memory provider on an
//! ephemeral loopback port, prints what happens, and exits.

use std::sync::Arc;

use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;

/// Tenants by e-mail domain.
fn tenant_of(email: &str) -> Option<&'static str> {
    match email.rsplit_once('@').map(|(_, d)| d) {
        Some("acme.example") => Some("acme"),
        Some("globex.example") => Some("globex"),
        _ => None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let provider = Provider::builder()
        .issuer(base.clone())
        .store(Arc::new(MemoryStore::new()))
        .encryption_key("example only: not a secret, at least 32 bytes")
        .before_insert_user(|_ctx, mut u| async move {
            match tenant_of(&u.email) {
                Some(t) => {
                    u.tenant_id = Some(t.into());
                    Ok(u)
                }
                None => Err(format!("no tenant for {}", u.email)),
            }
        })
        .build()
        .await?;
    let router = provider.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    for email in [
        "road@acme.example",
        "runner@acme.example",
        "hank@globex.example",
        "eve@unknown.example",
    ] {
        let r = provider
            .users()
            .insert(NewUser {
                email: email.into(),
                password: Some("a long password".into()),
                ..Default::default()
            })
            .await;
        match r {
            Ok(u) => println!(
                "user {email} -> tenant {}",
                u.tenant_id.as_deref().unwrap_or("-")
            ),
            Err(e) => println!("user {email} refused: {e}"),
        }
    }
    for tenant in ["acme", "globex"] {
        let users = provider.users().list(Some(tenant)).await?;
        let mut emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
        emails.sort_unstable();
        println!("tenant {tenant}: {} users {emails:?}", users.len());
    }

    // One web client and one service client per tenant.
    for tenant in ["acme", "globex"] {
        provider
            .clients()
            .insert(NewClient {
                client_id: format!("{tenant}-web"),
                secret: Some("web-secret".into()),
                redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
                allowed_scopes: vec!["openid".into(), "email".into()],
                first_party: true,
                tenant_id: Some(tenant.into()),
                ..Default::default()
            })
            .await?;
        provider
            .clients()
            .insert(NewClient {
                client_id: format!("{tenant}-worker"),
                secret: Some("worker-secret".into()),
                grant_types: vec!["client_credentials".into()],
                allowed_scopes: vec!["reports:read".into()],
                audiences: vec!["reports-api".into()],
                tenant_id: Some(tenant.into()),
                ..Default::default()
            })
            .await?;
    }

    // The tenant claim in a service token.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("globex-worker", Some("worker-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let at = token["access_token"].as_str().unwrap_or_default();
    let info: serde_json::Value = http
        .post(format!("{base}/oauth/introspect"))
        .basic_auth("globex-worker", Some("worker-secret"))
        .form(&[("token", at)])
        .send()
        .await?
        .json()
        .await?;
    println!(
        "globex-worker token: active={} tenant={}",
        info["active"], info["tenant"]
    );

    // A tenant's client refuses another tenant's user: acme-web cannot sign in hank@globex.
    for (client, email) in [
        ("acme-web", "hank@globex.example"),
        ("acme-web", "road@acme.example"),
    ] {
        let ok = sign_in(&base, client, email).await?;
        println!(
            "{client} signs in {email}: {}",
            if ok { "yes" } else { "refused" }
        );
    }
    Ok(())
}

/// Drives the login form the way a browser would; whether a code came back.
async fn sign_in(
    base: &str,
    client: &str,
    email: &str,
) -> Result<bool, Box<dyn std::error::Error>> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", client),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await?
        .text()
        .await?;
    let mut form: Vec<(String, String)> = hidden_fields(&page);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), "a long password".into()));
    let resp = http
        .post(format!("{base}/oauth/authorize"))
        .form(&form)
        .send()
        .await?;
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(location.contains("code="))
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|t| t.contains(r#"type="hidden""#))
        .filter_map(|t| {
            let attr = |n: &str| {
                let key = format!(r#"{n}=""#);
                let i = t.find(&key)? + key.len();
                let end = t[i..].find('"')?;
                Some(
                    t[i..i + end]
                        .replace("&#x2f;", "/")
                        .replace("&amp;", "&")
                        .replace("&quot;", "\""),
                )
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}
