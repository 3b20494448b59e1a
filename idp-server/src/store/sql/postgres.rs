//! The PostgreSQL dialect (sqlx): several provider replicas sharing one database.
//!
//! The schema lives in `migrations/postgres/` and is embedded in the binary;
//! [`PostgresStore::connect`] applies whatever migrations the database has not seen yet, under
//! sqlx's advisory lock so that replicas starting together do not race. Times are BIGINT Unix
//! seconds, booleans BOOLEAN, the sealed private key BYTEA, and JSON is held as TEXT (JSONB
//! would rewrite numbers, so a round trip would not be exact). Transactions run under READ
//! COMMITTED. The statements and the [`Store`](crate::store::Store) implementation are shared
//! with SQLite (`sql/mod.rs`).
//!
//! PostgreSQL `text` cannot hold a NUL character. Lookups by a key containing one answer
//! "not found" without asking the database (no stored row can match, and a request must not
//! turn into a backend error); writing such a value is a [`StoreError::Backend`].

use std::str::FromStr;

use sqlx::Connection;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions};
use tokio::sync::mpsc;

use super::Dialect;
use crate::store::{ClientChange, StoreError};

/// Connections in the pool of one replica.
const MAX_CONNECTIONS: u32 = 10;

/// The primary key of `users` (PostgreSQL's default name for it).
const USERS_PKEY: &str = "users_pkey";

/// A [`Store`](crate::store::Store) in a PostgreSQL database, shareable by several provider
/// replicas.
///
/// Each store keeps a pool of up to ten connections; the embedded migrations are applied on
/// connect. Cloning is cheap: clones share one pool. Tables live in the first schema of the
/// connection's `search_path` (normally `public`); to use another schema, add
/// `options[search_path]=NAME` to the URL (the schema must exist).
///
/// # Example
///
/// ```no_run
/// use idp_server::store::{PostgresStore, Store};
///
/// # async fn open() -> Result<(), idp_server::store::StoreError> {
/// let store = PostgresStore::connect("postgres://idp@db.internal:5432/idp").await?;
/// assert!(store.get_user("no-such-user").await?.is_none());
/// store.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` and applies the migrations.
    ///
    /// `url` is `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]` (or
    /// `postgresql://...`), with libpq-style parameters such as `sslmode` and
    /// `options[search_path]=SCHEMA`. The database must exist; the tables are created if
    /// missing. Replicas connecting at the same time are safe: the migrations run under an
    /// advisory lock on the database, and a replica that waited finds them applied.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is not a PostgreSQL URL, the server cannot be
    /// reached or refuses the connection, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Backend(
                "not a PostgreSQL URL (expected postgres://... or postgresql://...)".into(),
            ));
        }
        // sqlx's URL errors name the offending part, never the password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        // One connection first, for the migrations: it fails fast on an unreachable server
        // (the pool would retry until its acquire timeout), and closing it releases the
        // migration lock whatever happened.
        // Its notices ("relation _sqlx_migrations already exists, skipping" on every start)
        // are noise: sqlx would log them at INFO.
        let migration_options = options
            .clone()
            .options([("client_min_messages", "warning")]);
        let mut conn = PgConnection::connect_with(&migration_options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        // The migrator takes `pg_advisory_lock` (keyed by the database name) before it looks
        // at `_sqlx_migrations` and releases it when done, so replicas starting together apply
        // each migration once; the others wait, then find it applied. On failure it returns
        // without unlocking: ending the session releases the lock.
        let migrated = sqlx::migrate!("./migrations/postgres")
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Backend(format!("PostgreSQL migration failed: {e}")));
        // A failed close is only a connection that did not say goodbye.
        let _ = conn.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(Self { pool })
    }

    /// Closes every connection of the pool (shared with clones). Operations after this fail
    /// with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl PostgresStore {
    /// A failed transaction needs nothing more on PostgreSQL: it stays open (aborted) until
    /// the ROLLBACK sqlx sends when the transaction is dropped.
    async fn heal(_conn: &mut sqlx::PgConnection) {}
}

impl Dialect for PostgresStore {
    const BEGIN_WRITE: &'static str = "BEGIN";
    // The expressions of the two partial unique indexes of the migration; `lower` under the
    // "C" collation folds ASCII letters only.
    const FIND_USER_IN_TENANT: &'static str = "SELECT * FROM users WHERE tenant_id = $1 \
         AND lower(email COLLATE \"C\") = lower($2 COLLATE \"C\")";
    const FIND_USER_NO_TENANT: &'static str = "SELECT * FROM users WHERE tenant_id IS NULL \
         AND lower(email COLLATE \"C\") = lower($1 COLLATE \"C\")";

    /// `text` cannot hold a NUL character.
    fn storable(key: &str) -> bool {
        !key.contains('\0')
    }

    fn is_user_id_violation(error: &dyn DatabaseError) -> bool {
        error.constraint() == Some(USERS_PKEY)
    }

    async fn announce_client_change(&self, client_id: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CLIENT_CHANNEL)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(())
    }

    async fn announce_tenant_change(&self, tenant_id: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(TENANT_CHANNEL)
            .bind(tenant_id)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(())
    }

    async fn client_changes(&self) -> Option<mpsc::Receiver<ClientChange>> {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for client changes; the client cache relies on its lifetime");
                return None;
            }
        };
        if let Err(e) = listener.listen_all([CLIENT_CHANNEL, TENANT_CHANNEL]).await {
            tracing::warn!(error = %e, "cannot listen for client changes; the client cache relies on its lifetime");
            return None;
        }
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let change = tokio::select! {
                    () = tx.closed() => return,
                    next = listener.try_recv() => match next {
                        Ok(Some(n)) if n.channel() == TENANT_CHANNEL => {
                            ClientChange::Tenant(n.payload().to_owned())
                        }
                        Ok(Some(n)) => ClientChange::Client(n.payload().to_owned()),
                        // The connection was lost (the next call reconnects): whatever was
                        // announced meanwhile is unknown.
                        Ok(None) => ClientChange::All,
                        Err(e) => {
                            tracing::warn!(error = %e, "listening for client changes failed; retrying in a second");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            ClientChange::All
                        }
                    },
                };
                if tx.send(change).await.is_err() {
                    return;
                }
            }
        });
        Some(rx)
    }
}

/// The channel client changes are announced on.
const CLIENT_CHANNEL: &str = "idp_client_changed";
/// The channel tenant changes are announced on.
const TENANT_CHANNEL: &str = "idp_tenant_changed";

super::shared::sql_store!(PostgresStore, sqlx::Postgres, sqlx::postgres::PgRow);
super::two_factor::sql_two_factor!(PostgresStore, sqlx::Postgres, sqlx::postgres::PgRow);

#[cfg(test)]
mod tests;
