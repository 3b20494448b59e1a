//! [`TwoFactorStore`](crate::store::TwoFactorStore) for the SQL databases: the statements
//! (one text for both, `$N` placeholders) and a macro that each dialect module expands for
//! its own database, as `sql_store!` does for [`Store`](crate::store::Store).
//!
//! Using a time step, spending a backup code and counting an attempt on a pending sign-in
//! are each one conditional `UPDATE`: of concurrent callers exactly one sees it change a row.
//! Turning an enrolment on (with its new backup codes) and deleting one are one write
//! transaction each.

pub(super) const TWO_FACTOR_BY_USER: &str = "SELECT * FROM two_factor WHERE user_id = $1";
/// A new unconfirmed enrolment, or the replacement of an unconfirmed one; an enabled one is
/// left alone (no row changed).
pub(super) const BEGIN_TWO_FACTOR: &str = "INSERT INTO two_factor (user_id, secret_sealed, \
     enabled_at, last_step, created_at) VALUES ($1, $2, NULL, NULL, $3) \
     ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
     created_at = excluded.created_at, last_step = NULL WHERE two_factor.enabled_at IS NULL";
pub(super) const ENABLE_TWO_FACTOR: &str = "UPDATE two_factor SET enabled_at = $2, \
     last_step = $3 WHERE user_id = $1 AND enabled_at IS NULL";
pub(super) const DELETE_BACKUP_CODES: &str = "DELETE FROM backup_codes WHERE user_id = $1";
pub(super) const INSERT_BACKUP_CODE: &str =
    "INSERT INTO backup_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)";
pub(super) const USE_TOTP_STEP: &str = "UPDATE two_factor SET last_step = $2 \
     WHERE user_id = $1 AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)";
pub(super) const USE_BACKUP_CODE: &str = "UPDATE backup_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
pub(super) const BACKUP_CODES_LEFT: &str =
    "SELECT COUNT(*) AS n FROM backup_codes WHERE user_id = $1 AND used_at IS NULL";
pub(super) const DELETE_TWO_FACTOR: &str = "DELETE FROM two_factor WHERE user_id = $1";

pub(super) const INSERT_PENDING: &str = "INSERT INTO pending_sign_ins (pending_hash, user_id, \
     attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
pub(super) const ATTEMPT_PENDING: &str = "UPDATE pending_sign_ins SET attempts = attempts + 1 \
     WHERE pending_hash = $1 AND expires_at > $2 AND attempts < $3 RETURNING *";
pub(super) const DELETE_PENDING: &str = "DELETE FROM pending_sign_ins WHERE pending_hash = $1";
pub(super) const PURGE_PENDING: &str = "DELETE FROM pending_sign_ins WHERE expires_at <= $1";

/// Implements [`TwoFactorStore`](crate::store::TwoFactorStore) for `$store` (the same
/// struct as `sql_store!`'s) whose rows are `$row`, in a module `two_factor_impl` beside
/// the invocation.
macro_rules! sql_two_factor {
    ($store:ident, $db:ty, $row:ty) => {
        /// The shared SQL implementation of `TwoFactorStore`, expanded for this database.
        mod two_factor_impl {
            use async_trait::async_trait;
            use sqlx::Row;

            use super::$store;
            use $crate::store::sql::two_factor as q;
            use $crate::store::sql::{Dialect, backend, conflict_or_backend};
            use $crate::store::{PendingSignIn, StoreError, TwoFactorRecord, TwoFactorStore};

            fn corrupt(table: &str, e: sqlx::Error) -> StoreError {
                // sqlx's decode errors name types and column indexes, not values.
                StoreError::Backend(format!("corrupt row in table {table}: {e}"))
            }

            fn record_from_row(row: &$row) -> Result<TwoFactorRecord, StoreError> {
                let c = |e| corrupt("two_factor", e);
                let mut rec = TwoFactorRecord::new(
                    row.try_get::<String, _>("user_id").map_err(c)?,
                    row.try_get::<Vec<u8>, _>("secret_sealed").map_err(c)?,
                    row.try_get::<i64, _>("created_at").map_err(c)?,
                );
                rec.enabled_at = row.try_get("enabled_at").map_err(c)?;
                rec.last_step = row.try_get("last_step").map_err(c)?;
                Ok(rec)
            }

            fn pending_from_row(row: &$row) -> Result<PendingSignIn, StoreError> {
                let c = |e| corrupt("pending_sign_ins", e);
                let mut p = PendingSignIn::new(
                    row.try_get::<String, _>("pending_hash").map_err(c)?,
                    row.try_get::<String, _>("user_id").map_err(c)?,
                    row.try_get::<i64, _>("created_at").map_err(c)?,
                    row.try_get::<i64, _>("expires_at").map_err(c)?,
                );
                p.attempts = row.try_get("attempts").map_err(c)?;
                Ok(p)
            }

            /// `enable_two_factor`'s write transaction.
            async fn enable_on(
                conn: &mut sqlx::pool::PoolConnection<$db>,
                user_id: &str,
                now: i64,
                step: i64,
                backup_hashes: &[String],
            ) -> Result<bool, StoreError> {
                let mut tx = sqlx::Connection::begin_with(&mut **conn, $store::BEGIN_WRITE)
                    .await
                    .map_err(backend)?;
                let enabled = sqlx::query(q::ENABLE_TWO_FACTOR)
                    .bind(user_id)
                    .bind(now)
                    .bind(step)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                if enabled == 0 {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(false);
                }
                sqlx::query(q::DELETE_BACKUP_CODES)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                for hash in backup_hashes {
                    sqlx::query(q::INSERT_BACKUP_CODE)
                        .bind(user_id)
                        .bind(hash.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or_backend(e, "backup code repeated"))?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }

            /// `delete_two_factor`'s write transaction.
            async fn delete_on(
                conn: &mut sqlx::pool::PoolConnection<$db>,
                user_id: &str,
            ) -> Result<bool, StoreError> {
                let mut tx = sqlx::Connection::begin_with(&mut **conn, $store::BEGIN_WRITE)
                    .await
                    .map_err(backend)?;
                sqlx::query(q::DELETE_BACKUP_CODES)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                let deleted = sqlx::query(q::DELETE_TWO_FACTOR)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                tx.commit().await.map_err(backend)?;
                Ok(deleted > 0)
            }

            #[async_trait]
            impl TwoFactorStore for $store {
                async fn get_two_factor(
                    &self,
                    user_id: &str,
                ) -> Result<Option<TwoFactorRecord>, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(None);
                    }
                    let row = sqlx::query(q::TWO_FACTOR_BY_USER)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    row.as_ref().map(record_from_row).transpose()
                }

                async fn begin_two_factor(
                    &self,
                    record: &TwoFactorRecord,
                ) -> Result<(), StoreError> {
                    let done = sqlx::query(q::BEGIN_TWO_FACTOR)
                        .bind(record.user_id.as_str())
                        .bind(record.secret_sealed.as_slice())
                        .bind(record.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    match done.rows_affected() {
                        0 => Err(StoreError::Conflict("two-factor is already on".into())),
                        _ => Ok(()),
                    }
                }

                async fn enable_two_factor(
                    &self,
                    user_id: &str,
                    now: i64,
                    step: i64,
                    backup_hashes: &[String],
                ) -> Result<bool, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(false);
                    }
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    let result = enable_on(&mut conn, user_id, now, step, backup_hashes).await;
                    if result.is_err() {
                        $store::heal(&mut conn).await;
                    }
                    result
                }

                async fn use_totp_step(
                    &self,
                    user_id: &str,
                    step: i64,
                ) -> Result<bool, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(false);
                    }
                    let done = sqlx::query(q::USE_TOTP_STEP)
                        .bind(user_id)
                        .bind(step)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn use_backup_code(
                    &self,
                    user_id: &str,
                    code_hash: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    if !Self::storable(user_id) || !Self::storable(code_hash) {
                        return Ok(false);
                    }
                    let done = sqlx::query(q::USE_BACKUP_CODE)
                        .bind(user_id)
                        .bind(code_hash)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn backup_codes_left(&self, user_id: &str) -> Result<u64, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(0);
                    }
                    let row = sqlx::query(q::BACKUP_CODES_LEFT)
                        .bind(user_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(backend)?;
                    let n: i64 = row.try_get("n").map_err(|e| corrupt("backup_codes", e))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
                    if !Self::storable(user_id) {
                        return Ok(false);
                    }
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    let result = delete_on(&mut conn, user_id).await;
                    if result.is_err() {
                        $store::heal(&mut conn).await;
                    }
                    result
                }

                async fn insert_pending_sign_in(
                    &self,
                    pending: &PendingSignIn,
                ) -> Result<(), StoreError> {
                    sqlx::query(q::INSERT_PENDING)
                        .bind(pending.pending_hash.as_str())
                        .bind(pending.user_id.as_str())
                        .bind(pending.attempts)
                        .bind(pending.created_at)
                        .bind(pending.expires_at)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_or_backend(e, "pending sign-in exists"))?;
                    Ok(())
                }

                async fn attempt_pending_sign_in(
                    &self,
                    pending_hash: &str,
                    now: i64,
                    max_attempts: i64,
                ) -> Result<Option<PendingSignIn>, StoreError> {
                    if !Self::storable(pending_hash) {
                        return Ok(None);
                    }
                    let row = sqlx::query(q::ATTEMPT_PENDING)
                        .bind(pending_hash)
                        .bind(now)
                        .bind(max_attempts)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    row.as_ref().map(pending_from_row).transpose()
                }

                async fn delete_pending_sign_in(
                    &self,
                    pending_hash: &str,
                ) -> Result<bool, StoreError> {
                    if !Self::storable(pending_hash) {
                        return Ok(false);
                    }
                    let done = sqlx::query(q::DELETE_PENDING)
                        .bind(pending_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn purge_pending_sign_ins(&self, now: i64) -> Result<u64, StoreError> {
                    let done = sqlx::query(q::PURGE_PENDING)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(super) use sql_two_factor;
