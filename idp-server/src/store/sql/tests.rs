//! Checks shared by the SQL dialects; each dialect's tests run them against its database.

use std::future::Future;

use idp_core::{Algorithm, Jwk};

use crate::store::{AuthMethod, Client, SigningKeyRecord, Store, StoreError, User};

/// Rows that the schema accepts but that do not decode are `Backend` errors naming the table
/// or column (never a panic, never a value). `exec` runs one statement on the store's
/// database; the rows are written through the store, then damaged in SQL that both
/// databases accept.
pub(super) async fn corrupt_rows_are_backend_errors<F, Fut>(store: &dyn Store, exec: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for (id, email) in [("u1", "a@example.com"), ("u2", "b@example.com")] {
        store.insert_user(&User::new(id, email, 1)).await.unwrap();
    }
    exec("UPDATE users SET allowed_scopes = 'bad\"scope' WHERE id = 'u1'").await;
    exec("UPDATE users SET attributes = '[1, 2]' WHERE id = 'u2'").await;
    for id in ["u1", "u2"] {
        match store.get_user(id).await {
            Err(StoreError::Backend(msg)) => assert!(msg.contains("users"), "{msg}"),
            other => panic!("expected a backend error, got {other:?}"),
        }
    }
    assert!(matches!(
        store.list_users(None).await,
        Err(StoreError::Backend(_))
    ));

    let jwk: Jwk = serde_json::from_str(r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#).unwrap();
    let key = SigningKeyRecord::new("k1", Algorithm::ES256, vec![0], jwk, 1);
    store.insert_key(&key).await.unwrap();
    exec("UPDATE signing_keys SET alg = 'HS256' WHERE kid = 'k1'").await;
    assert!(matches!(
        store.list_keys().await,
        Err(StoreError::Backend(_))
    ));

    let client = Client::new("c1", AuthMethod::ClientSecretBasic, 1);
    store.insert_client(&client).await.unwrap();
    exec(
        "UPDATE clients SET token_endpoint_auth_method = 'private_key_jwt' WHERE client_id = 'c1'",
    )
    .await;
    match store.get_client("c1").await {
        Err(StoreError::Backend(msg)) => {
            assert!(msg.contains("token_endpoint_auth_method"), "{msg}")
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
