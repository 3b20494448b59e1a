//! Token requests with extras (RFC 8707 `resource`, `audience`, other parameters) on every
//! grant, against a fake provider that issues a JWT access token only when `resource` is
//! sent: the API validates the token obtained with `.resource(..)`, and refuses the other.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use idp_client::idp_core::{AccessTokenClaims, Algorithm, RefreshToken, ValidationPolicy};
use idp_client::{Client, ClientAuth, Error, JwksCache};

use crate::fake::Fake;

/// The API's view: the provider's keys and a policy for `at+jwt` tokens meant for it.
fn api(fake: &Fake) -> (JwksCache, ValidationPolicy) {
    let keys = JwksCache::builder(format!("{}/jwks", fake.issuer))
        .http_client(fake.http())
        .clock(fake.clock.clone())
        .build()
        .unwrap();
    let policy = ValidationPolicy::builder()
        .issuer(fake.issuer.clone())
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    (keys, policy)
}

/// A web-app sign-in up to the callback's code (no `openid`: no ID token involved).
fn callback(client: &Client) -> (idp_client::PendingAuthorization, String) {
    let (url, pending) = client
        .authorization_request()
        .scope("read:orders")
        .build()
        .unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    (pending, format!("code=good-code&state={}", q["state"]))
}

fn all_token_params(fake: &Fake, name: &str) -> Vec<String> {
    fake.state
        .token_forms
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test]
async fn code_flow_with_resource_gets_a_jwt_the_api_accepts() {
    let fake = Fake::start().await;
    fake.state.jwt_for_resource.store(true, Ordering::SeqCst);
    let client = fake.client(ClientAuth::basic("web-secret"));
    let (keys, policy) = api(&fake);

    let (pending, cb) = callback(&client);
    let code = client.validate_callback(&pending, &cb).unwrap();
    let set = client
        .exchange_code(&pending, code)
        .resource("orders-api")
        .param("acr", "urn:x:1")
        .send()
        .await
        .unwrap();
    let claims = keys
        .validate::<AccessTokenClaims>(&policy, set.tokens.access_token.secret())
        .await
        .unwrap()
        .claims;
    assert!(claims.aud.contains("orders-api"));
    assert_eq!(claims.sub, "user-1");
    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["resource"], "orders-api");
    assert_eq!(form["acr"], "urn:x:1");
    assert!(!form.contains_key("audience"));

    // The same flow without `.resource`: an opaque token, which the API refuses.
    let (pending, cb) = callback(&client);
    let code = client.validate_callback(&pending, &cb).unwrap();
    let set = client.exchange_code(&pending, code).send().await.unwrap();
    assert!(!fake.state.last_token_form().contains_key("resource"));
    let e = keys
        .validate::<AccessTokenClaims>(&policy, set.tokens.access_token.secret())
        .await
        .unwrap_err();
    assert!(e.is_token_rejected(), "{e:?}");

    // A token for another API is refused by this one.
    let (pending, cb) = callback(&client);
    let code = client.validate_callback(&pending, &cb).unwrap();
    let set = client
        .exchange_code(&pending, code)
        .resource("billing-api")
        .send()
        .await
        .unwrap();
    assert!(
        keys.validate::<AccessTokenClaims>(&policy, set.tokens.access_token.secret())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn refresh_and_client_credentials_take_the_same_extras() {
    let fake = Fake::start().await;
    fake.state.jwt_for_resource.store(true, Ordering::SeqCst);
    let client = fake.client(ClientAuth::post("web-secret"));
    let (keys, policy) = api(&fake);

    let set = client
        .refresh(&RefreshToken::new("rt-1"))
        .scope("read:orders".parse().unwrap())
        .resource("orders-api")
        .resource("billing-api")
        .audience("gateway")
        .send()
        .await
        .unwrap();
    assert_eq!(
        all_token_params(&fake, "resource"),
        ["orders-api", "billing-api"]
    );
    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert_eq!(form["scope"], "read:orders");
    assert_eq!(form["audience"], "gateway");
    assert_eq!(form["client_secret"], "web-secret");
    let claims = keys
        .validate::<AccessTokenClaims>(&policy, set.tokens.access_token.secret())
        .await
        .unwrap()
        .claims;
    assert!(claims.aud.contains("billing-api") && claims.aud.contains("orders-api"));

    let tokens = client
        .client_credentials()
        .scope("read:orders".parse().unwrap())
        .resource("orders-api")
        .param("tenant", "acme")
        .send()
        .await
        .unwrap();
    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["tenant"], "acme");
    assert!(
        keys.validate::<AccessTokenClaims>(&policy, tokens.access_token.secret())
            .await
            .is_ok()
    );
    let opaque = client.client_credentials().send().await.unwrap();
    assert!(!fake.state.last_token_form().contains_key("scope"));
    assert!(
        keys.validate::<AccessTokenClaims>(&policy, opaque.access_token.secret())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn parameters_the_builder_owns_cannot_be_overridden() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("web-secret"));
    for name in [
        "grant_type",
        "client_id",
        "client_secret",
        "resource",
        "scope",
    ] {
        let e = client
            .client_credentials()
            .param(name, "x")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{name}: {e:?}");
    }
    let e = client
        .refresh(&RefreshToken::new("rt"))
        .param("refresh_token", "other")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert_eq!(fake.token_hits(), 0);
}
