//! The limiters of one process: fixed-window failure counters (moka) and per-second quotas
//! (governor), keyed by hashes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::limits::{Counter, Quotas, RateLimits};

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

fn per_second(n: u32) -> Option<DefaultKeyedRateLimiter<[u8; 32]>> {
    std::num::NonZeroU32::new(n).map(|n| {
        let burst = n.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
        RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
    })
}

/// The limiters of this process.
pub(super) struct Local {
    counters: [Option<FailureCounter>; 7],
    quotas: [Option<DefaultKeyedRateLimiter<[u8; 32]>>; 2],
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field(
                "counters",
                &self.counters.iter().filter(|c| c.is_some()).count(),
            )
            .field(
                "quotas",
                &self.quotas.iter().filter(|q| q.is_some()).count(),
            )
            .finish()
    }
}

impl Local {
    pub(super) fn new(limits: &RateLimits) -> Self {
        let counter = |c: Counter| FailureCounter::new(c.limit(limits), c.window());
        let quota = |q: Quotas| per_second(q.per_second(limits));
        Self {
            counters: [
                counter(Counter::Login),
                counter(Counter::LoginAddress),
                counter(Counter::Client),
                counter(Counter::DeviceCode),
                counter(Counter::DeviceCodeAll),
                counter(Counter::Mail),
                counter(Counter::MailAddress),
            ],
            quotas: [quota(Quotas::Client), quota(Quotas::Address)],
        }
    }

    /// `Err(wait)` while `key` is at its failure limit.
    pub(super) fn check(&self, c: Counter, key: &[u8; 32]) -> Result<(), Duration> {
        self.counters[c as usize]
            .as_ref()
            .map_or(Ok(()), |f| f.check(key))
    }

    /// Records a failure for `key`.
    pub(super) fn fail(&self, c: Counter, key: &[u8; 32]) {
        if let Some(f) = &self.counters[c as usize] {
            f.fail(key);
        }
    }

    /// Spends one request of `key`'s quota; `Err(wait)` when it is spent.
    pub(super) fn spend(&self, q: Quotas, key: &[u8; 32]) -> Result<(), Duration> {
        let Some(l) = &self.quotas[q as usize] else {
            return Ok(());
        };
        l.check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys that are back to a full quota, so the maps do not grow without bound.
    pub(super) fn shrink(&self) {
        for l in self.quotas.iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for c in self.counters.iter().flatten() {
            c.entries.run_pending_tasks();
        }
    }
}
