//! Property tests: hostile values (huge, empty, repeated, NUL, invalid UTF-8, look-alikes,
//! control characters) in every parameter and in the headers of every endpoint. Whatever
//! comes in: never a 5xx, never a panic, always the protocol's error shape, and nothing
//! stored changes. Bounded: a fixed number of cases per endpoint, through the router
//! without sockets.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response};
use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;
use proptest::prelude::*;
use tower::ServiceExt;

const REDIRECT: &str = "http://localhost:3000/callback";

/// A hostile parameter value, already percent-encoded for a query string or form body (so
/// that invalid UTF-8 and NUL bytes can be sent).
fn hostile() -> impl Strategy<Value = String> {
    let raw = prop_oneof![
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("\u{202e}lmth.exe".to_owned()),
        Just("ｈｔｔｐｓ://ｅｖｉｌ.example".to_owned()),
        Just("javascript:alert(1)".to_owned()),
        Just("http://localhost:3000/callback#frag".to_owned()),
        Just("openid openid openid".to_owned()),
        Just("none login".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("e30.e30.e30".to_owned()),
        Just("a.b".to_owned()),
        "\\PC{0,40}",
        "[\\x00-\\x1f\\x7f]{1,8}",
        (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ];
    prop_oneof![
        4 => raw.prop_map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect()),
        1 => Just("%FF%FE%00".to_owned()),
        1 => Just("%C0%AF".to_owned()),
        1 => Just("%".to_owned()),
    ]
}

/// A parameter name: a real one of some endpoint, or junk.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
            "code_challenge", "code_challenge_method", "prompt", "max_age", "id_token_hint",
            "login_hint", "request", "request_uri", "response_mode", "grant_type", "code",
            "code_verifier", "refresh_token", "client_secret", "resource", "audience", "token",
            "token_type_hint", "post_logout_redirect_uri", "_action", "csrf_token", "email",
            "password", "decision", "access_token",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,12}".prop_map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect()),
    ]
}

/// A query string or form body: mostly a plausible request with hostile values mixed in.
fn params() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "",
        "client_id=web&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code",
        "client_id=web&response_type=code&scope=openid",
        "grant_type=client_credentials",
        "grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback",
        "grant_type=refresh_token&refresh_token=abc",
        "token=abc&token_type_hint=refresh_token",
        "client_id=web&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F",
    ]);
    (base, prop::collection::vec((name(), hostile()), 0..8)).prop_map(|(base, extra)| {
        let mut parts: Vec<String> = Vec::new();
        if !base.is_empty() {
            parts.push(base.to_owned());
        }
        parts.extend(extra.into_iter().map(|(k, v)| format!("{k}={v}")));
        parts.join("&")
    })
}

/// An `Authorization` header value (or none).
fn authorization() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(b"Basic d2ViOndlYi1zZWNyZXQ=".to_vec())), // web:web-secret
        1 => Just(Some(b"Basic %%%".to_vec())),
        1 => Just(Some(b"Basic Og==".to_vec())), // ":"
        1 => Just(Some(b"Bearer ".to_vec())),
        1 => Just(Some(b"Bearer e30.e30.e30".to_vec())),
        1 => prop::collection::vec(32u8..127, 0..200).prop_map(Some),
    ]
}

/// A `Cookie` header value (or none): the provider's cookies with hostile values, junk.
fn cookie() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(b"idp_session=x; idp_csrf=y".to_vec())),
        1 => "[a-zA-Z0-9_=;, ]{0,200}".prop_map(|s| Some(s.into_bytes())),
        1 => (1usize..8_000).prop_map(|n| Some(format!("idp_csrf={}", "a".repeat(n)).into_bytes())),
        1 => prop::collection::vec(32u8..127, 0..300).prop_map(Some),
    ]
}

/// The headers a request carries: `Authorization` and `Cookie`.
#[derive(Debug, Clone)]
struct Headers {
    auth: Option<Vec<u8>>,
    cookie: Option<Vec<u8>>,
}

const NO_HEADERS: Headers = Headers {
    auth: None,
    cookie: None,
};

struct Fixture {
    rt: tokio::runtime::Runtime,
    provider: Provider,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = rt.block_on(async {
        let p = Provider::builder()
            .issuer("http://localhost:4000")
            .store(Arc::new(MemoryStore::new()))
            .encryption_key("hostile input tests key, 32+ bytes")
            .rate_limits(idp_server::RateLimits::insecure_none())
            .build()
            .await
            .unwrap();
        p.users()
            .insert(NewUser {
                email: "ada@example.com".into(),
                password: Some("correct horse battery".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        p.clients()
            .insert(NewClient {
                client_id: "web".into(),
                secret: Some("web-secret".into()),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec!["http://localhost:3000/".into()],
                allowed_scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
                grant_types: vec![
                    "authorization_code".into(),
                    "refresh_token".into(),
                    "client_credentials".into(),
                ],
                ..Default::default()
            })
            .await
            .unwrap();
        p
    });
    Fixture { rt, provider }
}

/// What is stored that a request could change and we can read back.
fn snapshot(f: &Fixture) -> String {
    f.rt.block_on(async {
        let users = f.provider.users().list(None).await.unwrap();
        let clients = f.provider.clients().list(None).await.unwrap();
        let keys = f.provider.keys().list().await.unwrap();
        format!("{users:?}{clients:?}{:?}", keys.len())
    })
}

fn send(
    f: &Fixture,
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
    headers: &Headers,
) -> Option<(Response<Body>, Vec<u8>)> {
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = &headers.auth {
        req = req.header("authorization", a.as_slice());
    }
    if let Some(c) = &headers.cookie {
        req = req.header("cookie", c.as_slice());
    }
    if body.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    // A URI the HTTP layer itself refuses never reaches the provider.
    let req = req
        .body(Body::from(body.unwrap_or_default().to_owned()))
        .ok()?;
    f.rt.block_on(async {
        let resp = f.provider.router().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
        Some((Response::from_parts(parts, Body::empty()), bytes))
    })
}

const OAUTH_ERRORS: [&str; 10] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "temporarily_unavailable",
    "access_denied",
    "invalid_token",
];

/// A JSON endpoint: 2xx, or a 4xx with an RFC 6749 §5.2 body.
fn check_json(resp: &Response<Body>, body: &[u8]) {
    let status = resp.status().as_u16();
    assert!(status < 500, "{status}: {}", String::from_utf8_lossy(body));
    if status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON error body");
        let code = v["error"].as_str().expect("an error code");
        assert!(OAUTH_ERRORS.contains(&code), "{code}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}

/// A page: never a 5xx; an error is an HTML page, and a redirect only goes to the
/// registered URI.
fn check_page(resp: &Response<Body>, body: &[u8]) {
    let status = resp.status().as_u16();
    assert!(status < 500, "{status}: {}", String::from_utf8_lossy(body));
    if let Some(location) = resp.headers().get("location") {
        let l = location.to_str().unwrap();
        assert!(
            l.starts_with(REDIRECT) || l.starts_with("http://localhost:3000/"),
            "redirect to {l}"
        );
    } else if status >= 400 {
        let ct = resp.headers()["content-type"].to_str().unwrap();
        assert!(ct.starts_with("text/html"), "{ct}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_endpoint_answers_hostile_input_with_its_protocol_error(
        query in params(),
        body in params(),
        auth in authorization(),
        cookie in cookie(),
    ) {
        let headers = Headers { auth, cookie };
        thread_local!(static F: Fixture = fixture());
        F.with(|f| {
            let before = snapshot(f);
            for (method, path, q, b) in [
                ("GET", "/oauth/authorize", query.as_str(), None),
                ("POST", "/oauth/authorize", "", Some(body.as_str())),
                ("GET", "/oauth/logout", query.as_str(), None),
                ("POST", "/oauth/logout", "", Some(body.as_str())),
            ] {
                if let Some((resp, bytes)) = send(f, method, path, q, b, &headers) {
                    check_page(&resp, &bytes);
                }
            }
            for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
                if let Some((resp, bytes)) = send(f, "POST", path, "", Some(&body), &headers) {
                    check_json(&resp, &bytes);
                }
            }
            for (method, b) in [("GET", None), ("POST", Some(body.as_str()))] {
                if let Some((resp, bytes)) = send(f, method, "/oauth/userinfo", "", b, &headers) {
                    let status = resp.status().as_u16();
                    prop_assert!(status < 500, "{}", status);
                    if status >= 400 {
                        prop_assert!(resp.headers().contains_key("www-authenticate"));
                    }
                    let _ = bytes;
                }
            }
            for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json"] {
                if let Some((resp, _)) = send(f, "GET", path, &query, None, &headers) {
                    prop_assert_eq!(resp.status().as_u16(), 200);
                }
            }
            prop_assert_eq!(snapshot(f), before);
            Ok(())
        })?;
    }
}

#[test]
fn oversized_bodies_get_the_protocol_error_shape() {
    let f = fixture();
    let big = format!("a={}", "x".repeat(70 * 1024));
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let (resp, bytes) = send(&f, "POST", path, "", Some(&big), &NO_HEADERS).unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        check_json(&resp, &bytes);
    }
    for path in ["/oauth/authorize", "/oauth/logout"] {
        let (resp, bytes) = send(&f, "POST", path, "", Some(&big), &NO_HEADERS).unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        check_page(&resp, &bytes);
    }
    let bearer = Headers {
        auth: Some(b"Bearer e30.e30.e30".to_vec()),
        cookie: None,
    };
    let (resp, _) = send(&f, "POST", "/oauth/userinfo", "", Some(&big), &bearer).unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );
}
