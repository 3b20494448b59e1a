//! `idp init`, `idp users`, `idp clients`, `idp keys` and `idp tenants`: the management
//! API on the command line. Output goes through [`say`] and [`print_json`], so that a
//! reader that stops early (`| head`) ends the command quietly.

use idp_core::GrantType;
use idp_server::manage::{Actor, CreatedClient, NewClient, NewTenant, NewUser, TenantUpdate};
use idp_server::store::{Client, SigningKeyRecord, Tenant};
use idp_server::{Config, Error, Provider};

use crate::cli::{ClientsCmd, Global, Grant, KeysCmd, TenantsCmd, UsersCmd};
use crate::db::{self, Need};
use crate::{Failure, note, say};

pub(crate) fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    say(&serde_json::to_string_pretty(v).unwrap_or_default())
}

/// `Error::NotFound` as a sentence naming what was looked for.
fn named(what: impl FnOnce() -> String) -> impl FnOnce(Error) -> Failure {
    move |e| match e {
        Error::NotFound => Failure::msg(what()),
        other => other.into(),
    }
}

fn no_client(id: &str) -> impl FnOnce(Error) -> Failure + '_ {
    named(move || format!("no client with id {id:?}"))
}

async fn find_user(p: &Provider, user: &str, tenant: Option<&str>) -> Result<String, Failure> {
    if let Some(u) = p.users().get(user).await? {
        return Ok(u.id);
    }
    p.users()
        .find_by_email(tenant, user)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| {
            Failure::msg(match tenant {
                Some(t) => format!("no user {user:?} in tenant {t:?} (by id or e-mail)"),
                None => format!(
                    "no user {user:?} without a tenant (by id or e-mail; --tenant looks in one)"
                ),
            })
        })
}

/// `idp init`: creates the database, its tables and signing keys.
pub(crate) async fn init(g: &Global, file: Config) -> Result<(), Failure> {
    let (p, opened) = db::open(g, file, None, Need::New).await?;
    let keys = p.keys().list().await?;
    if g.json {
        print_json(&serde_json::json!({
            "database": opened.db,
            "key_file": opened.generated_key.as_ref().map(|k| k.display().to_string()),
            "keys": keys.iter().map(key_json).collect::<Vec<_>>(),
        }))?;
    } else {
        say(&format!(
            "created database {} with {} signing keys",
            opened.db,
            keys.len()
        ))?;
        if let Some(k) = &opened.generated_key {
            say(&format!(
                "encryption key: {} (commands on this database read it from there)",
                k.display()
            ))?;
        }
    }
    Ok(())
}

/// Registers `new` through the management API, `device_code` spelled as the provider
/// does (`urn:ietf:params:oauth:grant-type:device_code`).
pub(crate) async fn insert_client(
    p: &Provider,
    mut new: NewClient,
) -> Result<CreatedClient, Error> {
    for g in &mut new.grant_types {
        if g == "device_code" {
            *g = GrantType::DeviceCode.as_str().to_owned();
        }
    }
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

pub(crate) async fn users(p: &Provider, g: &Global, cmd: &UsersCmd) -> Result<(), Failure> {
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
            if password.is_none() {
                note(&format!(
                    "warning: {} has no password and cannot sign in until one is set: idp \
                     users set-password {} --password …",
                    u.email, u.id
                ));
            }
            if g.json {
                print_json(&serde_json::json!({
                    "id": u.id, "email": u.email, "tenant_id": u.tenant_id,
                    "attributes": u.attributes, "password_set": password.is_some(),
                }))?;
            } else {
                say(&format!("created user {} ({})", u.email, u.id))?;
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
                ))?;
            } else {
                for u in users {
                    say(&format!(
                        "{}  {}  tenant={}  {}",
                        u.id,
                        u.email,
                        u.tenant_id.as_deref().unwrap_or("-"),
                        if u.active { "active" } else { "disabled" }
                    ))?;
                }
            }
        }
        UsersCmd::Disable { user, tenant } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            let u = p.users().disable(&id).await?;
            if g.json {
                print_json(&serde_json::json!({"id": u.id, "email": u.email, "active": u.active}))?;
            } else {
                say(&format!("disabled user {} ({})", u.email, u.id))?;
            }
        }
        UsersCmd::EndSessions { user, tenant } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            p.users().end_sessions(&id).await?;
            if g.json {
                print_json(&serde_json::json!({"id": id, "sessions_ended": true}))?;
            } else {
                say(&format!("ended every session and grant of user {id}"))?;
            }
        }
        UsersCmd::Reset2fa { user, tenant } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            let was_enabled = p.users().by(Actor::Cli).two_factor().reset(&id).await?;
            if g.json {
                print_json(&serde_json::json!({
                    "id": id, "two_factor": false, "was_enabled": was_enabled,
                }))?;
            } else if was_enabled {
                say(&format!("two-factor authentication of user {id} is off"))?;
            } else {
                say(&format!("user {id} had no two-factor authentication"))?;
            }
        }
        UsersCmd::SetPassword {
            user,
            password,
            tenant,
        } => {
            let id = find_user(p, user, tenant.as_deref()).await?;
            let u = p.users().set_password(&id, password.clone().into()).await?;
            if g.json {
                print_json(
                    &serde_json::json!({"id": u.id, "email": u.email, "password_set": true}),
                )?;
            } else {
                say(&format!("password set for {} ({})", u.email, u.id))?;
            }
        }
    }
    Ok(())
}

/// The scopes of `clients add`: as given, `openid` for a client that signs users in, and
/// none for a client_credentials client (which could get no token without one).
fn client_scopes(
    scopes: &[String],
    grants: &[Grant],
    redirect: bool,
) -> Result<Vec<String>, Failure> {
    if !scopes.is_empty() {
        return Ok(split_scopes(scopes));
    }
    let signs_users_in = if grants.is_empty() {
        redirect
    } else {
        grants
            .iter()
            .any(|g| matches!(g, Grant::AuthorizationCode | Grant::DeviceCode))
    };
    if signs_users_in {
        note(
            "note: no --scope given: the client may ask for \"openid\" only (add scopes with --scope \"openid profile email\")",
        );
        Ok(vec!["openid".into()])
    } else {
        Err(Failure::msg(
            "--scope is required for a client_credentials client: name the scopes it may \
             get, e.g. --scope \"read:orders write:orders\" (without one every token \
             request would fail with invalid_scope)",
        ))
    }
}

pub(crate) async fn clients(p: &Provider, g: &Global, cmd: &ClientsCmd) -> Result<(), Failure> {
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
            let allowed_scopes = client_scopes(scopes, grants, !redirect_uris.is_empty())?;
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
                    allowed_scopes,
                    grant_types: grants.iter().map(|g| g.as_str().to_owned()).collect(),
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
            let c = &created.client;
            if g.json {
                print_json(&serde_json::json!({
                    "client_id": c.client_id,
                    "client_secret": generated,
                    "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                    "scope": c.allowed_scopes.to_string(),
                }))?;
            } else {
                say(&format!(
                    "created client {} (grants {}; scope \"{}\")",
                    c.client_id,
                    c.grant_types
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.allowed_scopes
                ))?;
                if let Some(s) = generated {
                    say(&format!("client secret (shown once): {s}"))?;
                }
            }
        }
        ClientsCmd::List { tenant } => {
            let clients = p.clients().list(tenant.as_deref()).await?;
            print_clients(&clients, g.json)?;
        }
        ClientsCmd::RotateSecret { id } => {
            let s = p.clients().rotate_secret(id).await.map_err(no_client(id))?;
            if g.json {
                print_json(&serde_json::json!({"client_id": id, "client_secret": s.secret()}))?;
            } else {
                say(&format!(
                    "new client secret for {id} (shown once): {}",
                    s.secret()
                ))?;
            }
        }
        ClientsCmd::Delete { id } => {
            p.clients().delete(id).await.map_err(no_client(id))?;
            if g.json {
                print_json(&serde_json::json!({"client_id": id, "deleted": true}))?;
            } else {
                say(&format!("deleted client {id}"))?;
            }
        }
    }
    Ok(())
}

/// Unix seconds as RFC 3339 in UTC (`2026-12-01T12:28:32Z`).
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level
    // Date Algorithms").
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn key_json(k: &SigningKeyRecord) -> serde_json::Value {
    let t = |v: Option<i64>| v.map(rfc3339);
    serde_json::json!({
        "kid": k.kid, "alg": k.alg.as_str(),
        "created_at": k.created_at, "activates_at": k.activates_at,
        "retired_at": k.retired_at, "expires_at": k.expires_at,
        "created": rfc3339(k.created_at), "signs_from": rfc3339(k.activates_at),
        "retired": t(k.retired_at), "unpublished_after": t(k.expires_at),
    })
}

pub(crate) async fn keys(p: &Provider, g: &Global, cmd: &KeysCmd) -> Result<(), Failure> {
    let keys = match cmd {
        KeysCmd::List => p.keys().list().await?,
        KeysCmd::Rotate => {
            let new = p.keys().rotate().await?;
            let notice = "a running idp server publishes the new keys at its next \
                          maintenance run (once a minute); restart it to publish them now";
            if g.json {
                note(&format!("note: {notice}"));
            } else {
                say(&format!("rotated; {notice}. New keys:"))?;
            }
            new
        }
    };
    if g.json {
        return print_json(&serde_json::Value::Array(
            keys.iter().map(key_json).collect(),
        ));
    }
    for k in keys {
        let t = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), rfc3339);
        say(&format!(
            "{}  {}  created={}  signs_from={}  retired={}  unpublished_after={}",
            k.kid,
            k.alg,
            rfc3339(k.created_at),
            rfc3339(k.activates_at),
            t(k.retired_at),
            t(k.expires_at)
        ))?;
    }
    Ok(())
}

fn print_clients(clients: &[Client], json: bool) -> Result<(), Failure> {
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
        ))?;
    } else {
        for c in clients {
            say(&format!(
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
            ))?;
        }
    }
    Ok(())
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "display_name": t.display_name,
        "logo_url": t.logo_url,
        "allowed_scopes": t.allowed_scopes.as_ref().map(ToString::to_string),
    })
}

pub(crate) async fn tenants(p: &Provider, g: &Global, cmd: &TenantsCmd) -> Result<(), Failure> {
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
                print_json(&tenant_json(&t))?;
            } else {
                say(&format!("created tenant {}", t.id))?;
            }
        }
        TenantsCmd::List => {
            let all = p.tenants().list().await?;
            if g.json {
                print_json(&serde_json::Value::Array(
                    all.iter().map(tenant_json).collect(),
                ))?;
            } else {
                for t in all {
                    say(&format!(
                        "{}  {}  scopes={}",
                        t.id,
                        t.display_name.as_deref().unwrap_or("-"),
                        t.allowed_scopes
                            .as_ref()
                            .map_or_else(|| "any".to_owned(), ToString::to_string)
                    ))?;
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
                .await
                .map_err(named(|| format!("no tenant {id:?}")))?;
            if g.json {
                print_json(&tenant_json(&t))?;
            } else {
                say(&format!("updated tenant {}", t.id))?;
            }
        }
    }
    Ok(())
}
