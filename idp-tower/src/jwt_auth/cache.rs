//! The verified-token cache: the claims of tokens that passed validation, keyed by the
//! SHA-256 of the whole compact token, so that a token seen again skips the header decode,
//! the key lookup, the signature check and the claims' deserialisation.
//!
//! What makes a hit safe:
//! - the key is the digest of every byte of the token (header, payload and signature): a
//!   token that differs in any byte is another key, and is validated from scratch;
//! - only successes are stored, so a failure is evaluated again on every request (the key
//!   set may have been refreshed meanwhile) and invalid tokens cannot fill the cache;
//! - an entry is never used at or after the token's `exp` (without leeway; the validator
//!   then decides, with its leeway), nor past the maximum TTL after it was stored, nor
//!   before the token's `nbf`: all three are checked against the layer's [`Clock`] on every
//!   hit. The entry's lifetime in moka (the same span, on moka's own timer) only frees
//!   memory;
//! - the layer's policy and claims type are fixed when it is built, and each layer has its
//!   own cache.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use idp_core::{AccessTokenClaims, Clock};
use moka::Expiry;
use sha2::{Digest, Sha256};

/// Default bound on the number of cached tokens.
pub(crate) const DEFAULT_MAX_ENTRIES: u64 = 10_000;
/// Default cap on how long a token stays cached, whatever its `exp`.
pub(crate) const DEFAULT_MAX_TTL: Duration = Duration::from_secs(5 * 60);

/// The SHA-256 of a compact token: what the cache is keyed by (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey([u8; 32]);

impl TokenKey {
    pub(crate) fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

struct Entry<C> {
    claims: AccessTokenClaims<C>,
    /// Unix time from which the entry is not used: the token's `exp`, or earlier by the
    /// maximum TTL.
    until: i64,
    /// How long the entry may stay in memory: `until − now` at insertion.
    ttl: Duration,
}

/// Gives every entry its own lifetime (see [`Entry::ttl`]).
struct EntryTtl;

impl<C> Expiry<TokenKey, Arc<Entry<C>>> for EntryTtl {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        entry: &Arc<Entry<C>>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &TokenKey,
        entry: &Arc<Entry<C>>,
        _updated_at: Instant,
        _until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The cache of one layer; see the module documentation for what makes a hit safe.
pub(crate) struct TokenCache<C> {
    entries: moka::sync::Cache<TokenKey, Arc<Entry<C>>>,
    clock: Arc<dyn Clock>,
    max_ttl: Duration,
}

impl<C> fmt::Debug for TokenCache<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("max_entries", &self.entries.policy().max_capacity())
            .field("max_ttl", &self.max_ttl)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl<C> TokenCache<C>
where
    C: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(max_entries: u64, max_ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryTtl)
                .build(),
            clock,
            max_ttl,
        }
    }

    /// The claims of a token validated before, if it is still within its `nbf`..`exp` and
    /// was stored less than the maximum TTL ago.
    pub(crate) fn get(&self, key: &TokenKey) -> Option<AccessTokenClaims<C>> {
        let entry = self.entries.get(key)?;
        let now = self.clock.unix_now();
        if now >= entry.until || entry.claims.nbf.is_some_and(|nbf| now < nbf) {
            // The token is validated again; the validator decides (with its leeway) and
            // stores it again if it is still valid.
            self.entries.invalidate(key);
            return None;
        }
        Some(entry.claims.clone())
    }

    /// Remembers the claims of a token that has just been validated, unless it expires
    /// within the second or is not yet valid (accepted within the leeway).
    pub(crate) fn insert(&self, key: TokenKey, claims: &AccessTokenClaims<C>) {
        let now = self.clock.unix_now();
        if claims.nbf.is_some_and(|nbf| now < nbf) {
            return;
        }
        let Some(left) = claims
            .exp
            .checked_sub(now)
            .and_then(|s| u64::try_from(s).ok())
            .filter(|&s| s > 0)
        else {
            return;
        };
        let ttl = Duration::from_secs(left).min(self.max_ttl);
        // `ttl` is at most `left`, an i64: the conversion back cannot fail.
        let until = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(0));
        let entry = Entry {
            claims: claims.clone(),
            until,
            ttl,
        };
        self.entries.insert(key, Arc::new(entry));
    }

    #[cfg(test)]
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    #[cfg(test)]
    pub(crate) fn max_entries(&self) -> Option<u64> {
        self.entries.policy().max_capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::{FixedClock, NoExtra};

    const T0: i64 = 1_800_000_000;

    fn claims(jti: &str, exp: i64, nbf: Option<i64>) -> AccessTokenClaims<NoExtra> {
        serde_json::from_value(serde_json::json!({
            "iss": "https://id.example.com", "sub": "user-1", "aud": "api",
            "exp": exp, "iat": T0, "nbf": nbf, "jti": jti, "client_id": "web",
        }))
        .unwrap()
    }

    fn cache(max_entries: u64) -> (TokenCache<NoExtra>, Arc<FixedClock>) {
        let clock = Arc::new(FixedClock::at_unix(T0));
        (
            TokenCache::new(max_entries, DEFAULT_MAX_TTL, clock.clone()),
            clock,
        )
    }

    #[test]
    fn the_key_is_the_digest_of_every_byte() {
        assert_eq!(TokenKey::of("a.b.c"), TokenKey::of("a.b.c"));
        assert!(TokenKey::of("a.b.c") != TokenKey::of("a.b.d"));
        assert!(TokenKey::of("a.b.c") != TokenKey::of("a.b.c "));
    }

    #[test]
    fn a_hit_gives_the_claims_until_exp() {
        let (cache, clock) = cache(10);
        let key = TokenKey::of("t");
        assert!(cache.get(&key).is_none());
        cache.insert(key, &claims("j1", T0 + 60, None));
        assert_eq!(cache.get(&key), Some(claims("j1", T0 + 60, None)));
        clock.advance(Duration::from_secs(59));
        assert!(cache.get(&key).is_some());
        clock.advance(Duration::from_secs(1)); // now == exp
        assert!(cache.get(&key).is_none());
        assert_eq!(
            cache.entry_count(),
            0,
            "an expired entry is dropped on sight"
        );
    }

    #[test]
    fn a_hit_comes_at_most_max_ttl_after_the_validation() {
        let clock = Arc::new(FixedClock::at_unix(T0));
        let cache = TokenCache::new(10, Duration::from_secs(60), clock.clone());
        let key = TokenKey::of("t");
        cache.insert(key, &claims("j1", T0 + 3600, None));
        clock.advance(Duration::from_secs(59));
        assert!(cache.get(&key).is_some());
        clock.advance(Duration::from_secs(1));
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_not_stored() {
        let (cache, clock) = cache(10);
        for (i, c) in [
            claims("past", T0 - 10, None),
            claims("now", T0, None),
            claims("future", T0 + 3600, Some(T0 + 30)),
        ]
        .iter()
        .enumerate()
        {
            let key = TokenKey::of(&i.to_string());
            cache.insert(key, c);
            assert!(cache.get(&key).is_none(), "{}", c.jti);
        }
        assert_eq!(cache.entry_count(), 0);
        // A token whose `nbf` has passed is stored; if the clock goes back before it, the
        // entry is not used.
        let key = TokenKey::of("nbf");
        cache.insert(key, &claims("nbf", T0 + 3600, Some(T0)));
        assert!(cache.get(&key).is_some());
        clock.set_unix(T0 - 1);
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn the_entry_count_is_bounded() {
        let (cache, _) = cache(8);
        for i in 0..200 {
            cache.insert(TokenKey::of(&i.to_string()), &claims("j", T0 + 3600, None));
        }
        let n = cache.entry_count();
        assert!(n <= 8, "{n} entries");
        assert_eq!(cache.max_entries(), Some(8));
    }

    #[test]
    fn entries_leave_memory_after_their_ttl() {
        // moka's own timer (the real clock) drives eviction from memory: a token with 1 s
        // left is gone after 1 s even though the injected clock stands still.
        let (cache, _) = cache(10);
        let key = TokenKey::of("short");
        cache.insert(key, &claims("short", T0 + 1, None));
        assert_eq!(cache.entry_count(), 1);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(cache.entry_count(), 0);
    }
}
