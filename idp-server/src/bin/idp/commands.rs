//! `idp users`, `idp clients` and `idp keys`: the management API on the command line.

use idp_core::GrantType;
use idp_server::manage::{Actor, CreatedClient, NewClient, NewTenant, NewUser, TenantUpdate};
use idp_server::store::{Client, Tenant};
use idp_server::{Error, Provider};

use crate::cli::{ClientsCmd, Global, KeysCmd, TenantsCmd, UsersCmd};

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

async fn find_user(p: &Provider, user: &str, tenant: Option<&str>) -> Result<String, Error> {
    if let Some(u) = p.users().get(user).await? {
        return Ok(u.id);
    }
    p.users()
        .find_by_email(tenant, user)
        .await?
        .map(|u| u.id)
        .ok_or(Error::NotFound)
}

/// `--grant` values as the provider spells them: `device_code` is short for the device
/// authorization grant (`urn:ietf:params:oauth:grant-type:device_code`).
fn grant_names(grants: &[String]) -> Vec<String> {
    grants
        .iter()
        .map(|g| match g.as_str() {
            "device_code" => GrantType::DeviceCode.as_str().to_owned(),
            other => other.to_owned(),
        })
        .collect()
}

/// Registers `new` through the management API. That API does not take the device grant
/// (RFC 8628) yet: a client asking for it is registered with its other grants (the
/// refresh_token grant standing in when it has none), then its stored grants are set to
/// what was asked and the other replicas told. Once `manage::clients` accepts
/// `GrantType::DeviceCode`, this is `p.clients().insert(new)`.
pub(crate) async fn insert_client(
    p: &Provider,
    mut new: NewClient,
) -> Result<CreatedClient, Error> {
    new.grant_types = grant_names(&new.grant_types);
    p.clients().by(Actor::Cli).insert(new).await
}

fn split_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned))
        .collect()
}

/// The `--attr` pairs as attributes (strings; a schema converts typed ones).
fn attributes(attrs: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    attrs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect()
}

pub(crate) async fn users(p: &Provider, g: &Global, cmd: &UsersCmd) -> Result<(), Error> {
    match cmd {
        UsersCmd::Add {
            email,
            password,
            name,
            tenant,
            scopes,
            email_verified,
            attrs,
        } => {
            let u = p
                .users()
                .by(Actor::Cli)
                .insert(NewUser {
                    email: email.clone(),
                    password: password.clone().map(Into::into),
                    name: name.clone(),
                    tenant_id: tenant.clone(),
                    email_verified: *email_verified,
                    allowed_scopes: (!scopes.is_empty()).then(|| split_scopes(scopes)),
                    attributes: attributes(attrs),
                    ..Default::default()
                })
                .await?;
            if g.json {
                print_json(
                    &serde_json::json!({"id": u.id, "email": u.email, "tenant_id": u.tenant_id, "attributes": u.attributes}),
                );
            } else {
                println!("created user {} ({})", u.email, u.id);
            }
        }
        UsersCmd::List { tenant } => {
            let users = p.users().list(tenant.as_deref()).await?;
            if g.json {
                print_json(&serde_json::Value::Array(
                    users
                        .iter()
                        .map(|u| serde_json::json!({"id": u.id, "email": u.email, "name": u.name, "tenant_id": u.tenant_id, "active": u.active, "attributes": u.attributes}))
                        .collect(),
                ));
            } else {
                for u in users {
                    println!(
                        "{}  {}  tenant={}  {}",
                        u.id,
                        u.email,
                        u.tenant_id.as_deref().unwrap_or("-"),
                        if u.active { "active" } else { "disabled" }
                    );
                }
            }
        }
        UsersCmd::Disable { user, tenant } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            let u = p.users().disable(&id).await?;
            println!("disabled user {} ({})", u.email, u.id);
        }
        UsersCmd::EndSessions { user, tenant } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            p.users().end_sessions(&id).await?;
            println!("ended every session and grant of user {id}");
        }
        UsersCmd::SetPassword {
            user,
            password,
            tenant,
        } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            let u = p.users().set_password(&id, password.clone().into()).await?;
            println!("password set for {} ({})", u.email, u.id);
        }
    }
    Ok(())
}

pub(crate) async fn clients(p: &Provider, g: &Global, cmd: &ClientsCmd) -> Result<(), Error> {
    match cmd {
        ClientsCmd::Add {
            id,
            secret,
            public,
            name,
            grants,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            scopes,
            audiences,
            auth_method,
            first_party,
            tenant,
            attrs,
        } => {
            let created = insert_client(
                p,
                NewClient {
                    client_id: id.clone(),
                    secret: secret.clone().map(Into::into),
                    public: *public,
                    name: name.clone(),
                    redirect_uris: redirect_uris.clone(),
                    post_logout_redirect_uris: post_logout_redirect_uris.clone(),
                    backchannel_logout_uri: backchannel_logout_uri.clone(),
                    allowed_scopes: split_scopes(scopes),
                    grant_types: grants.clone(),
                    token_endpoint_auth_method: auth_method.clone(),
                    audiences: audiences.clone(),
                    first_party: *first_party,
                    tenant_id: tenant.clone(),
                    attributes: attributes(attrs),
                },
            )
            .await?;
            let generated = created
                .generated_secret
                .as_ref()
                .map(|s| s.secret().to_owned());
            if g.json {
                print_json(
                    &serde_json::json!({"client_id": created.client.client_id, "client_secret": generated}),
                );
            } else {
                println!("created client {}", created.client.client_id);
                if let Some(s) = generated {
                    println!("client secret (shown once): {s}");
                }
            }
        }
        ClientsCmd::List { tenant } => {
            let clients = p.clients().list(tenant.as_deref()).await?;
            print_clients(&clients, g.json);
        }
        ClientsCmd::RotateSecret { id } => {
            let s = p.clients().rotate_secret(id).await?;
            if g.json {
                print_json(&serde_json::json!({"client_id": id, "client_secret": s.secret()}));
            } else {
                println!("new client secret for {id} (shown once): {}", s.secret());
            }
        }
        ClientsCmd::Delete { id } => {
            p.clients().delete(id).await?;
            println!("deleted client {id}");
        }
    }
    Ok(())
}

pub(crate) async fn keys(p: &Provider, g: &Global, cmd: &KeysCmd) -> Result<(), Error> {
    let keys = match cmd {
        KeysCmd::List => p.keys().list().await?,
        KeysCmd::Rotate => {
            let new = p.keys().rotate().await?;
            if !g.json {
                println!("rotated; new keys:");
            }
            new
        }
    };
    if g.json {
        print_json(&serde_json::Value::Array(
            keys.iter()
                .map(|k| serde_json::json!({
                    "kid": k.kid, "alg": k.alg.as_str(), "created_at": k.created_at,
                    "activates_at": k.activates_at, "retired_at": k.retired_at, "expires_at": k.expires_at,
                }))
                .collect(),
        ));
    } else {
        for k in keys {
            println!(
                "{}  {}  created={}  signs_from={}  retired={}  unpublished_after={}",
                k.kid,
                k.alg,
                k.created_at,
                k.activates_at,
                k.retired_at.map_or("-".into(), |t| t.to_string()),
                k.expires_at.map_or("-".into(), |t| t.to_string())
            );
        }
    }
    Ok(())
}

fn print_clients(clients: &[Client], json: bool) {
    if json {
        print_json(&serde_json::Value::Array(
            clients
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "client_id": c.client_id,
                        "name": c.name,
                        "public": c.is_public(),
                        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                        "redirect_uris": c.redirect_uris,
                        "scope": c.allowed_scopes.to_string(),
                        "audiences": c.audiences,
                        "tenant_id": c.tenant_id,
                        "active": c.active,
                    })
                })
                .collect(),
        ));
    } else {
        for c in clients {
            println!(
                "{}  grants={}  scope=\"{}\"  {}{}",
                c.client_id,
                c.grant_types
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                c.allowed_scopes,
                if c.is_public() {
                    "public"
                } else {
                    "confidential"
                },
                if c.active { "" } else { "  disabled" }
            );
        }
    }
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "display_name": t.display_name,
        "logo_url": t.logo_url,
        "allowed_scopes": t.allowed_scopes.as_ref().map(ToString::to_string),
    })
}

pub(crate) async fn tenants(p: &Provider, g: &Global, cmd: &TenantsCmd) -> Result<(), Error> {
    match cmd {
        TenantsCmd::Add {
            id,
            name,
            logo_url,
            scopes,
        } => {
            let t = p
                .tenants()
                .insert(NewTenant {
                    id: id.clone(),
                    display_name: name.clone(),
                    logo_url: logo_url.clone(),
                    allowed_scopes: (!scopes.is_empty()).then(|| split_scopes(scopes)),
                })
                .await?;
            if g.json {
                print_json(&tenant_json(&t));
            } else {
                println!("created tenant {}", t.id);
            }
        }
        TenantsCmd::List => {
            let all = p.tenants().list().await?;
            if g.json {
                print_json(&serde_json::Value::Array(
                    all.iter().map(tenant_json).collect(),
                ));
            } else {
                for t in all {
                    println!(
                        "{}  {}  scopes={}",
                        t.id,
                        t.display_name.as_deref().unwrap_or("-"),
                        t.allowed_scopes
                            .as_ref()
                            .map_or_else(|| "any".to_owned(), ToString::to_string)
                    );
                }
            }
        }
        TenantsCmd::Update {
            id,
            name,
            logo_url,
            scopes,
            any_scope,
        } => {
            let allowed_scopes = if *any_scope {
                Some(None)
            } else if scopes.is_empty() {
                None
            } else {
                Some(Some(split_scopes(scopes)))
            };
            let t = p
                .tenants()
                .update(
                    id,
                    TenantUpdate {
                        display_name: name.clone(),
                        logo_url: logo_url.clone(),
                        allowed_scopes,
                    },
                )
                .await?;
            if g.json {
                print_json(&tenant_json(&t));
            } else {
                println!("updated tenant {}", t.id);
            }
        }
    }
    Ok(())
}
