//! A cache of client secrets verified recently, so that a client's secret costs one argon2
//! check, not one per request.

use std::time::Duration;

use aws_lc_rs::hmac;

/// Secrets verified recently, keyed by an HMAC (under a per-process random key) of client
/// id, secret and stored hash: a changed secret hash misses, and the cache holds no secret.
pub(crate) struct VerifiedSecrets {
    key: hmac::Key,
    cache: moka::sync::Cache<[u8; 32], ()>,
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
            cache: moka::sync::Cache::builder()
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

    /// Whether this tag was verified recently.
    pub(crate) fn contains(&self, tag: &[u8; 32]) -> bool {
        self.cache.contains_key(tag)
    }

    /// Remembers a verified tag.
    pub(crate) fn insert(&self, tag: [u8; 32]) {
        self.cache.insert(tag, ());
    }
}
