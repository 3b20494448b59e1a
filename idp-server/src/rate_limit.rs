//! Rate limits an attacker cannot turn against someone else.
//!
//! - Sign-in: only *failed* attempts count, per account **and client address**, plus a
//!   higher bound per address across accounts; a flood of wrong passwords from one address
//!   never stops the owner signing in from another.
//! - Client authentication: only failures count, per client and address; an authenticated
//!   client then has a request quota of its own (nobody else can spend it).
//! - Unauthenticated endpoints (authorize, sign-in, the token endpoint before
//!   authentication): a requests-per-second ceiling per address.
//!
//! Without a client address (a provider nested in an app served without `ConnectInfo`),
//! the per-address limits do not apply and failures count per account and per client.
//! Keys are hashed so that the limiters' memory holds no e-mail addresses. The limiters keep
//! their own monotonic clock, not the provider's `Clock`: they measure elapsed time, not
//! validity.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits applied by the provider. `0` turns a limit off. In the configuration file this is
/// the `[rate_limits]` table; a key it leaves out keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
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
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_attempts_per_minute: 10,
            client_requests_per_second: 100,
            client_failures_per_minute: 20,
            address_requests_per_second: 100,
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
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// The most keys a failure counter remembers (each about 100 bytes).
const MAX_KEYS: u64 = 100_000;

/// Failures in a fixed window that starts at the first failure.
#[derive(Debug)]
struct Window {
    started: Instant,
    failures: AtomicU32,
}

/// Counts failures per key; a key at its limit is refused until its window ends.
struct FailureCounter {
    limit: u32,
    window: Duration,
    entries: moka::sync::Cache<[u8; 32], Arc<Window>>,
}

impl FailureCounter {
    fn new(limit: u32, window: Duration) -> Option<Self> {
        (limit > 0).then(|| Self {
            limit,
            window,
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_live(window)
                .build(),
        })
    }

    /// `Err(wait)` while the key is at its limit.
    fn check(&self, key: &[u8; 32]) -> Result<(), Duration> {
        match self.entries.get(key) {
            Some(w) if w.failures.load(Ordering::Relaxed) >= self.limit => {
                let elapsed = w.started.elapsed();
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn fail(&self, key: &[u8; 32]) {
        let fresh = || {
            Arc::new(Window {
                started: Instant::now(),
                failures: AtomicU32::new(0),
            })
        };
        let mut w = self.entries.get_with(*key, fresh);
        if w.started.elapsed() >= self.window {
            w = fresh();
            self.entries.insert(*key, Arc::clone(&w));
        }
        w.failures.fetch_add(1, Ordering::Relaxed);
    }
}

fn check_counter(c: &Option<FailureCounter>, key: &[u8; 32]) -> Result<(), Duration> {
    c.as_ref().map_or(Ok(()), |c| c.check(key))
}

fn fail_counter(c: &Option<FailureCounter>, key: &[u8; 32]) {
    if let Some(c) = c {
        c.fail(key);
    }
}

/// A key from its parts, hashed (length-prefixed, so that parts cannot run together).
fn key(parts: &[&str]) -> [u8; 32] {
    let mut buf = Vec::new();
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p.as_bytes());
    }
    idp_core::sha256(&buf)
}

fn addr_text(addr: Option<IpAddr>) -> String {
    addr.map(|a| a.to_string()).unwrap_or_default()
}

fn per_second(n: u32) -> Option<DefaultKeyedRateLimiter<[u8; 32]>> {
    NonZeroU32::new(n).map(|n| {
        let burst = n.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
    })
}

fn check_quota(
    l: &Option<DefaultKeyedRateLimiter<[u8; 32]>>,
    key: &[u8; 32],
) -> Result<(), Duration> {
    let Some(l) = l else {
        return Ok(());
    };
    l.check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// The provider's limiters, built from [`RateLimits`].
pub(crate) struct Limiters {
    /// Failed sign-ins per (account, address).
    login: Option<FailureCounter>,
    /// Failed sign-ins per address, across accounts.
    login_address: Option<FailureCounter>,
    /// Failed client authentications per (client, address).
    client_failures: Option<FailureCounter>,
    /// Requests per authenticated client.
    client: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
    /// Requests per address at the unauthenticated endpoints.
    address: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("login", &self.login.is_some())
            .field("client_failures", &self.client_failures.is_some())
            .field("client", &self.client.is_some())
            .field("address", &self.address.is_some())
            .finish()
    }
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits) -> Self {
        let login = limits.login_attempts_per_minute;
        Self {
            login: FailureCounter::new(login, MINUTE),
            login_address: FailureCounter::new(login.saturating_mul(10), MINUTE),
            client_failures: FailureCounter::new(limits.client_failures_per_minute, MINUTE),
            client: per_second(limits.client_requests_per_second),
            address: per_second(limits.address_requests_per_second),
        }
    }

    fn account(tenant: Option<&str>, email: &str, addr: Option<IpAddr>) -> [u8; 32] {
        let email = email.to_ascii_lowercase();
        key(&["login", tenant.unwrap_or(""), &email, &addr_text(addr)])
    }

    /// Whether a sign-in for `email` in `tenant` from `addr` may be tried; `Err(wait)` while
    /// that account has too many failures from that address, or the address too many
    /// across accounts.
    pub(crate) fn login_allowed(
        &self,
        tenant: Option<&str>,
        email: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Duration> {
        check_counter(&self.login, &Self::account(tenant, email, addr))?;
        match addr {
            Some(a) => check_counter(
                &self.login_address,
                &key(&["login-address", &a.to_string()]),
            ),
            None => Ok(()),
        }
    }

    /// Records a failed sign-in.
    pub(crate) fn login_failed(&self, tenant: Option<&str>, email: &str, addr: Option<IpAddr>) {
        fail_counter(&self.login, &Self::account(tenant, email, addr));
        if let Some(a) = addr {
            fail_counter(
                &self.login_address,
                &key(&["login-address", &a.to_string()]),
            );
        }
    }

    /// Whether `client_id` may try to authenticate from `addr`; `Err(wait)` after too many
    /// failures from that address.
    pub(crate) fn client_auth_allowed(
        &self,
        client_id: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Duration> {
        check_counter(
            &self.client_failures,
            &key(&["client", client_id, &addr_text(addr)]),
        )
    }

    /// Records a failed client authentication.
    pub(crate) fn client_auth_failed(&self, client_id: &str, addr: Option<IpAddr>) {
        fail_counter(
            &self.client_failures,
            &key(&["client", client_id, &addr_text(addr)]),
        );
    }

    /// One request by the authenticated client `client_id`.
    pub(crate) fn client(&self, client_id: &str) -> Result<(), Duration> {
        check_quota(&self.client, &key(&["client-quota", client_id]))
    }

    /// One request from `addr` at an endpoint anyone can call; always allowed without an
    /// address.
    pub(crate) fn address(&self, addr: Option<IpAddr>) -> Result<(), Duration> {
        match addr {
            Some(a) => check_quota(&self.address, &key(&["address", &a.to_string()])),
            None => Ok(()),
        }
    }

    /// Forgets keys that are back to a full quota, so the maps do not grow without bound.
    pub(crate) fn shrink(&self) {
        for l in [&self.client, &self.address].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for c in [&self.login, &self.login_address, &self.client_failures]
            .into_iter()
            .flatten()
        {
            c.entries.run_pending_tasks();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn failures_from_one_address_do_not_lock_out_another() {
        let l = Limiters::new(RateLimits {
            login_attempts_per_minute: 3,
            ..RateLimits::default()
        });
        for _ in 0..3 {
            assert!(
                l.login_allowed(None, "ada@example.com", ip("10.0.0.1"))
                    .is_ok()
            );
            l.login_failed(None, "ada@example.com", ip("10.0.0.1"));
        }
        let wait = l
            .login_allowed(None, "ADA@example.com", ip("10.0.0.1"))
            .unwrap_err();
        assert!(wait <= MINUTE && wait > Duration::from_secs(50), "{wait:?}");
        // The owner, elsewhere, is not affected; nor is another account from the attacker.
        assert!(
            l.login_allowed(None, "ada@example.com", ip("10.0.0.2"))
                .is_ok()
        );
        assert!(
            l.login_allowed(None, "bob@example.com", ip("10.0.0.1"))
                .is_ok()
        );
        // Successes do not count: only `login_failed` does.
        for _ in 0..100 {
            assert!(
                l.login_allowed(None, "bob@example.com", ip("10.0.0.3"))
                    .is_ok()
            );
        }
    }

    #[test]
    fn one_address_spraying_many_accounts_is_stopped() {
        let l = Limiters::new(RateLimits {
            login_attempts_per_minute: 2,
            ..RateLimits::default()
        });
        for i in 0..20 {
            let email = format!("user{i}@example.com");
            assert!(l.login_allowed(None, &email, ip("10.0.0.9")).is_ok(), "{i}");
            l.login_failed(None, &email, ip("10.0.0.9"));
        }
        assert!(
            l.login_allowed(None, "new@example.com", ip("10.0.0.9"))
                .is_err()
        );
        assert!(
            l.login_allowed(None, "new@example.com", ip("10.0.0.8"))
                .is_ok()
        );
    }

    #[test]
    fn client_failures_count_per_address_and_quota_after_authentication() {
        let l = Limiters::new(RateLimits {
            client_failures_per_minute: 2,
            client_requests_per_second: 1,
            ..RateLimits::default()
        });
        l.client_auth_failed("svc", ip("10.0.0.1"));
        l.client_auth_failed("svc", ip("10.0.0.1"));
        assert!(l.client_auth_allowed("svc", ip("10.0.0.1")).is_err());
        assert!(l.client_auth_allowed("svc", ip("10.0.0.2")).is_ok());
        assert!(l.client("svc").is_ok());
        assert!(l.client("svc").is_ok());
        assert!(l.client("svc").is_err());
        assert!(l.client("other").is_ok());
    }

    #[test]
    fn zero_turns_a_limit_off_and_no_address_means_no_address_limit() {
        let l = Limiters::new(RateLimits::insecure_none());
        for _ in 0..1000 {
            l.login_failed(None, "a@b.co", ip("10.0.0.1"));
            l.client_auth_failed("svc", None);
            assert!(l.address(ip("10.0.0.1")).is_ok());
        }
        assert!(l.login_allowed(None, "a@b.co", ip("10.0.0.1")).is_ok());
        assert!(l.client_auth_allowed("svc", None).is_ok());
        let l = Limiters::new(RateLimits {
            address_requests_per_second: 1,
            ..RateLimits::default()
        });
        for _ in 0..10 {
            assert!(l.address(None).is_ok());
        }
        assert!(l.address(ip("10.0.0.1")).is_ok());
        assert!(l.address(ip("10.0.0.1")).is_ok());
        assert!(l.address(ip("10.0.0.1")).is_err());
    }
}
