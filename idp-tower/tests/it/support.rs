//! Keys, token signing and a protected test service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response};
use idp_tower::idp_core::{
    AccessTokenClaims, Algorithm, FixedClock, Jwk, JwkSet, ValidationPolicy,
    ValidationPolicyBuilder, VerificationKeys,
};
use idp_tower::{JwtAuthLayer, JwtAuthLayerBuilder};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// Unix time the tests' clocks show.
pub const T0: i64 = 1_800_000_000;
pub const ISS: &str = "https://id.example.com";
pub const AUD: &str = "orders-api";

/// ES256 keys by kid, generated once per test binary.
fn key(kid: &str) -> &'static EcdsaKeyPair {
    static KEYS: OnceLock<Mutex<HashMap<String, &'static EcdsaKeyPair>>> = OnceLock::new();
    let mut map = KEYS.get_or_init(Default::default).lock().unwrap();
    map.entry(kid.to_owned()).or_insert_with(|| {
        Box::leak(Box::new(
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ))
    })
}

pub fn jwk(kid: &str) -> Jwk {
    let point = key(kid).public_key().as_ref().to_vec(); // 04 || x || y
    Jwk::ec("P-256", &point[1..33], &point[33..65])
        .with_kid(kid)
        .for_signing(Algorithm::ES256)
}

pub fn static_keys(kids: &[&str]) -> VerificationKeys {
    VerificationKeys::from_jwks(&JwkSet::new(kids.iter().map(|k| jwk(k)).collect()))
}

pub fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// A compact JWS of `claims` under `header`: ES256 with the key its `kid` names (`k1`
/// without one), an empty signature for `none`, HMAC with `hmac_secret` for HS256.
pub fn sign_with(header: &Value, claims: &Value, hmac_secret: Option<&[u8]>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match header["alg"].as_str().unwrap() {
        "ES256" => key(header["kid"].as_str().unwrap_or("k1"))
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        "HS256" => {
            let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, hmac_secret.unwrap());
            aws_lc_rs::hmac::sign(&k, input.as_bytes())
                .as_ref()
                .to_vec()
        }
        "none" => Vec::new(),
        other => panic!("cannot sign {other}"),
    };
    format!("{input}.{}", b64(&sig))
}

/// An ES256 token signed by `kid`.
pub fn sign(kid: &str, claims: &Value) -> String {
    sign_with(
        &json!({"alg": "ES256", "kid": kid, "typ": "at+jwt"}),
        claims,
        None,
    )
}

/// Good access-token claims for [`ISS`] and [`AUD`], valid for a day after [`T0`].
pub fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "user-1", "aud": AUD, "exp": T0 + 86_400, "iat": T0,
        "jti": "j1", "client_id": "web", "scope": "read:orders", "token_use": "user"
    })
}

pub fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims();
    c[key] = value;
    c
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at_unix(T0))
}

/// The validation rules most tests use.
pub fn policy() -> ValidationPolicyBuilder {
    ValidationPolicy::builder()
        .issuer(ISS)
        .audience(AUD)
        .algorithms([Algorithm::ES256])
}

/// The layer configuration most tests start from: static keys `k1`, a fixed clock.
pub fn builder() -> JwtAuthLayerBuilder {
    builder_with(policy())
}

/// [`builder`] with other validation rules.
pub fn builder_with(policy: ValidationPolicyBuilder) -> JwtAuthLayerBuilder {
    JwtAuthLayer::keys(policy.build().unwrap(), static_keys(&["k1"])).clock(clock())
}

/// A request with these `Authorization` headers.
pub fn request(authorization: &[&str]) -> Request<String> {
    let mut b = Request::get("/orders");
    for a in authorization {
        b = b.header("authorization", *a);
    }
    b.body(String::new()).unwrap()
}

/// Sends `req` through `layer` to a handler that answers `200` with the subject (or
/// "anonymous").
pub async fn send(layer: &JwtAuthLayer, req: Request<String>) -> Response<String> {
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(|req: Request<String>| async move {
            let who = req
                .extensions()
                .get::<AccessTokenClaims>()
                .map_or("anonymous".to_owned(), |c| c.sub.clone());
            Ok::<_, Infallible>(Response::new(who))
        }));
    svc.oneshot(req).await.unwrap()
}

pub async fn send_token(layer: &JwtAuthLayer, token: &str) -> Response<String> {
    send(layer, request(&[&format!("Bearer {token}")])).await
}

pub fn www_authenticate<B>(res: &Response<B>) -> Option<&str> {
    res.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap())
}

/// Asserts a `401 invalid_token` with this description.
pub fn assert_invalid_token<B>(res: &Response<B>, description: &str) {
    assert_eq!(res.status(), 401, "{description}");
    assert_eq!(
        www_authenticate(res).unwrap(),
        format!(
            r#"Bearer realm="{AUD}", error="invalid_token", error_description="{description}""#
        )
    );
}
