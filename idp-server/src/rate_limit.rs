//! Rate limits: sign-in attempts per account and requests per client at the token,
//! introspection and revocation endpoints. Keys are hashed so that the limiter's memory
//! holds no e-mail addresses. The limiter keeps its own monotonic clock (governor's), not
//! the provider's `Clock`: it measures elapsed time, not validity.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits applied by the provider. `0` turns a limit off. In the configuration file this is
/// the `[rate_limits]` table; a key it leaves out keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Sign-in attempts per account (e-mail within a tenant) per minute; default 10.
    pub login_attempts_per_minute: u32,
    /// Requests per client per second at the token, introspection and revocation
    /// endpoints; default 100 (with a burst of twice that).
    pub client_requests_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_attempts_per_minute: 10,
            client_requests_per_second: 100,
        }
    }
}

impl RateLimits {
    /// No limits at all (`idp serve --dev`). Insecure: passwords can be guessed at full speed.
    pub const fn insecure_none() -> Self {
        Self {
            login_attempts_per_minute: 0,
            client_requests_per_second: 0,
        }
    }
}

pub(crate) struct Limiters {
    login: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
    client: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("login", &self.login.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

fn check(limiter: &Option<DefaultKeyedRateLimiter<[u8; 32]>>, key: &str) -> Result<(), Duration> {
    let Some(l) = limiter else {
        return Ok(());
    };
    l.check_key(&idp_core::sha256(key.as_bytes()))
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits) -> Self {
        let login = NonZeroU32::new(limits.login_attempts_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        let client = NonZeroU32::new(limits.client_requests_per_second).map(|n| {
            let burst = n.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
        });
        Self { login, client }
    }

    /// One sign-in attempt for `email` in `tenant`; `Err(wait)` when over the limit.
    pub(crate) fn login(&self, tenant: Option<&str>, email: &str) -> Result<(), Duration> {
        let key = format!(
            "{}\u{0}{}",
            tenant.unwrap_or(""),
            email.to_ascii_lowercase()
        );
        check(&self.login, &key)
    }

    /// One request by `client_id`.
    pub(crate) fn client(&self, client_id: &str) -> Result<(), Duration> {
        check(&self.client, client_id)
    }

    /// Forgets keys that are back to a full quota, so the maps do not grow without bound.
    pub(crate) fn shrink(&self) {
        for l in [&self.login, &self.client].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
