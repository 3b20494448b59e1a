//! In-memory store, for tests and throwaway development servers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AccountTokenPurpose, AccountTokenRecord, AuthCodeRecord, Client, ConsentRecord, ConsumeOutcome,
    DeviceCodeRecord, DeviceDecision, DevicePoll, DeviceStatus, GrantRecord, GrantsOf,
    RefreshTokenRecord, SessionRecord, SigningKeyRecord, Store, StoreError, Tenant, User,
};

/// Up to `limit` of `items` (already in list order) after the one whose id is `after`.
fn page_after<T>(
    items: Vec<T>,
    after: Option<&str>,
    limit: u32,
    id: impl Fn(&T) -> &str,
) -> Vec<T> {
    let start = match after {
        None => 0,
        Some(a) => match items.iter().position(|t| id(t) == a) {
            Some(i) => i + 1,
            None => return Vec::new(),
        },
    };
    items
        .into_iter()
        .skip(start)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

#[derive(Debug, Default)]
struct Inner {
    users: Vec<User>,
    clients: Vec<Client>,
    tenants: std::collections::BTreeMap<String, Tenant>,
    keys: Vec<SigningKeyRecord>,
    codes: HashMap<String, AuthCodeRecord>,
    devices: HashMap<String, DeviceCodeRecord>,
    refresh: HashMap<String, RefreshTokenRecord>,
    grants: HashMap<String, GrantRecord>,
    sessions: HashMap<String, SessionRecord>,
    consents: HashMap<(String, String), ConsentRecord>,
    revoked: HashMap<String, i64>,
    account_tokens: HashMap<String, AccountTokenRecord>,
}

/// A [`Store`] that keeps everything in process memory; nothing survives a restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Enrolments, backup codes and pending sign-ins (`memory_two_factor.rs`).
    pub(super) two_factor: super::memory_two_factor::TwoFactorMaps,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the process's state, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn same_tenant(a: &Option<String>, b: Option<&str>) -> bool {
    a.as_deref() == b
}

fn email_taken(inner: &Inner, user: &User) -> bool {
    inner.users.iter().any(|u| {
        u.id != user.id
            && u.tenant_id == user.tenant_id
            && u.email.eq_ignore_ascii_case(&user.email)
    })
}

/// Whether `g` is one of the grants `which` selects.
fn selects(which: GrantsOf<'_>, g: &GrantRecord) -> bool {
    match which {
        GrantsOf::Grant(id) => g.grant_id == id,
        GrantsOf::User(id) => g.user_id == id,
        GrantsOf::Client(id) => g.client_id == id,
        GrantsOf::Session(sid) => g.session_id.as_deref() == Some(sid),
        GrantsOf::SessionOnline(sid) => g.session_id.as_deref() == Some(sid) && !g.offline,
    }
}

fn sorted<T: Clone>(mut v: Vec<T>, key: impl Fn(&T) -> (i64, String)) -> Vec<T> {
    v.sort_by_key(|x| key(x));
    v
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.users.iter().any(|u| u.id == user.id) {
            return Err(StoreError::Conflict("user id already exists".into()));
        }
        if email_taken(&g, user) {
            return Err(StoreError::Conflict("email already registered".into()));
        }
        g.users.push(user.clone());
        Ok(())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.iter().find(|u| u.id == id).cloned())
    }

    async fn find_user_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        Ok(self
            .lock()
            .users
            .iter()
            .find(|u| same_tenant(&u.tenant_id, tenant_id) && u.email.eq_ignore_ascii_case(email))
            .cloned())
    }

    async fn list_users(&self, tenant_id: Option<&str>) -> Result<Vec<User>, StoreError> {
        let users = self
            .lock()
            .users
            .iter()
            .filter(|u| tenant_id.is_none() || same_tenant(&u.tenant_id, tenant_id))
            .cloned()
            .collect();
        Ok(sorted(users, |u: &User| (u.created_at, u.id.clone())))
    }

    async fn list_users_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let all = self.list_users(tenant_id).await?;
        Ok(page_after(all, after, limit, |u| &u.id))
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.users.iter().any(|u| u.id == user.id) {
            return Err(StoreError::NotFound);
        }
        if email_taken(&g, user) {
            return Err(StoreError::Conflict("email already registered".into()));
        }
        if let Some(slot) = g.users.iter_mut().find(|u| u.id == user.id) {
            *slot = user.clone();
        }
        Ok(())
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.users.len();
        g.users.retain(|u| u.id != id);
        Ok(g.users.len() != before)
    }

    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.clients.iter().any(|c| c.client_id == client.client_id) {
            return Err(StoreError::Conflict("client_id already exists".into()));
        }
        g.clients.push(client.clone());
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        Ok(self
            .lock()
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned())
    }

    async fn list_clients(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, StoreError> {
        let clients = self
            .lock()
            .clients
            .iter()
            .filter(|c| tenant_id.is_none() || same_tenant(&c.tenant_id, tenant_id))
            .cloned()
            .collect();
        Ok(sorted(clients, |c: &Client| {
            (c.created_at, c.client_id.clone())
        }))
    }

    async fn list_clients_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError> {
        let all = self.list_clients(tenant_id).await?;
        Ok(page_after(all, after, limit, |c| &c.client_id))
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut g = self.lock();
        let slot = g
            .clients
            .iter_mut()
            .find(|c| c.client_id == client.client_id)
            .ok_or(StoreError::NotFound)?;
        *slot = client.clone();
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.clients.len();
        g.clients.retain(|c| c.client_id != client_id);
        Ok(g.clients.len() != before)
    }

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.tenants.contains_key(&tenant.id) {
            return Err(StoreError::Conflict("tenant id already exists".into()));
        }
        g.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut g = self.lock();
        let slot = g.tenants.get_mut(&tenant.id).ok_or(StoreError::NotFound)?;
        *slot = tenant.clone();
        Ok(())
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.keys.iter().any(|k| k.kid == key.kid) {
            return Err(StoreError::Conflict("kid already exists".into()));
        }
        g.keys.push(key.clone());
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let keys = self.lock().keys.clone();
        Ok(sorted(keys, |k: &SigningKeyRecord| {
            (k.created_at, k.kid.clone())
        }))
    }

    async fn retire_key(
        &self,
        kid: &str,
        retired_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let k = g
            .keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or(StoreError::NotFound)?;
        k.retired_at = Some(retired_at);
        k.expires_at = Some(expires_at);
        Ok(())
    }

    async fn delete_expired_keys(&self, now: i64) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let before = g.keys.len();
        g.keys.retain(|k| k.expires_at.is_none_or(|e| e >= now));
        Ok((before - g.keys.len()) as u64)
    }

    async fn insert_code(&self, code: &AuthCodeRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Conflict("code exists".into()));
        }
        g.codes.insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    async fn get_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>, StoreError> {
        Ok(self.lock().codes.get(code_hash).cloned())
    }

    async fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<ConsumeOutcome<AuthCodeRecord>, StoreError> {
        let mut g = self.lock();
        let Some(c) = g.codes.get_mut(code_hash) else {
            return Ok(ConsumeOutcome::NotFound);
        };
        if c.consumed_at.is_some() {
            return Ok(ConsumeOutcome::AlreadyUsed(c.clone()));
        }
        if c.expires_at <= now {
            return Ok(ConsumeOutcome::NotFound);
        }
        c.consumed_at = Some(now);
        Ok(ConsumeOutcome::Consumed(c.clone()))
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.refresh.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict("refresh token exists".into()));
        }
        g.refresh.insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.lock().refresh.get(token_hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError> {
        let mut g = self.lock();
        if g.refresh.contains_key(&successor.token_hash) {
            return Err(StoreError::Conflict("refresh token exists".into()));
        }
        // The grant first, as the SQL stores do: a revoked, expired or missing grant
        // refreshes nothing.
        let family = successor.family_id.as_str();
        if !g.grants.get(family).is_some_and(|gr| gr.is_live(now)) {
            return Ok(ConsumeOutcome::NotFound);
        }
        let Some(t) = g.refresh.get_mut(token_hash) else {
            return Ok(ConsumeOutcome::NotFound);
        };
        if t.rotated_at.is_some() || t.revoked_at.is_some() {
            return Ok(ConsumeOutcome::AlreadyUsed(t.clone()));
        }
        if t.expires_at <= now {
            return Ok(ConsumeOutcome::NotFound);
        }
        t.rotated_at = Some(now);
        let old = t.clone();
        g.refresh
            .insert(successor.token_hash.clone(), successor.clone());
        if let Some(grant) = g.grants.get_mut(family) {
            grant.expires_at = grant.expires_at.max(successor.expires_at);
        }
        Ok(ConsumeOutcome::Consumed(old))
    }

    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let mut n = 0;
        for t in g.refresh.values_mut() {
            if t.family_id == family_id && t.revoked_at.is_none() {
                t.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn insert_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.grants.contains_key(&grant.grant_id) {
            return Err(StoreError::Conflict("grant exists".into()));
        }
        g.grants.insert(grant.grant_id.clone(), grant.clone());
        Ok(())
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        Ok(self.lock().grants.get(grant_id).cloned())
    }

    async fn grants(&self, which: GrantsOf<'_>, now: i64) -> Result<Vec<GrantRecord>, StoreError> {
        let live: Vec<GrantRecord> = self
            .lock()
            .grants
            .values()
            .filter(|g| selects(which, g) && g.is_live(now))
            .cloned()
            .collect();
        Ok(sorted(live, |g: &GrantRecord| {
            (g.created_at, g.grant_id.clone())
        }))
    }

    async fn revoke_grants(&self, which: GrantsOf<'_>, now: i64) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let Inner {
            grants,
            refresh,
            codes,
            ..
        } = &mut *g;
        let mut revoked = 0;
        let mut ids = std::collections::HashSet::new();
        for grant in grants.values_mut().filter(|g| selects(which, g)) {
            ids.insert(grant.grant_id.clone());
            if grant.revoked_at.is_none() {
                grant.revoked_at = Some(now);
                revoked += 1;
            }
        }
        for t in refresh.values_mut() {
            if ids.contains(&t.family_id) && t.revoked_at.is_none() {
                t.revoked_at = Some(now);
            }
        }
        for c in codes.values_mut() {
            if ids.contains(&c.grant_id) && c.consumed_at.is_none() {
                c.consumed_at = Some(now);
            }
        }
        Ok(revoked)
    }

    async fn insert_device_code(&self, device: &DeviceCodeRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.devices.contains_key(&device.device_code_hash)
            || g.devices.values().any(|d| d.user_code == device.user_code)
        {
            return Err(StoreError::Conflict("device code exists".into()));
        }
        g.devices
            .insert(device.device_code_hash.clone(), device.clone());
        Ok(())
    }

    async fn get_device_code(
        &self,
        device_code_hash: &str,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        Ok(self.lock().devices.get(device_code_hash).cloned())
    }

    async fn find_pending_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        Ok(self
            .lock()
            .devices
            .values()
            .find(|d| {
                d.user_code == user_code && d.status == DeviceStatus::Pending && d.expires_at > now
            })
            .cloned())
    }

    async fn decide_device_code(
        &self,
        user_code: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError> {
        if decision.status == DeviceStatus::Pending {
            return Ok(None);
        }
        let mut g = self.lock();
        let Some(d) = g.devices.values_mut().find(|d| {
            d.user_code == user_code && d.status == DeviceStatus::Pending && d.expires_at > now
        }) else {
            return Ok(None);
        };
        d.status = decision.status;
        d.user_id = Some(decision.user_id.clone());
        d.grant_id = decision.grant_id.clone();
        d.granted_scope = decision.granted_scope.clone();
        d.session_id = decision.session_id.clone();
        d.auth_time = decision.auth_time;
        d.decided_at = Some(now);
        Ok(Some(d.clone()))
    }

    async fn poll_device_code(
        &self,
        device_code_hash: &str,
        now: i64,
    ) -> Result<DevicePoll, StoreError> {
        let mut g = self.lock();
        let Some(d) = g.devices.get_mut(device_code_hash) else {
            return Ok(DevicePoll::NotFound);
        };
        if d.consumed_at.is_some() {
            return Ok(DevicePoll::AlreadyUsed(d.clone()));
        }
        if d.expires_at <= now {
            return Ok(DevicePoll::Expired(d.clone()));
        }
        if d.last_polled_at.is_some_and(|t| now < t + d.interval) {
            d.interval += 5;
            d.last_polled_at = Some(now);
            return Ok(DevicePoll::SlowDown(d.clone()));
        }
        d.last_polled_at = Some(now);
        Ok(match d.status {
            DeviceStatus::Pending => DevicePoll::Pending(d.clone()),
            DeviceStatus::Denied => DevicePoll::Denied(d.clone()),
            DeviceStatus::Approved => {
                d.consumed_at = Some(now);
                DevicePoll::Consumed(d.clone())
            }
        })
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.sessions.contains_key(&session.session_hash) {
            return Err(StoreError::Conflict("session exists".into()));
        }
        g.sessions
            .insert(session.session_hash.clone(), session.clone());
        Ok(())
    }

    async fn get_session(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .sessions
            .get(session_hash)
            .filter(|s| s.expires_at > now)
            .cloned())
    }

    async fn delete_session(&self, session_hash: &str) -> Result<bool, StoreError> {
        Ok(self.lock().sessions.remove(session_hash).is_some())
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut g = self.lock();
        let mut gone = Vec::new();
        g.sessions.retain(|_, s| {
            let mine = s.user_id == user_id;
            if mine {
                gone.push(s.clone());
            }
            !mine
        });
        Ok(gone)
    }

    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.account_tokens.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict("account token already exists".into()));
        }
        g.account_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn take_account_token(
        &self,
        token_hash: &str,
        purpose: AccountTokenPurpose,
        now: i64,
    ) -> Result<Option<AccountTokenRecord>, StoreError> {
        let mut g = self.lock();
        match g.account_tokens.get(token_hash) {
            Some(t) if t.purpose == purpose && t.expires_at > now => {
                Ok(g.account_tokens.remove(token_hash))
            }
            _ => Ok(None),
        }
    }

    async fn delete_account_tokens(
        &self,
        user_id: &str,
        purpose: AccountTokenPurpose,
    ) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let before = g.account_tokens.len();
        g.account_tokens
            .retain(|_, t| !(t.user_id == user_id && t.purpose == purpose));
        Ok((before - g.account_tokens.len()) as u64)
    }

    async fn list_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut out: Vec<SessionRecord> = self
            .lock()
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.expires_at > now)
            .cloned()
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.sid.cmp(&b.sid)));
        Ok(out)
    }

    async fn list_consents(&self, user_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let mut out: Vec<ConsentRecord> = self
            .lock()
            .consents
            .values()
            .filter(|c| c.user_id == user_id)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.granted_at
                .cmp(&a.granted_at)
                .then(a.client_id.cmp(&b.client_id))
        });
        Ok(out)
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .consents
            .remove(&(user_id.to_owned(), client_id.to_owned()))
            .is_some())
    }

    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        Ok(self
            .lock()
            .consents
            .get(&(user_id.to_owned(), client_id.to_owned()))
            .cloned())
    }

    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        self.lock().consents.insert(
            (consent.user_id.clone(), consent.client_id.clone()),
            consent.clone(),
        );
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        self.lock().revoked.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self.lock().revoked.contains_key(jti))
    }

    async fn probe_write(&self, _now: i64) -> Result<(), StoreError> {
        drop(self.lock());
        Ok(())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let count = |g: &Inner| {
            g.codes.len()
                + g.devices.len()
                + g.refresh.len()
                + g.grants.len()
                + g.sessions.len()
                + g.revoked.len()
                + g.account_tokens.len()
        };
        let before = count(&g);
        g.codes.retain(|_, c| c.expires_at > now);
        g.devices.retain(|_, d| d.expires_at > now);
        g.refresh.retain(|_, t| t.expires_at > now);
        g.grants.retain(|_, t| t.expires_at > now);
        g.sessions.retain(|_, s| s.expires_at > now);
        g.revoked.retain(|_, exp| *exp > now);
        g.account_tokens.retain(|_, t| t.expires_at > now);
        Ok((before - count(&g)) as u64)
    }
}
