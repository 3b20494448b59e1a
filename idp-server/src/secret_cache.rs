//! A cache of client secrets verified recently, so that a client's secret costs one argon2
//! check, not one per request; concurrent checks of the same secret share one computation
//! (single flight), so a cold start under load hashes once.

use std::future::Future;
use std::time::Duration;

use aws_lc_rs::hmac;

/// Secrets verified recently, keyed by an HMAC (under a per-process random key) of client
/// id, secret and stored hash: a changed secret hash misses, and the cache holds no secret.
pub(crate) struct VerifiedSecrets {
    key: hmac::Key,
    cache: moka::future::Cache<[u8; 32], ()>,
}

impl std::fmt::Debug for VerifiedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedSecrets")
    }
}

impl VerifiedSecrets {
    pub(crate) fn new() -> Self {
        let mut k = [0u8; 32];
        // Without randomness the process cannot operate securely at all.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut k).expect("system random number generator failed");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &k),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    /// The cache key of a presented secret.
    pub(crate) fn tag(&self, client_id: &str, secret: &str, hash: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [client_id, secret, hash] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether the secret behind `tag` is right: from the cache, or from `verify`, which
    /// runs once for all concurrent callers with the same tag. Only a verified secret is
    /// remembered.
    pub(crate) async fn check<F, Fut>(&self, tag: [u8; 32], verify: F) -> Check
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Check>,
    {
        let init = async {
            match verify().await {
                Check::Verified => Ok(()),
                other => Err(other),
            }
        };
        match self.cache.try_get_with(tag, init).await {
            Ok(()) => Check::Verified,
            Err(outcome) => *outcome,
        }
    }
}

/// The outcome of a secret check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Verified,
    Wrong,
    /// The hashing budget had no turn free.
    Busy,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_checks_of_one_secret_compute_once() {
        let cache = Arc::new(VerifiedSecrets::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let tag = cache.tag("svc", "secret", "$argon2id$hash");
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (cache, runs) = (Arc::clone(&cache), Arc::clone(&runs));
                tokio::spawn(async move {
                    cache
                        .check(tag, || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Check::Verified
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Check::Verified);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn wrong_and_busy_are_not_remembered() {
        let cache = VerifiedSecrets::new();
        let tag = cache.tag("svc", "guess", "$argon2id$hash");
        assert_eq!(
            cache.check(tag, || async { Check::Wrong }).await,
            Check::Wrong
        );
        assert_eq!(
            cache.check(tag, || async { Check::Busy }).await,
            Check::Busy
        );
        assert_eq!(
            cache.check(tag, || async { Check::Verified }).await,
            Check::Verified
        );
        assert_eq!(
            cache.check(tag, || async { Check::Wrong }).await,
            Check::Verified
        );
    }
}
