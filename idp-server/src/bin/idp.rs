//! The `idp` command line: run the provider and manage its users, clients and keys.
//!
//! Every flag can also come from an `IDP_*` environment variable; flags win over the
//! configuration file, which wins over the `--dev` presets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use idp_core::{Algorithm, HumanDuration};
use idp_server::manage::{NewClient, NewUser};
use idp_server::{EncryptionKey, Error, Provider, RateLimits};
use serde::Deserialize;

const DEV_ISSUER: &str = "http://localhost:4000";
const DEV_USER: &str = "dev@example.com";
const DEV_PASSWORD: &str = "dev-password-123";
const DEV_CLIENT: &str = "test-app";
const DEV_SECRET: &str = "test-secret";
const DEV_REDIRECT: &str = "http://localhost:3000/callback";
const DEV_NATIVE_CLIENT: &str = "test-cli";
const DEV_SERVICE: &str = "test-service";
const DEV_SERVICE_SECRET: &str = "test-service-secret";

#[derive(Parser, Debug)]
#[command(name = "idp", version, about = "OAuth 2.0 / OpenID Connect provider")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Database URL: sqlite://PATH (default sqlite://idp.db), postgres://USER@HOST/DB or memory:
    #[arg(long = "db", env = "IDP_DATABASE_URL", global = true)]
    db: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "IDP_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Secret (at least 32 bytes) that encrypts signing keys at rest.
    #[arg(
        long,
        env = "IDP_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true
    )]
    encryption_key: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the provider.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Manage clients.
    #[command(subcommand)]
    Clients(ClientsCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Development SSO: issuer http://localhost:4000, a SQLite file, a dev user and client.
    #[arg(long)]
    dev: bool,
    /// Address to listen on (default 127.0.0.1:4000).
    #[arg(long, env = "IDP_LISTEN")]
    listen: Option<SocketAddr>,
    /// Issuer URL.
    #[arg(long, env = "IDP_ISSUER")]
    issuer: Option<String>,
}

#[derive(Subcommand, Debug)]
enum UsersCmd {
    /// Create a user.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, env = "IDP_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        /// A scope the user may be granted (repeatable); none means no restriction.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long)]
        email_verified: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Disable a user (by id or e-mail).
    Disable {
        /// User id or e-mail.
        user: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set a user's password (by id or e-mail).
    SetPassword {
        /// User id or e-mail.
        user: String,
        #[arg(long, env = "IDP_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum ClientsCmd {
    /// Register a client.
    Add {
        #[arg(long)]
        id: String,
        /// The secret (generated and printed once when omitted).
        #[arg(
            long,
            conflicts_with = "public",
            env = "IDP_CLIENT_SECRET",
            hide_env_values = true
        )]
        secret: Option<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        #[arg(long)]
        name: Option<String>,
        /// Grant type (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Allowed scopes, space-separated or repeated.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Audience (repeatable).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// client_secret_basic (default) or client_secret_post.
        #[arg(long)]
        auth_method: Option<String>,
        /// Skip the consent page.
        #[arg(long)]
        first_party: bool,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List clients.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Replace a client's secret with a generated one (printed once).
    RotateSecret {
        #[arg(long)]
        id: String,
    },
    /// Delete a client.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// List signing keys.
    List,
    /// Rotate: publish new keys now; they sign after the publish-ahead delay.
    Rotate,
}

/// The configuration file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    issuer: Option<String>,
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    encryption_key: Option<String>,
    access_token_ttl: Option<HumanDuration>,
    refresh_token_ttl: Option<HumanDuration>,
    id_token_ttl: Option<HumanDuration>,
    key_rotation: Option<HumanDuration>,
    key_publish_ahead: Option<HumanDuration>,
    jwks_max_age: Option<HumanDuration>,
    access_token_alg: Option<Algorithm>,
    id_token_alg: Option<Algorithm>,
    scopes_supported: Option<Vec<String>>,
    session_ttl: Option<HumanDuration>,
    templates_dir: Option<PathBuf>,
    cors_allowed_origins: Option<Vec<String>>,
    rate_limits: Option<RateLimitConfig>,
    #[serde(default)]
    insecure_allow_http_redirect_uris: bool,
}

/// `[rate_limits]` in the configuration file; 0 turns a limit off.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RateLimitConfig {
    login_attempts_per_minute: Option<u32>,
    client_requests_per_second: Option<u32>,
}

fn load_config(path: Option<&Path>) -> Result<FileConfig, Error> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
}

/// The encryption key: flag/env, then the config file, then a key file beside the SQLite
/// database (created with `--dev`).
fn resolve_encryption_key(
    flag: Option<String>,
    file: Option<String>,
    db_url: &str,
    dev: bool,
) -> Result<String, Error> {
    if let Some(k) = flag.or(file) {
        return Ok(k);
    }
    let key_file = sqlite_path(db_url)
        .filter(|p| !p.is_empty() && *p != ":memory:")
        .map(|p| PathBuf::from(format!("{p}.key")));
    if let Some(path) = &key_file
        && path.exists()
    {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())));
    }
    if dev && key_file.is_none() && db_url != "memory:" {
        // A generated key that is not kept would leave the stored signing keys unreadable
        // after a restart or on another replica.
        return Err(Error::Config(
            "--dev keeps a generated key only beside a SQLite file; with this database set \
             IDP_ENCRYPTION_KEY (at least 32 bytes)"
                .into(),
        ));
    }
    if dev {
        let secret = EncryptionKey::generate_secret();
        if let Some(path) = &key_file {
            write_private(path, &secret)?;
            eprintln!("generated an encryption key in {}", path.display());
        }
        return Ok(secret);
    }
    Err(Error::Config(
        "an encryption key is required: set IDP_ENCRYPTION_KEY (at least 32 bytes), \
         encryption_key in the config file, or use --dev"
            .into(),
    ))
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

async fn build_provider(
    global: &Global,
    file: &FileConfig,
    issuer: Option<String>,
    dev: bool,
) -> Result<Provider, Error> {
    let db = global
        .db
        .clone()
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| "sqlite://idp.db".to_owned());
    let key = resolve_encryption_key(
        global.encryption_key.clone(),
        file.encryption_key.clone(),
        &db,
        dev,
    )?;
    let store = idp_server::store::connect(&db).await?;
    let issuer = issuer
        .or_else(|| file.issuer.clone())
        .unwrap_or_else(|| DEV_ISSUER.to_owned());
    let mut b = Provider::builder()
        .issuer(issuer)
        .store(store)
        .encryption_key(key);
    if let Some(d) = file.access_token_ttl {
        b = b.access_token_ttl(d.get());
    }
    if let Some(d) = file.refresh_token_ttl {
        b = b.refresh_token_ttl(d.get());
    }
    if let Some(d) = file.id_token_ttl {
        b = b.id_token_ttl(d.get());
    }
    if let Some(d) = file.key_rotation {
        b = b.key_rotation(d.get());
    }
    if let Some(d) = file.key_publish_ahead {
        b = b.key_publish_ahead(d.get());
    }
    if let Some(d) = file.jwks_max_age {
        b = b.jwks_max_age(d.get());
    }
    if let Some(a) = file.access_token_alg {
        b = b.access_token_alg(a);
    }
    if let Some(a) = file.id_token_alg {
        b = b.id_token_alg(a);
    }
    if let Some(s) = &file.scopes_supported {
        b = b.scopes_supported(s.clone());
    }
    if let Some(d) = file.session_ttl {
        b = b.session_ttl(d.get());
    }
    if let Some(dir) = &file.templates_dir {
        b = b.templates_dir(dir.clone());
    }
    if let Some(origins) = &file.cors_allowed_origins {
        b = b.cors_allowed_origins(origins.clone());
    }
    // --dev turns rate limits off unless the file sets them.
    let mut limits = if dev {
        RateLimits::insecure_none()
    } else {
        RateLimits::default()
    };
    if let Some(r) = file.rate_limits {
        if let Some(n) = r.login_attempts_per_minute {
            limits.login_attempts_per_minute = n;
        }
        if let Some(n) = r.client_requests_per_second {
            limits.client_requests_per_second = n;
        }
    }
    b = b.rate_limits(limits);
    if file.insecure_allow_http_redirect_uris {
        b = b.insecure_allow_http_redirect_uris();
    }
    b.build().await
}

async fn ensure_dev_fixtures(p: &Provider) -> Result<(), Error> {
    if p.users().find_by_email(None, DEV_USER).await?.is_none() {
        p.users()
            .insert(NewUser {
                email: DEV_USER.into(),
                password: Some(DEV_PASSWORD.into()),
                name: Some("Dev User".into()),
                given_name: Some("Dev".into()),
                family_name: Some("User".into()),
                email_verified: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_CLIENT).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_CLIENT.into(),
                secret: Some(DEV_SECRET.into()),
                name: Some("Test App".into()),
                redirect_uris: vec![DEV_REDIRECT.into()],
                post_logout_redirect_uris: vec!["http://localhost:3000/".into()],
                allowed_scopes: ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_NATIVE_CLIENT).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_NATIVE_CLIENT.into(),
                public: true,
                name: Some("Test CLI (native app, PKCE)".into()),
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                allowed_scopes: ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_SERVICE).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_SERVICE.into(),
                secret: Some(DEV_SERVICE_SECRET.into()),
                name: Some("Test service (client_credentials)".into()),
                allowed_scopes: vec!["read:orders".into(), "write:orders".into()],
                grant_types: vec!["client_credentials".into()],
                audiences: vec!["orders-api".into()],
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

async fn serve(global: &Global, file: &FileConfig, args: &ServeArgs) -> Result<(), Error> {
    let issuer = args.issuer.clone().or_else(|| {
        args.dev
            .then(|| file.issuer.clone().unwrap_or_else(|| DEV_ISSUER.into()))
    });
    let provider = build_provider(global, file, issuer, args.dev).await?;
    if args.dev {
        ensure_dev_fixtures(&provider).await?;
    }
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4000)));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    println!("idp listening on http://{local}");
    println!("issuer: {}", provider.issuer());
    println!(
        "discovery: {}/.well-known/openid-configuration",
        provider.issuer()
    );
    if args.dev {
        println!("dev user: {DEV_USER} / {DEV_PASSWORD}");
        println!("dev client: {DEV_CLIENT} / {DEV_SECRET} (redirect {DEV_REDIRECT})");
        println!(
            "dev native client: {DEV_NATIVE_CLIENT} (public, PKCE, redirect http://127.0.0.1:ANY-PORT/callback)"
        );
        println!(
            "dev service client: {DEV_SERVICE} / {DEV_SERVICE_SECRET} (client_credentials, audience orders-api)"
        );
    }
    let maint = provider.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = maint.maintenance().await {
                tracing::warn!(error = %e, "maintenance failed");
            }
        }
    });
    axum::serve(listener, provider.router())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

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

fn split_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned))
        .collect()
}

async fn run(cli: Cli) -> Result<(), Error> {
    let file = load_config(cli.global.config.as_deref())?;
    let g = &cli.global;
    match &cli.command {
        Command::Serve(args) => serve(g, &file, args).await,
        Command::Users(cmd) => {
            let p = build_provider(g, &file, None, false).await?;
            match cmd {
                UsersCmd::Add {
                    email,
                    password,
                    name,
                    tenant,
                    scopes,
                    email_verified,
                } => {
                    let u = p
                        .users()
                        .insert(NewUser {
                            email: email.clone(),
                            password: password.clone().map(Into::into),
                            name: name.clone(),
                            tenant_id: tenant.clone(),
                            email_verified: *email_verified,
                            allowed_scopes: (!scopes.is_empty()).then(|| split_scopes(scopes)),
                            ..Default::default()
                        })
                        .await?;
                    if g.json {
                        print_json(
                            &serde_json::json!({"id": u.id, "email": u.email, "tenant_id": u.tenant_id}),
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
                                .map(|u| serde_json::json!({"id": u.id, "email": u.email, "name": u.name, "tenant_id": u.tenant_id, "active": u.active}))
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
                    let id = find_user(&p, user, tenant.as_deref()).await?;
                    let u = p.users().disable(&id).await?;
                    println!("disabled user {} ({})", u.email, u.id);
                }
                UsersCmd::SetPassword {
                    user,
                    password,
                    tenant,
                } => {
                    let id = find_user(&p, user, tenant.as_deref()).await?;
                    let u = p.users().set_password(&id, password.clone().into()).await?;
                    println!("password set for {} ({})", u.email, u.id);
                }
            }
            Ok(())
        }
        Command::Clients(cmd) => {
            let p = build_provider(g, &file, None, false).await?;
            match cmd {
                ClientsCmd::Add {
                    id,
                    secret,
                    public,
                    name,
                    grants,
                    redirect_uris,
                    post_logout_redirect_uris,
                    scopes,
                    audiences,
                    auth_method,
                    first_party,
                    tenant,
                } => {
                    let created = p
                        .clients()
                        .insert(NewClient {
                            client_id: id.clone(),
                            secret: secret.clone().map(Into::into),
                            public: *public,
                            name: name.clone(),
                            redirect_uris: redirect_uris.clone(),
                            post_logout_redirect_uris: post_logout_redirect_uris.clone(),
                            allowed_scopes: split_scopes(scopes),
                            grant_types: grants.clone(),
                            token_endpoint_auth_method: auth_method.clone(),
                            audiences: audiences.clone(),
                            first_party: *first_party,
                            tenant_id: tenant.clone(),
                            ..Default::default()
                        })
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
                    if g.json {
                        print_json(&serde_json::Value::Array(
                            clients
                                .iter()
                                .map(|c| serde_json::json!({
                                    "client_id": c.client_id,
                                    "name": c.name,
                                    "public": c.is_public(),
                                    "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                                    "redirect_uris": c.redirect_uris,
                                    "scope": c.allowed_scopes.to_string(),
                                    "audiences": c.audiences,
                                    "tenant_id": c.tenant_id,
                                    "active": c.active,
                                }))
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
                ClientsCmd::RotateSecret { id } => {
                    let s = p.clients().rotate_secret(id).await?;
                    if g.json {
                        print_json(
                            &serde_json::json!({"client_id": id, "client_secret": s.secret()}),
                        );
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
        Command::Keys(cmd) => {
            let p = build_provider(g, &file, None, false).await?;
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
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IDP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
