//! The one implementation of [`Store`](crate::store::Store) for the SQL databases, as a macro
//! that each dialect module expands for its own database.

/// Implements [`Store`](crate::store::Store) for `$store` (a struct with a `pool` field of
/// `sqlx::Pool<$db>` that implements [`Dialect`](super::Dialect)), whose rows are `$row`.
/// Everything lands in a module `shared` beside the invocation.
///
/// Keys that the dialect cannot store (see [`Dialect::storable`](super::Dialect::storable))
/// are answered without asking the database: a lookup finds nothing, an update or a
/// retirement is `NotFound`. Writing such a value is left to the database to refuse.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty) => {
        /// The shared SQL implementation of [`Store`], expanded for this database.
        mod shared {
            use std::str::FromStr;

            use async_trait::async_trait;
            use idp_core::{Algorithm, GrantType, Jwk, Scope};
            use serde::de::DeserializeOwned;
            use sqlx::Row;

            use super::$store;
            use $crate::store::sql::{self, Dialect, backend, conflict_or_backend, to_json};
            use $crate::store::{
                AccountTokenPurpose, AccountTokenRecord, AuthCodeRecord, AuthMethod, Client,
                ConsentRecord, ConsumeOutcome, DeviceCodeRecord, DeviceDecision, DevicePoll,
                DeviceStatus, GrantRecord, GrantsOf, RefreshTokenRecord, SecretHash, SessionRecord,
                SigningKeyRecord, Store, StoreError, Tenant, User,
            };

            $crate::store::sql::rows::row_decoders!($row, $db);

            $crate::store::sql::helpers::sql_helpers!($store, $db, $row);

            #[async_trait]
            impl Store for $store {
                async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
                    bind_user(sql::INSERT_USER, user)?
                        .execute(&self.pool)
                        .await
                        .map_err(sql::user_write_error::<Self>)?;
                    Ok(())
                }

                async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
                    if !Self::storable(id) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::USER_BY_ID).bind(id);
                    self.optional(query, user_from_row).await
                }

                async fn find_user_by_email(
                    &self,
                    tenant_id: Option<&str>,
                    email: &str,
                ) -> Result<Option<User>, StoreError> {
                    if !Self::storable(email) || !tenant_id.is_none_or(Self::storable) {
                        return Ok(None);
                    }
                    let query = match tenant_id {
                        Some(t) => sqlx::query(Self::FIND_USER_IN_TENANT).bind(t).bind(email),
                        None => sqlx::query(Self::FIND_USER_NO_TENANT).bind(email),
                    };
                    self.optional(query, user_from_row).await
                }

                async fn list_users(
                    &self,
                    tenant_id: Option<&str>,
                ) -> Result<Vec<User>, StoreError> {
                    let query = match tenant_id {
                        Some(t) if !Self::storable(t) => return Ok(Vec::new()),
                        Some(t) => sqlx::query(sql::USERS_OF_TENANT).bind(t),
                        None => sqlx::query(sql::ALL_USERS),
                    };
                    self.all(query, user_from_row).await
                }

                async fn list_users_after(
                    &self,
                    tenant_id: Option<&str>,
                    after: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<User>, StoreError> {
                    let limit = i64::from(limit);
                    if tenant_id.is_some_and(|t| !Self::storable(t))
                        || after.is_some_and(|a| !Self::storable(a))
                    {
                        return Ok(Vec::new());
                    }
                    let query = match (tenant_id, after) {
                        (None, None) => sqlx::query(sql::USERS_FIRST).bind(limit),
                        (None, Some(a)) => sqlx::query(sql::USERS_AFTER).bind(a).bind(limit),
                        (Some(t), None) => sqlx::query(sql::TENANT_USERS_FIRST).bind(t).bind(limit),
                        (Some(t), Some(a)) => sqlx::query(sql::TENANT_USERS_AFTER)
                            .bind(t)
                            .bind(a)
                            .bind(limit),
                    };
                    self.all(query, user_from_row).await
                }

                async fn update_user(&self, user: &User) -> Result<(), StoreError> {
                    if !Self::storable(&user.id) {
                        return Err(StoreError::NotFound);
                    }
                    let done = bind_user(sql::UPDATE_USER, user)?
                        .execute(&self.pool)
                        .await
                        .map_err(sql::user_write_error::<Self>)?;
                    match done.rows_affected() {
                        0 => Err(StoreError::NotFound),
                        _ => Ok(()),
                    }
                }

                async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
                    if !Self::storable(id) {
                        return Ok(false);
                    }
                    Ok(self
                        .affected(sqlx::query(sql::DELETE_USER).bind(id))
                        .await?
                        > 0)
                }

                async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
                    let query = bind_client(sql::INSERT_CLIENT, client)?;
                    self.insert(query, "client_id already exists").await
                }

                async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
                    if !Self::storable(client_id) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::CLIENT_BY_ID).bind(client_id);
                    self.optional(query, client_from_row).await
                }

                async fn list_clients(
                    &self,
                    tenant_id: Option<&str>,
                ) -> Result<Vec<Client>, StoreError> {
                    let query = match tenant_id {
                        Some(t) if !Self::storable(t) => return Ok(Vec::new()),
                        Some(t) => sqlx::query(sql::CLIENTS_OF_TENANT).bind(t),
                        None => sqlx::query(sql::ALL_CLIENTS),
                    };
                    self.all(query, client_from_row).await
                }

                async fn list_clients_after(
                    &self,
                    tenant_id: Option<&str>,
                    after: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<Client>, StoreError> {
                    let limit = i64::from(limit);
                    if tenant_id.is_some_and(|t| !Self::storable(t))
                        || after.is_some_and(|a| !Self::storable(a))
                    {
                        return Ok(Vec::new());
                    }
                    let query = match (tenant_id, after) {
                        (None, None) => sqlx::query(sql::CLIENTS_FIRST).bind(limit),
                        (None, Some(a)) => sqlx::query(sql::CLIENTS_AFTER).bind(a).bind(limit),
                        (Some(t), None) => {
                            sqlx::query(sql::TENANT_CLIENTS_FIRST).bind(t).bind(limit)
                        }
                        (Some(t), Some(a)) => sqlx::query(sql::TENANT_CLIENTS_AFTER)
                            .bind(t)
                            .bind(a)
                            .bind(limit),
                    };
                    self.all(query, client_from_row).await
                }

                async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
                    if !Self::storable(&client.client_id) {
                        return Err(StoreError::NotFound);
                    }
                    self.update_one(bind_client(sql::UPDATE_CLIENT, client)?)
                        .await
                }

                async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
                    if !Self::storable(client_id) {
                        return Ok(false);
                    }
                    let query = sqlx::query(sql::DELETE_CLIENT).bind(client_id);
                    Ok(self.affected(query).await? > 0)
                }

                async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
                    let query = bind_tenant(sql::INSERT_TENANT, tenant);
                    self.insert(query, "tenant id already exists").await
                }

                async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
                    if !Self::storable(id) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::TENANT_BY_ID).bind(id);
                    self.optional(query, tenant_from_row).await
                }

                async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
                    self.all(sqlx::query(sql::ALL_TENANTS), tenant_from_row)
                        .await
                }

                async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
                    if !Self::storable(&tenant.id) {
                        return Err(StoreError::NotFound);
                    }
                    self.update_one(bind_tenant(sql::UPDATE_TENANT, tenant))
                        .await
                }

                async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_KEY)
                        .bind(key.kid.as_str())
                        .bind(key.alg.as_str())
                        .bind(key.private_key_sealed.as_slice())
                        .bind(to_json(&key.public_jwk, "public JWK")?)
                        .bind(key.created_at)
                        .bind(key.activates_at)
                        .bind(key.retired_at)
                        .bind(key.expires_at);
                    self.insert(query, "kid already exists").await
                }

                async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    self.all(sqlx::query(sql::ALL_KEYS), key_from_row).await
                }

                async fn retire_key(
                    &self,
                    kid: &str,
                    retired_at: i64,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    if !Self::storable(kid) {
                        return Err(StoreError::NotFound);
                    }
                    let query = sqlx::query(sql::RETIRE_KEY)
                        .bind(kid)
                        .bind(retired_at)
                        .bind(expires_at);
                    self.update_one(query).await
                }

                async fn delete_expired_keys(&self, now: i64) -> Result<u64, StoreError> {
                    self.affected(sqlx::query(sql::DELETE_EXPIRED_KEYS).bind(now))
                        .await
                }

                async fn insert_code(&self, code: &AuthCodeRecord) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_CODE)
                        .bind(code.code_hash.as_str())
                        .bind(code.client_id.as_str())
                        .bind(code.user_id.as_str())
                        .bind(code.redirect_uri.as_str())
                        .bind(code.scope.to_string())
                        .bind(code.nonce.as_deref())
                        .bind(code.code_challenge.as_deref())
                        .bind(code.auth_time)
                        .bind(code.session_id.as_deref())
                        .bind(code.grant_id.as_str())
                        .bind(code.created_at)
                        .bind(code.expires_at)
                        .bind(code.consumed_at);
                    self.insert(query, "code exists").await
                }

                async fn get_code(
                    &self,
                    code_hash: &str,
                ) -> Result<Option<AuthCodeRecord>, StoreError> {
                    if !Self::storable(code_hash) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::CODE_BY_HASH).bind(code_hash);
                    self.optional(query, code_from_row).await
                }

                async fn consume_code(
                    &self,
                    code_hash: &str,
                    now: i64,
                ) -> Result<ConsumeOutcome<AuthCodeRecord>, StoreError> {
                    if !Self::storable(code_hash) {
                        return Ok(ConsumeOutcome::NotFound);
                    }
                    // The conditional UPDATE is the whole decision: of concurrent callers,
                    // exactly one sees a row come back.
                    let query = sqlx::query(sql::CONSUME_CODE).bind(code_hash).bind(now);
                    if let Some(code) = self.optional(query, code_from_row).await? {
                        return Ok(ConsumeOutcome::Consumed(code));
                    }
                    // Nothing was updated: tell a replay from an unknown or expired code.
                    // `consumed_at` never goes back to NULL, so this read cannot contradict
                    // the UPDATE.
                    let query = sqlx::query(sql::CODE_BY_HASH).bind(code_hash);
                    match self.optional(query, code_from_row).await? {
                        Some(code) if code.consumed_at.is_some() => {
                            Ok(ConsumeOutcome::AlreadyUsed(code))
                        }
                        _ => Ok(ConsumeOutcome::NotFound),
                    }
                }

                async fn insert_refresh_token(
                    &self,
                    token: &RefreshTokenRecord,
                ) -> Result<(), StoreError> {
                    self.insert(bind_refresh(token)?, "refresh token exists")
                        .await
                }

                async fn get_refresh_token(
                    &self,
                    token_hash: &str,
                ) -> Result<Option<RefreshTokenRecord>, StoreError> {
                    if !Self::storable(token_hash) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::REFRESH_BY_HASH).bind(token_hash);
                    self.optional(query, refresh_from_row).await
                }

                async fn rotate_refresh_token(
                    &self,
                    token_hash: &str,
                    successor: &RefreshTokenRecord,
                    now: i64,
                ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError> {
                    if !Self::storable(token_hash) {
                        return Ok(ConsumeOutcome::NotFound);
                    }
                    // One write transaction on one connection; when it fails, the connection
                    // is made clean again before it goes back to the pool.
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    let result = rotate_on(&mut conn, token_hash, successor, now).await;
                    if result.is_err() {
                        $store::heal(&mut conn).await;
                    }
                    result
                }

                async fn revoke_refresh_family(
                    &self,
                    family_id: &str,
                    now: i64,
                ) -> Result<u64, StoreError> {
                    if !Self::storable(family_id) {
                        return Ok(0);
                    }
                    let query = sqlx::query(sql::REVOKE_FAMILY).bind(family_id).bind(now);
                    self.affected(query).await
                }

                async fn insert_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_GRANT)
                        .bind(grant.grant_id.as_str())
                        .bind(grant.client_id.as_str())
                        .bind(grant.user_id.as_str())
                        .bind(grant.tenant_id.as_deref())
                        .bind(grant.session_id.as_deref())
                        .bind(grant.offline)
                        .bind(grant.created_at)
                        .bind(grant.expires_at)
                        .bind(grant.revoked_at)
                        .bind(grant.amr.join(" "));
                    self.insert(query, "grant exists").await
                }

                async fn get_grant(
                    &self,
                    grant_id: &str,
                ) -> Result<Option<GrantRecord>, StoreError> {
                    if !Self::storable(grant_id) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::GRANT_BY_ID).bind(grant_id);
                    self.optional(query, grant_from_row).await
                }

                async fn grants(
                    &self,
                    which: GrantsOf<'_>,
                    now: i64,
                ) -> Result<Vec<GrantRecord>, StoreError> {
                    let (statements, key) = sql::grant_statements(which);
                    if !Self::storable(key) {
                        return Ok(Vec::new());
                    }
                    let query = sqlx::query(statements.live).bind(key.to_owned()).bind(now);
                    self.all(query, grant_from_row).await
                }

                async fn revoke_grants(
                    &self,
                    which: GrantsOf<'_>,
                    now: i64,
                ) -> Result<u64, StoreError> {
                    let (statements, key) = sql::grant_statements(which);
                    if !Self::storable(key) {
                        return Ok(0);
                    }
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    let result = revoke_on(&mut conn, &statements, key, now).await;
                    if result.is_err() {
                        $store::heal(&mut conn).await;
                    }
                    result
                }

                async fn insert_device_code(
                    &self,
                    device: &DeviceCodeRecord,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_DEVICE)
                        .bind(device.device_code_hash.as_str())
                        .bind(device.user_code.as_str())
                        .bind(device.client_id.as_str())
                        .bind(device.scope.to_string())
                        .bind(device.created_at)
                        .bind(device.expires_at)
                        .bind(device.interval)
                        .bind(device.last_polled_at)
                        .bind(device.status.as_str())
                        .bind(device.user_id.as_deref())
                        .bind(device.grant_id.as_deref())
                        .bind(device.granted_scope.as_ref().map(Scope::to_string))
                        .bind(device.session_id.as_deref())
                        .bind(device.auth_time)
                        .bind(device.decided_at)
                        .bind(device.consumed_at);
                    self.insert(query, "device code exists").await
                }

                async fn get_device_code(
                    &self,
                    device_code_hash: &str,
                ) -> Result<Option<DeviceCodeRecord>, StoreError> {
                    if !Self::storable(device_code_hash) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::DEVICE_BY_HASH).bind(device_code_hash);
                    self.optional(query, device_from_row).await
                }

                async fn find_pending_user_code(
                    &self,
                    user_code: &str,
                    now: i64,
                ) -> Result<Option<DeviceCodeRecord>, StoreError> {
                    if !Self::storable(user_code) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::PENDING_USER_CODE)
                        .bind(user_code)
                        .bind(now);
                    self.optional(query, device_from_row).await
                }

                async fn decide_device_code(
                    &self,
                    user_code: &str,
                    decision: &DeviceDecision,
                    now: i64,
                ) -> Result<Option<DeviceCodeRecord>, StoreError> {
                    if !Self::storable(user_code) || decision.status == DeviceStatus::Pending {
                        return Ok(None);
                    }
                    // The conditional UPDATE is the whole decision: of concurrent deciders,
                    // exactly one sees the row come back.
                    let query = sqlx::query(sql::DECIDE_DEVICE)
                        .bind(user_code)
                        .bind(now)
                        .bind(decision.status.as_str())
                        .bind(decision.user_id.as_str())
                        .bind(decision.grant_id.as_deref())
                        .bind(decision.granted_scope.as_ref().map(Scope::to_string))
                        .bind(decision.session_id.as_deref())
                        .bind(decision.auth_time);
                    self.optional(query, device_from_row).await
                }

                async fn poll_device_code(
                    &self,
                    device_code_hash: &str,
                    now: i64,
                ) -> Result<DevicePoll, StoreError> {
                    if !Self::storable(device_code_hash) {
                        return Ok(DevicePoll::NotFound);
                    }
                    // A poll in time: recorded, and an approval consumed, in one statement.
                    let query = sqlx::query(sql::POLL_DEVICE)
                        .bind(device_code_hash)
                        .bind(now);
                    if let Some(d) = self.optional(query, device_from_row).await? {
                        return Ok(match d.status {
                            DeviceStatus::Approved => DevicePoll::Consumed(d),
                            DeviceStatus::Denied => DevicePoll::Denied(d),
                            DeviceStatus::Pending => DevicePoll::Pending(d),
                        });
                    }
                    // Too soon: the interval grows.
                    let query = sqlx::query(sql::SLOW_DOWN_DEVICE)
                        .bind(device_code_hash)
                        .bind(now);
                    if let Some(d) = self.optional(query, device_from_row).await? {
                        return Ok(DevicePoll::SlowDown(d));
                    }
                    // Neither: consumed, expired or unknown. `consumed_at` never goes back
                    // to NULL, so this read cannot contradict the UPDATEs.
                    let query = sqlx::query(sql::DEVICE_BY_HASH).bind(device_code_hash);
                    Ok(match self.optional(query, device_from_row).await? {
                        None => DevicePoll::NotFound,
                        Some(d) if d.consumed_at.is_some() => DevicePoll::AlreadyUsed(d),
                        Some(d) if d.expires_at <= now => DevicePoll::Expired(d),
                        // Changed between the statements by a concurrent poll: too soon.
                        Some(d) => DevicePoll::SlowDown(d),
                    })
                }

                async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_SESSION)
                        .bind(session.session_hash.as_str())
                        .bind(session.sid.as_str())
                        .bind(session.user_id.as_str())
                        .bind(session.auth_time)
                        .bind(session.created_at)
                        .bind(session.expires_at)
                        .bind(session.amr.join(" "));
                    self.insert(query, "session exists").await
                }

                async fn get_session(
                    &self,
                    session_hash: &str,
                    now: i64,
                ) -> Result<Option<SessionRecord>, StoreError> {
                    if !Self::storable(session_hash) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::LIVE_SESSION).bind(session_hash).bind(now);
                    self.optional(query, session_from_row).await
                }

                async fn delete_session(&self, session_hash: &str) -> Result<bool, StoreError> {
                    if !Self::storable(session_hash) {
                        return Ok(false);
                    }
                    let query = sqlx::query(sql::DELETE_SESSION).bind(session_hash);
                    Ok(self.affected(query).await? > 0)
                }

                async fn delete_user_sessions(
                    &self,
                    user_id: &str,
                ) -> Result<Vec<SessionRecord>, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(Vec::new());
                    }
                    let query = sqlx::query(sql::DELETE_USER_SESSIONS).bind(user_id);
                    self.all(query, session_from_row).await
                }

                async fn insert_account_token(
                    &self,
                    token: &AccountTokenRecord,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_ACCOUNT_TOKEN)
                        .bind(token.token_hash.as_str())
                        .bind(token.purpose.as_str())
                        .bind(token.user_id.as_str())
                        .bind(token.email.as_str())
                        .bind(token.created_at)
                        .bind(token.expires_at);
                    self.insert(query, "account token already exists").await
                }

                async fn take_account_token(
                    &self,
                    token_hash: &str,
                    purpose: AccountTokenPurpose,
                    now: i64,
                ) -> Result<Option<AccountTokenRecord>, StoreError> {
                    if !Self::storable(token_hash) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::TAKE_ACCOUNT_TOKEN)
                        .bind(token_hash)
                        .bind(purpose.as_str())
                        .bind(now);
                    self.optional(query, account_token_from_row).await
                }

                async fn delete_account_tokens(
                    &self,
                    user_id: &str,
                    purpose: AccountTokenPurpose,
                ) -> Result<u64, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(0);
                    }
                    let query = sqlx::query(sql::DELETE_ACCOUNT_TOKENS)
                        .bind(user_id)
                        .bind(purpose.as_str());
                    self.affected(query).await
                }

                async fn list_user_sessions(
                    &self,
                    user_id: &str,
                    now: i64,
                ) -> Result<Vec<SessionRecord>, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(Vec::new());
                    }
                    let query = sqlx::query(sql::USER_SESSIONS).bind(user_id).bind(now);
                    self.all(query, session_from_row).await
                }

                async fn list_consents(
                    &self,
                    user_id: &str,
                ) -> Result<Vec<ConsentRecord>, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(Vec::new());
                    }
                    let query = sqlx::query(sql::USER_CONSENTS).bind(user_id);
                    self.all(query, consent_from_row).await
                }

                async fn delete_consent(
                    &self,
                    user_id: &str,
                    client_id: &str,
                ) -> Result<bool, StoreError> {
                    if !Self::storable(user_id) || !Self::storable(client_id) {
                        return Ok(false);
                    }
                    let query = sqlx::query(sql::DELETE_CONSENT)
                        .bind(user_id)
                        .bind(client_id);
                    self.affected(query).await.map(|n| n > 0)
                }

                async fn get_consent(
                    &self,
                    user_id: &str,
                    client_id: &str,
                ) -> Result<Option<ConsentRecord>, StoreError> {
                    if !Self::storable(user_id) || !Self::storable(client_id) {
                        return Ok(None);
                    }
                    let query = sqlx::query(sql::CONSENT).bind(user_id).bind(client_id);
                    self.optional(query, consent_from_row).await
                }

                async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::PUT_CONSENT)
                        .bind(consent.user_id.as_str())
                        .bind(consent.client_id.as_str())
                        .bind(consent.scope.to_string())
                        .bind(consent.granted_at);
                    self.affected(query).await.map(drop)
                }

                async fn revoke_access_token(
                    &self,
                    jti: &str,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::REVOKE_ACCESS_TOKEN)
                        .bind(jti)
                        .bind(expires_at);
                    self.affected(query).await.map(drop)
                }

                async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
                    if !Self::storable(jti) {
                        return Ok(false);
                    }
                    let query = sqlx::query(sql::ACCESS_TOKEN_REVOKED).bind(jti);
                    let row = query.fetch_optional(&self.pool).await.map_err(backend)?;
                    Ok(row.is_some())
                }

                async fn announce_client_change(&self, client_id: &str) -> Result<(), StoreError> {
                    Dialect::announce_client_change(self, client_id).await
                }

                async fn announce_tenant_change(&self, tenant_id: &str) -> Result<(), StoreError> {
                    Dialect::announce_tenant_change(self, tenant_id).await
                }

                async fn client_changes(
                    &self,
                ) -> Option<tokio::sync::mpsc::Receiver<$crate::store::ClientChange>> {
                    Dialect::client_changes(self).await
                }

                async fn probe_write(&self, now: i64) -> Result<(), StoreError> {
                    sqlx::query(sql::PROBE_WRITE)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(())
                }

                async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    let result = purge_on(&mut conn, now).await;
                    if result.is_err() {
                        $store::heal(&mut conn).await;
                    }
                    result
                }
            }
        }
    };
}

pub(super) use sql_store;
