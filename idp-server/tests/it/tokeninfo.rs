//! Introspection (RFC 7662) and revocation (RFC 7009).

use std::sync::Arc;
use std::time::Duration;

use idp_core::{Scope, sha256_b64url};
use idp_server::store::{GrantRecord, MemoryStore, RefreshTokenRecord, Store};

use crate::common::TestServer;

#[tokio::test]
async fn introspection_active_then_revoked_then_inactive() {
    let s = TestServer::start().await;
    let secret = s.service_client("worker").await;
    let auth = Some(("worker", secret.as_str()));
    let token = s.cc_token("worker", &[("scope", "read")]).await;

    let (status, headers, body) = s
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "worker");
    assert_eq!(body["sub"], "worker");
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], s.base);
    assert_eq!(body["token_use"], "service");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    let (status, _, body) = s
        .post_form(
            "/oauth/revoke",
            auth,
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, _, body) = s
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(body, serde_json::json!({"active": false}));
    s.stop().await;
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let s = TestServer::start().await;
    s.service_client("worker").await;
    let token = s.cc_token("worker", &[]).await;
    for auth in [None, Some(("worker", "wrong"))] {
        let (status, headers, body) = s
            .post_form("/oauth/introspect", auth, &[("token", &token)])
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert!(headers.contains_key("www-authenticate"));
    }
    let (status, _, body) = s
        .post_form("/oauth/introspect", Some(("worker", "worker-secret")), &[])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    s.stop().await;
}

#[tokio::test]
async fn unknown_garbage_expired_and_foreign_tokens() {
    let s = TestServer::start().await;
    s.service_client("worker").await;
    s.service_client("other").await;
    let auth = Some(("worker", "worker-secret"));
    for t in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        &"x".repeat(10_000),
    ] {
        let (status, _, body) = s
            .post_form("/oauth/introspect", auth, &[("token", t)])
            .await;
        assert_eq!((status, body["active"].as_bool()), (200, Some(false)));
        let (status, _, _) = s.post_form("/oauth/revoke", auth, &[("token", t)]).await;
        assert_eq!(status, 200);
    }
    // Another client may introspect a token (a gateway does), but not revoke it.
    let token = s.cc_token("worker", &[]).await;
    let other = Some(("other", "other-secret"));
    let (_, _, body) = s
        .post_form("/oauth/introspect", other, &[("token", &token)])
        .await;
    assert_eq!(body["active"], true);
    let (status, _, _) = s
        .post_form("/oauth/revoke", other, &[("token", &token)])
        .await;
    assert_eq!(status, 200);
    let (_, _, body) = s
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(body["active"], true, "a foreign client revoked the token");
    // Expired: 15 minutes and one second later.
    s.clock.advance(Duration::from_secs(901));
    let (_, _, body) = s
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(body, serde_json::json!({"active": false}));
    s.stop().await;
}

#[tokio::test]
async fn refresh_tokens_introspect_to_their_client_and_revoke_by_family() {
    let store = Arc::new(MemoryStore::new());
    let s = TestServer::start_with(store.clone(), |b| b).await;
    s.service_client("worker").await;
    s.service_client("other").await;
    let now = s.provider.store().as_ref().list_keys().await.unwrap()[0].created_at;
    let mut first = RefreshTokenRecord::new(
        sha256_b64url(b"rt-one"),
        "fam-1",
        "worker",
        "user-1",
        now,
        now + 3600,
    );
    first.scope = Scope::parse("openid offline_access").unwrap();
    let grant = GrantRecord::new("fam-1", "worker", "user-1", now, now + 3600);
    store.insert_grant(&grant).await.unwrap();
    store.insert_refresh_token(&first).await.unwrap();
    let mut second = first.clone();
    second.token_hash = sha256_b64url(b"rt-two");
    store.insert_refresh_token(&second).await.unwrap();

    let auth = Some(("worker", "worker-secret"));
    let (_, _, body) = s
        .post_form(
            "/oauth/introspect",
            auth,
            &[("token", "rt-one"), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], "user-1");
    assert_eq!(body["scope"], "offline_access openid");
    // The hint is only a hint.
    let (_, _, body) = s
        .post_form(
            "/oauth/introspect",
            auth,
            &[("token", "rt-one"), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(body["active"], true);
    // Not described to another client.
    let (_, _, body) = s
        .post_form(
            "/oauth/introspect",
            Some(("other", "other-secret")),
            &[("token", "rt-one")],
        )
        .await;
    assert_eq!(body["active"], false);

    let (status, _, _) = s
        .post_form("/oauth/revoke", auth, &[("token", "rt-one")])
        .await;
    assert_eq!(status, 200);
    for h in [b"rt-one".as_slice(), b"rt-two"] {
        let rec = store
            .get_refresh_token(&sha256_b64url(h))
            .await
            .unwrap()
            .unwrap();
        assert!(rec.revoked_at.is_some(), "family member not revoked");
    }
    let (_, _, body) = s
        .post_form("/oauth/introspect", auth, &[("token", "rt-two")])
        .await;
    assert_eq!(body["active"], false);
    s.stop().await;
}
