//! The JWKS cache: rotation, floods of unknown key ids, a failing endpoint, TTLs, bad keys.

use std::sync::atomic::Ordering;
use std::time::Duration;

use idp_client::idp_core::{Algorithm, Error as CoreError, TokenError, ValidationPolicy};
use idp_client::{Error, JwksCache};
use serde_json::{Value, json};

use crate::fake::{Fake, T0, sign};

fn cache(fake: &Fake) -> JwksCache {
    JwksCache::builder(format!("{}/jwks", fake.issuer))
        .http_client(fake.http())
        .clock(fake.clock.clone())
        .build()
        .unwrap()
}

fn policy(fake: &Fake) -> ValidationPolicy {
    ValidationPolicy::builder()
        .issuer(fake.issuer.clone())
        .audience("api")
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap()
}

fn token(fake: &Fake, kid: Option<&str>) -> String {
    sign(
        kid,
        &json!({"iss": fake.issuer, "sub": "svc", "aud": "api", "iat": T0, "exp": T0 + 30 * 86_400}),
    )
}

async fn check(fake: &Fake, c: &JwksCache, kid: &str) -> Result<(), Error> {
    c.validate::<Value>(&policy(fake), &token(fake, Some(kid)))
        .await
        .map(|_| ())
}

fn is_unknown_key(r: &Result<(), Error>) -> bool {
    matches!(
        r,
        Err(Error::Token(CoreError::InvalidToken(
            TokenError::UnknownKey
        )))
    )
}

#[tokio::test]
async fn new_kid_causes_exactly_one_refetch() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    check(&fake, &c, "k1").await.unwrap();
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 1);

    // The provider publishes k2 and starts signing with it.
    fake.state.publish(&["k1", "k2"]);
    fake.advance(31);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, p, t) = (c.clone(), policy(&fake), token(&fake, Some("k2")));
        tasks.push(tokio::spawn(
            async move { c.validate::<Value>(&p, &t).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    check(&fake, &c, "k2").await.unwrap();
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_cooldown() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 1);

    // Within the cooldown of the first fetch: no refetch at all.
    assert!(is_unknown_key(&check(&fake, &c, "made-up").await));
    assert_eq!(fake.jwks_hits(), 1);

    fake.advance(30);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (c, p, t) = (
            c.clone(),
            policy(&fake),
            token(&fake, Some(&format!("bogus-{i}"))),
        );
        tasks.push(tokio::spawn(async move {
            c.validate::<Value>(&p, &t).await.map(|_| ())
        }));
    }
    for t in tasks {
        assert!(is_unknown_key(&t.await.unwrap()));
    }
    for i in 0..50 {
        assert!(is_unknown_key(
            &check(&fake, &c, &format!("again-{i}")).await
        ));
    }
    assert_eq!(fake.jwks_hits(), 2);
    // Known keys are unaffected.
    check(&fake, &c, "k1").await.unwrap();

    fake.advance(29);
    assert!(is_unknown_key(&check(&fake, &c, "later").await));
    assert_eq!(fake.jwks_hits(), 2);
    fake.advance(1);
    assert!(is_unknown_key(&check(&fake, &c, "later").await));
    assert_eq!(fake.jwks_hits(), 3);
}

#[tokio::test]
async fn tokens_no_key_could_validate_cost_no_fetch() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    check(&fake, &c, "k1").await.unwrap();
    fake.advance(60); // past the cooldown: an unknown kid would refetch now
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = b64(&json!({"iss": fake.issuer, "aud": "api", "exp": T0 + 86_400}));
    for header in [
        json!({"alg": "none", "kid": "made-up-1"}),
        json!({"alg": "HS256", "kid": "made-up-2"}),
        json!({"alg": "RS256", "kid": "made-up-3"}), // allowed by nobody here
        json!({"alg": "ES256", "kid": "made-up-4", "crit": ["x"]}),
    ] {
        let t = format!("{}.{claims}.c2ln", b64(&header));
        let e = c.validate::<Value>(&policy(&fake), &t).await.unwrap_err();
        assert!(matches!(e, Error::Token(_)), "{e}");
    }
    assert_eq!(fake.jwks_hits(), 1, "a hopeless token caused a JWKS fetch");
}

#[tokio::test]
async fn failing_endpoint_serves_stale_keys_then_errors_after_the_bound() {
    let fake = Fake::start().await;
    *fake.state.jwks_cache_control.lock().unwrap() = Some("max-age=300".into());
    let c = JwksCache::builder(format!("{}/jwks", fake.issuer))
        .http_client(fake.http())
        .clock(fake.clock.clone())
        .max_stale(Duration::from_secs(3600))
        .build()
        .unwrap();
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 1);

    fake.state.jwks_fail.store(true, Ordering::SeqCst);
    fake.advance(300); // expired: refresh fails, stale keys still used
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);
    check(&fake, &c, "k1").await.unwrap(); // within cooldown: no new attempt
    assert_eq!(fake.jwks_hits(), 2);

    fake.advance(3599); // one second before the bound
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 3);

    fake.advance(1); // the bound
    let err = check(&fake, &c, "k1").await.unwrap_err();
    match &err {
        Error::JwksUnavailable(Some(cause)) => {
            assert!(
                matches!(**cause, Error::Status { status: 500, .. }),
                "{cause:?}"
            )
        }
        other => panic!("expected JwksUnavailable, got {other:?}"),
    }
    assert!(!err.is_token_rejected());
    assert_eq!(fake.jwks_hits(), 3); // the last attempt is still within its cooldown

    // The provider recovers: after the cooldown, keys are fetched again.
    fake.state.jwks_fail.store(false, Ordering::SeqCst);
    assert!(check(&fake, &c, "k1").await.is_err());
    fake.advance(29);
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 4);
}

#[tokio::test]
async fn first_fetch_failing_is_an_error() {
    let fake = Fake::start().await;
    fake.state.jwks_fail.store(true, Ordering::SeqCst);
    let c = cache(&fake);
    assert!(matches!(
        check(&fake, &c, "k1").await,
        Err(Error::JwksUnavailable(Some(_)))
    ));
}

async fn hits_after(fake: &Fake, cache_control: &str, c: &JwksCache, advance: u64) -> usize {
    *fake.state.jwks_cache_control.lock().unwrap() = Some(cache_control.into());
    check(fake, c, "k1").await.unwrap();
    fake.advance(advance);
    check(fake, c, "k1").await.unwrap();
    fake.jwks_hits()
}

#[tokio::test]
async fn ttl_follows_max_age_within_bounds() {
    // max-age honoured.
    let fake = Fake::start().await;
    let c = cache(&fake);
    assert_eq!(hits_after(&fake, "public, max-age=120", &c, 119).await, 1);
    fake.advance(1);
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);

    // Below the minimum (60 s by default): clamped up.
    let fake = Fake::start().await;
    let c = cache(&fake);
    assert_eq!(hits_after(&fake, "max-age=5", &c, 59).await, 1);
    fake.advance(1);
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);

    // Above a configured maximum: clamped down.
    let fake = Fake::start().await;
    let c = JwksCache::builder(format!("{}/jwks", fake.issuer))
        .http_client(fake.http())
        .clock(fake.clock.clone())
        .max_ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    assert_eq!(hits_after(&fake, "max-age=86400", &c, 599).await, 1);
    fake.advance(1);
    check(&fake, &c, "k1").await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);
}

#[tokio::test]
async fn retired_keys_are_dropped() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    check(&fake, &c, "k1").await.unwrap();
    fake.state.publish(&["k2"]);
    fake.advance(31);
    check(&fake, &c, "k2").await.unwrap();
    assert!(is_unknown_key(&check(&fake, &c, "k1").await));
}

#[tokio::test]
async fn unparseable_keys_are_skipped() {
    let fake = Fake::start().await;
    *fake.state.extra_jwks_entries.lock().unwrap() = vec![
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
        json!({"kty": "EC", "crv": "P-256", "kid": "broken", "x": "!!", "y": "??"}),
        json!({"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB"}),
        json!("not a key"),
        json!(42),
    ];
    let c = cache(&fake);
    check(&fake, &c, "k1").await.unwrap();
    assert!(is_unknown_key(&check(&fake, &c, "hmac").await));
}

#[tokio::test]
async fn token_without_kid_uses_the_only_matching_key() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    let v = c
        .validate::<Value>(&policy(&fake), &token(&fake, None))
        .await
        .unwrap();
    assert_eq!(v.claims["sub"], "svc");
}

#[tokio::test]
async fn bad_signatures_and_garbage_are_token_errors() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    let good = token(&fake, Some("k1"));
    let mut forged = good.clone();
    forged.truncate(good.len() - 4);
    forged.push_str("AAAA");
    for t in [forged.as_str(), "garbage", "", "a.b.c.d"] {
        let err = c.validate::<Value>(&policy(&fake), t).await.unwrap_err();
        assert!(err.is_token_rejected(), "{t}: {err:?}");
    }
}

#[tokio::test]
async fn forced_refresh_ignores_the_cooldown() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    c.refresh().await.unwrap();
    c.refresh().await.unwrap();
    assert_eq!(fake.jwks_hits(), 2);
    assert!(c.keys_for(Some("k1")).await.unwrap().contains_kid("k1"));
    assert_eq!(fake.jwks_hits(), 2);
}

/// `validate` decodes the token's header once (idp-core counts its decodes per thread, in a
/// module hidden from its API); `verify` of a parsed token decodes nothing more.
#[tokio::test]
async fn the_header_is_decoded_once_per_validation() {
    use idp_client::idp_core::UnverifiedJwt;
    use idp_client::idp_core::test_support::header_decodes;

    let fake = Fake::start().await;
    let c = cache(&fake);
    for kid in ["k1", "k1", "unknown"] {
        let before = header_decodes();
        let _ = check(&fake, &c, kid).await;
        assert_eq!(header_decodes() - before, 1, "{kid}");
    }
    let t = token(&fake, Some("k1"));
    let jwt = UnverifiedJwt::parse(&t).unwrap();
    let before = header_decodes();
    c.verify::<Value>(&policy(&fake), &jwt).await.unwrap();
    assert_eq!(header_decodes() - before, 0);
}
