//! The SQLite dialect (sqlx): the embedded default, one file with WAL.
//!
//! The schema lives in `migrations/sqlite/` and is embedded in the binary;
//! [`SqliteStore::connect`] applies whatever migrations the file has not seen yet. Times are
//! INTEGER Unix seconds and booleans INTEGER 0/1. Write transactions begin `IMMEDIATE`. The
//! statements and the [`Store`](crate::store::Store) implementation are shared with
//! PostgreSQL (`sql/mod.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::Dialect;
use crate::store::StoreError;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool of a file database (WAL: many readers, one writer at a time).
const MAX_FILE_CONNECTIONS: u32 = 8;

/// A [`Store`](crate::store::Store) in one SQLite file.
///
/// The file is opened in WAL mode with `synchronous = NORMAL`, foreign keys on and a busy
/// timeout of five seconds, and the embedded migrations are applied on connect. Cloning is
/// cheap: clones share one connection pool.
///
/// # Example
///
/// ```
/// use idp_server::store::{SqliteStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), idp_server::store::StoreError> {
/// // An in-memory database, e.g. for tests; use `sqlite://path/to/idp.db` for a file.
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// assert!(store.get_user("no-such-user").await?.is_none());
/// assert!(!store.is_access_token_revoked("some-jti").await?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` and applies the migrations.
    ///
    /// `url` is `sqlite://path/to/file.db` (relative to the working directory),
    /// `sqlite:///absolute/path.db`, or `sqlite::memory:` for a private in-memory database
    /// that lives as long as the returned store (and its clones).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is not a SQLite URL, the file cannot be opened or
    /// created (a missing parent directory is not created), or a migration fails.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use idp_server::store::SqliteStore;
    ///
    /// # async fn open() -> Result<(), idp_server::store::StoreError> {
    /// let store = SqliteStore::connect("sqlite://data/idp.db").await?;
    /// // ... serve requests ...
    /// store.close().await; // checkpoints the WAL on a clean shutdown
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Backend(
                "not a SQLite URL (expected sqlite://PATH or sqlite::memory:)".into(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = is_in_memory(url);
        let path = options.get_filename().display().to_string();
        let pool_options = if in_memory {
            // An in-memory database disappears with its last connection, and several
            // shared-cache connections fail with SQLITE_LOCKED instead of waiting: use one
            // connection that is never closed for idleness or age.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(MAX_FILE_CONNECTIONS)
        };
        let pool = pool_options.connect_with(options).await.map_err(|e| {
            StoreError::Backend(if in_memory {
                format!("cannot open an in-memory SQLite database: {e}")
            } else {
                format!("cannot open SQLite database {path}: {e}")
            })
        })?;

        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("SQLite migration failed: {e}")))?;

        Ok(Self { pool })
    }

    /// Closes every connection of the pool (shared with clones), checkpointing the WAL.
    /// Operations after this fail with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `url` names an in-memory database, by the rules of sqlx's SQLite URL parser
/// (`sqlite::memory:`, `sqlite://:memory:`, or `mode=memory` among the parameters).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:"
        || form_urlencoded::parse(params.as_bytes()).any(|(k, v)| k == "mode" && v == "memory")
}

impl SqliteStore {
    /// Makes a connection clean after a failed write transaction. SQLite rolls a
    /// transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY…);
    /// sqlx then still counts it as open, its own ROLLBACK fails, and every later `BEGIN` on
    /// the connection would be refused. Opening one for sqlx to roll back sets both straight.
    async fn heal(conn: &mut sqlx::SqliteConnection) {
        use sqlx::{Connection, Executor};
        use sqlx_core::transaction::TransactionManager;
        type Manager = <sqlx::Sqlite as sqlx::Database>::TransactionManager;
        // Lets the rollback queued by the dropped transaction run first.
        let _ = conn.ping().await;
        if Manager::get_transaction_depth(conn) > 0 {
            tracing::warn!("SQLite ended a failed transaction itself; resetting the connection");
            let _ = conn.execute("BEGIN").await;
            let _ = Manager::rollback(conn).await;
        }
    }
}

impl Dialect for SqliteStore {
    /// IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so the
    /// transaction never has to upgrade a stale read snapshot.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    // SQLite's `lower` folds ASCII letters only; the two lookups match the two partial
    // unique indexes of the migration.
    const FIND_USER_IN_TENANT: &'static str =
        "SELECT * FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)";
    const FIND_USER_NO_TENANT: &'static str =
        "SELECT * FROM users WHERE tenant_id IS NULL AND lower(email) = lower($1)";

    fn storable(_key: &str) -> bool {
        true
    }

    fn is_user_id_violation(error: &dyn DatabaseError) -> bool {
        // "UNIQUE constraint failed: users.id"
        error.message().contains("users.id")
    }
}

super::shared::sql_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
super::two_factor::sql_two_factor!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use sqlx::{AssertSqlSafe, Row};

    use super::*;
    use crate::store::Store;
    use crate::store::sql::{self, tests::corrupt_rows_are_backend_errors};

    /// The `EXPLAIN QUERY PLAN` of a statement the store runs, as text.
    async fn plan(store: &SqliteStore, statement: &str, binds: &[&str]) -> String {
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}")));
        for b in binds {
            query = query.bind(*b);
        }
        let rows = query.fetch_all(&store.pool).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn tenant_lookups_use_indexes() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let mail = "a@example.com";
        let p = plan(&store, SqliteStore::FIND_USER_IN_TENANT, &["t1", mail]).await;
        assert!(p.contains("users_tenant_email"), "{p}");
        let p = plan(&store, SqliteStore::FIND_USER_NO_TENANT, &[mail]).await;
        assert!(p.contains("users_no_tenant_email"), "{p}");
        let p = plan(&store, sql::USERS_OF_TENANT, &["t1"]).await;
        assert!(p.contains("users_tenant_created"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, sql::CLIENTS_OF_TENANT, &["t1"]).await;
        assert!(p.contains("clients_tenant_created"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, sql::REVOKE_FAMILY, &["f1", "1"]).await;
        assert!(p.contains("refresh_tokens_family"), "{p}");
    }

    #[tokio::test]
    async fn corrupt_rows_are_backend_errors_in_sqlite() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let pool = &store.pool;
        corrupt_rows_are_backend_errors(&store, |statement| async move {
            sqlx::query(statement).execute(pool).await.unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn user_conflicts_name_the_constraint() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store
            .insert_user(&crate::store::User::new("u1", "a@example.com", 1))
            .await
            .unwrap();
        // (With both taken, SQLite reports the e-mail index: it checks it before the key.)
        for (id, email, expected) in [
            ("u1", "b@example.com", "user id already exists"),
            ("u2", "A@example.com", "email already registered"),
        ] {
            let user = crate::store::User::new(id, email, 1);
            match store.insert_user(&user).await {
                Err(StoreError::Conflict(m)) => assert_eq!(m, expected),
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
    }

    #[test]
    fn recognises_in_memory_urls() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:shared?mode=memory&cache=shared",
        ] {
            assert!(is_in_memory(url), "{url}");
        }
        for url in [
            "sqlite://idp.db",
            "sqlite:///tmp/idp.db",
            "sqlite://idp.db?mode=rwc",
        ] {
            assert!(!is_in_memory(url), "{url}");
        }
    }

    #[tokio::test]
    async fn rejects_other_urls() {
        assert!(matches!(
            SqliteStore::connect("postgres://localhost/idp").await,
            Err(StoreError::Backend(_))
        ));
    }

    #[tokio::test]
    async fn file_database_is_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("idp.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
    }

    /// Migration 0003 gives every refresh-token family and every unused code of an older
    /// database its grant, so that refreshing keeps working after the upgrade.
    #[tokio::test]
    async fn the_grants_migration_adopts_existing_families_and_codes() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let run = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::raw_sql(sql).execute(&pool).await.unwrap() }
        };
        run(include_str!("../../../migrations/sqlite/0001_init.sql")).await;
        run(include_str!("../../../migrations/sqlite/0002_health.sql")).await;
        run("INSERT INTO refresh_tokens VALUES \
             ('h1', 'fam', 'web', 'u1', 'openid offline_access', '[]', 5, 'sid', 't', 10, 100, 20, NULL), \
             ('h2', 'fam', 'web', 'u1', 'openid offline_access', '[]', 5, 'sid', 't', 20, 200, NULL, NULL); \
             INSERT INTO auth_codes VALUES \
             ('c1', 'spa', 'u2', 'https://a/cb', 'openid', NULL, NULL, 5, 's2', 'g-code', 10, 70, NULL), \
             ('c2', 'spa', 'u2', 'https://a/cb', 'openid offline_access', NULL, NULL, 5, 's2', 'g-off', 10, 70, NULL), \
             ('c3', 'spa', 'u2', 'https://a/cb', 'openid', NULL, NULL, 5, 's2', 'g-used', 10, 70, 12);")
            .await;
        run(include_str!("../../../migrations/sqlite/0003_grants.sql")).await;
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT grant_id, user_id, offline, created_at, expires_at FROM grants ORDER BY grant_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                ("fam".into(), "u1".into(), 1, 10, 200),
                ("g-code".into(), "u2".into(), 0, 10, 70 + 31_536_000),
                ("g-off".into(), "u2".into(), 1, 10, 70 + 31_536_000),
            ]
        );
    }

    /// A full disk (SQLITE_FULL, reproduced with `max_page_count` on the store's one
    /// connection): writes fail as backend errors, a failed write transaction leaves the
    /// connection clean, nothing stored is lost, and writes succeed again once there is
    /// space.
    #[tokio::test]
    async fn a_full_database_fails_writes_cleanly_and_recovers() {
        use crate::store::{ConsumeOutcome, GrantRecord, RefreshTokenRecord, StoreError, User};
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let token = |hash: &str| {
            RefreshTokenRecord::new(hash, "family", "client", "user", 1_000, 1_000_000)
        };
        let grant = GrantRecord::new("family", "client", "user", 1_000, 1_000_000);
        store.insert_grant(&grant).await.unwrap();
        store.insert_refresh_token(&token("old")).await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "PRAGMA max_page_count = {}",
            pages + 4
        )))
        .execute(&store.pool)
        .await
        .unwrap();
        let mut stored = 0;
        let err = loop {
            let mut u = User::new(format!("u{stored}"), format!("u{stored}@example.com"), 1);
            u.name = Some("x".repeat(2_000));
            match store.insert_user(&u).await {
                Ok(()) => stored += 1,
                Err(e) => break e,
            }
            assert!(stored < 10_000, "the database never filled up");
        };
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");

        // Rotation is a write transaction; it fails whole, and the connection still works.
        let successor = {
            let mut t = token("new");
            t.session_id = Some("s".repeat(4_000));
            t
        };
        assert!(
            store
                .rotate_refresh_token("old", &successor, 2_000)
                .await
                .is_err()
        );
        let old = store.get_refresh_token("old").await.unwrap().unwrap();
        assert!(
            old.rotated_at.is_none(),
            "the failed rotation left nothing behind"
        );
        assert!(store.get_refresh_token("new").await.unwrap().is_none());
        assert_eq!(store.list_users(None).await.unwrap().len(), stored);

        // Space is back: the next writes succeed.
        sqlx::query("PRAGMA max_page_count = 1073741823")
            .execute(&store.pool)
            .await
            .unwrap();
        let outcome = store
            .rotate_refresh_token("old", &successor, 2_000)
            .await
            .unwrap();
        assert!(
            matches!(outcome, ConsumeOutcome::Consumed(_)),
            "{outcome:?}"
        );
        store
            .insert_user(&User::new("late", "late@example.com", 3))
            .await
            .unwrap();
        assert_eq!(store.list_users(None).await.unwrap().len(), stored + 1);
    }
}
