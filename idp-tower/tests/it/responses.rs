//! Every response of `JwtAuthLayer`, with static keys (no network).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use idp_tower::JwtAuthLayer;
use idp_tower::idp_core::{AccessTokenClaims, Algorithm};
use serde_json::json;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

use crate::support::*;

#[tokio::test]
async fn a_valid_token_reaches_the_inner_service_with_its_claims() {
    let layer = builder().build().unwrap();
    let res = send_token(&layer, &sign("k1", &claims())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "user-1");
    assert!(www_authenticate(&res).is_none());
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let layer = builder().build().unwrap();
    let token = sign("k1", &claims());
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let res = send(&layer, request(&[&format!("{scheme} {token}")])).await;
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let layer = builder().build().unwrap();
    for headers in [&[][..], &["Basic dXNlcjpwYXNz"], &["Token abc"]] {
        let res = send(&layer, request(headers)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(
            www_authenticate(&res).unwrap(),
            r#"Bearer realm="orders-api""#
        );
        assert!(res.body().is_empty());
    }
}

#[tokio::test]
async fn a_token_in_the_query_string_is_ignored() {
    let layer = builder().build().unwrap();
    let token = sign("k1", &claims());
    let req = Request::get(format!("/orders?access_token={token}"))
        .body(String::new())
        .unwrap();
    assert_eq!(send(&layer, req).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_authorization_headers_are_400() {
    let layer = builder().build().unwrap();
    let token = sign("k1", &claims());
    let bearer = format!("Bearer {token}");
    for (headers, description) in [
        (
            vec![bearer.as_str(), bearer.as_str()],
            "more than one Authorization header",
        ),
        (vec!["Bearer"], "empty bearer token"),
        (vec!["Bearer    "], "empty bearer token"),
    ] {
        let res = send(&layer, request(&headers)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            www_authenticate(&res).unwrap(),
            format!(
                r#"Bearer realm="orders-api", error="invalid_request", error_description="{description}""#
            )
        );
    }
}

#[tokio::test]
async fn expired() {
    let layer = builder().build().unwrap();
    // Default leeway: 60 s.
    let t = sign("k1", &claims_with("exp", json!(T0 - 61)));
    assert_invalid_token(&send_token(&layer, &t).await, "token expired");
    let t = sign("k1", &claims_with("exp", json!(T0 - 59)));
    assert_eq!(send_token(&layer, &t).await.status(), StatusCode::OK);
    // With no leeway.
    let strict = builder_with(policy().leeway(Duration::ZERO))
        .build()
        .unwrap();
    assert_invalid_token(&send_token(&strict, &t).await, "token expired");
}

#[tokio::test]
async fn not_yet_valid() {
    let layer = builder().build().unwrap();
    let t = sign("k1", &claims_with("nbf", json!(T0 + 120)));
    assert_invalid_token(&send_token(&layer, &t).await, "token not yet valid");
}

#[tokio::test]
async fn wrong_audience() {
    let layer = builder().build().unwrap();
    let t = sign("k1", &claims_with("aud", json!("billing-api")));
    assert_invalid_token(&send_token(&layer, &t).await, "wrong audience");
    // One of several audiences is enough, and several accepted audiences are allowed.
    let t = sign("k1", &claims_with("aud", json!(["billing-api", AUD])));
    assert_eq!(send_token(&layer, &t).await.status(), StatusCode::OK);
    let both = builder_with(policy().audience("billing-api"))
        .build()
        .unwrap();
    let t = sign("k1", &claims_with("aud", json!("billing-api")));
    assert_eq!(send_token(&both, &t).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_issuer() {
    let layer = builder().build().unwrap();
    let t = sign("k1", &claims_with("iss", json!("https://evil.example.com")));
    assert_invalid_token(&send_token(&layer, &t).await, "wrong issuer");
    // Exact comparison: a trailing slash is another issuer.
    let t = sign("k1", &claims_with("iss", json!(format!("{ISS}/"))));
    assert_invalid_token(&send_token(&layer, &t).await, "wrong issuer");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let layer = builder().build().unwrap();
    let t = sign_with(&json!({"alg": "none", "kid": "k1"}), &claims(), None);
    assert!(t.ends_with('.'));
    assert_invalid_token(&send_token(&layer, &t).await, "algorithm not allowed");
    let t = sign_with(&json!({"alg": "none"}), &claims(), None);
    assert_invalid_token(&send_token(&layer, &t).await, "algorithm not allowed");
    // Without the empty third part.
    assert_invalid_token(
        &send_token(&layer, t.trim_end_matches('.')).await,
        "malformed token",
    );
}

#[tokio::test]
async fn hmac_with_the_public_key_is_refused() {
    let layer = builder().build().unwrap();
    let jwk_json = serde_json::to_vec(&jwk("k1")).unwrap();
    let t = sign_with(
        &json!({"alg": "HS256", "kid": "k1"}),
        &claims(),
        Some(&jwk_json),
    );
    assert_invalid_token(&send_token(&layer, &t).await, "algorithm not allowed");
}

#[tokio::test]
async fn an_algorithm_outside_the_allow_list_is_refused() {
    let layer = builder_with(policy().algorithms([Algorithm::RS256]))
        .build()
        .unwrap();
    let t = sign("k1", &claims());
    assert_invalid_token(&send_token(&layer, &t).await, "algorithm not allowed");
}

#[tokio::test]
async fn garbage() {
    let layer = builder().build().unwrap();
    for t in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJFUzI1NiJ9.e30",
        "....",
        &"x".repeat(20_000),
    ] {
        assert_invalid_token(&send_token(&layer, t).await, "malformed token");
    }
    // Not even a b64token (RFC 6750 §2.1).
    let res = send(&layer, request(&["Bearer a,b"])).await;
    assert_invalid_token(&res, "malformed token");
    let res = send(&layer, request(&["Bearer {\"alg\":\"none\"}"])).await;
    assert_invalid_token(&res, "malformed token");
}

#[tokio::test]
async fn bad_signature() {
    let layer = builder().build().unwrap();
    let good = sign("k1", &claims());
    // Payload swapped under a valid signature.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = claims_with("sub", json!("admin"));
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged.to_string().as_bytes()),
        parts[2]
    );
    assert_invalid_token(&send_token(&layer, &swapped).await, "bad signature");
    // Signed by another key under k1's id.
    let other = sign_with(&json!({"alg": "ES256", "kid": "k1"}), &claims(), None);
    let other_key = sign("k-other", &claims());
    let mixed = format!(
        "{}.{}",
        other.rsplit_once('.').unwrap().0,
        other_key.rsplit_once('.').unwrap().1
    );
    assert_invalid_token(&send_token(&layer, &mixed).await, "bad signature");
    // Empty signature.
    let empty = format!("{}.", good.rsplit_once('.').unwrap().0);
    assert_invalid_token(&send_token(&layer, &empty).await, "bad signature");
}

#[tokio::test]
async fn unknown_kid() {
    let layer = builder().build().unwrap();
    let t = sign("k2", &claims());
    assert_invalid_token(&send_token(&layer, &t).await, "unknown key id");
}

#[tokio::test]
async fn required_typ() {
    let layer = builder_with(policy().required_typ("at+jwt"))
        .build()
        .unwrap();
    assert_eq!(
        send_token(&layer, &sign("k1", &claims())).await.status(),
        StatusCode::OK
    );
    let t = sign_with(
        &json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
        &claims(),
        None,
    );
    assert_invalid_token(&send_token(&layer, &t).await, "wrong token type");
    let t = sign_with(&json!({"alg": "ES256", "kid": "k1"}), &claims(), None);
    assert_invalid_token(&send_token(&layer, &t).await, "wrong token type");
}

#[tokio::test]
async fn claims_that_do_not_fit_the_claims_type_are_refused() {
    let layer = builder().build().unwrap();
    let mut c = claims();
    c.as_object_mut().unwrap().remove("jti");
    assert_invalid_token(
        &send_token(&layer, &sign("k1", &c)).await,
        "malformed token",
    );
    c = claims_with("exp", json!("tomorrow"));
    assert_invalid_token(
        &send_token(&layer, &sign("k1", &c)).await,
        "malformed token",
    );
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Tenant {
    tenant_plan: String,
}

#[tokio::test]
async fn custom_claims_are_typed() {
    let layer = builder().claims::<Tenant>().build().unwrap();
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|req: Request<String>| async move {
                let c = req.extensions().get::<AccessTokenClaims<Tenant>>().unwrap();
                Ok::<_, std::convert::Infallible>(Response::new(c.extra.tenant_plan.clone()))
            }));
    let t = sign("k1", &claims_with("tenant_plan", json!("gold")));
    let res = svc
        .clone()
        .oneshot(request(&[&format!("Bearer {t}")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "gold");
    // Missing custom claim: the token does not fit.
    let t = sign("k1", &claims());
    let res = svc
        .oneshot(request(&[&format!("Bearer {t}")]))
        .await
        .unwrap();
    assert_invalid_token(&res, "malformed token");
}

#[tokio::test]
async fn anonymous_requests_pass_when_allowed_but_bad_tokens_do_not() {
    let layer = builder().allow_anonymous().build().unwrap();
    let res = send(&layer, request(&[])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "anonymous");
    let res = send_token(&layer, &sign("k1", &claims())).await;
    assert_eq!(res.body(), "user-1");
    let t = sign("k1", &claims_with("exp", json!(T0 - 3600)));
    assert_invalid_token(&send_token(&layer, &t).await, "token expired");
}

#[tokio::test]
async fn realm_can_be_set() {
    let layer = builder().realm("orders").build().unwrap();
    let res = send(&layer, request(&[])).await;
    assert_eq!(www_authenticate(&res).unwrap(), r#"Bearer realm="orders""#);
}

#[derive(Debug, PartialEq)]
struct InnerError;

impl fmt::Display for InnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inner failed")
    }
}

/// The inner service's error type is kept: its errors pass through, rejections are `Ok`.
#[tokio::test]
async fn the_inner_error_type_is_kept() {
    let layer = builder().build().unwrap();
    let mut svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|_req: Request<String>| async {
                Err::<Response<String>, _>(InnerError)
            }));
    let res = svc.ready().await.unwrap().call(request(&[])).await;
    assert_eq!(res.unwrap().status(), StatusCode::UNAUTHORIZED);
    let t = sign("k1", &claims());
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(request(&[&format!("Bearer {t}")]))
        .await;
    assert_eq!(res.unwrap_err(), InnerError);
}

/// A hyper-style service (`Full<Bytes>` bodies) is wrapped without changing its types.
#[tokio::test]
async fn hyper_bodies_compose() {
    let layer = builder().build().unwrap();
    let inner = service_fn(|_req: Request<hyper_like::Incoming>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .layer(idp_tower::RequireScopesLayer::new(["read:orders"]))
        .service(inner);
    let res: Response<Full<Bytes>> = svc
        .clone()
        .oneshot(Request::new(hyper_like::Incoming))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let t = sign("k1", &claims());
    let req = Request::get("/")
        .header("authorization", format!("Bearer {t}"))
        .body(hyper_like::Incoming)
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    use http_body_util::BodyExt;
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "ok");
}

/// Stands in for `hyper::body::Incoming`: a request body that is neither `Default` nor
/// `Clone`.
mod hyper_like {
    pub struct Incoming;
}

#[test]
fn layer_is_clone_debug_send_sync() {
    fn check<T: Clone + fmt::Debug + Send + Sync + 'static>() {}
    check::<JwtAuthLayer>();
    check::<JwtAuthLayer<Tenant>>();
    check::<idp_tower::RequireScopesLayer>();
    let layer = builder().build().unwrap();
    let dbg = format!("{layer:?}");
    assert!(dbg.contains("orders-api"), "{dbg}");
}
