//! What the limits are: the configuration, and the counters and quotas it sets.

use std::time::Duration;

/// Limits applied by the provider. `0` turns a limit off. In the configuration file this is
/// the `[rate_limits]` table; a key it leaves out keeps its default.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Failed sign-ins per account (e-mail within a tenant) and client address per minute;
    /// default 10. One address may fail ten times as often across all accounts.
    pub login_attempts_per_minute: u32,
    /// Requests per authenticated client per second at the token, introspection and
    /// revocation endpoints; default 100 (with a burst of twice that).
    pub client_requests_per_second: u32,
    /// Failed client authentications per client and address per minute; default 20.
    pub client_failures_per_minute: u32,
    /// Requests per client address per second at the endpoints anyone can call without
    /// credentials (authorize and sign-in, the token endpoint before authentication);
    /// default 100 (with a burst of twice that).
    pub address_requests_per_second: u32,
    /// Wrong user codes entered on the device verification page per client address per
    /// minute; default 10. Across all addresses together, a hundred times as many: with
    /// 20^8 possible codes, guessing a live one stays hopeless.
    pub device_code_failures_per_minute: u32,
    /// E-mails the account pages send (verification, password reset, "someone tried to
    /// register with your address") per recipient address per hour; default 5. One client
    /// address may cause four times as many across recipients.
    pub account_emails_per_hour: u32,
    /// `redis://…`: share the limiters' state between replicas through Redis. None by
    /// default (each process counts for itself).
    pub redis_url: Option<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("login_attempts_per_minute", &self.login_attempts_per_minute)
            .field(
                "client_requests_per_second",
                &self.client_requests_per_second,
            )
            .field(
                "client_failures_per_minute",
                &self.client_failures_per_minute,
            )
            .field(
                "address_requests_per_second",
                &self.address_requests_per_second,
            )
            .field(
                "device_code_failures_per_minute",
                &self.device_code_failures_per_minute,
            )
            .field("account_emails_per_hour", &self.account_emails_per_hour)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_attempts_per_minute: 10,
            client_requests_per_second: 100,
            client_failures_per_minute: 20,
            address_requests_per_second: 100,
            device_code_failures_per_minute: 10,
            account_emails_per_hour: 5,
            redis_url: None,
        }
    }
}

impl RateLimits {
    /// No limits at all (`idp serve --dev`). Insecure: passwords can be guessed at full speed.
    pub const fn insecure_none() -> Self {
        Self {
            login_attempts_per_minute: 0,
            client_requests_per_second: 0,
            client_failures_per_minute: 0,
            address_requests_per_second: 0,
            device_code_failures_per_minute: 0,
            account_emails_per_hour: 0,
            redis_url: None,
        }
    }
}

/// The failure counters (fixed windows of a minute).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    /// Failed sign-ins per (account, address).
    Login = 0,
    /// Failed sign-ins per address, across accounts (ten times the per-account limit).
    LoginAddress = 1,
    /// Failed client authentications per (client, address).
    Client = 2,
    /// Wrong user codes per address.
    DeviceCode = 3,
    /// Wrong user codes from all addresses together (a hundred times the per-address
    /// limit): what an attacker spread over many addresses can try against live codes.
    DeviceCodeAll = 4,
    /// Account e-mails per recipient address (an hour).
    Mail = 5,
    /// Account e-mails caused from one client address (an hour).
    MailAddress = 6,
}

impl Counter {
    pub(super) fn limit(self, l: &RateLimits) -> u32 {
        match self {
            Self::Login => l.login_attempts_per_minute,
            Self::LoginAddress => l.login_attempts_per_minute.saturating_mul(10),
            Self::Client => l.client_failures_per_minute,
            Self::DeviceCode => l.device_code_failures_per_minute,
            Self::DeviceCodeAll => l.device_code_failures_per_minute.saturating_mul(100),
            Self::Mail => l.account_emails_per_hour,
            Self::MailAddress => l.account_emails_per_hour.saturating_mul(4),
        }
    }

    pub(super) fn window(self) -> Duration {
        match self {
            Self::Mail | Self::MailAddress => Duration::from_secs(3600),
            _ => Duration::from_secs(60),
        }
    }

    /// The `limiter` label of `idp_rate_limited_total`.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginAddress => "login_address",
            Self::Client => "client_auth",
            Self::DeviceCode => "device_code",
            Self::DeviceCodeAll => "device_code_all",
            Self::Mail => "account_email",
            Self::MailAddress => "account_email_address",
        }
    }

    #[cfg(feature = "redis")]
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginAddress => "login-address",
            Self::Client => "client",
            Self::DeviceCode => "device-code",
            Self::DeviceCodeAll => "device-code-all",
            Self::Mail => "mail",
            Self::MailAddress => "mail-address",
        }
    }
}

/// The request quotas (per second).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Quotas {
    /// Per authenticated client.
    Client = 0,
    /// Per address at the endpoints anyone can call.
    Address = 1,
}

impl Quotas {
    pub(super) fn per_second(self, l: &RateLimits) -> u32 {
        match self {
            Self::Client => l.client_requests_per_second,
            Self::Address => l.address_requests_per_second,
        }
    }

    /// The `limiter` label of `idp_rate_limited_total`.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Client => "client_quota",
            Self::Address => "address",
        }
    }

    #[cfg(feature = "redis")]
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Client => "client-quota",
            Self::Address => "address",
        }
    }
}
