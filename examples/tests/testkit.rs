//! The test kit as an application's tests use it: an API behind `JwtAuthLayer` checked
//! against tokens the kit mints (good, expired, other audience, other issuer, not yet valid,
//! after a key rotation), a real token from the preset service client, and a web app's
//! sign-in whose token request names the API (RFC 8707 `resource`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use idp_server::testkit::{
    API_AUDIENCE, SERVICE_CLIENT, SERVICE_SECRET, TestProvider, USER_EMAIL, USER_PASSWORD,
    WEB_REDIRECT,
};
use idp_tower::{Claims, JwtAuthLayer};

/// The API under test, on an ephemeral port: `GET /whoami` answers the token's subject.
/// Its JWKS cache refetches for an unknown key at once (in production it waits 30 s between
/// refetches, and providers publish keys ahead of use; the kit's rotated keys sign at once).
async fn api(idp: &TestProvider) -> String {
    let jwks = idp_client::JwksCache::builder(idp.jwks_uri())
        .refetch_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let auth = JwtAuthLayer::jwks_cache(idp.api_policy(), jwks)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/whoami",
            get(|c: Claims| async move { c.into_inner().sub }),
        )
        .layer(auth);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    base
}

async fn call(api: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{api}/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn an_api_checked_against_minted_tokens() {
    let idp = TestProvider::start().await.unwrap();
    let api = api(&idp).await;

    let good = idp.access_token().subject("user-7").sign().unwrap();
    assert_eq!(call(&api, &good).await, (200, "user-7".into()));
    for (what, token) in [
        ("expired", idp.access_token().expired().sign().unwrap()),
        (
            "other audience",
            idp.access_token().audience("billing-api").sign().unwrap(),
        ),
        (
            "other issuer",
            idp.access_token()
                .issuer("https://evil.example")
                .sign()
                .unwrap(),
        ),
        (
            "not yet valid",
            idp.access_token().not_yet_valid().sign().unwrap(),
        ),
        (
            "an ID token",
            idp.id_token().audience(API_AUDIENCE).sign().unwrap(),
        ),
    ] {
        assert_eq!(call(&api, &token).await.0, 401, "{what}");
    }

    // After a rotation the new key signs, and the API picks it up from the JWKS.
    let before = jwt_kid(&good);
    idp.rotate_keys().await.unwrap();
    let rotated = idp.access_token().subject("user-8").sign().unwrap();
    assert_ne!(jwt_kid(&rotated), before);
    assert_eq!(call(&api, &rotated).await, (200, "user-8".into()));
    assert_eq!(
        call(&api, &good).await.0,
        200,
        "the old key's token still verifies"
    );

    // The preset service client gets real tokens.
    let resp: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", idp.issuer()))
        .basic_auth(SERVICE_CLIENT, Some(SERVICE_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read:orders"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let real = resp["access_token"].as_str().unwrap();
    assert_eq!(call(&api, real).await, (200, SERVICE_CLIENT.into()));
    idp.stop().await;
}

fn jwt_kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

/// Introspection mode: the provider checks each token, so a revoked token is refused at
/// once, and a token the provider does not know (opaque, made up) never gets in.
#[tokio::test]
async fn introspection_mode_refuses_a_revoked_token_at_once() {
    use idp_server::manage::NewClient;
    let idp = TestProvider::builder()
        .client(NewClient {
            client_id: "orders-api".into(),
            secret: Some("orders-api-secret".into()),
            grant_types: vec!["client_credentials".into()],
            audiences: vec![API_AUDIENCE.into()],
            ..Default::default()
        })
        .start()
        .await
        .unwrap();
    let introspector =
        idp_client::Client::discover(idp.issuer(), "orders-api", "orders-api-secret")
            .await
            .unwrap();
    let auth = JwtAuthLayer::introspection(idp.api_policy(), introspector)
        .introspection_cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/whoami",
            get(|c: Claims| async move { c.into_inner().sub }),
        )
        .layer(auth);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let http = reqwest::Client::new();
    let resp: serde_json::Value = http
        .post(format!("{}/oauth/token", idp.issuer()))
        .basic_auth(SERVICE_CLIENT, Some(SERVICE_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read:orders"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = resp["access_token"].as_str().unwrap();
    assert_eq!(call(&api, token).await, (200, SERVICE_CLIENT.into()));
    assert_eq!(call(&api, "an-opaque-token-nobody-issued").await.0, 401);

    let revoked = http
        .post(format!("{}/oauth/revoke", idp.issuer()))
        .basic_auth(SERVICE_CLIENT, Some(SERVICE_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    assert_eq!(
        call(&api, token).await.0,
        401,
        "a revoked token still got in"
    );
    idp.stop().await;
}

/// The claims of a JWT, unverified (to look at `aud`).
fn payload(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A web app registered for two APIs signs a user in with idp-client and names the API it
/// wants a token for with `resource` at the token endpoint (RFC 8707): the access token is
/// for that API alone and the API's `JwtAuthLayer` (discovery mode) accepts it. A resource
/// the client is not registered for is `invalid_target`, checked before the code is spent;
/// a refresh can name the other API, and that token is refused by the first.
#[tokio::test]
async fn a_web_app_gets_a_token_for_its_api_by_naming_the_resource() {
    use idp_client::{Client, ClientAuth, Discovery};
    use idp_server::manage::NewClient;
    let idp = TestProvider::builder()
        .client(NewClient {
            client_id: "shop".into(),
            secret: Some("shop-secret".into()),
            redirect_uris: vec![WEB_REDIRECT.into()],
            allowed_scopes: ["openid", "offline_access"].map(String::from).to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            audiences: vec![API_AUDIENCE.into(), "billing-api".into()],
            first_party: true,
            ..Default::default()
        })
        .start()
        .await
        .unwrap();
    let metadata = Discovery::builder(idp.issuer())
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap();
    let web = Client::builder(metadata, "shop")
        .auth(ClientAuth::basic("shop-secret"))
        .redirect_uri(WEB_REDIRECT)
        .build()
        .unwrap();
    let auth = JwtAuthLayer::discover(idp.api_policy()).build().unwrap();
    let app = Router::new()
        .route(
            "/whoami",
            get(|c: Claims| async move { c.into_inner().sub }),
        )
        .layer(auth);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let (url, pending) = web
        .authorization_request()
        .scope("openid offline_access")
        .build()
        .unwrap();
    let callback = idp
        .sign_in(url.as_str(), USER_EMAIL, USER_PASSWORD)
        .await
        .unwrap();
    let code = web.validate_callback(&pending, &callback).unwrap();

    let err = web
        .exchange_code(&pending, code.clone())
        .resource("https://elsewhere.example")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_error().map(|e| e.error.as_str()),
        Some("invalid_target"),
        "{err:?}"
    );

    let tokens = web
        .exchange_code(&pending, code)
        .resource(API_AUDIENCE)
        .send()
        .await
        .unwrap();
    let at = tokens.tokens.access_token.secret().to_owned();
    assert_eq!(payload(&at)["aud"], API_AUDIENCE);
    let sub = tokens.id_token_claims.as_ref().unwrap().sub.clone();
    assert_eq!(call(&api, &at).await, (200, sub));

    // A refresh for the other API: its token is refused here (wrong audience).
    let rt = tokens.tokens.refresh_token.clone().unwrap();
    let billing = web
        .refresh(&rt)
        .resource("billing-api")
        .send()
        .await
        .unwrap();
    let bt = billing.tokens.access_token.secret().to_owned();
    assert_eq!(payload(&bt)["aud"], "billing-api");
    assert_eq!(call(&api, &bt).await.0, 401);
}
