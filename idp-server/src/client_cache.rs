//! Client records in memory, so that a `client_credentials` request does not read the
//! database: a short lifetime (`client_cache_ttl`, 5 s by default), bounded in size, and
//! invalidated at once by changes made through this process, and by changes other
//! processes announce through the store (PostgreSQL `LISTEN/NOTIFY`).
//!
//! Unknown client ids are remembered too (as `None`), so a flood of made-up ids does not
//! become a flood of queries; ids no client can have (longer than 128 bytes) never reach
//! the store at all.
//!
//! A read that was in flight while an invalidation happened is not cached (a generation
//! counter tells), so a client disabled at another replica is never put back in the cache
//! by a read that started before the change.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::{Client, ClientChange, Store, StoreError, Tenant};

/// The longest client id there can be (`manage` refuses longer ones).
const MAX_CLIENT_ID: usize = 128;
/// Clients (and unknown ids) remembered at once.
const CAPACITY: u64 = 10_000;

/// The cache; `None` inside when the lifetime is zero (no caching).
#[derive(Debug)]
pub(crate) struct ClientCache {
    cache: Option<moka::future::Cache<String, Option<Arc<Client>>>>,
    generation: AtomicU64,
}

impl ClientCache {
    /// A cache whose entries live `ttl` (zero: no cache, every lookup reads the store).
    pub(crate) fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build()
        });
        Self {
            cache,
            generation: AtomicU64::new(0),
        }
    }

    /// The client `id`, from memory or the store.
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        if id.len() > MAX_CLIENT_ID {
            return Ok(None);
        }
        let Some(cache) = &self.cache else {
            return Ok(store.get_client(id).await?.map(Arc::new));
        };
        if let Some(hit) = cache.get(id).await {
            return Ok(hit);
        }
        let before = self.generation.load(Ordering::Acquire);
        let read = store.get_client(id).await?.map(Arc::new);
        if self.generation.load(Ordering::Acquire) == before {
            cache.insert(id.to_owned(), read.clone()).await;
        }
        Ok(read)
    }

    /// Forgets client `id` (it changed).
    pub(crate) async fn invalidate(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.cache {
            cache.invalidate(id).await;
        }
    }

    /// Forgets every client (changes may have been missed).
    pub(crate) fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// Applies the changes other processes announce to this cache and to `tenants`, for as
    /// long as this cache lives.
    pub(crate) fn follow(
        self: &Arc<Self>,
        tenants: &Arc<TenantCache>,
        mut changes: tokio::sync::mpsc::Receiver<ClientChange>,
    ) {
        let weak = Arc::downgrade(self);
        let tenants = Arc::downgrade(tenants);
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                let (Some(cache), Some(tenants)) = (weak.upgrade(), tenants.upgrade()) else {
                    return;
                };
                match change {
                    ClientChange::Client(id) => cache.invalidate(&id).await,
                    ClientChange::Tenant(id) => tenants.invalidate(&id).await,
                    _ => {
                        cache.invalidate_all();
                        tenants.invalidate_all();
                    }
                }
            }
        });
    }

    /// Entries held now (for tests).
    #[cfg(test)]
    pub(crate) async fn len(&self) -> u64 {
        match &self.cache {
            Some(c) => {
                c.run_pending_tasks().await;
                c.entry_count()
            }
            None => 0,
        }
    }
}

/// Tenant records in memory, for the same reason and lifetime as clients: a tenant's client
/// asking for tokens must not cost a database read for its tenant's scopes. Changes made
/// through this process invalidate at once; other replicas are told through the store
/// (PostgreSQL), or see them within the lifetime.
#[derive(Debug)]
pub(crate) struct TenantCache {
    cache: Option<moka::future::Cache<String, Option<Arc<Tenant>>>>,
}

impl TenantCache {
    /// A cache whose entries live `ttl` (zero: no cache).
    pub(crate) fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build()
        });
        Self { cache }
    }

    /// The tenant `id`, from memory or the store (unknown ids are remembered too).
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Option<Arc<Tenant>>, StoreError> {
        let Some(cache) = &self.cache else {
            return Ok(store.get_tenant(id).await?.map(Arc::new));
        };
        if let Some(hit) = cache.get(id).await {
            return Ok(hit);
        }
        let found = store.get_tenant(id).await?.map(Arc::new);
        cache.insert(id.to_owned(), found.clone()).await;
        Ok(found)
    }

    /// Forgets `id` after a change.
    pub(crate) async fn invalidate(&self, id: &str) {
        if let Some(cache) = &self.cache {
            cache.invalidate(id).await;
        }
    }

    /// Forgets every tenant (announcements may have been missed).
    pub(crate) fn invalidate_all(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn hits_invalidations_unknown_ids_and_long_ids() {
        let store = MemoryStore::new();
        let cache = ClientCache::new(Duration::from_secs(60));
        assert!(cache.get(&store, "web").await.unwrap().is_none());
        store
            .insert_client(&Client::new("web", crate::store::AuthMethod::None, 1))
            .await
            .unwrap();
        // The unknown id was remembered; the insert went around the cache.
        assert!(cache.get(&store, "web").await.unwrap().is_none());
        cache.invalidate("web").await;
        let got = cache.get(&store, "web").await.unwrap().unwrap();
        assert!(got.active);
        // A change in the store is seen after the invalidation only.
        let mut disabled = Client::new("web", crate::store::AuthMethod::None, 1);
        disabled.active = false;
        store.update_client(&disabled).await.unwrap();
        assert!(cache.get(&store, "web").await.unwrap().unwrap().active);
        cache.invalidate_all();
        assert!(!cache.get(&store, "web").await.unwrap().unwrap().active);
        // Ids no client can have are not looked up, nor remembered.
        let long = "x".repeat(129);
        assert!(cache.get(&store, &long).await.unwrap().is_none());
        assert_eq!(cache.len().await, 1);
    }

    #[tokio::test]
    async fn a_zero_lifetime_reads_the_store_every_time() {
        let store = MemoryStore::new();
        let cache = ClientCache::new(Duration::ZERO);
        assert!(cache.get(&store, "web").await.unwrap().is_none());
        store
            .insert_client(&Client::new("web", crate::store::AuthMethod::None, 1))
            .await
            .unwrap();
        assert!(cache.get(&store, "web").await.unwrap().is_some());
    }
}
