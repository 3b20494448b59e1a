//! The key ring: which keys are published, which one signs, rotation.

use std::sync::{Arc, RwLock};

use bytes::Bytes;
use idp_core::{Algorithm, JwkSet, VerificationKeys};

use crate::Error;
use crate::crypto::{EncryptionKey, SigningKey};
use crate::store::{SigningKeyRecord, Store};

/// One loaded key with its schedule.
#[derive(Debug)]
struct Loaded {
    key: Arc<SigningKey>,
    created_at: i64,
    activates_at: i64,
    /// When a newer key took over; a retired key signs only if nothing newer may.
    retired_at: Option<i64>,
    expires_at: Option<i64>,
}

/// An immutable view of the keys, swapped whole when keys change.
#[derive(Debug)]
pub(crate) struct KeySnapshot {
    loaded: Vec<Loaded>,
    /// The JWKS document, serialised once.
    pub(crate) jwks_json: Bytes,
    /// The published keys, ready to verify our own tokens (introspection, revocation).
    pub(crate) verification: VerificationKeys,
}

impl KeySnapshot {
    /// The key that signs `alg` tokens at `now`: the most recently activated one, a key
    /// not retired winning a tie (two rotations within one second).
    pub(crate) fn signer(&self, alg: Algorithm, now: i64) -> Option<Arc<SigningKey>> {
        self.signing(alg, now).map(|l| Arc::clone(&l.key))
    }

    /// When the key that signs `alg` tokens at `now` was created.
    pub(crate) fn signer_created_at(&self, alg: Algorithm, now: i64) -> Option<i64> {
        self.signing(alg, now).map(|l| l.created_at)
    }

    fn signing(&self, alg: Algorithm, now: i64) -> Option<&Loaded> {
        self.loaded
            .iter()
            .filter(|l| l.key.alg() == alg && l.activates_at <= now)
            .filter(|l| l.expires_at.is_none_or(|e| e > now))
            .max_by_key(|l| (l.activates_at, l.retired_at.is_none_or(|r| r > now)))
    }
}

/// Keeps the current [`KeySnapshot`] and changes keys in the store.
#[derive(Debug)]
pub(crate) struct KeyRing {
    current: RwLock<Arc<KeySnapshot>>,
    enc: EncryptionKey,
    /// Algorithms the provider signs with.
    algs: Vec<Algorithm>,
    /// How long a new key is published before it signs.
    publish_ahead: i64,
    /// How long a retired key stays published (the longest token lifetime plus leeway).
    retain_after_retire: i64,
}

impl KeyRing {
    pub(crate) fn new(
        enc: EncryptionKey,
        algs: Vec<Algorithm>,
        publish_ahead: i64,
        retain_after_retire: i64,
    ) -> Self {
        Self {
            current: RwLock::new(Arc::new(KeySnapshot {
                loaded: Vec::new(),
                jwks_json: Bytes::from_static(b"{\"keys\":[]}"),
                verification: VerificationKeys::default(),
            })),
            enc,
            algs,
            publish_ahead,
            retain_after_retire,
        }
    }

    /// The at-rest encryption key (also what seals two-factor secrets).
    pub(crate) fn encryption_key(&self) -> &EncryptionKey {
        &self.enc
    }

    pub(crate) fn snapshot(&self) -> Arc<KeySnapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reloads every unexpired key from the store.
    pub(crate) async fn reload(&self, store: &dyn Store, now: i64) -> Result<(), Error> {
        let records = store.list_keys().await?;
        let mut loaded = Vec::new();
        let mut published = Vec::new();
        for r in records {
            if r.expires_at.is_some_and(|e| e <= now) {
                continue;
            }
            let der = self.enc.open(r.kid.as_bytes(), &r.private_key_sealed)?;
            let key = SigningKey::from_pkcs8(&r.kid, r.alg, &der)?;
            published.push(key.public_jwk());
            loaded.push(Loaded {
                key: Arc::new(key),
                created_at: r.created_at,
                activates_at: r.activates_at,
                retired_at: r.retired_at,
                expires_at: r.expires_at,
            });
        }
        let set = JwkSet::new(published);
        let jwks_json =
            serde_json::to_vec(&set).map_err(|e| Error::Crypto(format!("JWKS encoding: {e}")))?;
        let snap = KeySnapshot {
            loaded,
            jwks_json: Bytes::from(jwks_json),
            verification: VerificationKeys::from_jwks(&set),
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
        Ok(())
    }

    async fn create(
        &self,
        store: &dyn Store,
        alg: Algorithm,
        now: i64,
        activates_at: i64,
    ) -> Result<SigningKeyRecord, Error> {
        let (key, der) = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
            .await
            .map_err(|_| Error::Crypto("key generation task failed".into()))??;
        let record = SigningKeyRecord {
            kid: key.kid().to_owned(),
            alg,
            private_key_sealed: self.enc.seal(key.kid().as_bytes(), &der)?,
            public_jwk: key.public_jwk(),
            created_at: now,
            activates_at,
            retired_at: None,
            expires_at: None,
        };
        store.insert_key(&record).await?;
        Ok(record)
    }

    /// Makes sure every algorithm has a key that is not retired; a missing one is created
    /// active at once (nothing can have cached a key set without it yet).
    pub(crate) async fn ensure(&self, store: &dyn Store, now: i64) -> Result<(), Error> {
        let records = store.list_keys().await?;
        for alg in &self.algs {
            let has = records
                .iter()
                .any(|r| r.alg == *alg && r.retired_at.is_none());
            if !has {
                self.create(store, *alg, now, now).await?;
            }
        }
        self.reload(store, now).await
    }

    /// Rotates every algorithm's key: the new key is published now and signs from
    /// `now + publish_ahead`; the old one stops signing then and leaves the key set once
    /// every token it signed has expired. Returns the new records.
    pub(crate) async fn rotate(
        &self,
        store: &dyn Store,
        now: i64,
    ) -> Result<Vec<SigningKeyRecord>, Error> {
        let records = store.list_keys().await?;
        let activates_at = now + self.publish_ahead;
        let mut created = Vec::new();
        for alg in &self.algs {
            let new = self.create(store, *alg, now, activates_at).await?;
            for old in records
                .iter()
                .filter(|r| r.alg == *alg && r.retired_at.is_none())
            {
                store
                    .retire_key(
                        &old.kid,
                        activates_at,
                        activates_at + self.retain_after_retire,
                    )
                    .await?;
            }
            created.push(new);
        }
        self.reload(store, now).await?;
        let kids: Vec<&str> = created.iter().map(|k| k.kid.as_str()).collect();
        tracing::info!(target: "idp::audit", event = "keys_rotated", kids = ?kids, activates_at, "signing keys rotated");
        Ok(created)
    }

    /// Rotates the algorithms whose newest key is older than `period`.
    pub(crate) async fn rotate_if_due(
        &self,
        store: &dyn Store,
        now: i64,
        period: i64,
    ) -> Result<bool, Error> {
        let records = store.list_keys().await?;
        let due = self.algs.iter().any(|alg| {
            records
                .iter()
                .filter(|r| r.alg == *alg)
                .map(|r| r.created_at)
                .max()
                .is_none_or(|newest| newest + period <= now)
        });
        if due {
            self.rotate(store, now).await?;
        }
        Ok(due)
    }
}
