//! Checks of the PostgreSQL dialect that need the pool; they run only with
//! `IDP_TEST_POSTGRES_URL` set (see `tests/it/storage.rs` for the conformance suite).

use sqlx::{AssertSqlSafe, Row};

use super::*;
use crate::store::sql::{self, tests::corrupt_rows_are_backend_errors};
use crate::store::{Store, User};

/// A store in a fresh schema of the test database; the schema is dropped with it.
struct Scratch {
    store: PostgresStore,
    base_url: String,
    schema: String,
}

impl Scratch {
    async fn new(tag: &str) -> Option<Self> {
        let Ok(base_url) = std::env::var("IDP_TEST_POSTGRES_URL") else {
            println!("skipped: IDP_TEST_POSTGRES_URL not set");
            return None;
        };
        let mut nonce = uuid::Uuid::new_v4().simple().to_string();
        nonce.truncate(12);
        let schema = format!("idp_unit_{tag}_{}_{nonce}", std::process::id());
        let mut conn = PgConnection::connect(&base_url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let sep = if base_url.contains('?') { '&' } else { '?' };
        // The application name lets the cleanup find connections a failed test left.
        let url = format!("{base_url}{sep}options[search_path]={schema}&application_name={schema}");
        let store = PostgresStore::connect(&url).await.unwrap();
        Some(Self {
            store,
            base_url,
            schema,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (base_url, schema) = (self.base_url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&base_url).await.ok()?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&schema)
                .execute(&mut conn)
                .await
                .ok()?;
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await
                    .ok()?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test schema {}", self.schema);
        }
    }
}

/// The plan of `sql` with sequential scans disabled (the tables are tiny), as text.
async fn plan(store: &PostgresStore, sql: &str, binds: &[&str], ints: &[i64]) -> String {
    let mut tx = store.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")));
    for b in binds {
        query = query.bind(*b);
    }
    for i in ints {
        query = query.bind(*i);
    }
    let rows = query.fetch_all(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn lookups_use_indexes() {
    let Some(s) = Scratch::new("plans").await else {
        return;
    };
    let mail = "a@example.com";
    let p = plan(
        &s.store,
        PostgresStore::FIND_USER_IN_TENANT,
        &["t1", mail],
        &[],
    )
    .await;
    assert!(p.contains("users_tenant_email"), "{p}");
    let p = plan(&s.store, PostgresStore::FIND_USER_NO_TENANT, &[mail], &[]).await;
    assert!(p.contains("users_no_tenant_email"), "{p}");
    let p = plan(&s.store, sql::USERS_OF_TENANT, &["t1"], &[]).await;
    assert!(p.contains("users_tenant_created"), "{p}");
    assert!(!p.contains("Sort"), "{p}");
    let p = plan(&s.store, sql::CLIENTS_OF_TENANT, &["t1"], &[]).await;
    assert!(p.contains("clients_tenant_created"), "{p}");
    assert!(!p.contains("Sort"), "{p}");
    let p = plan(&s.store, sql::REVOKE_FAMILY, &["f1"], &[1]).await;
    assert!(p.contains("refresh_tokens_family"), "{p}");
}

#[tokio::test]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn corrupt_rows_are_backend_errors_in_postgres() {
    let Some(s) = Scratch::new("corrupt").await else {
        return;
    };
    let pool = &s.store.pool;
    corrupt_rows_are_backend_errors(&s.store, |statement| async move {
        sqlx::query(statement).execute(pool).await.unwrap();
    })
    .await;
}

#[tokio::test]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn unique_violations_name_the_constraint() {
    let Some(s) = Scratch::new("unique").await else {
        return;
    };
    let store = &s.store;
    store
        .insert_user(&User::new("u1", "a@example.com", 1))
        .await
        .unwrap();
    // Both the id and the e-mail are taken: the id is reported, as by the other stores.
    match store
        .insert_user(&User::new("u1", "A@example.com", 1))
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "user id already exists"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store
        .insert_user(&User::new("u2", "A@example.com", 1))
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "email already registered"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn rejects_other_urls() {
    for url in [
        "sqlite://idp.db",
        "memory:",
        "mysql://localhost/idp",
        "postgres:/x",
    ] {
        match PostgresStore::connect(url).await {
            Err(StoreError::Backend(m)) => assert!(m.contains("not a PostgreSQL URL"), "{m}"),
            other => panic!("{url}: expected a backend error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn connection_errors_do_not_show_the_password() {
    // Nothing listens on port 1.
    let url = "postgres://idp:s3cret-pw@127.0.0.1:1/idp";
    match PostgresStore::connect(url).await {
        Err(StoreError::Backend(m)) => {
            assert!(m.starts_with("cannot connect to PostgreSQL"), "{m}");
            assert!(!m.contains("s3cret-pw"), "{m}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
