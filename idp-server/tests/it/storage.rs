//! The storage conformance suite: every `Store` backend must pass [`conformance`].
//!
//! Each section uses its own ids, so the whole suite runs on one store; the purge section uses
//! a time base far before the others so that it only ever sees its own rows expire.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use idp_core::{Algorithm, GrantType, Jwk, Scope};
use idp_server::store::{
    AccountTokenPurpose, AccountTokenRecord, AuthCodeRecord, AuthMethod, Client, ConsentRecord,
    ConsumeOutcome, DeviceCodeRecord, DeviceDecision, DevicePoll, DeviceStatus, GrantRecord,
    GrantsOf, MemoryStore, PostgresStore, RefreshTokenRecord, SecretHash, SessionRecord,
    SigningKeyRecord, SqliteStore, Store, StoreError, Tenant, User,
};
use serde_json::{Map, Value, json};
use tokio::sync::Barrier;

/// "Now" for every section but the purge one.
const NOW: i64 = 1_700_000_000;

/// How many tasks race for one code or one refresh token.
const RACERS: usize = 16;

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

fn client_ids(clients: &[Client]) -> Vec<&str> {
    clients.iter().map(|c| c.client_id.as_str()).collect()
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict(_))),
        "expected Conflict, got {result:?}"
    );
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Runs every check against `store`, which must start empty.
async fn conformance(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert!(
        s.list_users(None).await.unwrap().is_empty(),
        "store not empty"
    );
    users(s).await;
    clients(s).await;
    tenants(s).await;
    keys(s).await;
    codes(s).await;
    concurrent_code_consumption(store.clone()).await;
    device_codes(s).await;
    concurrent_device_consumption(store.clone()).await;
    refresh_tokens(s).await;
    concurrent_refresh_rotation(store.clone()).await;
    grants(s).await;
    sessions(s).await;
    user_sessions(s).await;
    consents(s).await;
    account_tokens(s).await;
    revoked_access_tokens(s).await;
    crate::storage_two_factor::two_factor(store.clone()).await;
    // The readiness write: repeatable, and it leaves nothing a purge would count.
    s.probe_write(NOW).await.unwrap();
    s.probe_write(NOW + 1).await.unwrap();
    nul_keys(s).await;
    purge(s).await;
}

// ---- tenants ----

async fn tenants(s: &dyn Store) {
    assert!(s.list_tenants().await.unwrap().is_empty());
    let bare = Tenant::new("globex", NOW);
    let mut acme = Tenant::new("acme", NOW);
    acme.display_name = Some("Acme Corporation ✓".into());
    acme.logo_url = Some("https://cdn.example.com/acme.svg".into());
    acme.allowed_scopes = Some(scope("openid orders:read"));
    s.insert_tenant(&bare).await.unwrap();
    s.insert_tenant(&acme).await.unwrap();
    assert!(matches!(
        s.insert_tenant(&Tenant::new("acme", NOW)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_tenant("acme").await.unwrap().unwrap(), acme);
    assert_eq!(s.get_tenant("globex").await.unwrap().unwrap(), bare);
    assert!(s.get_tenant("initech").await.unwrap().is_none());
    assert!(s.get_tenant("a\0b").await.unwrap().is_none());
    let ids: Vec<String> = s
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["acme", "globex"]);
    let mut changed = acme.clone();
    changed.display_name = None;
    changed.allowed_scopes = None;
    changed.updated_at = NOW + 5;
    s.update_tenant(&changed).await.unwrap();
    assert_eq!(s.get_tenant("acme").await.unwrap().unwrap(), changed);
    assert!(matches!(
        s.update_tenant(&Tenant::new("initech", NOW)).await,
        Err(StoreError::NotFound)
    ));
}

// ---- users ----

fn full_user() -> User {
    let mut u = User::new("u-alice", "Alice@Example.com", NOW);
    u.tenant_id = Some("acme".into());
    u.email_verified = true;
    u.password_hash = Some(SecretHash::new(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    ));
    u.name = Some("Alice Liddell".into());
    u.given_name = Some("Alice".into());
    u.family_name = Some("Liddell".into());
    u.picture = Some("https://example.com/alice.png".into());
    u.locale = Some("en-GB".into());
    u.allowed_scopes = Some(scope("openid profile email"));
    u.attributes = object(json!({
        "department": "R&D",
        "level": 3,
        "ratio": 0.25,
        "big": 18_446_744_073_709_551_615_u64,
        "tags": ["a", "b"],
        "nested": { "x": null, "y": true },
        "unicode": "Grüße ✓",
    }));
    u.updated_at = NOW + 1;
    u
}

fn user(id: &str, tenant: Option<&str>, email: &str, created_at: i64) -> User {
    let mut u = User::new(id, email, created_at);
    u.tenant_id = tenant.map(str::to_owned);
    u
}

async fn users(s: &dyn Store) {
    // Round trip of every field, with defaults and with everything set.
    let alice = full_user();
    s.insert_user(&alice).await.unwrap();
    assert_eq!(s.get_user("u-alice").await.unwrap(), Some(alice.clone()));
    let plain = user("u-plain", Some("acme"), "plain@example.com", NOW);
    s.insert_user(&plain).await.unwrap();
    assert_eq!(s.get_user("u-plain").await.unwrap(), Some(plain.clone()));
    let mut no_scopes_allowed = user("u-empty-scope", Some("acme"), "empty@example.com", NOW);
    no_scopes_allowed.allowed_scopes = Some(Scope::new());
    s.insert_user(&no_scopes_allowed).await.unwrap();
    assert_eq!(
        s.get_user("u-empty-scope").await.unwrap(),
        Some(no_scopes_allowed.clone()),
        "Some(empty scope) is not None"
    );
    assert_eq!(s.get_user("nobody").await.unwrap(), None);

    // Lookup by e-mail ignores ASCII case, within the tenant only.
    for email in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "Alice@Example.com",
    ] {
        assert_eq!(
            s.find_user_by_email(Some("acme"), email).await.unwrap(),
            Some(alice.clone()),
            "{email}"
        );
    }
    assert_eq!(
        s.find_user_by_email(None, "alice@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_user_by_email(Some("globex"), "alice@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_user_by_email(Some("acme"), "alice@example.co")
            .await
            .unwrap(),
        None
    );

    // The same address in another tenant, with no tenant, and in the tenant named "".
    let globex = user("u-alice-globex", Some("globex"), "alice@example.com", NOW);
    s.insert_user(&globex).await.unwrap();
    let untenanted = user("u-alice-none", None, "ALICE@example.com", NOW);
    s.insert_user(&untenanted).await.unwrap();
    let empty_tenant = user("u-alice-empty", Some(""), "alice@example.com", NOW);
    s.insert_user(&empty_tenant).await.unwrap();
    let find = |t: Option<&'static str>| s.find_user_by_email(t, "alice@EXAMPLE.com");
    assert_eq!(find(Some("acme")).await.unwrap().unwrap().id, "u-alice");
    assert_eq!(
        find(Some("globex")).await.unwrap().unwrap().id,
        "u-alice-globex"
    );
    assert_eq!(find(None).await.unwrap().unwrap().id, "u-alice-none");
    assert_eq!(find(Some("")).await.unwrap().unwrap().id, "u-alice-empty");

    // Duplicates: the e-mail in any case within one tenant, or the id.
    assert_conflict(
        s.insert_user(&user("u-dup", Some("acme"), "aLiCe@example.COM", NOW))
            .await,
    );
    assert_conflict(
        s.insert_user(&user("u-dup", None, "alice@example.com", NOW))
            .await,
    );
    assert_conflict(
        s.insert_user(&user("u-dup", Some(""), "Alice@example.com", NOW))
            .await,
    );
    assert_conflict(
        s.insert_user(&user("u-alice", Some("acme"), "new@example.com", NOW))
            .await,
    );
    assert_eq!(s.get_user("u-dup").await.unwrap(), None);
    assert_eq!(s.get_user("u-alice").await.unwrap(), Some(alice.clone()));

    // Only ASCII case is ignored.
    s.insert_user(&user("u-eve-lower", Some("acme"), "ève@example.com", NOW))
        .await
        .unwrap();
    s.insert_user(&user("u-eve-upper", Some("acme"), "ÈVE@example.com", NOW))
        .await
        .unwrap();
    let eve = s
        .find_user_by_email(Some("acme"), "ÈVE@EXAMPLE.COM")
        .await
        .unwrap();
    assert_eq!(eve.unwrap().id, "u-eve-upper");

    // Updates replace the record; the e-mail stays unique; a user keeps its own address.
    let mut bob = user("u-bob", Some("acme"), "bob@example.com", NOW);
    s.insert_user(&bob).await.unwrap();
    let mut taken = bob.clone();
    taken.email = "ALICE@example.com".into();
    assert_conflict(s.update_user(&taken).await);
    assert_eq!(s.get_user("u-bob").await.unwrap(), Some(bob.clone()));
    bob.email = "Robert@example.com".into();
    bob.name = Some("Robert".into());
    bob.active = false;
    bob.password_hash = Some(SecretHash::new("$argon2id$new"));
    bob.attributes = object(json!({ "k": "v" }));
    bob.updated_at = NOW + 10;
    s.update_user(&bob).await.unwrap();
    assert_eq!(s.get_user("u-bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(
        s.find_user_by_email(Some("acme"), "bob@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_user_by_email(Some("acme"), "robert@example.com")
            .await
            .unwrap(),
        Some(bob.clone())
    );
    let mut recased = alice.clone();
    recased.email = "ALICE@EXAMPLE.COM".into();
    recased.password_hash = None;
    recased.allowed_scopes = None;
    s.update_user(&recased).await.unwrap();
    assert_eq!(s.get_user("u-alice").await.unwrap(), Some(recased.clone()));
    // Moving a user to another tenant is checked against that tenant's addresses.
    let mut moved = bob.clone();
    moved.tenant_id = Some("globex".into());
    moved.email = "alice@example.com".into();
    assert_conflict(s.update_user(&moved).await);
    assert_not_found(
        s.update_user(&user("u-ghost", Some("acme"), "ghost@example.com", NOW))
            .await,
    );
    assert_eq!(s.get_user("u-ghost").await.unwrap(), None);

    // Listing: by tenant or all, ordered by creation time then id.
    s.insert_user(&user(
        "u-old-b",
        Some("acme"),
        "old-b@example.com",
        NOW - 100,
    ))
    .await
    .unwrap();
    s.insert_user(&user(
        "u-old-a",
        Some("acme"),
        "old-a@example.com",
        NOW - 100,
    ))
    .await
    .unwrap();
    s.insert_user(&user("u-new", Some("acme"), "new@example.com", NOW + 100))
        .await
        .unwrap();
    let acme = s.list_users(Some("acme")).await.unwrap();
    assert_eq!(
        ids(&acme),
        [
            "u-old-a",
            "u-old-b",
            "u-alice",
            "u-bob",
            "u-empty-scope",
            "u-eve-lower",
            "u-eve-upper",
            "u-plain",
            "u-new"
        ]
    );
    assert_eq!(acme[2], recased);
    assert_eq!(
        ids(&s.list_users(Some("globex")).await.unwrap()),
        ["u-alice-globex"]
    );
    assert_eq!(
        ids(&s.list_users(Some("")).await.unwrap()),
        ["u-alice-empty"]
    );
    assert!(s.list_users(Some("initech")).await.unwrap().is_empty());
    let all = s.list_users(None).await.unwrap();
    assert_eq!(
        ids(&all),
        [
            "u-old-a",
            "u-old-b",
            "u-alice",
            "u-alice-empty",
            "u-alice-globex",
            "u-alice-none",
            "u-bob",
            "u-empty-scope",
            "u-eve-lower",
            "u-eve-upper",
            "u-plain",
            "u-new"
        ]
    );
    // Pages read from the store, in the same order.
    let upage = |t: Option<&'static str>, after: Option<&'static str>, n: u32| async move {
        s.list_users_after(t, after, n)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        upage(None, None, 3).await,
        ["u-old-a", "u-old-b", "u-alice"]
    );
    assert_eq!(
        upage(None, Some("u-alice"), 3).await,
        ["u-alice-empty", "u-alice-globex", "u-alice-none"]
    );
    assert_eq!(upage(None, Some("u-plain"), 3).await, ["u-new"]);
    assert!(upage(None, Some("u-new"), 3).await.is_empty());
    assert!(upage(None, Some("u-nobody"), 3).await.is_empty());
    assert_eq!(
        upage(Some("acme"), Some("u-alice"), 2).await,
        ["u-bob", "u-empty-scope"]
    );
    assert!(
        upage(Some("acme"), Some("u-alice-globex"), 2)
            .await
            .is_empty()
    );

    // Deleting frees the address.
    assert!(s.delete_user("u-bob").await.unwrap());
    assert!(!s.delete_user("u-bob").await.unwrap());
    assert!(!s.delete_user("nobody").await.unwrap());
    assert_eq!(s.get_user("u-bob").await.unwrap(), None);
    assert_eq!(
        s.find_user_by_email(Some("acme"), "robert@example.com")
            .await
            .unwrap(),
        None
    );
    assert_not_found(s.update_user(&bob).await);
    s.insert_user(&user("u-robert", Some("acme"), "robert@example.com", NOW))
        .await
        .unwrap();
}

// ---- clients ----

fn full_client() -> Client {
    let mut c = Client::new("web", AuthMethod::ClientSecretBasic, NOW);
    c.tenant_id = Some("acme".into());
    c.name = Some("Acme Web".into());
    c.secret_hash = Some(SecretHash::new("keyed-hash:0123456789abcdef"));
    c.redirect_uris = vec![
        "https://app.example.com/callback".into(),
        "http://127.0.0.1/callback".into(),
    ];
    c.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()];
    c.allowed_scopes = scope("openid profile email offline_access");
    c.grant_types = vec![
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::Other("urn:example:custom".into()),
    ];
    c.audiences = vec![
        "https://api.example.com".into(),
        "https://billing.example.com".into(),
    ];
    c.first_party = true;
    c.attributes = object(json!({ "plan": "gold", "limits": { "rps": 10 } }));
    c.updated_at = NOW + 1;
    c
}

fn client(id: &str, tenant: Option<&str>, method: AuthMethod, created_at: i64) -> Client {
    let mut c = Client::new(id, method, created_at);
    c.tenant_id = tenant.map(str::to_owned);
    c
}

async fn clients(s: &dyn Store) {
    let web = full_client();
    s.insert_client(&web).await.unwrap();
    assert_eq!(s.get_client("web").await.unwrap(), Some(web.clone()));
    assert_conflict(
        s.insert_client(&client("web", None, AuthMethod::None, NOW))
            .await,
    );
    assert_eq!(s.get_client("web").await.unwrap(), Some(web.clone()));
    assert_eq!(s.get_client("nobody").await.unwrap(), None);

    let spa = client("spa", Some("acme"), AuthMethod::None, NOW - 10);
    s.insert_client(&spa).await.unwrap();
    assert_eq!(s.get_client("spa").await.unwrap(), Some(spa.clone()));
    let post = client("post", Some("acme"), AuthMethod::ClientSecretPost, NOW - 10);
    s.insert_client(&post).await.unwrap();
    assert_eq!(s.get_client("post").await.unwrap(), Some(post.clone()));
    s.insert_client(&client(
        "svc",
        Some("globex"),
        AuthMethod::ClientSecretPost,
        NOW - 20,
    ))
    .await
    .unwrap();
    s.insert_client(&client("cli", None, AuthMethod::None, NOW + 5))
        .await
        .unwrap();

    assert_eq!(
        client_ids(&s.list_clients(Some("acme")).await.unwrap()),
        ["post", "spa", "web"]
    );
    assert_eq!(
        client_ids(&s.list_clients(Some("globex")).await.unwrap()),
        ["svc"]
    );
    assert!(s.list_clients(Some("initech")).await.unwrap().is_empty());
    assert_eq!(
        client_ids(&s.list_clients(None).await.unwrap()),
        ["svc", "post", "spa", "web", "cli"]
    );
    // Pages read from the store, in the same order: after an id, up to a limit.
    let page = |t: Option<&'static str>, after: Option<&'static str>, n: u32| async move {
        s.list_clients_after(t, after, n)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None, None, 2).await, ["svc", "post"]);
    assert_eq!(page(None, Some("post"), 2).await, ["spa", "web"]);
    assert_eq!(page(None, Some("web"), 9).await, ["cli"]);
    assert!(page(None, Some("cli"), 9).await.is_empty());
    assert!(page(None, Some("nobody"), 9).await.is_empty());
    assert_eq!(page(Some("acme"), Some("post"), 9).await, ["spa", "web"]);
    // A cursor of another tenant does not leak into this tenant's pages.
    assert!(page(Some("acme"), Some("svc"), 9).await.is_empty());

    let mut changed = web.clone();
    changed
        .redirect_uris
        .push("https://app.example.com/other".into());
    changed.grant_types = vec![GrantType::AuthorizationCode];
    changed.secret_hash = None;
    changed.token_endpoint_auth_method = AuthMethod::None;
    changed.allowed_scopes = Scope::new();
    changed.audiences.clear();
    changed.first_party = false;
    changed.active = false;
    changed.tenant_id = None;
    changed.name = None;
    changed.updated_at = NOW + 50;
    s.update_client(&changed).await.unwrap();
    assert_eq!(s.get_client("web").await.unwrap(), Some(changed.clone()));
    assert_eq!(
        client_ids(&s.list_clients(Some("acme")).await.unwrap()),
        ["post", "spa"]
    );
    assert_not_found(
        s.update_client(&client("ghost", None, AuthMethod::None, NOW))
            .await,
    );
    assert_eq!(s.get_client("ghost").await.unwrap(), None);

    assert!(s.delete_client("spa").await.unwrap());
    assert!(!s.delete_client("spa").await.unwrap());
    assert_eq!(s.get_client("spa").await.unwrap(), None);
    assert_not_found(s.update_client(&spa).await);
    assert_eq!(
        client_ids(&s.list_clients(Some("acme")).await.unwrap()),
        ["post"]
    );
}

// ---- signing keys ----

async fn keys(s: &dyn Store) {
    let mut old = SigningKeyRecord::new(
        "k-old",
        Algorithm::RS256,
        vec![0, 1, 2, 254, 255],
        Jwk::rsa(&[0xc5; 256], &[1, 0, 1])
            .with_kid("k-old")
            .for_signing(Algorithm::RS256),
        NOW - 1000,
    );
    old.activates_at = NOW - 900;
    let mut new = SigningKeyRecord::new(
        "k-new",
        Algorithm::ES256,
        vec![9; 64],
        Jwk::ec("P-256", &[1; 32], &[2; 32])
            .with_kid("k-new")
            .for_signing(Algorithm::ES256),
        NOW,
    );
    new.activates_at = NOW + 3600;
    let ed = SigningKeyRecord::new(
        "k-ed",
        Algorithm::EdDSA,
        Vec::new(),
        Jwk::ed25519(&[7; 32])
            .with_kid("k-ed")
            .for_signing(Algorithm::EdDSA),
        NOW,
    );

    assert!(s.list_keys().await.unwrap().is_empty());
    s.insert_key(&new).await.unwrap();
    s.insert_key(&ed).await.unwrap();
    s.insert_key(&old).await.unwrap();
    assert_conflict(s.insert_key(&old).await);
    // Oldest first, ties by kid; every field round-trips.
    assert_eq!(
        s.list_keys().await.unwrap(),
        [old.clone(), ed.clone(), new.clone()]
    );

    s.retire_key("k-old", NOW + 3600, NOW + 7200).await.unwrap();
    old.retired_at = Some(NOW + 3600);
    old.expires_at = Some(NOW + 7200);
    assert_eq!(s.list_keys().await.unwrap()[0], old);
    assert_not_found(s.retire_key("k-ghost", NOW, NOW).await);

    // Expired means `expires_at` before `now`; keys without an expiry stay.
    assert_eq!(s.delete_expired_keys(NOW + 7200).await.unwrap(), 0);
    assert_eq!(s.list_keys().await.unwrap().len(), 3);
    assert_eq!(s.delete_expired_keys(NOW + 7201).await.unwrap(), 1);
    assert_eq!(s.list_keys().await.unwrap(), [ed.clone(), new.clone()]);
    assert_eq!(s.delete_expired_keys(i64::MAX).await.unwrap(), 0);
    // The kid is free again.
    s.insert_key(&SigningKeyRecord::new(
        "k-old",
        Algorithm::ES384,
        vec![1],
        new.public_jwk.clone(),
        NOW + 1,
    ))
    .await
    .unwrap();
    assert_eq!(s.list_keys().await.unwrap().len(), 3);
}

// ---- authorization codes ----

fn code(hash: &str, expires_at: i64) -> AuthCodeRecord {
    let mut c = AuthCodeRecord::new(
        hash,
        "web",
        "u-alice",
        "https://app.example.com/callback",
        format!("grant-{hash}"),
        NOW,
        expires_at,
    );
    c.scope = scope("openid profile offline_access");
    c
}

async fn codes(s: &dyn Store) {
    let mut c1 = code("code-1", NOW + 60);
    c1.nonce = Some("n-0S6_WzA2Mj".into());
    c1.code_challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into());
    c1.session_id = Some("sid-1".into());
    c1.auth_time = NOW - 30;
    s.insert_code(&c1).await.unwrap();
    assert_conflict(s.insert_code(&c1).await);

    let mut consumed = c1.clone();
    consumed.consumed_at = Some(NOW + 1);
    assert_eq!(
        s.consume_code("code-1", NOW + 1).await.unwrap(),
        ConsumeOutcome::Consumed(consumed.clone())
    );
    // A replay returns the record as first consumed, also after it would have expired.
    assert_eq!(
        s.consume_code("code-1", NOW + 2).await.unwrap(),
        ConsumeOutcome::AlreadyUsed(consumed.clone())
    );
    assert_eq!(
        s.consume_code("code-1", NOW + 1000).await.unwrap(),
        ConsumeOutcome::AlreadyUsed(consumed)
    );
    assert_eq!(
        s.consume_code("code-unknown", NOW).await.unwrap(),
        ConsumeOutcome::NotFound
    );

    // Expired and never used: NotFound, and the attempt does not consume it (expiry is
    // `expires_at <= now`).
    let c2 = code("code-2", NOW + 60);
    s.insert_code(&c2).await.unwrap();
    assert_eq!(
        s.consume_code("code-2", NOW + 60).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(
        s.consume_code("code-2", NOW + 61).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    let mut c2_consumed = c2.clone();
    c2_consumed.consumed_at = Some(NOW + 59);
    assert_eq!(
        s.consume_code("code-2", NOW + 59).await.unwrap(),
        ConsumeOutcome::Consumed(c2_consumed)
    );

    // Minimal record round trip.
    let c3 = AuthCodeRecord::new("code-3", "spa", "u-plain", "app:/cb", "g3", NOW, NOW + 60);
    s.insert_code(&c3).await.unwrap();
    let mut c3_consumed = c3.clone();
    c3_consumed.consumed_at = Some(NOW);
    assert_eq!(
        s.consume_code("code-3", NOW).await.unwrap(),
        ConsumeOutcome::Consumed(c3_consumed)
    );
}

async fn concurrent_code_consumption(store: Arc<dyn Store>) {
    store
        .insert_code(&code("code-race", NOW + 60))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.consume_code("code-race", NOW + 1).await
            })
        })
        .collect();
    let (mut consumed, mut replays) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            ConsumeOutcome::Consumed(c) => {
                assert_eq!(c.consumed_at, Some(NOW + 1));
                consumed += 1;
            }
            ConsumeOutcome::AlreadyUsed(c) => {
                assert_eq!(c.consumed_at, Some(NOW + 1));
                replays += 1;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((consumed, replays), (1, RACERS - 1));
}

// ---- device authorizations ----

fn device(hash: &str, user_code: &str, expires_at: i64) -> DeviceCodeRecord {
    let mut d = DeviceCodeRecord::new(hash, user_code, "tv", NOW, expires_at, 5);
    d.scope = scope("openid profile offline_access");
    d
}

async fn device_codes(s: &dyn Store) {
    let d1 = device("dev-1", "BCDFGHJK", NOW + 600);
    s.insert_device_code(&d1).await.unwrap();
    assert_eq!(s.get_device_code("dev-1").await.unwrap(), Some(d1.clone()));
    assert_eq!(s.get_device_code("dev-unknown").await.unwrap(), None);
    // The device code hash and the user code are each unique.
    assert_conflict(s.insert_device_code(&d1).await);
    assert_conflict(
        s.insert_device_code(&device("dev-1b", "BCDFGHJK", NOW + 600))
            .await,
    );

    // Found by user code while pending and unexpired.
    assert_eq!(
        s.find_pending_user_code("BCDFGHJK", NOW + 599)
            .await
            .unwrap(),
        Some(d1.clone())
    );
    assert_eq!(
        s.find_pending_user_code("BCDFGHJK", NOW + 600)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_pending_user_code("ZZZZZZZZ", NOW).await.unwrap(),
        None
    );

    // Pending: the first poll is recorded; a poll within the interval is slow_down and the
    // interval grows by 5 s; a poll after the (grown) interval is pending again.
    let polled = |d: &DeviceCodeRecord, at: i64, interval: i64| {
        let mut d = d.clone();
        d.last_polled_at = Some(at);
        d.interval = interval;
        d
    };
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 1).await.unwrap(),
        DevicePoll::Pending(polled(&d1, NOW + 1, 5))
    );
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 5).await.unwrap(),
        DevicePoll::SlowDown(polled(&d1, NOW + 5, 10))
    );
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 14).await.unwrap(),
        DevicePoll::SlowDown(polled(&d1, NOW + 14, 15))
    );
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 29).await.unwrap(),
        DevicePoll::Pending(polled(&d1, NOW + 29, 15))
    );
    assert_eq!(
        s.poll_device_code("dev-unknown", NOW).await.unwrap(),
        DevicePoll::NotFound
    );

    // Approved once: the first decision wins, a second finds nothing pending.
    let mut approval = DeviceDecision::approve("u-alice", "g-dev-1", scope("openid profile"));
    approval.session_id = Some("sid-dev".into());
    approval.auth_time = Some(NOW + 20);
    let decided = s
        .decide_device_code("BCDFGHJK", &approval, NOW + 30)
        .await
        .unwrap()
        .expect("pending");
    let mut expected = polled(&d1, NOW + 29, 15);
    expected.status = DeviceStatus::Approved;
    expected.user_id = Some("u-alice".into());
    expected.grant_id = Some("g-dev-1".into());
    expected.granted_scope = Some(scope("openid profile"));
    expected.session_id = Some("sid-dev".into());
    expected.auth_time = Some(NOW + 20);
    expected.decided_at = Some(NOW + 30);
    assert_eq!(decided, expected);
    assert_eq!(
        s.decide_device_code("BCDFGHJK", &DeviceDecision::deny("u-bob"), NOW + 31)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_pending_user_code("BCDFGHJK", NOW + 31)
            .await
            .unwrap(),
        None
    );
    // Too soon is still too soon once approved; then one poll consumes it, and every later
    // poll (also after expiry) finds it used.
    assert!(matches!(
        s.poll_device_code("dev-1", NOW + 40).await.unwrap(),
        DevicePoll::SlowDown(d) if d.interval == 20 && d.consumed_at.is_none()
    ));
    let mut consumed = expected.clone();
    consumed.interval = 20;
    consumed.last_polled_at = Some(NOW + 60);
    consumed.consumed_at = Some(NOW + 60);
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 60).await.unwrap(),
        DevicePoll::Consumed(consumed.clone())
    );
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 100).await.unwrap(),
        DevicePoll::AlreadyUsed(consumed.clone())
    );
    assert_eq!(
        s.poll_device_code("dev-1", NOW + 1000).await.unwrap(),
        DevicePoll::AlreadyUsed(consumed)
    );

    // Denied: every poll says so, without consuming.
    let d2 = device("dev-2", "LMNPQRST", NOW + 600);
    s.insert_device_code(&d2).await.unwrap();
    let denied = s
        .decide_device_code("LMNPQRST", &DeviceDecision::deny("u-alice"), NOW + 1)
        .await
        .unwrap()
        .expect("pending");
    assert_eq!(denied.status, DeviceStatus::Denied);
    assert_eq!(denied.grant_id, None);
    for at in [NOW + 2, NOW + 10] {
        assert!(matches!(
            s.poll_device_code("dev-2", at).await.unwrap(),
            DevicePoll::Denied(d) if d.consumed_at.is_none() && d.user_id.as_deref() == Some("u-alice")
        ));
    }

    // Expired: no decision, and polls say expired (`expires_at <= now`).
    let d3 = device("dev-3", "VWXZBCDF", NOW + 600);
    s.insert_device_code(&d3).await.unwrap();
    assert_eq!(
        s.decide_device_code("VWXZBCDF", &DeviceDecision::deny("u-alice"), NOW + 600)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.poll_device_code("dev-3", NOW + 600).await.unwrap(),
        DevicePoll::Expired(d3.clone())
    );
    // An approved one that expired before the device came for it.
    let d4 = device("dev-4", "GHJKLMNP", NOW + 60);
    s.insert_device_code(&d4).await.unwrap();
    s.decide_device_code(
        "GHJKLMNP",
        &DeviceDecision::approve("u-alice", "g-dev-4", scope("openid")),
        NOW + 1,
    )
    .await
    .unwrap()
    .expect("pending");
    assert!(matches!(
        s.poll_device_code("dev-4", NOW + 61).await.unwrap(),
        DevicePoll::Expired(d) if d.consumed_at.is_none()
    ));
}

async fn concurrent_device_consumption(store: Arc<dyn Store>) {
    store
        .insert_device_code(&device("dev-race", "QRSTVWXZ", NOW + 600))
        .await
        .unwrap();
    store
        .decide_device_code(
            "QRSTVWXZ",
            &DeviceDecision::approve("u-alice", "g-dev-race", scope("openid")),
            NOW,
        )
        .await
        .unwrap()
        .expect("pending");
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.poll_device_code("dev-race", NOW + 1).await
            })
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            DevicePoll::Consumed(d) => {
                assert_eq!(d.consumed_at, Some(NOW + 1));
                consumed += 1;
            }
            DevicePoll::AlreadyUsed(_) | DevicePoll::SlowDown(_) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(consumed, 1);
}

// ---- refresh tokens ----

fn refresh(hash: &str, family: &str, created_at: i64, expires_at: i64) -> RefreshTokenRecord {
    let mut t = RefreshTokenRecord::new(hash, family, "web", "u-alice", created_at, expires_at);
    t.scope = scope("openid offline_access");
    t.audiences = vec!["https://api.example.com".into()];
    t.auth_time = NOW - 30;
    t.session_id = Some("sid-1".into());
    t.tenant_id = Some("acme".into());
    t
}

/// A live grant `id` of `user` to `client` in session `sid`, far from expiry.
fn grant(id: &str, client: &str, user: &str, sid: &str, offline: bool) -> GrantRecord {
    let mut g = GrantRecord::new(id, client, user, NOW, NOW + 1_000_000);
    g.session_id = Some(sid.into());
    g.tenant_id = Some("acme".into());
    g.offline = offline;
    g
}

async fn refresh_tokens(s: &dyn Store) {
    for family in ["fam-1", "fam-3", "fam-race"] {
        s.insert_grant(&grant(family, "web", "u-alice", "sid-1", true))
            .await
            .unwrap();
    }
    let rt1 = refresh("rt-1", "fam-1", NOW, NOW + 3600);
    s.insert_refresh_token(&rt1).await.unwrap();
    assert_conflict(s.insert_refresh_token(&rt1).await);
    assert_eq!(
        s.get_refresh_token("rt-1").await.unwrap(),
        Some(rt1.clone())
    );
    assert_eq!(s.get_refresh_token("rt-unknown").await.unwrap(), None);
    let bare = RefreshTokenRecord::new("rt-bare", "fam-bare", "spa", "u-plain", NOW, NOW + 60);
    s.insert_refresh_token(&bare).await.unwrap();
    assert_eq!(s.get_refresh_token("rt-bare").await.unwrap(), Some(bare));

    // Rotation marks the old token and stores the successor.
    let rt2 = refresh("rt-2", "fam-1", NOW + 10, NOW + 3610);
    let mut rt1_rotated = rt1.clone();
    rt1_rotated.rotated_at = Some(NOW + 10);
    assert_eq!(
        s.rotate_refresh_token("rt-1", &rt2, NOW + 10)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(rt1_rotated.clone())
    );
    assert_eq!(
        s.get_refresh_token("rt-1").await.unwrap(),
        Some(rt1_rotated.clone())
    );
    assert_eq!(
        s.get_refresh_token("rt-2").await.unwrap(),
        Some(rt2.clone())
    );
    assert!(!rt1_rotated.is_usable(NOW + 10));

    // Reuse of the rotated token: AlreadyUsed, and its would-be successor is not stored.
    let rt3 = refresh("rt-3", "fam-1", NOW + 20, NOW + 3620);
    assert_eq!(
        s.rotate_refresh_token("rt-1", &rt3, NOW + 20)
            .await
            .unwrap(),
        ConsumeOutcome::AlreadyUsed(rt1_rotated.clone())
    );
    assert_eq!(s.get_refresh_token("rt-3").await.unwrap(), None);
    assert_eq!(
        s.rotate_refresh_token("rt-1", &rt3, NOW + 100_000)
            .await
            .unwrap(),
        ConsumeOutcome::AlreadyUsed(rt1_rotated.clone()),
        "reuse is reported even after expiry"
    );

    // Unknown token: NotFound, nothing stored.
    assert_eq!(
        s.rotate_refresh_token("rt-unknown", &rt3, NOW + 20)
            .await
            .unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(s.get_refresh_token("rt-3").await.unwrap(), None);

    // A successor whose hash is taken is a Conflict and leaves the old token usable.
    assert_conflict(s.rotate_refresh_token("rt-2", &rt1, NOW + 20).await);
    assert_eq!(
        s.get_refresh_token("rt-2").await.unwrap(),
        Some(rt2.clone())
    );

    // Revoking the family marks every token not yet revoked, once.
    let other = refresh("rt-other", "fam-2", NOW, NOW + 3600);
    s.insert_refresh_token(&other).await.unwrap();
    assert_eq!(s.revoke_refresh_family("fam-1", NOW + 30).await.unwrap(), 2);
    assert_eq!(s.revoke_refresh_family("fam-1", NOW + 40).await.unwrap(), 0);
    assert_eq!(
        s.revoke_refresh_family("fam-unknown", NOW).await.unwrap(),
        0
    );
    for hash in ["rt-1", "rt-2"] {
        let t = s.get_refresh_token(hash).await.unwrap().unwrap();
        assert_eq!(t.revoked_at, Some(NOW + 30), "{hash}");
        assert!(!t.is_usable(NOW + 30));
    }
    assert_eq!(
        s.get_refresh_token("rt-1")
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(NOW + 10)
    );
    assert_eq!(s.get_refresh_token("rt-other").await.unwrap(), Some(other));
    let mut rt2_revoked = rt2.clone();
    rt2_revoked.revoked_at = Some(NOW + 30);
    assert_eq!(
        s.rotate_refresh_token("rt-2", &rt3, NOW + 50)
            .await
            .unwrap(),
        ConsumeOutcome::AlreadyUsed(rt2_revoked)
    );
    assert_eq!(s.get_refresh_token("rt-3").await.unwrap(), None);

    // Expired (`expires_at <= now`) and unused: NotFound, untouched, nothing stored.
    let exp = refresh("rt-exp", "fam-3", NOW, NOW + 100);
    s.insert_refresh_token(&exp).await.unwrap();
    let succ = refresh("rt-exp-next", "fam-3", NOW + 100, NOW + 200);
    assert_eq!(
        s.rotate_refresh_token("rt-exp", &succ, NOW + 100)
            .await
            .unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(
        s.get_refresh_token("rt-exp").await.unwrap(),
        Some(exp.clone())
    );
    assert_eq!(s.get_refresh_token("rt-exp-next").await.unwrap(), None);
    let mut exp_rotated = exp;
    exp_rotated.rotated_at = Some(NOW + 99);
    assert_eq!(
        s.rotate_refresh_token("rt-exp", &succ, NOW + 99)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(exp_rotated)
    );
    assert_eq!(
        s.get_refresh_token("rt-exp-next").await.unwrap(),
        Some(succ)
    );
}

async fn concurrent_refresh_rotation(store: Arc<dyn Store>) {
    store
        .insert_refresh_token(&refresh("rt-race", "fam-race", NOW, NOW + 3600))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let successor = refresh(&format!("rt-race-{i}"), "fam-race", NOW + 1, NOW + 3601);
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store
                    .rotate_refresh_token("rt-race", &successor, NOW + 1)
                    .await;
                (i, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut replays = 0;
    for task in tasks {
        let (i, outcome) = task.await.unwrap();
        match outcome.unwrap() {
            ConsumeOutcome::Consumed(t) => {
                assert_eq!(t.rotated_at, Some(NOW + 1));
                winners.push(i);
            }
            ConsumeOutcome::AlreadyUsed(t) => {
                assert_eq!(t.rotated_at, Some(NOW + 1));
                replays += 1;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((winners.len(), replays), (1, RACERS - 1));
    // Exactly the winner's successor was stored.
    for i in 0..RACERS {
        let stored = store
            .get_refresh_token(&format!("rt-race-{i}"))
            .await
            .unwrap();
        assert_eq!(stored.is_some(), winners.contains(&i), "successor {i}");
    }
}

// ---- sessions ----

async fn sessions(s: &dyn Store) {
    let mut sess = SessionRecord::new("sess-1", "sid-1", "u-alice", NOW, NOW + 3600);
    sess.auth_time = NOW - 5;
    s.insert_session(&sess).await.unwrap();
    assert_conflict(s.insert_session(&sess).await);
    assert_eq!(
        s.get_session("sess-1", NOW).await.unwrap(),
        Some(sess.clone())
    );
    assert_eq!(
        s.get_session("sess-1", NOW + 3599).await.unwrap(),
        Some(sess.clone())
    );
    assert_eq!(
        s.get_session("sess-1", NOW + 3600).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.get_session("sess-unknown", NOW).await.unwrap(), None);
    // Looking at an expired session does not delete it.
    assert_eq!(
        s.get_session("sess-1", NOW + 1).await.unwrap(),
        Some(sess.clone())
    );

    let other = SessionRecord::new("sess-2", "sid-2", "u-alice", NOW, NOW + 60);
    s.insert_session(&other).await.unwrap();
    assert!(s.delete_session("sess-1").await.unwrap());
    assert!(!s.delete_session("sess-1").await.unwrap());
    assert_eq!(s.get_session("sess-1", NOW).await.unwrap(), None);
    assert_eq!(s.get_session("sess-2", NOW).await.unwrap(), Some(other));
}

// ---- grants ----

async fn grants(s: &dyn Store) {
    let online = grant("g-1", "g-web", "g-ann", "g-sid-a", false);
    let offline = grant("g-2", "g-web", "g-ann", "g-sid-a", true);
    let mut other_session = grant("g-3", "g-spa", "g-ann", "g-sid-b", false);
    other_session.created_at = NOW + 1;
    let other_user = grant("g-4", "g-web", "g-bob", "g-sid-c", false);
    let mut no_session = GrantRecord::new("g-5", "g-svc", "g-bob", NOW, NOW + 60);
    no_session.revoked_at = Some(NOW);
    for g in [&online, &offline, &other_session, &other_user, &no_session] {
        s.insert_grant(g).await.unwrap();
    }
    assert_conflict(s.insert_grant(&online).await);
    assert_eq!(s.get_grant("g-1").await.unwrap(), Some(online.clone()));
    assert_eq!(s.get_grant("g-5").await.unwrap(), Some(no_session.clone()));
    assert_eq!(s.get_grant("g-unknown").await.unwrap(), None);
    assert!(online.is_live(NOW) && !no_session.is_live(NOW));

    // Listing: live ones only, oldest first (ties by id).
    let listed = |v: Vec<GrantRecord>| v.into_iter().map(|g| g.grant_id).collect::<Vec<_>>();
    let of_ann = s.grants(GrantsOf::User("g-ann"), NOW).await.unwrap();
    assert_eq!(listed(of_ann), ["g-1", "g-2", "g-3"]);
    assert_eq!(
        listed(s.grants(GrantsOf::Session("g-sid-a"), NOW).await.unwrap()),
        ["g-1", "g-2"]
    );
    assert_eq!(
        listed(
            s.grants(GrantsOf::SessionOnline("g-sid-a"), NOW)
                .await
                .unwrap()
        ),
        ["g-1"]
    );
    assert_eq!(
        listed(s.grants(GrantsOf::Client("g-web"), NOW).await.unwrap()),
        ["g-1", "g-2", "g-4"]
    );
    assert!(
        s.grants(GrantsOf::User("g-bob"), NOW + 1_000_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.grants(GrantsOf::Client("g-svc"), NOW)
            .await
            .unwrap()
            .is_empty(),
        "revoked"
    );

    // What hangs below the grants: a code of g-1 not yet exchanged, refresh tokens of g-2.
    let mut c1 = AuthCodeRecord::new(
        "g-code-1",
        "g-web",
        "g-ann",
        "https://a/cb",
        "g-1",
        NOW,
        NOW + 60,
    );
    c1.session_id = Some("g-sid-a".into());
    s.insert_code(&c1).await.unwrap();
    let rt = |hash: &str, family: &str| {
        RefreshTokenRecord::new(hash, family, "g-web", "g-ann", NOW, NOW + 3600)
    };
    s.insert_refresh_token(&rt("g-rt-2", "g-2")).await.unwrap();

    // The end of session g-sid-a takes its online grant and that grant's code; the offline
    // grant and its refresh token stay.
    assert_eq!(
        s.revoke_grants(GrantsOf::SessionOnline("g-sid-a"), NOW + 5)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.get_grant("g-1").await.unwrap().unwrap().revoked_at,
        Some(NOW + 5)
    );
    assert!(matches!(
        s.consume_code("g-code-1", NOW + 6).await.unwrap(),
        ConsumeOutcome::AlreadyUsed(c) if c.consumed_at == Some(NOW + 5)
    ));
    assert_eq!(s.get_grant("g-2").await.unwrap(), Some(offline.clone()));
    assert!(
        s.get_refresh_token("g-rt-2")
            .await
            .unwrap()
            .unwrap()
            .is_usable(NOW + 5)
    );
    assert_eq!(
        listed(
            s.grants(GrantsOf::Session("g-sid-a"), NOW + 5)
                .await
                .unwrap()
        ),
        ["g-2"]
    );

    // A rotation extends its grant to the successor's expiry (never shortens it).
    let successor =
        RefreshTokenRecord::new("g-rt-2b", "g-2", "g-web", "g-ann", NOW + 6, NOW + 2_000_000);
    assert!(matches!(
        s.rotate_refresh_token("g-rt-2", &successor, NOW + 6)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    assert_eq!(
        s.get_grant("g-2").await.unwrap().unwrap().expires_at,
        NOW + 2_000_000
    );
    let short = RefreshTokenRecord::new("g-rt-2c", "g-2", "g-web", "g-ann", NOW + 7, NOW + 10);
    assert!(matches!(
        s.rotate_refresh_token("g-rt-2b", &short, NOW + 7)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    assert_eq!(
        s.get_grant("g-2").await.unwrap().unwrap().expires_at,
        NOW + 2_000_000
    );

    // Everything of a user: both remaining grants, once; the refresh tokens with them.
    assert_eq!(
        s.revoke_grants(GrantsOf::User("g-ann"), NOW + 8)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.revoke_grants(GrantsOf::User("g-ann"), NOW + 9)
            .await
            .unwrap(),
        0
    );
    let revoked = s.get_refresh_token("g-rt-2c").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 8));
    assert!(
        s.grants(GrantsOf::User("g-ann"), NOW + 8)
            .await
            .unwrap()
            .is_empty()
    );

    // A revoked grant refreshes nothing, and its successor is not stored.
    let after = RefreshTokenRecord::new("g-rt-late", "g-2", "g-web", "g-ann", NOW + 9, NOW + 99);
    assert_eq!(
        s.rotate_refresh_token("g-rt-2c", &after, NOW + 9)
            .await
            .unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(s.get_refresh_token("g-rt-late").await.unwrap(), None);
    // Nor does a token whose grant is missing.
    s.insert_refresh_token(&rt("g-rt-orphan", "g-missing"))
        .await
        .unwrap();
    assert_eq!(
        s.rotate_refresh_token("g-rt-orphan", &after, NOW + 9)
            .await
            .unwrap(),
        ConsumeOutcome::NotFound
    );

    // A client's grants; one grant by id; unknown selectors revoke nothing.
    assert_eq!(
        s.revoke_grants(GrantsOf::Client("g-web"), NOW + 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.get_grant("g-4").await.unwrap().unwrap().revoked_at,
        Some(NOW + 10)
    );
    assert_eq!(
        s.revoke_grants(GrantsOf::Grant("g-5"), NOW + 11)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.get_grant("g-5").await.unwrap().unwrap().revoked_at,
        Some(NOW)
    );
    for which in [
        GrantsOf::Grant("g-unknown"),
        GrantsOf::User("g-nobody"),
        GrantsOf::Client("g-none"),
        GrantsOf::Session("g-sid-none"),
        GrantsOf::SessionOnline("g-sid-none"),
    ] {
        assert_eq!(s.revoke_grants(which, NOW).await.unwrap(), 0, "{which:?}");
    }
}

// ---- sessions of a user ----

async fn user_sessions(s: &dyn Store) {
    for (hash, sid, user, at) in [
        ("us-1", "us-sid-1", "u-carol", NOW),
        ("us-2", "us-sid-2", "u-carol", NOW + 10),
        ("us-3", "us-sid-3", "u-dave", NOW),
        ("us-4", "us-sid-4", "u-carol", NOW - 100),
    ] {
        s.insert_session(&SessionRecord::new(hash, sid, user, at, at + 60))
            .await
            .unwrap();
    }
    // Listing: live ones only (us-4 has expired at NOW + 1), newest first.
    let sids = |v: Vec<SessionRecord>| v.into_iter().map(|r| r.sid).collect::<Vec<_>>();
    assert_eq!(
        sids(s.list_user_sessions("u-carol", NOW + 1).await.unwrap()),
        ["us-sid-2", "us-sid-1"]
    );
    assert_eq!(
        sids(s.list_user_sessions("u-dave", NOW + 1).await.unwrap()),
        ["us-sid-3"]
    );
    assert!(
        s.list_user_sessions("u-nobody", NOW)
            .await
            .unwrap()
            .is_empty()
    );
    let mut gone: Vec<String> = s
        .delete_user_sessions("u-carol")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sid)
        .collect();
    gone.sort();
    assert_eq!(gone, ["us-sid-1", "us-sid-2", "us-sid-4"]);
    assert!(s.delete_user_sessions("u-carol").await.unwrap().is_empty());
    assert_eq!(s.get_session("us-1", NOW).await.unwrap(), None);
    assert!(s.get_session("us-3", NOW).await.unwrap().is_some());
    assert!(s.delete_user_sessions("u-nobody").await.unwrap().is_empty());
}

// ---- consents ----

async fn consents(s: &dyn Store) {
    assert_eq!(s.get_consent("u-alice", "web").await.unwrap(), None);
    let first = ConsentRecord::new("u-alice", "web", scope("openid"), NOW);
    s.put_consent(&first).await.unwrap();
    assert_eq!(s.get_consent("u-alice", "web").await.unwrap(), Some(first));
    let wider = ConsentRecord::new("u-alice", "web", scope("openid profile email"), NOW + 5);
    s.put_consent(&wider).await.unwrap();
    assert_eq!(
        s.get_consent("u-alice", "web").await.unwrap(),
        Some(wider.clone())
    );
    let empty = ConsentRecord::new("u-alice", "spa", Scope::new(), NOW);
    s.put_consent(&empty).await.unwrap();
    assert_eq!(s.get_consent("u-alice", "spa").await.unwrap(), Some(empty));
    assert_eq!(s.get_consent("u-plain", "web").await.unwrap(), None);
    assert_eq!(s.get_consent("web", "u-alice").await.unwrap(), None);
    assert_eq!(
        s.get_consent("u-alice", "web").await.unwrap(),
        Some(wider.clone())
    );

    // A user's consents, newest first; forgetting one leaves the others.
    let of = |v: Vec<ConsentRecord>| v.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(
        of(s.list_consents("u-alice").await.unwrap()),
        ["web", "spa"]
    );
    assert!(s.list_consents("u-plain").await.unwrap().is_empty());
    assert!(s.delete_consent("u-alice", "spa").await.unwrap());
    assert!(!s.delete_consent("u-alice", "spa").await.unwrap());
    assert!(!s.delete_consent("u-plain", "web").await.unwrap());
    assert_eq!(of(s.list_consents("u-alice").await.unwrap()), ["web"]);
    assert_eq!(s.get_consent("u-alice", "web").await.unwrap(), Some(wider));
}

// ---- single-use e-mail tokens ----

async fn account_tokens(s: &dyn Store) {
    use AccountTokenPurpose::{ResetPassword, VerifyEmail};
    let verify = AccountTokenRecord::new(
        "at-1",
        VerifyEmail,
        "u-erin",
        "erin@example.com",
        NOW,
        NOW + 60,
    );
    s.insert_account_token(&verify).await.unwrap();
    assert_conflict(s.insert_account_token(&verify).await);
    // Only for its purpose, only before its expiry, only once.
    assert_eq!(
        s.take_account_token("at-1", ResetPassword, NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_account_token("at-1", VerifyEmail, NOW + 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_account_token("at-1", VerifyEmail, NOW + 59)
            .await
            .unwrap(),
        Some(verify)
    );
    assert_eq!(
        s.take_account_token("at-1", VerifyEmail, NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_account_token("at-unknown", VerifyEmail, NOW)
            .await
            .unwrap(),
        None
    );

    // Deleting a user's tokens of one purpose leaves the others.
    for (hash, purpose, user) in [
        ("at-2", ResetPassword, "u-erin"),
        ("at-3", ResetPassword, "u-erin"),
        ("at-4", VerifyEmail, "u-erin"),
        ("at-5", ResetPassword, "u-frank"),
    ] {
        let t = AccountTokenRecord::new(hash, purpose, user, "x@example.com", NOW, NOW + 60);
        s.insert_account_token(&t).await.unwrap();
    }
    assert_eq!(
        s.delete_account_tokens("u-erin", ResetPassword)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.delete_account_tokens("u-erin", ResetPassword)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.take_account_token("at-2", ResetPassword, NOW)
            .await
            .unwrap(),
        None
    );
    // An expired token is purged; the rest are taken, so that nothing is left behind.
    let old = AccountTokenRecord::new(
        "at-6",
        ResetPassword,
        "u-gina",
        "g@example.com",
        NOW - 100,
        NOW - 1,
    );
    s.insert_account_token(&old).await.unwrap();
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 1);
    assert_eq!(
        s.take_account_token("at-6", ResetPassword, NOW - 50)
            .await
            .unwrap(),
        None
    );
    assert!(
        s.take_account_token("at-4", VerifyEmail, NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.take_account_token("at-5", ResetPassword, NOW)
            .await
            .unwrap()
            .is_some()
    );
}

// ---- revoked access tokens ----

async fn revoked_access_tokens(s: &dyn Store) {
    assert!(!s.is_access_token_revoked("jti-1").await.unwrap());
    s.revoke_access_token("jti-1", NOW + 600).await.unwrap();
    assert!(s.is_access_token_revoked("jti-1").await.unwrap());
    // Revoking twice is fine.
    s.revoke_access_token("jti-1", NOW + 900).await.unwrap();
    assert!(s.is_access_token_revoked("jti-1").await.unwrap());
    assert!(!s.is_access_token_revoked("jti-2").await.unwrap());
}

// ---- keys no backend can hold ----

/// Lookups by a key with a NUL character (which a request can carry, and which PostgreSQL
/// text cannot hold) find nothing; they are not backend errors.
async fn nul_keys(s: &dyn Store) {
    assert_eq!(s.get_device_code("dev-1\0").await.unwrap(), None);
    assert_eq!(
        s.find_pending_user_code("BCDF\0GHJ", NOW).await.unwrap(),
        None
    );
    assert_eq!(
        s.poll_device_code("dev-1\0", NOW).await.unwrap(),
        DevicePoll::NotFound
    );
    assert_eq!(
        s.decide_device_code("BCDF\0GHJ", &DeviceDecision::deny("u-alice"), NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_user("u-alice\0").await.unwrap(), None);
    assert_eq!(
        s.find_user_by_email(Some("acme"), "alice@example.com\0")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_user_by_email(Some("acme\0"), "alice@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.find_user_by_email(None, "\0").await.unwrap(), None);
    assert!(s.list_users(Some("acme\0")).await.unwrap().is_empty());
    assert_not_found(
        s.update_user(&user("u-alice\0", Some("acme"), "nul@example.com", NOW))
            .await,
    );
    assert!(!s.delete_user("u-alice\0").await.unwrap());
    assert_eq!(s.get_client("web\0").await.unwrap(), None);
    assert!(s.list_clients(Some("acme\0")).await.unwrap().is_empty());
    assert!(!s.delete_client("web\0").await.unwrap());
    assert_not_found(s.retire_key("k-ed\0", NOW, NOW).await);
    assert_eq!(
        s.consume_code("code-1\0", NOW).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(s.get_refresh_token("rt-1\0").await.unwrap(), None);
    let successor = refresh("rt-nul-next", "fam-nul", NOW, NOW + 60);
    assert_eq!(
        s.rotate_refresh_token("rt-1\0", &successor, NOW)
            .await
            .unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(s.get_refresh_token("rt-nul-next").await.unwrap(), None);
    assert_eq!(s.revoke_refresh_family("fam-1\0", NOW).await.unwrap(), 0);
    assert_eq!(s.get_session("sess-2\0", NOW).await.unwrap(), None);
    assert!(!s.delete_session("sess-2\0").await.unwrap());
    assert_eq!(s.get_consent("u-alice\0", "web").await.unwrap(), None);
    assert_eq!(s.get_consent("u-alice", "web\0").await.unwrap(), None);
    assert!(!s.is_access_token_revoked("jti-1\0").await.unwrap());
}

// ---- housekeeping ----

async fn purge(s: &dyn Store) {
    // Far before NOW: of all rows in the store, only the ones below expire by T.
    const T: i64 = 1_000_000;
    let users_before = s.list_users(None).await.unwrap();
    let clients_before = s.list_clients(None).await.unwrap();
    let keys_before = s.list_keys().await.unwrap();

    let at = |hash: &str, expires_at: i64| {
        let mut c = code(hash, expires_at);
        c.created_at = T - 60;
        c
    };
    s.insert_code(&at("p-code-old", T)).await.unwrap();
    s.insert_code(&at("p-code-new", T + 1)).await.unwrap();
    let mut used_old = at("p-code-used-old", T - 10);
    used_old.consumed_at = Some(T - 50);
    s.insert_code(&used_old).await.unwrap();
    s.insert_refresh_token(&refresh("p-rt-old", "p-fam", T - 100, T))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh("p-rt-new", "p-fam", T - 100, T + 1))
        .await
        .unwrap();
    s.insert_session(&SessionRecord::new(
        "p-sess-old",
        "p-sid-1",
        "u-alice",
        T - 100,
        T - 1,
    ))
    .await
    .unwrap();
    s.insert_session(&SessionRecord::new(
        "p-sess-new",
        "p-sid-2",
        "u-alice",
        T - 100,
        T + 1000,
    ))
    .await
    .unwrap();
    s.revoke_access_token("p-jti-old", T).await.unwrap();
    s.revoke_access_token("p-jti-new", T + 1).await.unwrap();
    let p_grant =
        |id: &str, expires_at: i64| GrantRecord::new(id, "web", "u-alice", T - 100, expires_at);
    s.insert_grant(&p_grant("p-grant-old", T)).await.unwrap();
    s.insert_grant(&p_grant("p-grant-new", T + 1))
        .await
        .unwrap();

    let p_device = |hash: &str, user_code: &str, expires_at: i64| {
        DeviceCodeRecord::new(hash, user_code, "tv", T - 600, expires_at, 5)
    };
    s.insert_device_code(&p_device("p-dev-old", "PPPPBBBB", T))
        .await
        .unwrap();
    s.insert_device_code(&p_device("p-dev-new", "PPPPCCCC", T + 1))
        .await
        .unwrap();

    assert_eq!(s.purge_expired(T).await.unwrap(), 7);
    assert_eq!(s.purge_expired(T).await.unwrap(), 0);
    assert_eq!(s.get_device_code("p-dev-old").await.unwrap(), None);
    assert!(s.get_device_code("p-dev-new").await.unwrap().is_some());
    // The purged row's user code is free again.
    s.insert_device_code(&p_device("p-dev-again", "PPPPBBBB", T + 1))
        .await
        .unwrap();

    assert_eq!(
        s.consume_code("p-code-old", T - 1).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    assert_eq!(
        s.consume_code("p-code-used-old", T - 1).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    assert!(matches!(
        s.consume_code("p-code-new", T).await.unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    assert_eq!(s.get_refresh_token("p-rt-old").await.unwrap(), None);
    assert!(s.get_refresh_token("p-rt-new").await.unwrap().is_some());
    assert_eq!(s.get_session("p-sess-old", T - 50).await.unwrap(), None);
    assert!(s.get_session("p-sess-new", T).await.unwrap().is_some());
    assert!(!s.is_access_token_revoked("p-jti-old").await.unwrap());
    assert!(s.is_access_token_revoked("p-jti-new").await.unwrap());
    assert_eq!(s.get_grant("p-grant-old").await.unwrap(), None);
    assert!(s.get_grant("p-grant-new").await.unwrap().is_some());

    // Rows from the other sections, all still valid at T, are untouched.
    assert!(s.is_access_token_revoked("jti-1").await.unwrap());
    assert!(s.get_session("sess-2", NOW).await.unwrap().is_some());
    assert!(s.get_refresh_token("rt-1").await.unwrap().is_some());
    assert!(matches!(
        s.consume_code("code-1", NOW).await.unwrap(),
        ConsumeOutcome::AlreadyUsed(_)
    ));
    assert!(s.get_consent("u-alice", "web").await.unwrap().is_some());
    assert_eq!(s.list_users(None).await.unwrap(), users_before);
    assert_eq!(s.list_clients(None).await.unwrap(), clients_before);
    assert_eq!(s.list_keys().await.unwrap(), keys_before);

    // Later, everything from the other sections goes too; consents, users, clients and
    // keys are not the purge's business.
    let purged = s.purge_expired(i64::MAX).await.unwrap();
    assert!(purged > 10, "{purged}");
    assert!(!s.is_access_token_revoked("jti-1").await.unwrap());
    assert_eq!(s.get_device_code("dev-1").await.unwrap(), None);
    assert_eq!(s.get_refresh_token("rt-1").await.unwrap(), None);
    assert_eq!(s.get_grant("g-2").await.unwrap(), None);
    assert_eq!(
        s.consume_code("code-1", NOW).await.unwrap(),
        ConsumeOutcome::NotFound
    );
    assert!(s.get_consent("u-alice", "web").await.unwrap().is_some());
    assert_eq!(s.list_users(None).await.unwrap(), users_before);
    assert_eq!(s.list_clients(None).await.unwrap(), clients_before);
    assert_eq!(s.list_keys().await.unwrap(), keys_before);
}

// ---- the backends ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conformance() {
    conformance(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.db");
    assert!(!path.exists());
    let store = SqliteStore::connect(&sqlite_url(&path)).await.unwrap();
    assert!(path.exists(), "connect creates the file");
    conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_store_conformance() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    conformance(Arc::new(store)).await;
    // Each in-memory store is its own database.
    let fresh = SqliteStore::connect("sqlite::memory:").await.unwrap();
    assert!(fresh.list_users(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("idp.db"));

    let store = SqliteStore::connect(&url).await.unwrap();
    let alice = full_user();
    store.insert_user(&alice).await.unwrap();
    let web = full_client();
    store.insert_client(&web).await.unwrap();
    store
        .insert_grant(&grant("fam-keep", "web", "u-alice", "sid-1", true))
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh("rt-keep", "fam-keep", NOW, NOW + 3600))
        .await
        .unwrap();
    drop(store); // no close(): as after a crash

    // Reopening runs the migrations again, which must be a no-op.
    let store = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(
        store.get_user(&alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_client("web").await.unwrap(), Some(web));
    let successor = refresh("rt-keep-2", "fam-keep", NOW + 1, NOW + 3601);
    assert!(matches!(
        store
            .rotate_refresh_token("rt-keep", &successor, NOW + 1)
            .await
            .unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    store.close().await;
    drop(store);

    let store = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(
        store
            .find_user_by_email(Some("acme"), "alice@example.com")
            .await
            .unwrap(),
        Some(alice)
    );
    assert_eq!(
        store.get_refresh_token("rt-keep-2").await.unwrap(),
        Some(successor)
    );
    assert_eq!(
        store
            .get_refresh_token("rt-keep")
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(NOW + 1)
    );
}

// ---- PostgreSQL (only with IDP_TEST_POSTGRES_URL) ----

/// The server to test against, e.g. `postgres://postgres@127.0.0.1:5432/test`; `None`
/// (after saying so) when unset.
pub(crate) fn postgres_url() -> Option<String> {
    match std::env::var("IDP_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: IDP_TEST_POSTGRES_URL not set");
            None
        }
    }
}

/// A fresh, uniquely named schema in the test database, dropped (with everything in it) when
/// this value is dropped, also when a test fails. Stores opened on [`PgScratch::url`] create
/// their tables, and sqlx's `_sqlx_migrations`, inside it, so reruns and concurrent test
/// binaries never see each other's rows.
pub(crate) struct PgScratch {
    base_url: String,
    schema: String,
}

impl PgScratch {
    pub(crate) async fn new(base_url: &str) -> Self {
        use sqlx::Connection;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema = format!(
            "idp_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(base_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Self {
            base_url: base_url.to_owned(),
            schema,
        }
    }

    /// The base URL with the scratch schema as the whole `search_path` (and as the
    /// application name, by which the cleanup finds connections a failed test left open).
    pub(crate) fn url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options[search_path]={schema}&application_name={schema}",
            self.base_url,
            schema = self.schema
        )
    }

    /// The tables of the scratch schema.
    async fn tables(&self) -> Vec<String> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.base_url).await.unwrap();
        let tables = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = $1 ORDER BY table_name",
        )
        .bind(&self.schema)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        tables
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let base_url = self.base_url.clone();
        let schema = self.schema.clone();
        // Drop runs inside the test's runtime (or while unwinding): use a thread of our own.
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&base_url).await?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&schema)
                .execute(&mut conn)
                .await?;
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
            .map_err(|e| e.to_string())
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.schema),
            Err(_) => eprintln!("could not drop test schema {}", self.schema),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn postgres_store_conformance() {
    let Some(base) = postgres_url() else {
        return;
    };
    let scratch = PgScratch::new(&base).await;
    let store = PostgresStore::connect(&scratch.url()).await.unwrap();
    // The migrations ran inside the scratch schema.
    let tables = scratch.tables().await;
    for table in ["_sqlx_migrations", "users", "refresh_tokens"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    conformance(Arc::new(store.clone())).await;
    store.close().await;

    // Connecting again finds the migrations applied and the data kept.
    let again = PostgresStore::connect(&scratch.url()).await.unwrap();
    assert!(again.get_user("u-alice").await.unwrap().is_some());
    again.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn postgres_two_stores_share_data() {
    let Some(base) = postgres_url() else {
        return;
    };
    let scratch = PgScratch::new(&base).await;
    let url = scratch.url();
    // Replicas starting at once on an empty database: the migrations run once, under
    // sqlx's advisory lock, and every replica connects.
    let (a, b, c, d) = tokio::join!(
        PostgresStore::connect(&url),
        PostgresStore::connect(&url),
        PostgresStore::connect(&url),
        PostgresStore::connect(&url),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    c.unwrap().close().await;
    d.unwrap().close().await;

    // A user inserted through one store is seen through the other, and the e-mail stays
    // unique across them.
    let alice = full_user();
    a.insert_user(&alice).await.unwrap();
    assert_eq!(b.get_user("u-alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        b.find_user_by_email(Some("acme"), "ALICE@example.com")
            .await
            .unwrap(),
        Some(alice)
    );
    assert_conflict(
        b.insert_user(&user("u-other", Some("acme"), "alice@EXAMPLE.com", NOW))
            .await,
    );

    // A code consumed through one store is a replay through the other.
    let c1 = code("code-shared", NOW + 60);
    a.insert_code(&c1).await.unwrap();
    let mut consumed = c1;
    consumed.consumed_at = Some(NOW + 1);
    assert_eq!(
        a.consume_code("code-shared", NOW + 1).await.unwrap(),
        ConsumeOutcome::Consumed(consumed.clone())
    );
    assert_eq!(
        b.consume_code("code-shared", NOW + 2).await.unwrap(),
        ConsumeOutcome::AlreadyUsed(consumed)
    );

    // Replicas racing to rotate one refresh token: exactly one wins.
    a.insert_grant(&grant("fam-shared", "web", "u-alice", "sid-1", true))
        .await
        .unwrap();
    a.insert_refresh_token(&refresh("rt-shared", "fam-shared", NOW, NOW + 3600))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store: Arc<dyn Store> = Arc::new(if i % 2 == 0 { a.clone() } else { b.clone() });
            let barrier = barrier.clone();
            let successor = refresh(&format!("rt-shared-{i}"), "fam-shared", NOW + 1, NOW + 9);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .rotate_refresh_token("rt-shared", &successor, NOW + 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        match task.await.unwrap() {
            ConsumeOutcome::Consumed(_) => consumed += 1,
            ConsumeOutcome::AlreadyUsed(_) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(consumed, 1);

    // A rotation at one replica racing a revocation of its grant at the other: whichever
    // wins, no usable refresh token of the grant is left (the grant row orders them).
    for round in 0..20 {
        let family = format!("fam-rr-{round}");
        let old = format!("rt-rr-{round}");
        a.insert_grant(&grant(&family, "web", "u-alice", "sid-1", true))
            .await
            .unwrap();
        a.insert_refresh_token(&refresh(&old, &family, NOW, NOW + 3600))
            .await
            .unwrap();
        let successor = refresh(&format!("{old}-next"), &family, NOW + 1, NOW + 7200);
        let barrier = Arc::new(Barrier::new(2));
        let (ra, rb) = (a.clone(), b.clone());
        let (ba, bb) = (barrier.clone(), barrier.clone());
        let (old2, family2) = (old.clone(), family.clone());
        let rotate = tokio::spawn(async move {
            ba.wait().await;
            ra.rotate_refresh_token(&old2, &successor, NOW + 1)
                .await
                .unwrap()
        });
        let revoke = tokio::spawn(async move {
            bb.wait().await;
            rb.revoke_grants(GrantsOf::Grant(&family2), NOW + 1)
                .await
                .unwrap()
        });
        let (rotated, revoked) = (rotate.await.unwrap(), revoke.await.unwrap());
        assert_eq!(revoked, 1, "round {round}");
        for hash in [old.clone(), format!("{old}-next")] {
            if let Some(t) = a.get_refresh_token(&hash).await.unwrap() {
                assert!(
                    !t.is_usable(NOW + 2),
                    "round {round}: {hash} usable after {rotated:?}"
                );
            }
        }
    }

    a.close().await;
    b.close().await;
}
