//! Limiter state shared by replicas through Redis (`rate_limits.redis_url`): failure counters
//! as `INCR` + `EXPIRE … NX` fixed windows, quotas as one-second windows. Every call has a
//! short deadline; when Redis cannot answer, the caller falls back to its own process's
//! limiters (see `super::Limiters`), never to refusing everyone.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::ConnectionManager;

use super::limits::{Counter, Quotas, RateLimits};

/// How long one Redis round trip may take before the local limiters decide.
const DEADLINE: Duration = Duration::from_millis(250);
/// How long after a failed connection attempt the next one is made.
const RECONNECT_AFTER: Duration = Duration::from_secs(5);
/// How often an outage is logged.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Redis is not answering (or not reachable yet).
#[derive(Debug)]
pub(super) struct Unavailable;

pub(super) struct Shared {
    client: redis::Client,
    conn: tokio::sync::RwLock<Option<ConnectionManager>>,
    last_attempt: Mutex<Option<Instant>>,
    last_warning: Mutex<Option<Instant>>,
    limits: RateLimits,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared(redis)")
    }
}

fn name(key: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

impl Shared {
    /// Checks the URL; connects on first use.
    pub(super) fn new(url: &str, limits: &RateLimits) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|_| {
            // Only the scheme: the rest may hold a password.
            let scheme = url.split_once(':').map_or("", |(s, _)| s);
            format!("rate_limits.redis_url: not a Redis URL (scheme {scheme:?})")
        })?;
        Ok(Self {
            client,
            conn: tokio::sync::RwLock::new(None),
            last_attempt: Mutex::new(None),
            last_warning: Mutex::new(None),
            limits: limits.clone(),
        })
    }

    /// Logs an outage, at most every [`WARN_EVERY`].
    pub(super) fn warn(&self, what: &str) {
        if let Ok(mut last) = self.last_warning.lock()
            && last.is_none_or(|t| t.elapsed() >= WARN_EVERY)
        {
            *last = Some(Instant::now());
            tracing::warn!("rate limits: Redis {what}; using this process's limits");
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, Unavailable> {
        if let Some(c) = self.conn.read().await.as_ref() {
            return Ok(c.clone());
        }
        {
            let mut last = self.last_attempt.lock().map_err(|_| Unavailable)?;
            if last.is_some_and(|t| t.elapsed() < RECONNECT_AFTER) {
                return Err(Unavailable);
            }
            *last = Some(Instant::now());
        }
        let connect = ConnectionManager::new(self.client.clone());
        match tokio::time::timeout(DEADLINE * 2, connect).await {
            Ok(Ok(c)) => {
                *self.conn.write().await = Some(c.clone());
                Ok(c)
            }
            _ => {
                self.warn("is unreachable");
                Err(Unavailable)
            }
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, Unavailable> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(DEADLINE, pipe.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            _ => {
                self.warn("did not answer");
                Err(Unavailable)
            }
        }
    }

    /// `Ok(Err(wait))` while `key` is at its failure limit.
    pub(super) async fn check(
        &self,
        c: Counter,
        key: &[u8; 32],
    ) -> Result<Result<(), Duration>, Unavailable> {
        let limit = c.limit(&self.limits);
        if limit == 0 {
            return Ok(Ok(()));
        }
        let k = format!("idp:rl:{}:{}", c.name(), name(key));
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&k).cmd("PTTL").arg(&k);
        let (count, pttl): (Option<u32>, i64) = self.run(&pipe).await?;
        match count {
            Some(n) if n >= limit && pttl > 0 => {
                Ok(Err(Duration::from_millis(u64::try_from(pttl).unwrap_or(0))))
            }
            _ => Ok(Ok(())),
        }
    }

    /// Records a failure for `key` (the window starts at the first one).
    pub(super) async fn fail(&self, c: Counter, key: &[u8; 32]) -> Result<(), Unavailable> {
        if c.limit(&self.limits) == 0 {
            return Ok(());
        }
        let k = format!("idp:rl:{}:{}", c.name(), name(key));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCR")
            .arg(&k)
            .ignore()
            .cmd("EXPIRE")
            .arg(&k)
            .arg(c.window().as_secs())
            .arg("NX")
            .ignore();
        self.run::<()>(&pipe).await
    }

    /// Spends one request of `key`'s quota in the current one-second window.
    pub(super) async fn spend(
        &self,
        q: Quotas,
        key: &[u8; 32],
    ) -> Result<Result<(), Duration>, Unavailable> {
        let per_second = q.per_second(&self.limits);
        if per_second == 0 {
            return Ok(Ok(()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let k = format!("idp:rl:{}:{}:{}", q.name(), name(key), now.as_secs());
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCR")
            .arg(&k)
            .cmd("EXPIRE")
            .arg(&k)
            .arg(2)
            .ignore();
        let (count,): (u32,) = self.run(&pipe).await?;
        if count > per_second {
            let rest = Duration::from_secs(1)
                .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos())));
            Ok(Err(rest.max(Duration::from_millis(1))))
        } else {
            Ok(Ok(()))
        }
    }
}
