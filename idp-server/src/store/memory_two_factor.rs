//! [`TwoFactorStore`] for the [`MemoryStore`]: its own maps, behind their own lock.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{MemoryStore, PendingSignIn, StoreError, TwoFactorRecord, TwoFactorStore};

/// The two-factor state of a [`MemoryStore`].
#[derive(Debug, Default)]
pub(super) struct TwoFactorMaps {
    inner: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    enrolments: HashMap<String, TwoFactorRecord>,
    /// Per user: code hash → when it was used.
    backup_codes: HashMap<String, HashMap<String, Option<i64>>>,
    pending: HashMap<String, PendingSignIn>,
}

impl TwoFactorMaps {
    fn lock(&self) -> MutexGuard<'_, Maps> {
        // As for the main maps: a poisoned lock still holds consistent maps.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl TwoFactorStore for MemoryStore {
    async fn get_two_factor(&self, user_id: &str) -> Result<Option<TwoFactorRecord>, StoreError> {
        Ok(self.two_factor.lock().enrolments.get(user_id).cloned())
    }

    async fn begin_two_factor(&self, record: &TwoFactorRecord) -> Result<(), StoreError> {
        let mut g = self.two_factor.lock();
        if g.enrolments
            .get(&record.user_id)
            .is_some_and(TwoFactorRecord::is_enabled)
        {
            return Err(StoreError::Conflict("two-factor is already on".into()));
        }
        let mut rec = record.clone();
        rec.enabled_at = None;
        rec.last_step = None;
        g.enrolments.insert(rec.user_id.clone(), rec);
        Ok(())
    }

    async fn enable_two_factor(
        &self,
        user_id: &str,
        now: i64,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        let mut g = self.two_factor.lock();
        let Some(rec) = g.enrolments.get_mut(user_id).filter(|r| !r.is_enabled()) else {
            return Ok(false);
        };
        let mut codes = HashMap::new();
        for h in backup_hashes {
            if codes.insert(h.clone(), None).is_some() {
                return Err(StoreError::Conflict("backup code repeated".into()));
            }
        }
        rec.enabled_at = Some(now);
        rec.last_step = Some(step);
        g.backup_codes.insert(user_id.to_owned(), codes);
        Ok(true)
    }

    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let mut g = self.two_factor.lock();
        match g.enrolments.get_mut(user_id) {
            Some(rec) if rec.is_enabled() && rec.last_step.is_none_or(|last| last < step) => {
                rec.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn use_backup_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut g = self.two_factor.lock();
        let slot = g
            .backup_codes
            .get_mut(user_id)
            .and_then(|codes| codes.get_mut(code_hash));
        match slot {
            Some(used @ None) => {
                *used = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn backup_codes_left(&self, user_id: &str) -> Result<u64, StoreError> {
        let g = self.two_factor.lock();
        Ok(g.backup_codes
            .get(user_id)
            .map_or(0, |codes| codes.values().filter(|u| u.is_none()).count()) as u64)
    }

    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut g = self.two_factor.lock();
        g.backup_codes.remove(user_id);
        Ok(g.enrolments.remove(user_id).is_some())
    }

    async fn insert_pending_sign_in(&self, pending: &PendingSignIn) -> Result<(), StoreError> {
        let mut g = self.two_factor.lock();
        if g.pending.contains_key(&pending.pending_hash) {
            return Err(StoreError::Conflict("pending sign-in exists".into()));
        }
        g.pending
            .insert(pending.pending_hash.clone(), pending.clone());
        Ok(())
    }

    async fn attempt_pending_sign_in(
        &self,
        pending_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        let mut g = self.two_factor.lock();
        match g.pending.get_mut(pending_hash) {
            Some(p) if p.expires_at > now && p.attempts < max_attempts => {
                p.attempts += 1;
                Ok(Some(p.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn delete_pending_sign_in(&self, pending_hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .two_factor
            .lock()
            .pending
            .remove(pending_hash)
            .is_some())
    }

    async fn purge_pending_sign_ins(&self, now: i64) -> Result<u64, StoreError> {
        let mut g = self.two_factor.lock();
        let before = g.pending.len();
        g.pending.retain(|_, p| p.expires_at > now);
        Ok((before - g.pending.len()) as u64)
    }
}
