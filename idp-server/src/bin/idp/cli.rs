//! The command line: subcommands and flags, every flag also an `IDP_*` variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Database URL: sqlite://PATH (default sqlite://idp.db), postgres://USER@HOST/DB or
    /// memory: (serve only). Only `idp init` and `idp serve` create a database.
    #[arg(
        long = "db",
        value_name = "URL",
        env = "IDP_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub(crate) db: Option<String>,
    /// TOML configuration file (check one with `idp config check FILE`).
    #[arg(long, value_name = "FILE", env = "IDP_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Secret that encrypts signing keys at rest: 64 hex characters or base64 of 32+ random
    /// bytes (`openssl rand -hex 32`).
    #[arg(
        long,
        env = "IDP_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true
    )]
    pub(crate) encryption_key: Option<String>,
    /// Print machine-readable JSON on stdout, and errors as {"error": "..."} on stderr.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the provider (creates the database if it does not exist).
    Serve(ServeArgs),
    /// Create a database: its tables and signing keys. Without an encryption key, a SQLite
    /// database gets a generated one in PATH.key beside it.
    Init,
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCmd),
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
pub(crate) enum ConfigCmd {
    /// Load and validate a configuration file without opening the database: prints "ok"
    /// and a summary, or every problem found (exit status 1).
    Check {
        /// The TOML file to check (default: the --config file).
        file: Option<PathBuf>,
    },
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
    /// Address to listen on, HOST:PORT (default 127.0.0.1:4000); a host name such as
    /// localhost is resolved.
    #[arg(long, value_name = "HOST:PORT", env = "IDP_LISTEN", value_parser = parse_listen)]
    pub(crate) listen: Option<String>,
    /// Issuer URL: every endpoint URL is built from it (default http://localhost:4000).
    #[arg(long, value_name = "URL", env = "IDP_ISSUER")]
    pub(crate) issuer: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum UsersCmd {
    /// Create a user.
    Add {
        /// The user's e-mail address (unique within the tenant).
        #[arg(long)]
        email: String,
        /// The password (at least 8 characters). Without one the user cannot sign in until
        /// `idp users set-password` gives one.
        #[arg(long, env = "IDP_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Full name (the `name` claim).
        #[arg(long)]
        name: Option<String>,
        /// Tenant the user belongs to (none: no tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// A scope the user may be granted (repeatable); none means no restriction.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Mark the e-mail address as verified (the `email_verified` claim).
        #[arg(long)]
        email_verified: bool,
        /// A custom attribute, `KEY=VALUE` (repeatable); checked against the configured
        /// `user_attributes` schema, which also converts `42` or `true` for typed ones.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
    },
    /// List users.
    List {
        /// Only the users of this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Disable a user (by id or e-mail).
    Disable {
        /// User id or e-mail.
        user: String,
        /// The tenant to look the e-mail up in.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// End every session of a user and revoke every grant ("sign out everywhere"); clients
    /// with a back-channel logout URI are told.
    EndSessions {
        /// User id or e-mail.
        user: String,
        /// The tenant to look the e-mail up in.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Turn a user's two-factor authentication off (by id or e-mail): the secret and the
    /// backup codes are deleted; the next sign-in asks for the password only.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// User id or e-mail.
        user: String,
        /// The tenant to look the e-mail up in.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set a user's password (by id or e-mail); ends every session and grant of the user.
    SetPassword {
        /// User id or e-mail.
        user: String,
        /// The new password (at least 8 characters).
        #[arg(long, env = "IDP_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// The tenant to look the e-mail up in.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub(crate) enum ClientsCmd {
    /// Register a client.
    Add {
        /// The client_id (what the client sends).
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
        /// Display name (shown on the consent page).
        #[arg(long)]
        name: Option<String>,
        /// Grant type (repeatable); default client_credentials without --redirect-uri,
        /// authorization_code and refresh_token with one. device_code is the device
        /// authorization grant (also accepted as urn:ietf:params:oauth:grant-type:device_code).
        #[arg(long = "grant", value_name = "GRANT", value_enum)]
        grants: Vec<Grant>,
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
        /// Allowed scopes, space-separated or repeated. Required for a client_credentials
        /// client; a client that signs users in gets "openid" when none is given.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Audience (repeatable).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// How a confidential client authenticates at the token endpoint.
        #[arg(long, value_parser = ["client_secret_basic", "client_secret_post"])]
        auth_method: Option<String>,
        /// Skip the consent page.
        #[arg(long)]
        first_party: bool,
        /// Tenant the client belongs to: it signs in only that tenant's users.
        #[arg(long)]
        tenant: Option<String>,
        /// A custom attribute, `KEY=VALUE` (repeatable); checked against the configured
        /// `client_attributes` schema.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
    },
    /// List clients.
    List {
        /// Only the clients of this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Replace a client's secret with a generated one (printed once).
    RotateSecret {
        /// The client_id.
        #[arg(long)]
        id: String,
    },
    /// Delete a client.
    Delete {
        /// The client_id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum KeysCmd {
    /// List signing keys (times in RFC 3339, UTC).
    List,
    /// Rotate: publish new keys now; they sign after the publish-ahead delay. A running
    /// server sees them at its next maintenance run (once a minute).
    Rotate,
}

/// A grant type of `clients add --grant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Grant {
    /// Users sign in through the browser (needs --redirect-uri).
    #[value(name = "authorization_code")]
    AuthorizationCode,
    /// Refresh tokens.
    #[value(name = "refresh_token")]
    RefreshToken,
    /// A service gets tokens for itself.
    #[value(name = "client_credentials")]
    ClientCredentials,
    /// Device authorization grant (RFC 8628), for devices without a browser.
    #[value(
        name = "device_code",
        alias = "urn:ietf:params:oauth:grant-type:device_code"
    )]
    DeviceCode,
}

impl Grant {
    /// The grant type as the provider spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

/// `--listen`: `HOST:PORT` (or `[v6]:PORT`); the host is resolved when binding.
fn parse_listen(s: &str) -> Result<String, String> {
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(s.to_owned()),
        _ => Err(format!(
            "{s:?} is not HOST:PORT (e.g. 127.0.0.1:4000, localhost:4000 or [::1]:4000)"
        )),
    }
}

/// `KEY=VALUE` of `--attr`, split at the first `=`.
fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
