//! Rate limits an attacker cannot turn against someone else.
//!
//! - Sign-in: only *failed* attempts count, per account **and client address**, plus a
//!   higher bound per address across accounts; a flood of wrong passwords from one address
//!   never stops the owner signing in from another.
//! - Client authentication: only failures count, per client and address; an authenticated
//!   client then has a request quota of its own (nobody else can spend it).
//! - User codes on the device verification page (RFC 8628 §5.1): only wrong codes count,
//!   per client address, plus a bound across all addresses that keeps a distributed
//!   guesser from covering the code space.
//! - Unauthenticated endpoints (authorize, sign-in, the token endpoint before
//!   authentication): a requests-per-second ceiling per address.
//!
//! Without a client address (a provider nested in an app served without `ConnectInfo`),
//! the per-address limits do not apply and failures count per account and per client.
//! With `redis_url`, replicas share the counters through Redis; when Redis does not answer,
//! each process falls back to its own limiters (logged), never to refusing everyone.
//! Keys are hashed so that the limiters' memory holds no e-mail addresses. The limiters keep
//! their own monotonic clock, not the provider's `Clock`: they measure elapsed time, not
//! validity.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

mod limits;
mod local;
#[cfg(feature = "redis")]
mod shared;

use crate::metrics::Metrics;
pub use limits::RateLimits;
use limits::{Counter, Quotas};
use local::Local;
#[cfg(feature = "redis")]
use shared::Shared;

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

/// The provider's limiters: shared through Redis when configured, this process's own
/// otherwise (and whenever Redis does not answer).
#[derive(Debug)]
pub(crate) struct Limiters {
    local: Local,
    #[cfg(feature = "redis")]
    shared: Option<Shared>,
    /// Where refusals are counted (`idp_rate_limited_total`).
    metrics: Option<Arc<Metrics>>,
}

impl Limiters {
    /// `Err` names a `redis_url` that is not a Redis URL (without echoing it).
    pub(crate) fn new(limits: &RateLimits) -> Result<Self, String> {
        #[cfg(feature = "redis")]
        let shared = match &limits.redis_url {
            Some(url) => Some(Shared::new(url, limits)?),
            None => None,
        };
        #[cfg(not(feature = "redis"))]
        if limits.redis_url.is_some() {
            return Err("rate_limits.redis_url needs idp-server's `redis` feature".into());
        }
        Ok(Self {
            local: Local::new(limits),
            #[cfg(feature = "redis")]
            shared,
            metrics: None,
        })
    }

    /// Counts every refusal in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count<T>(&self, label: &'static str, answer: Result<T, Duration>) -> Result<T, Duration> {
        if answer.is_err()
            && let Some(m) = &self.metrics
        {
            m.rate_limited(label);
        }
        answer
    }

    async fn check(&self, c: Counter, key: [u8; 32]) -> Result<(), Duration> {
        #[cfg(feature = "redis")]
        if let Some(s) = &self.shared
            && let Ok(answer) = s.check(c, &key).await
        {
            return self.count(c.label(), answer);
        }
        self.count(c.label(), self.local.check(c, &key))
    }

    async fn fail(&self, c: Counter, key: [u8; 32]) {
        #[cfg(feature = "redis")]
        if let Some(s) = &self.shared
            && s.fail(c, &key).await.is_ok()
        {
            return;
        }
        self.local.fail(c, &key);
    }

    async fn spend(&self, q: Quotas, key: [u8; 32]) -> Result<(), Duration> {
        #[cfg(feature = "redis")]
        if let Some(s) = &self.shared
            && let Ok(answer) = s.spend(q, &key).await
        {
            return self.count(q.label(), answer);
        }
        self.count(q.label(), self.local.spend(q, &key))
    }

    fn account(tenant: Option<&str>, email: &str, addr: Option<IpAddr>) -> [u8; 32] {
        let email = email.to_ascii_lowercase();
        key(&["login", tenant.unwrap_or(""), &email, &addr_text(addr)])
    }

    /// Whether a sign-in for `email` in `tenant` from `addr` may be tried; `Err(wait)` while
    /// that account has too many failures from that address, or the address too many
    /// across accounts.
    pub(crate) async fn login_allowed(
        &self,
        tenant: Option<&str>,
        email: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Duration> {
        self.check(Counter::Login, Self::account(tenant, email, addr))
            .await?;
        match addr {
            Some(a) => {
                let k = key(&["login-address", &a.to_string()]);
                self.check(Counter::LoginAddress, k).await
            }
            None => Ok(()),
        }
    }

    /// Records a failed sign-in.
    pub(crate) async fn login_failed(
        &self,
        tenant: Option<&str>,
        email: &str,
        addr: Option<IpAddr>,
    ) {
        self.fail(Counter::Login, Self::account(tenant, email, addr))
            .await;
        if let Some(a) = addr {
            let k = key(&["login-address", &a.to_string()]);
            self.fail(Counter::LoginAddress, k).await;
        }
    }

    /// Whether `client_id` may try to authenticate from `addr`; `Err(wait)` after too many
    /// failures from that address.
    pub(crate) async fn client_auth_allowed(
        &self,
        client_id: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let k = key(&["client", client_id, &addr_text(addr)]);
        self.check(Counter::Client, k).await
    }

    /// Records a failed client authentication.
    pub(crate) async fn client_auth_failed(&self, client_id: &str, addr: Option<IpAddr>) {
        let k = key(&["client", client_id, &addr_text(addr)]);
        self.fail(Counter::Client, k).await;
    }

    /// Whether a user code may be tried from `addr`; `Err(wait)` after too many wrong codes
    /// from that address, or from all addresses together.
    pub(crate) async fn user_code_allowed(&self, addr: Option<IpAddr>) -> Result<(), Duration> {
        self.check(Counter::DeviceCodeAll, key(&["device-code-all"]))
            .await?;
        match addr {
            Some(a) => {
                let k = key(&["device-code", &a.to_string()]);
                self.check(Counter::DeviceCode, k).await
            }
            None => Ok(()),
        }
    }

    /// Records a wrong (unknown, expired or already decided) user code.
    pub(crate) async fn user_code_failed(&self, addr: Option<IpAddr>) {
        self.fail(Counter::DeviceCodeAll, key(&["device-code-all"]))
            .await;
        if let Some(a) = addr {
            let k = key(&["device-code", &a.to_string()]);
            self.fail(Counter::DeviceCode, k).await;
        }
    }

    /// One account e-mail to `to` caused from `addr`, if the hourly limits allow it;
    /// `Err(wait)` (and nothing counted) when that recipient, or that address, has had its
    /// share.
    pub(crate) async fn account_email(
        &self,
        to: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let to = key(&["mail", &to.trim().to_lowercase()]);
        let from = addr.map(|a| key(&["mail-address", &a.to_string()]));
        self.check(Counter::Mail, to).await?;
        if let Some(k) = from {
            self.check(Counter::MailAddress, k).await?;
        }
        self.fail(Counter::Mail, to).await;
        if let Some(k) = from {
            self.fail(Counter::MailAddress, k).await;
        }
        Ok(())
    }

    /// One request by the authenticated client `client_id`.
    pub(crate) async fn client(&self, client_id: &str) -> Result<(), Duration> {
        self.spend(Quotas::Client, key(&["client-quota", client_id]))
            .await
    }

    /// One request from `addr` at an endpoint anyone can call; always allowed without an
    /// address.
    pub(crate) async fn address(&self, addr: Option<IpAddr>) -> Result<(), Duration> {
        match addr {
            Some(a) => {
                self.spend(Quotas::Address, key(&["address", &a.to_string()]))
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets keys that are back to a full quota, so the maps do not grow without bound.
    pub(crate) fn shrink(&self) {
        self.local.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn limiters(l: RateLimits) -> Limiters {
        Limiters::new(&l).unwrap()
    }

    #[tokio::test]
    async fn failures_from_one_address_do_not_lock_out_another() {
        let l = limiters(RateLimits {
            login_attempts_per_minute: 3,
            ..RateLimits::default()
        });
        let (ada, bob) = ("ada@example.com", "bob@example.com");
        for _ in 0..3 {
            assert!(l.login_allowed(None, ada, ip("10.0.0.1")).await.is_ok());
            l.login_failed(None, ada, ip("10.0.0.1")).await;
        }
        let wait = l
            .login_allowed(None, "ADA@example.com", ip("10.0.0.1"))
            .await;
        let wait = wait.unwrap_err();
        assert!(
            wait <= Duration::from_secs(60) && wait > Duration::from_secs(50),
            "{wait:?}"
        );
        // The owner, elsewhere, is not affected; nor is another account from the attacker.
        assert!(l.login_allowed(None, ada, ip("10.0.0.2")).await.is_ok());
        assert!(l.login_allowed(None, bob, ip("10.0.0.1")).await.is_ok());
        // Successes do not count: only `login_failed` does.
        for _ in 0..100 {
            assert!(l.login_allowed(None, bob, ip("10.0.0.3")).await.is_ok());
        }
    }

    #[tokio::test]
    async fn one_address_spraying_many_accounts_is_stopped() {
        let l = limiters(RateLimits {
            login_attempts_per_minute: 2,
            ..RateLimits::default()
        });
        for i in 0..20 {
            let email = format!("user{i}@example.com");
            assert!(
                l.login_allowed(None, &email, ip("10.0.0.9")).await.is_ok(),
                "{i}"
            );
            l.login_failed(None, &email, ip("10.0.0.9")).await;
        }
        assert!(
            l.login_allowed(None, "new@example.com", ip("10.0.0.9"))
                .await
                .is_err()
        );
        assert!(
            l.login_allowed(None, "new@example.com", ip("10.0.0.8"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn client_failures_count_per_address_and_quota_after_authentication() {
        let l = limiters(RateLimits {
            client_failures_per_minute: 2,
            client_requests_per_second: 1,
            ..RateLimits::default()
        });
        l.client_auth_failed("svc", ip("10.0.0.1")).await;
        l.client_auth_failed("svc", ip("10.0.0.1")).await;
        assert!(l.client_auth_allowed("svc", ip("10.0.0.1")).await.is_err());
        assert!(l.client_auth_allowed("svc", ip("10.0.0.2")).await.is_ok());
        assert!(l.client("svc").await.is_ok());
        assert!(l.client("svc").await.is_ok());
        assert!(l.client("svc").await.is_err());
        assert!(l.client("other").await.is_ok());
    }

    #[tokio::test]
    async fn zero_turns_a_limit_off_and_no_address_means_no_address_limit() {
        let l = limiters(RateLimits::insecure_none());
        for _ in 0..1000 {
            l.login_failed(None, "a@b.co", ip("10.0.0.1")).await;
            l.client_auth_failed("svc", None).await;
            assert!(l.address(ip("10.0.0.1")).await.is_ok());
        }
        assert!(
            l.login_allowed(None, "a@b.co", ip("10.0.0.1"))
                .await
                .is_ok()
        );
        assert!(l.client_auth_allowed("svc", None).await.is_ok());
        let l = limiters(RateLimits {
            address_requests_per_second: 1,
            ..RateLimits::default()
        });
        for _ in 0..10 {
            assert!(l.address(None).await.is_ok());
        }
        assert!(l.address(ip("10.0.0.1")).await.is_ok());
        assert!(l.address(ip("10.0.0.1")).await.is_ok());
        assert!(l.address(ip("10.0.0.1")).await.is_err());
    }

    #[tokio::test]
    async fn wrong_user_codes_count_per_address_and_overall() {
        let l = limiters(RateLimits {
            device_code_failures_per_minute: 2,
            ..RateLimits::default()
        });
        for _ in 0..2 {
            assert!(l.user_code_allowed(ip("10.0.0.1")).await.is_ok());
            l.user_code_failed(ip("10.0.0.1")).await;
        }
        assert!(l.user_code_allowed(ip("10.0.0.1")).await.is_err());
        assert!(l.user_code_allowed(ip("10.0.0.2")).await.is_ok());
        // Spread over many addresses, the overall bound (100 x 2) stops them all.
        for i in 0..200u32 {
            let a = std::net::Ipv4Addr::from(0x0b00_0000 + i);
            l.user_code_failed(Some(a.into())).await;
        }
        assert!(l.user_code_allowed(ip("10.0.0.3")).await.is_err());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_redis_url_is_checked_and_never_printed() {
        let e = Limiters::new(&RateLimits {
            redis_url: Some("http://user:secret@host".into()),
            ..RateLimits::default()
        })
        .unwrap_err();
        assert!(e.contains("redis_url") && !e.contains("secret"), "{e}");
        let l = RateLimits {
            redis_url: Some("redis://:secret@127.0.0.1".into()),
            ..RateLimits::default()
        };
        assert!(!format!("{l:?}").contains("secret"));
    }
}
