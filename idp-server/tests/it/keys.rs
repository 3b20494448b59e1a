//! Key persistence across restarts and key rotation.

use std::sync::Arc;
use std::time::Duration;

use idp_core::FixedClock;
use idp_server::manage::NewUser;
use idp_server::store::SqliteStore;

use crate::common::{KEY, TestServer, verify_with_jsonwebtoken};

const ISSUER: &str = "http://localhost:4999";

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn kids(s: &TestServer) -> Vec<String> {
    let (_, _, jwks) = s.get_json("/.well-known/jwks.json").await;
    let mut k: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn restart_on_the_same_sqlite_file_keeps_users_clients_keys_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("idp.db").display());
    let clock = Arc::new(FixedClock::now_frozen());

    let s1 = TestServer::start_full(
        Arc::new(SqliteStore::connect(&url).await.unwrap()),
        clock.clone(),
        |b| b.issuer(ISSUER),
    )
    .await;
    s1.service_client("worker").await;
    let user = s1
        .provider
        .users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some("correct horse battery".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let token = s1.cc_token("worker", &[]).await;
    let kids_before = kids(&s1).await;
    s1.stop().await;

    let s2 = TestServer::start_full(
        Arc::new(SqliteStore::connect(&url).await.unwrap()),
        clock.clone(),
        |b| b.issuer(ISSUER),
    )
    .await;
    assert_eq!(
        kids(&s2).await,
        kids_before,
        "keys changed across a restart"
    );
    let u = s2.provider.users().get(&user.id).await.unwrap().unwrap();
    assert_eq!(u.email, "ada@example.com");
    assert!(
        s2.provider
            .users()
            .verify_password(None, "ADA@example.com", &"correct horse battery".into())
            .await
            .unwrap()
            .is_some()
    );
    assert!(s2.provider.clients().get("worker").await.unwrap().is_some());
    // The pre-restart token still validates, with jsonwebtoken and by introspection.
    verify_with_jsonwebtoken(&s2, &token, "api").await;
    let (_, _, body) = s2
        .post_form(
            "/oauth/introspect",
            Some(("worker", "worker-secret")),
            &[("token", &token)],
        )
        .await;
    assert_eq!(body["active"], true);
    s2.stop().await;

    // The wrong encryption key is a clear error, not a panic or a silent new key.
    let err = idp_server::Provider::builder()
        .issuer(ISSUER)
        .store(Arc::new(SqliteStore::connect(&url).await.unwrap()))
        .encryption_key("a different key that is 32 bytes or more")
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("encryption_key"), "{err}");
    let _ = KEY;
}

#[tokio::test]
async fn rotation_publishes_first_then_signs_and_old_tokens_keep_validating() {
    let s = TestServer::start_with(Arc::new(idp_server::store::MemoryStore::new()), |b| {
        b.key_publish_ahead(Duration::from_secs(600))
    })
    .await;
    s.service_client("worker").await;
    let old_token = s.cc_token("worker", &[]).await;
    let old_kid = kid(&old_token);
    assert_eq!(kids(&s).await.len(), 2);

    let new_keys = s.provider.keys().rotate().await.unwrap();
    assert_eq!(new_keys.len(), 2);
    let published = kids(&s).await;
    assert_eq!(published.len(), 4, "new keys are published at once");
    // Published, but not signing yet.
    let t = s.cc_token("worker", &[]).await;
    assert_eq!(kid(&t), old_kid);

    s.clock.advance(Duration::from_secs(601));
    let new_token = s.cc_token("worker", &[]).await;
    let new_kid = kid(&new_token);
    assert_ne!(new_kid, old_kid);
    assert!(new_keys.iter().any(|k| k.kid == new_kid));
    // Both validate.
    verify_with_jsonwebtoken(&s, &new_token, "api").await;
    verify_with_jsonwebtoken(&s, &old_token, "api").await;
    for t in [&old_token, &new_token] {
        let (_, _, body) = s
            .post_form(
                "/oauth/introspect",
                Some(("worker", "worker-secret")),
                &[("token", t)],
            )
            .await;
        assert_eq!(body["active"], true);
    }

    // Once every token the old keys signed has expired, they leave the key set.
    s.clock.advance(Duration::from_secs(3600 + 61));
    s.provider.maintenance().await.unwrap();
    let remaining = kids(&s).await;
    assert_eq!(remaining.len(), 2);
    assert!(!remaining.contains(&old_kid));
    assert!(remaining.contains(&new_kid));
    s.stop().await;
}

#[tokio::test]
async fn scheduled_rotation_happens_in_maintenance() {
    let s = TestServer::start_with(Arc::new(idp_server::store::MemoryStore::new()), |b| {
        b.key_rotation(Duration::from_secs(86_400))
    })
    .await;
    s.provider.maintenance().await.unwrap();
    assert_eq!(s.provider.keys().list().await.unwrap().len(), 2);
    s.clock.advance(Duration::from_secs(86_401));
    s.provider.maintenance().await.unwrap();
    assert_eq!(s.provider.keys().list().await.unwrap().len(), 4);
    s.stop().await;
}

/// Rotations within one second (publish-ahead 0, a frozen clock): the newest key signs,
/// never the one it retired.
#[tokio::test]
async fn the_newest_key_signs_after_rotations_in_the_same_second() {
    let s = TestServer::start_with(Arc::new(idp_server::store::MemoryStore::new()), |b| {
        b.key_publish_ahead(Duration::ZERO)
    })
    .await;
    s.service_client("svc").await;
    for _ in 0..4 {
        let created = s.provider.keys().rotate().await.unwrap();
        let es256 = created
            .iter()
            .find(|k| k.alg == idp_core::Algorithm::ES256)
            .unwrap();
        let token = s.cc_token("svc", &[]).await;
        assert_eq!(kid(&token), es256.kid);
    }
    s.stop().await;
}
