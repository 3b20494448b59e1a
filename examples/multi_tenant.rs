//! Multi-tenant SaaS (pattern 5): two tenants with their look and scopes, users with
//! custom attributes (`department`, `role`, `customerId`) checked by a schema, a hook that
//! assigns the tenant from the e-mail domain and makes admins tenant administrators, `role`
//! and `department` released as claims, an API that authorises on `role` and refuses a
//! token on another tenant's host, and the management HTTP API used by a tenant admin.
//!
//! Run with `cargo run --example multi-tenant`. It runs an in-memory provider and an API on
//! ephemeral loopback ports, prints what happens, and exits.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use idp_server::manage::{NewClient, NewTenant, NewUser};
use idp_server::store::MemoryStore;
use idp_server::{
    AttributeRule, AttributeSchema, AttributeType, ClaimMapping, Provider, TokenKind,
};
use idp_tower::idp_core::{Algorithm, ValidationPolicy};
use idp_tower::{Claims, JwtAuthLayer, Tenant, TenantGuardLayer};
use serde::Deserialize;
use serde_json::{Value, json};

const PASSWORD: &str = "a long password";
/// The API's hosts are `{tenant}.app.example` (sent as the `Host` header).
const APP_DOMAIN: &str = "app.example";

/// Tenants by e-mail domain.
fn tenant_of(email: &str) -> Option<&'static str> {
    match email.rsplit_once('@').map(|(_, d)| d) {
        Some("acme.example") => Some("acme"),
        Some("globex.example") => Some("globex"),
        _ => None,
    }
}

/// The custom claims the orders API reads.
#[derive(Clone, Debug, Deserialize)]
struct OrgClaims {
    role: Option<String>,
    department: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let admin_api = format!("{base}/admin/api");
    let users_schema = AttributeSchema::new()
        .attribute(
            "department",
            AttributeRule::new(AttributeType::String).default_value("general"),
        )
        .attribute(
            "role",
            AttributeRule::new(AttributeType::Enum)
                .values(["user", "admin", "owner"])
                .default_value("user"),
        )
        .attribute("customerId", AttributeRule::new(AttributeType::String));
    let provider = Provider::builder()
        .issuer(base.clone())
        .store(Arc::new(MemoryStore::new()))
        .encryption_key("example only: not a secret, at least 32 bytes")
        .scopes_supported([
            "openid",
            "profile",
            "email",
            "roles",
            "orders:read",
            "idp:tenant-admin",
        ])
        .scope_description("roles", "Your role and department in your organisation")
        .user_attributes(users_schema)
        .client_attributes(
            AttributeSchema::new().attribute("logoUrl", AttributeRule::new(AttributeType::Url)),
        )
        .claim(ClaimMapping::new("role", "role").scope("roles"))
        .claim(
            ClaimMapping::new("department", "department")
                .scope("roles")
                .tokens([TokenKind::AccessToken]),
        )
        // The tenant from the e-mail domain; admins and owners administer their tenant.
        .before_insert_user(|_ctx, mut u| async move {
            let Some(t) = tenant_of(&u.email) else {
                return Err(format!("no tenant for {}", u.email));
            };
            u.tenant_id = Some(t.into());
            let mut scopes = vec!["roles".to_owned(), "orders:read".to_owned()];
            if matches!(
                u.attributes.get("role").and_then(Value::as_str),
                Some("admin" | "owner")
            ) {
                scopes.push("idp:tenant-admin".into());
            }
            u.allowed_scopes = Some(scopes);
            Ok(u)
        })
        .build()
        .await?;
    let router = provider.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    for (id, name) in [("acme", "Acme Corporation"), ("globex", "Globex")] {
        provider
            .tenants()
            .insert(NewTenant {
                id: id.into(),
                display_name: Some(name.into()),
                allowed_scopes: Some(vec![
                    "roles".into(),
                    "orders:read".into(),
                    "idp:tenant-admin".into(),
                ]),
                ..Default::default()
            })
            .await?;
    }
    for (email, attrs) in [
        (
            "road@acme.example",
            json!({"role": "admin", "department": "engineering", "customerId": "c-1"}),
        ),
        ("runner@acme.example", json!({"customerId": "c-2"})),
        (
            "hank@globex.example",
            json!({"role": "owner", "customerId": "c-9"}),
        ),
        ("eve@unknown.example", json!({})),
        ("wile@acme.example", json!({"role": "root"})),
    ] {
        let r = provider
            .users()
            .insert(NewUser {
                email: email.into(),
                password: Some(PASSWORD.into()),
                attributes: attrs.as_object().cloned().unwrap_or_default(),
                ..Default::default()
            })
            .await;
        match r {
            Ok(u) => println!(
                "user {email} -> tenant {} role {} department {}",
                u.tenant_id.as_deref().unwrap_or("-"),
                u.attributes["role"],
                u.attributes["department"],
            ),
            Err(e) => println!("user {email} refused: {e}"),
        }
    }

    // One web client per tenant; its tokens are for the orders API and the admin API.
    for tenant in ["acme", "globex"] {
        provider
            .clients()
            .insert(NewClient {
                client_id: format!("{tenant}-web"),
                secret: Some("web-secret".into()),
                redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
                allowed_scopes: ["openid", "roles", "orders:read", "idp:tenant-admin"]
                    .map(String::from)
                    .to_vec(),
                audiences: vec!["orders-api".into(), admin_api.clone()],
                first_party: true,
                tenant_id: Some(tenant.into()),
                attributes: json!({"logoUrl": format!("https://cdn.{tenant}.example/logo.svg")})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ..Default::default()
            })
            .await?;
    }

    // A tenant's client refuses another tenant's user: acme-web cannot sign in hank@globex.
    let scope = "openid roles orders:read idp:tenant-admin";
    let refused = sign_in(&base, "acme-web", "hank@globex.example", scope).await?;
    println!(
        "acme-web signs in hank@globex.example: {}",
        if refused.is_some() { "yes" } else { "refused" }
    );
    let road = sign_in(&base, "acme-web", "road@acme.example", scope)
        .await?
        .ok_or("road could not sign in")?;
    let runner = sign_in(&base, "acme-web", "runner@acme.example", scope)
        .await?
        .ok_or("runner could not sign in")?;
    println!(
        "road's token: scope \"{}\"",
        road["scope"].as_str().unwrap_or_default()
    );
    println!(
        "runner's token: scope \"{}\"",
        runner["scope"].as_str().unwrap_or_default()
    );

    // The orders API: JWTs of this provider for `orders-api`, on `{tenant}.app.example`.
    let api = Router::new()
        .route(
            "/orders",
            get(|c: Claims<OrgClaims>, tenant: Tenant| async move {
                axum::Json(json!({
                    "tenant": tenant.as_str(),
                    "role": c.extra.role,
                    "department": c.extra.department,
                }))
            }),
        )
        .layer(TenantGuardLayer::from_host_under(APP_DOMAIN)?)
        .layer(
            JwtAuthLayer::jwks_uri(
                ValidationPolicy::builder()
                    .issuer(base.clone())
                    .audience("orders-api")
                    .algorithms([Algorithm::ES256])
                    .build()?,
                format!("{base}/.well-known/jwks.json"),
            )
            .claims::<OrgClaims>()
            .build()?,
        );
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_addr = api_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(api_listener, api).await });

    let http = reqwest::Client::new();
    let at = road["access_token"].as_str().unwrap_or_default();
    for tenant in ["acme", "globex"] {
        let resp = http
            .get(format!("http://{api_addr}/orders"))
            .header(reqwest::header::HOST, format!("{tenant}.{APP_DOMAIN}"))
            .bearer_auth(at)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = resp.text().await?;
        println!("orders API on {tenant}.{APP_DOMAIN} with road's token: {status} {body}");
    }

    // The management HTTP API with road's tenant-admin token: acme's users only.
    let admin = |path: &str| {
        http.get(format!("{base}/admin/api/v1{path}"))
            .bearer_auth(at)
            .send()
    };
    let users: Value = admin("/users").await?.json().await?;
    let mut emails: Vec<&str> = users["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["email"].as_str()).collect())
        .unwrap_or_default();
    emails.sort_unstable();
    println!("tenant admin road lists users: {emails:?}");
    let status = admin("/users?tenant=globex").await?.status().as_u16();
    println!("tenant admin road lists globex's users: {status}");
    let hank = provider
        .users()
        .find_by_email(Some("globex"), "hank@globex.example")
        .await?
        .ok_or("no hank")?;
    let status = admin(&format!("/users/{}", hank.id))
        .await?
        .status()
        .as_u16();
    println!("tenant admin road reads hank@globex.example: {status}");
    let rt = runner["access_token"].as_str().unwrap_or_default();
    let status = http
        .get(format!("{base}/admin/api/v1/users"))
        .bearer_auth(rt)
        .send()
        .await?
        .status()
        .as_u16();
    println!("runner (no idp:tenant-admin) lists users: {status}");
    Ok(())
}

/// Signs `email` in at `client` the way a browser would and exchanges the code: the token
/// response, or `None` when the sign-in is refused.
async fn sign_in(
    base: &str,
    client: &str,
    email: &str,
    scope: &str,
) -> Result<Option<Value>, Box<dyn std::error::Error>> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", client),
            ("response_type", "code"),
            ("scope", scope),
        ])
        .send()
        .await?
        .text()
        .await?;
    let mut form: Vec<(String, String)> = hidden_fields(&page);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), PASSWORD.into()));
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
    let Some(code) = url::Url::parse(location).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    }) else {
        return Ok(None);
    };
    let tokens: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(client, Some("web-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(Some(tokens))
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
