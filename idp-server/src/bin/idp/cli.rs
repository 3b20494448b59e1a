//! The command line: subcommands and flags, every flag also an `IDP_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "idp", version, about = "OAuth 2.0 / OpenID Connect provider")]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Args, Debug)]
pub(crate) struct Global {
    /// Database URL: sqlite://PATH (default sqlite://idp.db), postgres://USER@HOST/DB or memory:
    #[arg(long = "db", env = "IDP_DATABASE_URL", global = true)]
    pub(crate) db: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "IDP_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Secret (at least 32 bytes) that encrypts signing keys at rest.
    #[arg(
        long,
        env = "IDP_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true
    )]
    pub(crate) encryption_key: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
    /// Manage tenants: their name and logo on the sign-in and consent pages, and the
    /// scopes their users and clients may be granted.
    #[command(subcommand)]
    Tenants(TenantsCmd),
}

#[derive(Subcommand, Debug)]
pub(crate) enum TenantsCmd {
    /// Register a tenant.
    Add {
        /// Tenant id (what users, clients and tokens carry): letters, digits, '-', '_', '.'.
        #[arg(long)]
        id: String,
        /// The name shown on the sign-in and consent pages.
        #[arg(long)]
        name: Option<String>,
        /// A logo for those pages (https).
        #[arg(long)]
        logo_url: Option<String>,
        /// A scope the tenant's users and clients may be granted (repeatable or
        /// space-separated); none means no restriction.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List tenants.
    List,
    /// Change a tenant.
    Update {
        /// Tenant id.
        #[arg(long)]
        id: String,
        /// New display name ("" clears it).
        #[arg(long)]
        name: Option<String>,
        /// New logo URL ("" clears it).
        #[arg(long)]
        logo_url: Option<String>,
        /// New allowed scopes (repeatable), replacing the old ones.
        #[arg(long = "scope", conflicts_with = "any_scope")]
        scopes: Vec<String>,
        /// Lift the scope restriction.
        #[arg(long)]
        any_scope: bool,
    },
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Development SSO: issuer http://localhost:4000, a SQLite file, a dev user and client,
    /// and CORS for browser apps on http://localhost and http://127.0.0.1 (any port).
    #[arg(long)]
    pub(crate) dev: bool,
    /// Address to listen on (default 127.0.0.1:4000).
    #[arg(long, env = "IDP_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
    /// Issuer URL.
    #[arg(long, env = "IDP_ISSUER")]
    pub(crate) issuer: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum UsersCmd {
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
        /// A custom attribute, `KEY=VALUE` (repeatable); checked against the configured
        /// `user_attributes` schema, which also converts `42` or `true` for typed ones.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
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
    /// End every session of a user and revoke every grant ("sign out everywhere"); clients
    /// with a back-channel logout URI are told.
    EndSessions {
        /// User id or e-mail.
        user: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set a user's password (by id or e-mail); ends every session and grant of the user.
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
pub(crate) enum ClientsCmd {
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
        /// Grant type (repeatable): authorization_code, refresh_token, client_credentials,
        /// urn:ietf:params:oauth:grant-type:device_code (or its short name device_code).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Back-channel logout URI: receives a signed logout_token when a session the client
        /// got tokens in ends (OpenID Connect Back-Channel Logout 1.0).
        #[arg(long = "backchannel-logout-uri")]
        backchannel_logout_uri: Option<String>,
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
        /// A custom attribute, `KEY=VALUE` (repeatable); checked against the configured
        /// `client_attributes` schema.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
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
pub(crate) enum KeysCmd {
    /// List signing keys.
    List,
    /// Rotate: publish new keys now; they sign after the publish-ahead delay.
    Rotate,
}

/// `KEY=VALUE` of `--attr`, split at the first `=`.
fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
