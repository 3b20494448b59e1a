//! A [`Store`] that times every operation of the store it wraps
//! (`idp_store_operation_duration_seconds`, `idp_store_errors_total`), so that every
//! backend is measured the same way. A method added to [`Store`] is added here too (the
//! build fails until it is).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::registry::Metrics;
use crate::store::{
    AccountTokenPurpose, AccountTokenRecord, AuthCodeRecord, Client, ClientChange, ConsentRecord,
    ConsumeOutcome, DeviceCodeRecord, DeviceDecision, DevicePoll, GrantRecord, GrantsOf,
    RefreshTokenRecord, SessionRecord, SigningKeyRecord, Store, StoreError, Tenant, User,
};
use crate::store::{PendingSignIn, TwoFactorRecord, TwoFactorStore};

/// Wraps a store; each call is timed and its failure counted under the method's name.
#[derive(Debug)]
pub(crate) struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    pub(crate) fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

macro_rules! timed {
    ($self:ident, $op:literal, $call:expr) => {{
        let start = Instant::now();
        let result = $call.await;
        $self
            .metrics
            .store_operation($op, start.elapsed(), result.is_ok());
        result
    }};
}

#[async_trait]
impl Store for TimedStore {
    async fn list_users_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        timed!(
            self,
            "list_users_after",
            self.inner.list_users_after(tenant_id, after, limit)
        )
    }

    async fn list_clients_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError> {
        timed!(
            self,
            "list_clients_after",
            self.inner.list_clients_after(tenant_id, after, limit)
        )
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        timed!(self, "insert_user", self.inner.insert_user(user))
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        timed!(self, "get_user", self.inner.get_user(id))
    }

    async fn find_user_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        timed!(
            self,
            "find_user_by_email",
            self.inner.find_user_by_email(tenant_id, email)
        )
    }

    async fn list_users(&self, tenant_id: Option<&str>) -> Result<Vec<User>, StoreError> {
        timed!(self, "list_users", self.inner.list_users(tenant_id))
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        timed!(self, "update_user", self.inner.update_user(user))
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        timed!(self, "delete_user", self.inner.delete_user(id))
    }

    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        timed!(self, "insert_client", self.inner.insert_client(client))
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        timed!(self, "get_client", self.inner.get_client(client_id))
    }

    async fn list_clients(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, StoreError> {
        timed!(self, "list_clients", self.inner.list_clients(tenant_id))
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        timed!(self, "update_client", self.inner.update_client(client))
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        timed!(self, "delete_client", self.inner.delete_client(client_id))
    }

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        timed!(self, "insert_tenant", self.inner.insert_tenant(tenant))
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        timed!(self, "get_tenant", self.inner.get_tenant(id))
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        timed!(self, "list_tenants", self.inner.list_tenants())
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        timed!(self, "update_tenant", self.inner.update_tenant(tenant))
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        timed!(self, "insert_key", self.inner.insert_key(key))
    }

    async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        timed!(self, "list_keys", self.inner.list_keys())
    }

    async fn retire_key(
        &self,
        kid: &str,
        retired_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        timed!(
            self,
            "retire_key",
            self.inner.retire_key(kid, retired_at, expires_at)
        )
    }

    async fn delete_expired_keys(&self, now: i64) -> Result<u64, StoreError> {
        timed!(
            self,
            "delete_expired_keys",
            self.inner.delete_expired_keys(now)
        )
    }

    async fn insert_code(&self, code: &AuthCodeRecord) -> Result<(), StoreError> {
        timed!(self, "insert_code", self.inner.insert_code(code))
    }

    async fn get_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>, StoreError> {
        timed!(self, "get_code", self.inner.get_code(code_hash))
    }

    async fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<ConsumeOutcome<AuthCodeRecord>, StoreError> {
        timed!(
            self,
            "consume_code",
            self.inner.consume_code(code_hash, now)
        )
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        timed!(
            self,
            "insert_refresh_token",
            self.inner.insert_refresh_token(token)
        )
    }

    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        timed!(
            self,
            "get_refresh_token",
            self.inner.get_refresh_token(token_hash)
        )
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError> {
        timed!(
            self,
            "rotate_refresh_token",
            self.inner.rotate_refresh_token(token_hash, successor, now)
        )
    }

    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        timed!(
            self,
            "revoke_refresh_family",
            self.inner.revoke_refresh_family(family_id, now)
        )
    }

    async fn insert_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        timed!(self, "insert_grant", self.inner.insert_grant(grant))
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        timed!(self, "get_grant", self.inner.get_grant(grant_id))
    }

    async fn grants(&self, which: GrantsOf<'_>, now: i64) -> Result<Vec<GrantRecord>, StoreError> {
        timed!(self, "grants", self.inner.grants(which, now))
    }

    async fn revoke_grants(&self, which: GrantsOf<'_>, now: i64) -> Result<u64, StoreError> {
        timed!(self, "revoke_grants", self.inner.revoke_grants(which, now))
    }

    async fn insert_device_code(&self, device: &DeviceCodeRecord) -> Result<(), StoreError> {
        timed!(
            self,
            "insert_device_code",
            self.inner.insert_device_code(device)
        )
    }

    async fn get_device_code(
        &self,
        device_code_hash: &str,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        timed!(
            self,
            "get_device_code",
            self.inner.get_device_code(device_code_hash)
        )
    }

    async fn find_pending_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        timed!(
            self,
            "find_pending_user_code",
            self.inner.find_pending_user_code(user_code, now)
        )
    }

    async fn decide_device_code(
        &self,
        user_code: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        timed!(
            self,
            "decide_device_code",
            self.inner.decide_device_code(user_code, decision, now)
        )
    }

    async fn poll_device_code(
        &self,
        device_code_hash: &str,
        now: i64,
    ) -> Result<DevicePoll, StoreError> {
        timed!(
            self,
            "poll_device_code",
            self.inner.poll_device_code(device_code_hash, now)
        )
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        timed!(self, "insert_session", self.inner.insert_session(session))
    }

    async fn get_session(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        timed!(
            self,
            "get_session",
            self.inner.get_session(session_hash, now)
        )
    }

    async fn delete_session(&self, session_hash: &str) -> Result<bool, StoreError> {
        timed!(
            self,
            "delete_session",
            self.inner.delete_session(session_hash)
        )
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        timed!(
            self,
            "delete_user_sessions",
            self.inner.delete_user_sessions(user_id)
        )
    }

    async fn list_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        timed!(
            self,
            "list_user_sessions",
            self.inner.list_user_sessions(user_id, now)
        )
    }

    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        timed!(
            self,
            "get_consent",
            self.inner.get_consent(user_id, client_id)
        )
    }

    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        timed!(self, "put_consent", self.inner.put_consent(consent))
    }

    async fn list_consents(&self, user_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        timed!(self, "list_consents", self.inner.list_consents(user_id))
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        timed!(
            self,
            "delete_consent",
            self.inner.delete_consent(user_id, client_id)
        )
    }

    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), StoreError> {
        timed!(
            self,
            "insert_account_token",
            self.inner.insert_account_token(token)
        )
    }

    async fn take_account_token(
        &self,
        token_hash: &str,
        purpose: AccountTokenPurpose,
        now: i64,
    ) -> Result<Option<AccountTokenRecord>, StoreError> {
        timed!(
            self,
            "take_account_token",
            self.inner.take_account_token(token_hash, purpose, now)
        )
    }

    async fn delete_account_tokens(
        &self,
        user_id: &str,
        purpose: AccountTokenPurpose,
    ) -> Result<u64, StoreError> {
        timed!(
            self,
            "delete_account_tokens",
            self.inner.delete_account_tokens(user_id, purpose)
        )
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        timed!(
            self,
            "revoke_access_token",
            self.inner.revoke_access_token(jti, expires_at)
        )
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        timed!(
            self,
            "is_access_token_revoked",
            self.inner.is_access_token_revoked(jti)
        )
    }

    async fn announce_client_change(&self, client_id: &str) -> Result<(), StoreError> {
        timed!(
            self,
            "announce_client_change",
            self.inner.announce_client_change(client_id)
        )
    }

    async fn announce_tenant_change(&self, tenant_id: &str) -> Result<(), StoreError> {
        timed!(
            self,
            "announce_tenant_change",
            self.inner.announce_tenant_change(tenant_id)
        )
    }

    async fn client_changes(&self) -> Option<tokio::sync::mpsc::Receiver<ClientChange>> {
        self.inner.client_changes().await
    }

    async fn probe_write(&self, now: i64) -> Result<(), StoreError> {
        timed!(self, "probe_write", self.inner.probe_write(now))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        timed!(self, "purge_expired", self.inner.purge_expired(now))
    }
}

#[async_trait]
impl TwoFactorStore for TimedStore {
    async fn get_two_factor(&self, user_id: &str) -> Result<Option<TwoFactorRecord>, StoreError> {
        timed!(self, "get_two_factor", self.inner.get_two_factor(user_id))
    }

    async fn begin_two_factor(&self, record: &TwoFactorRecord) -> Result<(), StoreError> {
        timed!(
            self,
            "begin_two_factor",
            self.inner.begin_two_factor(record)
        )
    }

    async fn enable_two_factor(
        &self,
        user_id: &str,
        now: i64,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "enable_two_factor",
            self.inner
                .enable_two_factor(user_id, now, step, backup_hashes)
        )
    }

    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        timed!(
            self,
            "use_totp_step",
            self.inner.use_totp_step(user_id, step)
        )
    }

    async fn use_backup_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "use_backup_code",
            self.inner.use_backup_code(user_id, code_hash, now)
        )
    }

    async fn backup_codes_left(&self, user_id: &str) -> Result<u64, StoreError> {
        timed!(
            self,
            "backup_codes_left",
            self.inner.backup_codes_left(user_id)
        )
    }

    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        timed!(
            self,
            "delete_two_factor",
            self.inner.delete_two_factor(user_id)
        )
    }

    async fn insert_pending_sign_in(&self, pending: &PendingSignIn) -> Result<(), StoreError> {
        timed!(
            self,
            "insert_pending_sign_in",
            self.inner.insert_pending_sign_in(pending)
        )
    }

    async fn attempt_pending_sign_in(
        &self,
        pending_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        timed!(
            self,
            "attempt_pending_sign_in",
            self.inner
                .attempt_pending_sign_in(pending_hash, now, max_attempts)
        )
    }

    async fn delete_pending_sign_in(&self, pending_hash: &str) -> Result<bool, StoreError> {
        timed!(
            self,
            "delete_pending_sign_in",
            self.inner.delete_pending_sign_in(pending_hash)
        )
    }

    async fn purge_pending_sign_ins(&self, now: i64) -> Result<u64, StoreError> {
        timed!(
            self,
            "purge_pending_sign_ins",
            self.inner.purge_pending_sign_ins(now)
        )
    }
}
