//! The provider's one configuration: what the `idp` binary reads from its TOML file and
//! what [`ProviderBuilder`](crate::ProviderBuilder) sets in code are the same [`Config`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use idp_core::{Algorithm, HumanDuration, Scope};
use serde::Deserialize;

use crate::Error;
use crate::attributes::{AttributeSchema, ClaimMapping, Schemas, validate_claims};
use crate::mail::SmtpConfig;
use crate::rate_limit::RateLimits;

/// A configuration value that must not be printed (an encryption key, a database URL that
/// may carry a password). `Debug` is redacted.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The provider's configuration, as read from a TOML file (`idp serve --config FILE`) or set
/// through [`ProviderBuilder`](crate::ProviderBuilder). Unknown keys are refused; every key
/// has a default except `issuer` and `encryption_key`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use idp_server::Config;
/// let config: Config = serde_json::from_value(serde_json::json!({
///     "issuer": "https://id.example.com",
///     "access_token_ttl": "5m",
///     "scopes_supported": ["openid", "email"],
/// }))?;
/// assert_eq!(config.issuer(), Some("https://id.example.com"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub(crate) issuer: Option<String>,
    /// `HOST:PORT`; a host name is resolved when the `idp` binary binds.
    pub(crate) listen: Option<String>,
    pub(crate) database_url: Option<Sensitive>,
    pub(crate) encryption_key: Option<Sensitive>,
    pub(crate) access_token_ttl: HumanDuration,
    pub(crate) refresh_token_ttl: HumanDuration,
    pub(crate) id_token_ttl: HumanDuration,
    pub(crate) key_rotation: HumanDuration,
    pub(crate) key_publish_ahead: HumanDuration,
    pub(crate) jwks_max_age: HumanDuration,
    pub(crate) session_ttl: HumanDuration,
    pub(crate) access_token_alg: Algorithm,
    pub(crate) id_token_alg: Algorithm,
    /// `None`: the OpenID Connect scopes are advertised and clients may register any
    /// scope. Set: exactly these are advertised, and enforced (see `scopes_enforced`).
    pub(crate) scopes_supported: Option<Vec<String>>,
    pub(crate) templates_dir: Option<PathBuf>,
    pub(crate) cors_allowed_origins: Vec<String>,
    pub(crate) cors_allow_credentials: bool,
    pub(crate) cors_allow_localhost: bool,
    pub(crate) scope_descriptions: BTreeMap<String, String>,
    pub(crate) rate_limits: Option<RateLimits>,
    pub(crate) max_parameters: usize,
    pub(crate) max_parameter_len: usize,
    pub(crate) trusted_proxies: Vec<IpAddr>,
    pub(crate) password_hashing_concurrency: Option<usize>,
    pub(crate) password_hashing_wait: HumanDuration,
    pub(crate) insecure_allow_http_redirect_uris: bool,
    pub(crate) header_read_timeout: HumanDuration,
    pub(crate) request_body_timeout: HumanDuration,
    pub(crate) idle_timeout: HumanDuration,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_grace: HumanDuration,
    pub(crate) log_format: LogFormat,
    pub(crate) client_cache_ttl: HumanDuration,
    pub(crate) user_attributes: AttributeSchema,
    pub(crate) client_attributes: AttributeSchema,
    pub(crate) tenant_user_attributes: BTreeMap<String, AttributeSchema>,
    pub(crate) tenant_client_attributes: BTreeMap<String, AttributeSchema>,
    pub(crate) claims: Vec<ClaimMapping>,
    pub(crate) device_code_ttl: HumanDuration,
    pub(crate) device_poll_interval: HumanDuration,
    pub(crate) registration: Registration,
    pub(crate) require_verified_email: bool,
    pub(crate) email_verification_ttl: HumanDuration,
    pub(crate) password_reset_ttl: HumanDuration,
    /// `[smtp]`: where e-mail is sent. Not set: no mailer (unless one is given in code).
    pub(crate) smtp: Option<SmtpConfig>,
    /// PEM certificate chain and private key: `Provider::serve` serves HTTPS (both or
    /// neither).
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    /// `HOST:PORT` of a plain-HTTP listener that only redirects to the https issuer.
    pub(crate) http_redirect_listen: Option<String>,
    /// Whether `/metrics` is served with the endpoints (on the main listener).
    pub(crate) metrics: bool,
    /// `HOST:PORT` of a listener of its own for `/metrics`.
    pub(crate) metrics_listen: Option<String>,
}

/// Self-service registration (`[registration]`): off by default. People sign up at
/// `/account/register` (`?tenant=ID` for a tenant's users), verify their address through
/// the e-mailed link, and sign in. Needs a mailer (`[smtp]`, or `--dev`).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use idp_server::Config;
/// let config: Config = toml::from_str(r#"
///     issuer = "https://id.example.com"
///     [registration]
///     enabled = true
///     allowed_domains = ["example.com"]
///     terms_url = "https://example.com/terms"
/// "#)?;
/// # let _ = config;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Registration {
    /// Whether people may register as users without a tenant.
    pub enabled: bool,
    /// The tenants whose users may register (`/account/register?tenant=ID`).
    pub tenants: Vec<String>,
    /// When not empty, only addresses in these domains (or their subdomains) may register.
    pub allowed_domains: Vec<String>,
    /// Addresses in these domains (or their subdomains) may not register.
    pub blocked_domains: Vec<String>,
    /// When set, registering requires ticking a box that links to these terms.
    pub terms_url: Option<String>,
}

impl Registration {
    /// Registration for users without a tenant, with every other setting at its default.
    pub fn open() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// Also lets the users of `tenant` register.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenants.push(tenant.into());
        self
    }

    /// Only addresses in `domain` (or its subdomains) may register; may be repeated.
    pub fn allow_domain(mut self, domain: impl Into<String>) -> Self {
        self.allowed_domains
            .push(domain.into().to_ascii_lowercase());
        self
    }

    /// Addresses in `domain` (or its subdomains) may not register; may be repeated.
    pub fn block_domain(mut self, domain: impl Into<String>) -> Self {
        self.blocked_domains
            .push(domain.into().to_ascii_lowercase());
        self
    }

    /// Registering requires accepting the terms at `url`.
    pub fn terms_url(mut self, url: impl Into<String>) -> Self {
        self.terms_url = Some(url.into());
        self
    }

    /// Whether people of `tenant` (none: users without a tenant) may register.
    pub(crate) fn open_for(&self, tenant: Option<&str>) -> bool {
        match tenant {
            None => self.enabled,
            Some(t) => self.tenants.iter().any(|x| x == t),
        }
    }

    /// Whether an address in `domain` may register: not blocked, and allowed when there is
    /// an allow-list.
    pub(crate) fn domain_allowed(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        let within = |d: &String| {
            let d = d.trim_start_matches('.').to_ascii_lowercase();
            domain == d || domain.ends_with(&format!(".{d}"))
        };
        !self.blocked_domains.iter().any(within)
            && (self.allowed_domains.is_empty() || self.allowed_domains.iter().any(within))
    }
}

/// How the `idp` binary writes its log (key `log_format`): lines for people, or one JSON
/// object per event for a log pipeline. Either way, no ANSI colour codes when the output
/// is not a terminal. Audit events (sign-ins, tokens issued, revocations, changes to users,
/// clients and keys) have the target `idp::audit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    #[serde(alias = "pretty")]
    Text,
    /// One JSON object per event.
    Json,
}

/// Scopes whose consent-page wording is built in.
const BUILT_IN_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "address",
    "phone",
];

/// What discovery advertises when `scopes_supported` is not set.
const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

fn dur(secs: u64) -> HumanDuration {
    HumanDuration::from(Duration::from_secs(secs))
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: None,
            listen: None,
            database_url: None,
            encryption_key: None,
            access_token_ttl: dur(15 * MINUTE),
            refresh_token_ttl: dur(7 * DAY),
            id_token_ttl: dur(HOUR),
            key_rotation: dur(30 * DAY),
            key_publish_ahead: dur(10 * MINUTE),
            jwks_max_age: dur(5 * MINUTE),
            session_ttl: dur(12 * HOUR),
            access_token_alg: Algorithm::ES256,
            id_token_alg: Algorithm::RS256,
            scopes_supported: None,
            templates_dir: None,
            cors_allowed_origins: Vec::new(),
            cors_allow_credentials: false,
            cors_allow_localhost: false,
            scope_descriptions: BTreeMap::new(),
            rate_limits: None,
            max_parameters: 64,
            max_parameter_len: 16 * 1024,
            trusted_proxies: Vec::new(),
            password_hashing_concurrency: None,
            password_hashing_wait: dur(1),
            insecure_allow_http_redirect_uris: false,
            header_read_timeout: dur(10),
            request_body_timeout: dur(10),
            idle_timeout: dur(MINUTE),
            max_connections: 1024,
            shutdown_grace: dur(10),
            log_format: LogFormat::Text,
            client_cache_ttl: dur(5),
            user_attributes: AttributeSchema::default(),
            client_attributes: AttributeSchema::default(),
            tenant_user_attributes: BTreeMap::new(),
            tenant_client_attributes: BTreeMap::new(),
            claims: Vec::new(),
            device_code_ttl: dur(10 * MINUTE),
            device_poll_interval: dur(5),
            registration: Registration::default(),
            require_verified_email: false,
            email_verification_ttl: dur(DAY),
            password_reset_ttl: dur(HOUR),
            smtp: None,
            tls_cert: None,
            tls_key: None,
            http_redirect_listen: None,
            metrics: false,
            metrics_listen: None,
        }
    }
}

/// Whole seconds of a configured duration, as the store and the claims count time.
fn secs(d: HumanDuration) -> i64 {
    i64::try_from(d.get().as_secs()).unwrap_or(i64::MAX / 4)
}

impl Config {
    /// The issuer URL, if set.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The address the `idp` binary listens on, if set (`listen`): `HOST:PORT`, where the
    /// host is an IP address or a name (`localhost:4000`) resolved when binding.
    pub fn listen(&self) -> Option<&str> {
        self.listen.as_deref()
    }

    /// The database URL the `idp` binary opens, if set (`database_url`).
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(Sensitive::expose)
    }

    /// The secret that encrypts signing keys at rest, if set (`encryption_key`).
    pub fn encryption_key(&self) -> Option<&str> {
        self.encryption_key.as_ref().map(Sensitive::expose)
    }

    /// How the `idp` binary writes its log (`log_format`).
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// The PEM files of the certificate chain and its private key, if set (`tls_cert`,
    /// `tls_key`): [`Provider::serve`](crate::Provider::serve) then serves HTTPS.
    pub fn tls_files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        self.tls_cert.as_deref().zip(self.tls_key.as_deref())
    }

    /// The address of the plain-HTTP listener that only redirects to the https issuer, if
    /// set (`http_redirect_listen`, e.g. `0.0.0.0:80`).
    pub fn http_redirect_listen(&self) -> Option<&str> {
        self.http_redirect_listen.as_deref()
    }

    /// Whether `/metrics` is served with the provider's endpoints (`metrics`, default off).
    pub fn metrics(&self) -> bool {
        self.metrics
    }

    /// The address of a listener of its own for `/metrics`, if set (`metrics_listen`).
    pub fn metrics_listen(&self) -> Option<&str> {
        self.metrics_listen.as_deref()
    }

    /// The SMTP settings, if set (`[smtp]`).
    pub fn smtp(&self) -> Option<&SmtpConfig> {
        self.smtp.as_ref()
    }

    /// The rate limits, if set (`[rate_limits]`); `None` means the defaults.
    pub fn rate_limits(&self) -> Option<&RateLimits> {
        self.rate_limits.as_ref()
    }

    /// The consent page's words for `scope`, if the configuration has some
    /// (`scope_descriptions`).
    pub(crate) fn scope_description(&self, scope: &str) -> Option<&str> {
        self.scope_descriptions.get(scope).map(String::as_str)
    }

    /// How long a client record is remembered (`client_cache_ttl`; zero: not at all).
    pub(crate) fn client_cache_ttl(&self) -> Duration {
        self.client_cache_ttl.get()
    }

    pub(crate) fn access_token_secs(&self) -> i64 {
        secs(self.access_token_ttl)
    }

    pub(crate) fn refresh_token_secs(&self) -> i64 {
        secs(self.refresh_token_ttl)
    }

    pub(crate) fn id_token_secs(&self) -> i64 {
        secs(self.id_token_ttl)
    }

    pub(crate) fn key_rotation_secs(&self) -> i64 {
        secs(self.key_rotation)
    }

    pub(crate) fn key_publish_ahead_secs(&self) -> i64 {
        secs(self.key_publish_ahead)
    }

    pub(crate) fn session_secs(&self) -> i64 {
        secs(self.session_ttl)
    }

    /// How long a verification link works (`email_verification_ttl`, default 24 h).
    pub(crate) fn email_verification_ttl(&self) -> Duration {
        self.email_verification_ttl.get()
    }

    /// How long a password-reset link works (`password_reset_ttl`, default 1 h).
    pub(crate) fn password_reset_ttl(&self) -> Duration {
        self.password_reset_ttl.get()
    }

    /// How long a device code and its user code live (`device_code_ttl`, default 10 min).
    pub(crate) fn device_code_secs(&self) -> i64 {
        secs(self.device_code_ttl)
    }

    /// The least time between two polls of a device (`device_poll_interval`, default 5 s).
    pub(crate) fn device_poll_secs(&self) -> i64 {
        secs(self.device_poll_interval)
    }

    pub(crate) fn jwks_max_age_secs(&self) -> u64 {
        self.jwks_max_age.get().as_secs()
    }

    /// How many argon2 computations may run at once: `password_hashing_concurrency`, by
    /// default the number of cores.
    pub(crate) fn hashing_concurrency(&self) -> usize {
        self.password_hashing_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// How long a password check waits for a turn before the answer is "busy"
    /// (`password_hashing_wait`, default 1 s).
    pub(crate) fn hashing_wait(&self) -> Duration {
        self.password_hashing_wait.get()
    }

    /// How long an HTTP/1 client has to send a whole request head, counted from the moment
    /// the server waits for one: on a new connection, and between requests on a kept-alive
    /// one (`header_read_timeout`, default 10 s). A new connection of either HTTP version
    /// must start its first request within it.
    pub(crate) fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout.get()
    }

    /// How long a request body may take to arrive, from when the handler starts reading it
    /// (`request_body_timeout`, default 10 s); a slower one is `400 invalid_request`.
    pub(crate) fn request_body_timeout(&self) -> Duration {
        self.request_body_timeout.get()
    }

    /// How long a connection with no request in flight stays open (`idle_timeout`,
    /// default 60 s). An idle HTTP/1 connection is also bound by `header_read_timeout`.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.idle_timeout.get()
    }

    /// How many connections are served at once (`max_connections`, default 1024); when
    /// all are taken, the server accepts no more until one closes.
    pub(crate) fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// How long, after the shutdown signal, requests in flight may take to finish before
    /// the remaining connections are dropped (`shutdown_grace`, default 10 s).
    pub(crate) fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace.get()
    }

    /// How long a signing key stays published after it stopped signing: the longest
    /// lifetime of a token it signed, plus a minute.
    pub(crate) fn key_retention_secs(&self) -> i64 {
        self.access_token_secs().max(self.id_token_secs()) + 60
    }

    /// Checks the configuration as [`ProviderBuilder::build`](crate::ProviderBuilder::build)
    /// does, without opening the database (what `idp config check FILE` runs): every
    /// setting, and that `templates_dir`, when set, is a directory. The error names the key.
    pub fn check(&self) -> Result<(), Error> {
        self.check_without_tls()?;
        self.load_tls().map(drop)
    }

    /// [`check`](Self::check) without reading the TLS files: what a provider built to
    /// manage its data, not to serve, needs (see
    /// [`ProviderBuilder::without_tls`](crate::ProviderBuilder::without_tls)).
    pub fn check_without_tls(&self) -> Result<(), Error> {
        self.validate()?;
        self.check_templates_dir()
    }

    /// The TLS certificate and key (`tls_cert`, `tls_key`), loaded and checked to belong
    /// together; `None` when not set.
    pub(crate) fn load_tls(&self) -> Result<Option<crate::tls::Tls>, Error> {
        match self.tls_files() {
            Some((cert, key)) => crate::tls::Tls::load(cert, key).map(Some),
            None => Ok(None),
        }
    }

    /// `templates_dir`, when set, must be a directory: a mistyped path would otherwise
    /// leave the built-in pages in place without a word.
    pub(crate) fn check_templates_dir(&self) -> Result<(), Error> {
        match &self.templates_dir {
            Some(dir) if !dir.is_dir() => Err(Error::Config(format!(
                "templates_dir {}: {}",
                dir.display(),
                if dir.exists() {
                    "not a directory"
                } else {
                    "no such directory"
                }
            ))),
            _ => Ok(()),
        }
    }

    /// Checks every setting that does not need I/O; the error names the key. Returns the
    /// parsed `scopes_supported`.
    pub(crate) fn validate(&self) -> Result<Scope, Error> {
        for (name, alg) in [
            ("access_token_alg", self.access_token_alg),
            ("id_token_alg", self.id_token_alg),
        ] {
            if !matches!(alg, Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) {
                return Err(Error::Config(format!(
                    "{name} {alg} is not supported; use RS256, ES256 or EdDSA"
                )));
            }
        }
        for (name, d) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("id_token_ttl", self.id_token_ttl),
            ("key_rotation", self.key_rotation),
            ("session_ttl", self.session_ttl),
            ("device_code_ttl", self.device_code_ttl),
            ("device_poll_interval", self.device_poll_interval),
            ("email_verification_ttl", self.email_verification_ttl),
            ("password_reset_ttl", self.password_reset_ttl),
        ] {
            if d.get().as_secs() == 0 {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        // Set in code these may be shorter than a second (the file's syntax has seconds).
        for (name, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("request_body_timeout", self.request_body_timeout),
            ("idle_timeout", self.idle_timeout),
            ("shutdown_grace", self.shutdown_grace),
        ] {
            if d.get().is_zero() {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        if self.max_connections == 0 || self.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(Error::Config(format!(
                "max_connections must be between 1 and {}",
                tokio::sync::Semaphore::MAX_PERMITS
            )));
        }
        for (name, listen) in [
            ("listen", &self.listen),
            ("http_redirect_listen", &self.http_redirect_listen),
            ("metrics_listen", &self.metrics_listen),
        ] {
            let Some(listen) = listen else { continue };
            let ok = listen.parse::<SocketAddr>().is_ok()
                || listen
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(Error::Config(format!(
                    "{name} {listen:?} is not HOST:PORT (e.g. 0.0.0.0:4000 or localhost:4000)"
                )));
            }
        }
        self.validate_tls()?;
        self.validate_cors()?;
        if let Some(smtp) = &self.smtp {
            smtp.validate().map_err(Error::Config)?;
        }
        self.validate_scope_descriptions()?;
        if !(16..=1024).contains(&self.max_parameters) {
            return Err(Error::Config(
                "max_parameters must be between 16 and 1024".into(),
            ));
        }
        if !(4096..=64 * 1024).contains(&self.max_parameter_len) {
            return Err(Error::Config(
                "max_parameter_len must be between 4096 and 65536 bytes".into(),
            ));
        }
        let supported = match &self.scopes_supported {
            Some(list) => Scope::from_tokens(list)
                .map_err(|e| Error::Config(format!("scopes_supported: {e}")))?,
            None => Scope::from_tokens(DEFAULT_SCOPES.map(String::from))
                .map_err(|e| Error::Config(format!("scopes_supported: {e}")))?,
        };
        self.user_attributes
            .validate("user_attributes")
            .map_err(Error::Config)?;
        self.client_attributes
            .validate("client_attributes")
            .map_err(Error::Config)?;
        for (key, map) in [
            ("tenant_user_attributes", &self.tenant_user_attributes),
            ("tenant_client_attributes", &self.tenant_client_attributes),
        ] {
            for (tenant, schema) in map {
                schema
                    .validate(&format!("{key}.{tenant}"))
                    .map_err(Error::Config)?;
            }
        }
        validate_claims(&self.claims, &self.schemas(), &supported).map_err(Error::Config)?;
        // A custom scope that releases claims says on the consent page what it shares.
        for m in &self.claims {
            if let Some(scope) = m.scope_name()
                && !BUILT_IN_SCOPES.contains(&scope)
                && !self.scope_descriptions.contains_key(scope)
            {
                return Err(Error::Config(format!(
                    "claims: scope `{scope}` needs a description in scope_descriptions (the \
                     consent page shows it)"
                )));
            }
        }
        Ok(supported)
    }

    /// The attribute schemas, with each tenant's rules merged into the provider's.
    pub(crate) fn schemas(&self) -> Schemas {
        Schemas::new(
            &self.user_attributes,
            &self.client_attributes,
            &self.tenant_user_attributes,
            &self.tenant_client_attributes,
        )
    }

    /// `cors_allowed_origins`: origins (`https://app.example.com`) or `"*"`, which a
    /// credentialed CORS answer cannot use.
    fn validate_cors(&self) -> Result<(), Error> {
        for o in &self.cors_allowed_origins {
            if o == "*" {
                continue;
            }
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.path() == "/"
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && u.origin().ascii_serialization() == *o
            });
            if !ok {
                return Err(Error::Config(format!(
                    "cors_allowed_origins: {o:?} is not an origin like https://app.example.com \
                     (scheme, host and port only, lower-case, no trailing slash) or \"*\""
                )));
            }
        }
        if self.cors_allow_credentials && self.cors_allowed_origins.iter().any(|o| o == "*") {
            return Err(Error::Config(
                "cors_allowed_origins \"*\" cannot be combined with cors_allow_credentials = \
                 true: the Fetch standard forbids credentials with a wildcard origin; list \
                 the origins instead"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `tls_cert` and `tls_key` come together; the redirect listener sends people to an
    /// https issuer.
    fn validate_tls(&self) -> Result<(), Error> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(Error::Config(
                    "tls_cert is set but tls_key is not: set both (PEM files of the \
                     certificate chain and of its private key) or neither"
                        .into(),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::Config(
                    "tls_key is set but tls_cert is not: set both (PEM files of the \
                     certificate chain and of its private key) or neither"
                        .into(),
                ));
            }
            _ => {}
        }
        if self.tls_cert.is_some()
            && self
                .issuer
                .as_deref()
                .is_some_and(|i| i.starts_with("http://"))
        {
            return Err(Error::Config(
                "tls_cert and tls_key make the provider serve HTTPS, so the issuer must be an \
                 https:// URL (every endpoint URL is built from it)"
                    .into(),
            ));
        }
        if self.http_redirect_listen.is_some()
            && !self
                .issuer
                .as_deref()
                .is_some_and(|i| i.starts_with("https://"))
        {
            return Err(Error::Config(
                "http_redirect_listen redirects to the issuer, which must then be an \
                 https:// URL"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `scope_descriptions`: scope tokens mapped to a line of text for the consent page.
    fn validate_scope_descriptions(&self) -> Result<(), Error> {
        for (scope, text) in &self.scope_descriptions {
            // One token: `from_tokens` alone would split "a b" into two.
            if scope.is_empty() || scope.contains(' ') || Scope::from_tokens([scope]).is_err() {
                return Err(Error::Config(format!(
                    "scope_descriptions: {scope:?} is not a scope token"
                )));
            }
            let chars = text.chars().count();
            if !(1..=300).contains(&chars) || text.chars().any(char::is_control) {
                return Err(Error::Config(format!(
                    "scope_descriptions: the text for {scope:?} must be 1-300 characters \
                     on one line"
                )));
            }
        }
        Ok(())
    }

    /// Whether `scopes_supported` was set, and so is enforced.
    pub(crate) fn scopes_enforced(&self) -> bool {
        self.scopes_supported.is_some()
    }

    /// The signing algorithms in use: the access-token one, then the ID-token one.
    pub(crate) fn signing_algorithms(&self) -> Vec<Algorithm> {
        let mut algs = vec![self.access_token_alg];
        if self.id_token_alg != self.access_token_alg {
            algs.push(self.id_token_alg);
        }
        algs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_errors_name_the_key() {
        let e = serde_json::from_value::<Config>(serde_json::json!({"isuer": "x"})).unwrap_err();
        assert!(e.to_string().contains("isuer"), "{e}");
        let c = Config {
            session_ttl: Duration::ZERO.into(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("session_ttl"), "{e}");
        let c: Config = serde_json::from_value(
            serde_json::json!({"cors_allowed_origins": ["https://app.example.com/cb"]}),
        )
        .unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("cors_allowed_origins")
        );
    }

    fn cors(json: serde_json::Value) -> Result<(), String> {
        let c: Config = serde_json::from_value(json).map_err(|e| e.to_string())?;
        c.validate().map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn cors_origins_wildcard_and_credentials() {
        use serde_json::json;
        for ok in [
            json!({"cors_allowed_origins": ["https://app.example.com"]}),
            json!({"cors_allowed_origins": ["http://localhost:3000", "https://a.example:8443"]}),
            json!({"cors_allowed_origins": ["*"]}),
            json!({"cors_allowed_origins": ["https://app.example.com"], "cors_allow_credentials": true}),
            json!({"cors_allow_localhost": true, "cors_allow_credentials": true}),
        ] {
            cors(ok.clone()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://APP.example.com",
            "https://app.example.com:443",
            "https://user@app.example.com",
            "https://app.example.com?x",
            "app.example.com",
            "null",
            "*.example.com",
            "ftp://app.example.com",
        ] {
            let e = cors(json!({"cors_allowed_origins": [bad]})).unwrap_err();
            assert!(
                e.contains("cors_allowed_origins") && e.contains(bad),
                "{bad}: {e}"
            );
        }
        let e = cors(json!({"cors_allowed_origins": ["*"], "cors_allow_credentials": true}))
            .unwrap_err();
        assert!(
            e.contains("\"*\"") && e.contains("cors_allow_credentials") && e.contains("Fetch"),
            "{e}"
        );
        assert!(cors(json!({"cors_allow_credentials": "yes"})).is_err());
    }

    #[test]
    fn scope_descriptions_are_checked() {
        use serde_json::json;
        let c: Config = serde_json::from_value(
            json!({"scope_descriptions": {"read:orders": "See your orders"}}),
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.scope_description("read:orders"), Some("See your orders"));
        assert_eq!(c.scope_description("write:orders"), None);
        for (bad, what) in [
            (json!({"bad scope": "x"}), "scope_descriptions"),
            (json!({"read": ""}), "\"read\""),
            (json!({"read": "two\nlines"}), "\"read\""),
        ] {
            let e = cors(json!({ "scope_descriptions": bad })).unwrap_err();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn connection_settings_have_defaults_and_are_checked() {
        let c = Config::default();
        assert_eq!(c.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(c.idle_timeout(), Duration::from_secs(60));
        assert_eq!(c.max_connections(), 1024);
        assert_eq!(c.shutdown_grace(), Duration::from_secs(10));
        let c: Config = serde_json::from_value(serde_json::json!({
            "header_read_timeout": "5s",
            "idle_timeout": "2m",
            "max_connections": 10,
            "shutdown_grace": "30s",
        }))
        .unwrap();
        assert_eq!(c.header_read_timeout(), Duration::from_secs(5));
        assert_eq!(c.idle_timeout(), Duration::from_secs(120));
        assert_eq!(c.max_connections(), 10);
        assert_eq!(c.shutdown_grace(), Duration::from_secs(30));
        c.validate().unwrap();
        let c: Config = serde_json::from_value(serde_json::json!({"max_connections": 0})).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("max_connections")
        );
        let c = Config {
            idle_timeout: Duration::ZERO.into(),
            ..Config::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("idle_timeout")
        );
        assert!(
            serde_json::from_value::<Config>(serde_json::json!({"shutdown_grace": "0s"})).is_err()
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let c: Config = serde_json::from_value(serde_json::json!({
            "encryption_key": "a secret that must not be printed",
            "database_url": "postgres://u:pw@h/db",
            "smtp": {"host": "smtp.example.com", "from_address": "id@example.com",
                     "username": "idp", "password": "smtp password not to print"},
        }))
        .unwrap();
        c.validate().unwrap();
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("must not")
                && !printed.contains("pw@")
                && !printed.contains("not to print"),
            "{printed}"
        );
        assert_eq!(c.database_url(), Some("postgres://u:pw@h/db"));
    }
}
