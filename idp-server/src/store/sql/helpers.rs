//! The statements' bind order and the few ways a statement is run, per database: a macro
//! that `sql_store!` expands inside its module (whose imports the code uses).

/// Defines `Query` (a statement of `$db` with its arguments), the binders of the wide
/// records (users, clients, refresh tokens), on `$store` the helpers that run a `Query`
/// and decode `$row`s, and the bodies of the two write transactions.
macro_rules! sql_helpers {
    ($store:ident, $db:ty, $row:ty) => {
        type Query = sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments>;

        /// Binds a user's columns in the order of `INSERT_USER` / `UPDATE_USER`.
        fn bind_user(sql: &'static str, u: &User) -> Result<Query, StoreError> {
            Ok(sqlx::query(sql)
                .bind(u.id.as_str())
                .bind(u.tenant_id.as_deref())
                .bind(u.email.as_str())
                .bind(u.email_verified)
                .bind(u.password_hash.as_ref().map(SecretHash::as_str))
                .bind(u.name.as_deref())
                .bind(u.given_name.as_deref())
                .bind(u.family_name.as_deref())
                .bind(u.picture.as_deref())
                .bind(u.locale.as_deref())
                .bind(u.active)
                .bind(u.allowed_scopes.as_ref().map(Scope::to_string))
                .bind(to_json(&u.attributes, "user attributes")?)
                .bind(u.created_at)
                .bind(u.updated_at))
        }

        /// Binds a client's columns in the order of `INSERT_CLIENT` / `UPDATE_CLIENT`.
        fn bind_client(sql: &'static str, c: &Client) -> Result<Query, StoreError> {
            let post_logout = &c.post_logout_redirect_uris;
            Ok(sqlx::query(sql)
                .bind(c.client_id.as_str())
                .bind(c.tenant_id.as_deref())
                .bind(c.name.as_deref())
                .bind(c.secret_hash.as_ref().map(SecretHash::as_str))
                .bind(to_json(&c.redirect_uris, "redirect URIs")?)
                .bind(to_json(post_logout, "post-logout redirect URIs")?)
                .bind(c.allowed_scopes.to_string())
                .bind(to_json(&c.grant_types, "grant types")?)
                .bind(c.token_endpoint_auth_method.as_str())
                .bind(to_json(&c.audiences, "audiences")?)
                .bind(c.first_party)
                .bind(c.active)
                .bind(to_json(&c.attributes, "client attributes")?)
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(c.backchannel_logout_uri.as_deref()))
        }

        /// Binds a tenant's columns in the order of `INSERT_TENANT` / `UPDATE_TENANT`.
        fn bind_tenant(sql: &'static str, t: &Tenant) -> Query {
            sqlx::query(sql)
                .bind(t.id.as_str())
                .bind(t.display_name.as_deref())
                .bind(t.logo_url.as_deref())
                .bind(t.allowed_scopes.as_ref().map(Scope::to_string))
                .bind(t.created_at)
                .bind(t.updated_at)
        }

        /// A refresh token's `INSERT_REFRESH`.
        fn bind_refresh(t: &RefreshTokenRecord) -> Result<Query, StoreError> {
            Ok(sqlx::query(sql::INSERT_REFRESH)
                .bind(t.token_hash.as_str())
                .bind(t.family_id.as_str())
                .bind(t.client_id.as_str())
                .bind(t.user_id.as_str())
                .bind(t.scope.to_string())
                .bind(to_json(&t.audiences, "audiences")?)
                .bind(t.auth_time)
                .bind(t.session_id.as_deref())
                .bind(t.tenant_id.as_deref())
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.rotated_at)
                .bind(t.revoked_at))
        }

        type Decode<T> = fn(&$row) -> Result<T, StoreError>;

        impl $store {
            /// Runs `query`; the row it returns, if any, decoded.
            async fn optional<T>(
                &self,
                query: Query,
                decode: Decode<T>,
            ) -> Result<Option<T>, StoreError> {
                let row = query.fetch_optional(&self.pool).await.map_err(backend)?;
                row.as_ref().map(decode).transpose()
            }

            /// Runs `query`; every row it returns, decoded.
            async fn all<T>(&self, query: Query, decode: Decode<T>) -> Result<Vec<T>, StoreError> {
                let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
                decode_all(rows, decode)
            }

            /// Runs `query`; how many rows it changed.
            async fn affected(&self, query: Query) -> Result<u64, StoreError> {
                let done = query.execute(&self.pool).await.map_err(backend)?;
                Ok(done.rows_affected())
            }

            /// Runs an insert; a unique violation is `Conflict(message)`.
            async fn insert(&self, query: Query, message: &str) -> Result<(), StoreError> {
                query
                    .execute(&self.pool)
                    .await
                    .map_err(|e| conflict_or_backend(e, message))?;
                Ok(())
            }

            /// Runs an update of one record; `NotFound` if it changed nothing.
            async fn update_one(&self, query: Query) -> Result<(), StoreError> {
                match self.affected(query).await? {
                    0 => Err(StoreError::NotFound),
                    _ => Ok(()),
                }
            }
        }

        /// The rotation's write transaction (see `rotate_refresh_token`).
        async fn rotate_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            token_hash: &str,
            successor: &RefreshTokenRecord,
            now: i64,
        ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $store::BEGIN_WRITE)
                .await
                .map_err(backend)?;
            // The successor first, as the in-memory store checks it first: a taken
            // successor hash is a Conflict whatever the state of the old token.
            bind_refresh(successor)?
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or_backend(e, "refresh token exists"))?;
            // The grant first: a revoked (or expired, or missing) grant refreshes nothing,
            // and the row lock orders this rotation against a revocation of the grant.
            let extended = sqlx::query(sql::EXTEND_GRANT)
                .bind(successor.family_id.as_str())
                .bind(successor.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            if extended == 0 {
                tx.rollback().await.map_err(backend)?;
                return Ok(ConsumeOutcome::NotFound);
            }
            // Of concurrent rotations of one token, exactly one sees the row come back.
            let rotated = sqlx::query(sql::ROTATE_REFRESH)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(row) = rotated {
                let old = refresh_from_row(&row)?;
                tx.commit().await.map_err(backend)?;
                return Ok(ConsumeOutcome::Consumed(old));
            }
            // Not usable: read it inside the same transaction, then drop the successor.
            let row = sqlx::query(sql::REFRESH_BY_HASH)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let old = row.as_ref().map(refresh_from_row).transpose();
            tx.rollback().await.map_err(backend)?;
            match old? {
                Some(t) if t.rotated_at.is_some() || t.revoked_at.is_some() => {
                    Ok(ConsumeOutcome::AlreadyUsed(t))
                }
                _ => Ok(ConsumeOutcome::NotFound),
            }
        }

        /// The revocation's write transaction (see `revoke_grants`): the grants first (the
        /// row locks order it against a rotation), then their refresh tokens and codes.
        async fn revoke_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            statements: &sql::GrantStatements,
            key: &str,
            now: i64,
        ) -> Result<u64, StoreError> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $store::BEGIN_WRITE)
                .await
                .map_err(backend)?;
            let revoked = sqlx::query(statements.revoke)
                .bind(key.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            for statement in [statements.revoke_refresh, statements.consume_codes] {
                sqlx::query(statement)
                    .bind(key.to_owned())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)?;
            Ok(revoked)
        }

        /// The purge's write transaction (see `purge_expired`).
        async fn purge_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            now: i64,
        ) -> Result<u64, StoreError> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $store::BEGIN_WRITE)
                .await
                .map_err(backend)?;
            let mut purged = 0;
            for statement in sql::PURGES {
                purged += sqlx::query(statement)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
            }
            tx.commit().await.map_err(backend)?;
            Ok(purged)
        }
    };
}

pub(super) use sql_helpers;
