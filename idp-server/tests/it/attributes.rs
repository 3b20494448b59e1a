//! Attribute schemas and claims from attributes (pattern 5): what the management API and
//! the CLI accept, and what reaches the access token, the ID token and userinfo.

use std::sync::Arc;

use base64::Engine as _;
use idp_server::manage::{NewClient, NewUser, UserUpdate};
use idp_server::store::MemoryStore;
use idp_server::{
    AttributeRule, AttributeSchema, AttributeType, ClaimMapping, Error, Provider, TokenKind,
};
use serde_json::{Value, json};

use crate::browser::{PASSWORD, REDIRECT, web_code_flow};
use crate::common::{KEY, TestServer, verify_with_jsonwebtoken};

fn users_schema() -> AttributeSchema {
    AttributeSchema::new()
        .attribute(
            "department",
            AttributeRule::new(AttributeType::String)
                .default_value("general")
                .max_length(32),
        )
        .attribute(
            "role",
            AttributeRule::new(AttributeType::Enum)
                .values(["user", "admin", "owner"])
                .required(),
        )
        .attribute("customerId", AttributeRule::new(AttributeType::String))
}

fn configure(b: idp_server::ProviderBuilder) -> idp_server::ProviderBuilder {
    b.scopes_supported(["openid", "profile", "email", "offline_access", "roles"])
        .scope_description("roles", "Your role in your organisation")
        .user_attributes(users_schema())
        .client_attributes(
            AttributeSchema::new().attribute("logoUrl", AttributeRule::new(AttributeType::Url)),
        )
        .tenant_user_attributes(
            "acme",
            AttributeSchema::new().attribute(
                "seats",
                AttributeRule::new(AttributeType::Integer).required(),
            ),
        )
        .claim(
            ClaimMapping::new("role", "role")
                .scope("roles")
                .tokens([TokenKind::AccessToken]),
        )
        .claim(ClaimMapping::new("department", "department"))
}

fn invalid_input(e: Error) -> String {
    match e {
        Error::InvalidInput(m) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn the_schema_is_enforced_on_insert_and_update() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), configure).await;
    let users = s.provider.users();
    let new = |attrs: Value| NewUser {
        email: "ada@example.com".into(),
        attributes: attrs.as_object().unwrap().clone(),
        ..Default::default()
    };

    let e = users.insert(new(json!({}))).await.unwrap_err();
    assert_eq!(invalid_input(e), "attribute `role` is required");
    let e = users
        .insert(new(json!({"role": "root"})))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_input(e),
        "attribute `role` must be one of user, admin, owner"
    );
    let e = users
        .insert(new(json!({"role": "user", "colour": "red"})))
        .await
        .unwrap_err();
    assert_eq!(invalid_input(e), "attribute `colour` is not defined");
    // Nothing was stored by the refusals.
    assert!(users.list(None).await.unwrap().is_empty());

    let u = users
        .insert(new(json!({"role": "admin", "customerId": "c-1"})))
        .await
        .unwrap();
    assert_eq!(
        Value::Object(u.attributes.clone()),
        json!({"role": "admin", "customerId": "c-1", "department": "general"})
    );
    // An update merges, checks the result, and a null removes an optional attribute.
    let upd = |attrs: Value| UserUpdate {
        attributes: Some(attrs.as_object().unwrap().clone()),
        ..Default::default()
    };
    let e = users
        .update(&u.id, upd(json!({"role": "root"})))
        .await
        .unwrap_err();
    assert!(invalid_input(e).contains("`role`"));
    let e = users
        .update(&u.id, upd(json!({"role": null})))
        .await
        .unwrap_err();
    assert_eq!(invalid_input(e), "attribute `role` is required");
    let u2 = users
        .update(&u.id, upd(json!({"role": "owner", "customerId": null})))
        .await
        .unwrap();
    assert_eq!(
        Value::Object(u2.attributes),
        json!({"role": "owner", "department": "general"})
    );
    let stored = users.get(&u.id).await.unwrap().unwrap();
    assert_eq!(stored.attributes["role"], "owner");

    // A tenant's users follow the provider's rules and the tenant's own.
    let e = users
        .insert(NewUser {
            email: "bo@acme.example".into(),
            tenant_id: Some("acme".into()),
            attributes: json!({"role": "user"}).as_object().unwrap().clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_input(e), "attribute `seats` is required");
    let bo = users
        .insert(NewUser {
            email: "bo@acme.example".into(),
            tenant_id: Some("acme".into()),
            attributes: json!({"role": "user", "seats": "12"})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bo.attributes["seats"], 12);

    // Clients follow the client schema.
    let client = |logo: &str| NewClient {
        client_id: "svc".into(),
        grant_types: vec!["client_credentials".into()],
        attributes: json!({"logoUrl": logo}).as_object().unwrap().clone(),
        ..Default::default()
    };
    let e = s
        .provider
        .clients()
        .insert(client("javascript:alert(1)"))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_input(e),
        "attribute `logoUrl` must be an http(s) URL"
    );
    s.provider
        .clients()
        .insert(client("https://cdn.example.com/logo.png"))
        .await
        .unwrap();
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Signs `ada` in at `web` with `scope`; the token response.
async fn tokens(s: &TestServer, scope: &str) -> Value {
    let (status, body) = web_code_flow(s, scope).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn attributes_reach_the_tokens_their_mapping_names() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), configure).await;
    s.provider
        .users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some(PASSWORD.into()),
            attributes: json!({"role": "admin", "department": "research"})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "web".into(),
            secret: Some("web-secret".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: ["openid", "profile", "roles"].map(String::from).to_vec(),
            grant_types: vec!["authorization_code".into()],
            audiences: vec!["api".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();

    // With `roles`: the role in the access token only; the department everywhere.
    let t = tokens(&s, "openid roles").await;
    let at = verify_with_jsonwebtoken(&s, t["access_token"].as_str().unwrap(), "api").await;
    assert_eq!(at["role"], "admin");
    assert_eq!(at["department"], "research");
    let id = payload(t["id_token"].as_str().unwrap());
    assert_eq!(id["department"], "research");
    assert!(id.get("role").is_none(), "{id}");
    let info: Value = s
        .http
        .get(s.url("/oauth/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["department"], "research");
    assert!(info.get("role").is_none(), "{info}");

    // Without `roles`: no role anywhere.
    let t = tokens(&s, "openid").await;
    let at = verify_with_jsonwebtoken(&s, t["access_token"].as_str().unwrap(), "api").await;
    assert!(at.get("role").is_none(), "{at}");
    assert_eq!(at["department"], "research");
}

async fn build(
    configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
) -> String {
    let b = Provider::builder()
        .issuer("https://id.example.com")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY);
    match configure(b).build().await {
        Ok(_) => "built".into(),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_configuration_that_breaks_the_rules_is_refused() {
    let base = |b: idp_server::ProviderBuilder| {
        b.scopes_supported(["openid", "roles"])
            .scope_description("roles", "Your role")
            .user_attributes(users_schema())
    };
    assert_eq!(
        build(|b| base(b).claim(ClaimMapping::new("role", "role"))).await,
        "built"
    );
    let undescribed = build(|b| {
        b.scopes_supported(["openid", "roles"])
            .user_attributes(users_schema())
            .claim(ClaimMapping::new("role", "role").scope("roles"))
    })
    .await;
    assert!(
        undescribed.contains("scope `roles` needs a description"),
        "{undescribed}"
    );
    let sub = build(|b| base(b).claim(ClaimMapping::new("role", "sub"))).await;
    assert!(sub.contains("`sub` is a registered claim"), "{sub}");
    let tenant = build(|b| base(b).claim(ClaimMapping::new("role", "tenant"))).await;
    assert!(tenant.contains("registered claim"), "{tenant}");
    let scope = build(|b| base(b).claim(ClaimMapping::new("role", "role").scope("admin"))).await;
    assert!(scope.contains("scope `admin`"), "{scope}");
    let attr = build(|b| base(b).claim(ClaimMapping::new("colour", "colour"))).await;
    assert!(attr.contains("attribute `colour`"), "{attr}");
    let bad_default = build(|b| {
        b.user_attributes(AttributeSchema::new().attribute(
            "n",
            AttributeRule::new(AttributeType::Integer).default_value("many"),
        ))
    })
    .await;
    assert!(
        bad_default.contains("user_attributes.n: the default"),
        "{bad_default}"
    );
}
