//! What an unauthenticated outsider can send, against the real server on loopback: each
//! request gets the protocol's answer at a bounded cost (bounded loops, loopback only).

use serde_json::Value;

use crate::browser::{REDIRECT, setup};
use crate::common::TestServer;

/// 12,000 parameters in a 60 KB query string or form body (the "parameter bomb").
fn bomb() -> String {
    vec!["xy=z"; 12_000].join("&")
}

#[tokio::test]
async fn a_parameter_bomb_at_authorize_is_a_400_page_without_redirect() {
    let s = TestServer::start().await;
    setup(&s).await;
    let query = format!(
        "client_id=web&redirect_uri={}&response_type=code&{}",
        urlencode(REDIRECT),
        bomb()
    );
    let r = s
        .http
        .get(format!("{}?{query}", s.url("/oauth/authorize")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("too many parameters"));
    // The same request with a normal number of parameters still works.
    let ok = s
        .http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_parameter_bomb_at_the_token_endpoint_is_invalid_request() {
    let s = TestServer::start().await;
    let body = format!("grant_type=client_credentials&{}", bomb());
    assert!(
        body.len() > 60_000 && body.len() < 64 * 1024,
        "{}",
        body.len()
    );
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("too many")
    );
}

#[tokio::test]
async fn repeated_parameters_are_refused_once_each_endpoint_reads_them() {
    let s = TestServer::start().await;
    setup(&s).await;
    // 60 copies of one parameter (under the cap): refused as repeated, with a redirect
    // back since the client and redirect URI are known.
    let mut q = vec![
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
    ];
    q.extend(std::iter::repeat_n(("scope", "openid"), 60));
    let r = s
        .http
        .get(s.url("/oauth/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(location.contains("error=invalid_request"), "{location}");

    let r = s
        .http
        .post(s.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test]
async fn an_over_long_value_is_refused() {
    let s = TestServer::start().await;
    let long = "x".repeat(idp_core::MAX_TOKEN_LEN + 1);
    let r = s
        .http
        .post(s.url("/oauth/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("id_token_hint={long}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A server on a memory store, configured by `configure`.
async fn server(
    configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
) -> TestServer {
    TestServer::start_with(
        std::sync::Arc::new(idp_server::store::MemoryStore::new()),
        configure,
    )
    .await
}

/// The parameters of an authorization request by the `web` client.
const AUTHORIZE: [(&str, &str); 4] = [
    ("client_id", "web"),
    ("redirect_uri", REDIRECT),
    ("response_type", "code"),
    ("scope", "openid"),
];

/// A client_credentials request by `svc` with `secret`, sent at once on its own task.
fn token_request(s: &TestServer, secret: &str) -> tokio::task::JoinHandle<reqwest::Response> {
    let request = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth("svc", Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    tokio::spawn(async move { request.send().await.unwrap() })
}

/// A confidential service client `svc` / `svc-secret` for client_credentials.
async fn service_client(s: &TestServer) {
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "svc".into(),
            secret: Some("svc-secret".into()),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["read".into()],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_client_credentials_requests_all_succeed() {
    // One hashing turn and a wait long enough for one argon2 check: without single flight
    // the 32 requests would queue 32 checks behind one turn and most would get 503.
    let s = server(|b| b.password_hashing(1, std::time::Duration::from_millis(200))).await;
    service_client(&s).await;
    let requests: Vec<_> = (0..32).map(|_| token_request(&s, "svc-secret")).collect();
    for r in requests {
        assert_eq!(r.await.unwrap().status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_budget_answers_busy_not_error() {
    let s = server(|b| b.password_hashing(1, std::time::Duration::from_millis(1))).await;
    service_client(&s).await;
    // Distinct wrong secrets: no two share a computation.
    let requests: Vec<_> = (0..16)
        .map(|i| token_request(&s, &format!("wrong-{i}")))
        .collect();
    let mut busy = 0;
    for r in requests {
        let r = r.await.unwrap();
        match r.status().as_u16() {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(r.headers()["retry-after"], "1");
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["error"], "temporarily_unavailable");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy > 0,
        "one turn for sixteen concurrent checks: some must be told to wait"
    );
    // The right secret still works once the flood is over.
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_beyond_the_budget_get_a_busy_page() {
    use crate::browser::{Browser, PASSWORD};
    let s = server(|b| b.password_hashing(1, std::time::Duration::from_millis(1))).await;
    setup(&s).await;
    let params = AUTHORIZE;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let browser = Browser::new();
        let page = browser.authorize(&s, &params).await;
        let mut form = page.hidden_fields();
        form.push(("email".into(), format!("nobody-{i}@example.com")));
        form.push(("password".into(), "wrong password".into()));
        let request = browser.http.post(s.url("/oauth/authorize")).form(&form);
        tasks.push(tokio::spawn(async move {
            let r = request.send().await.unwrap();
            let (status, headers) = (r.status().as_u16(), r.headers().clone());
            (status, headers, r.text().await.unwrap())
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, headers, body) = t.await.unwrap();
        assert!(
            body.contains("name=\"password\""),
            "not the login form: {body}"
        );
        match status {
            401 => {}
            503 => {
                busy += 1;
                assert!(body.contains("busy"), "{body}");
                assert_eq!(headers["retry-after"], "1");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(
        busy > 0,
        "one turn for twelve concurrent sign-ins: some must be told to wait"
    );
    // The owner signs in once the flood is over.
    let owner = Browser::new();
    let page = owner.authorize(&s, &params).await;
    let done = owner.login(&s, &page, "ada@example.com", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is loopback).
fn from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One sign-in by `http` as `email` with `password`, from a fresh login page; the status.
async fn sign_in_with(http: &reqwest::Client, s: &TestServer, email: &str, password: &str) -> u16 {
    let authorize = s.url("/oauth/authorize");
    let page = http.get(&authorize).query(&AUTHORIZE).send().await.unwrap();
    let mut form = crate::browser::Page {
        status: 200,
        location: None,
        body: page.text().await.unwrap(),
        headers: Default::default(),
    }
    .hidden_fields();
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let r = http.post(&authorize).form(&form).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn failures_of_a_client_id_elsewhere_do_not_throttle_the_real_client() {
    let s = TestServer::start().await;
    service_client(&s).await;
    let attacker = from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let r = attacker
            .post(s.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", "svc")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // 20 failures a minute from one address, then 429 there.
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // The real client, from its own address, is never throttled by them.
    for _ in 0..5 {
        let r = from([127, 0, 0, 1])
            .post(s.url("/oauth/token"))
            .basic_auth("svc", Some("svc-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out() {
    use crate::browser::PASSWORD;
    let s = server(|b| {
        b.rate_limits(idp_server::RateLimits {
            login_attempts_per_minute: 3,
            ..idp_server::RateLimits::default()
        })
    })
    .await;
    setup(&s).await;
    let attacker = from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(sign_in_with(&attacker, &s, "ada@example.com", "wrong password").await);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    // Even the right password waits at the attacker's address ...
    assert_eq!(
        sign_in_with(&attacker, &s, "ada@example.com", PASSWORD).await,
        429
    );
    // ... but the owner, from another address, signs in.
    let owner = from([127, 0, 0, 1]);
    assert_eq!(
        sign_in_with(&owner, &s, "ada@example.com", PASSWORD).await,
        303
    );
    // The metrics tell the three outcomes and the limiter apart.
    let metrics = s.provider.render_metrics();
    for line in [
        "idp_sign_ins_total{outcome=\"failure\"} 3",
        "idp_sign_ins_total{outcome=\"throttled\"} 4",
        "idp_sign_ins_total{outcome=\"success\"} 1",
        "idp_rate_limited_total{limiter=\"login\"} 4",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_database_refuses_writes_and_comes_back_by_itself() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ready.db").display());
    let store = idp_server::store::SqliteStore::connect(&url).await.unwrap();
    let s = TestServer::start_with(std::sync::Arc::new(store), |b| b).await;
    let ready = || async { s.http.get(s.url("/health/ready")).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);

    // Another process holds the write lock: the probe cannot write.
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    // Past the second for which a pass is reused.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = ready().await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.text().await.unwrap(),
        "not ready",
        "no detail on the wire"
    );
    // Liveness does not depend on the database.
    let live = s.http.get(s.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(ready().await.status(), 200);
}

/// The Redis server to test against, e.g. `redis://127.0.0.1:6379`; `None` (after saying so)
/// when unset.
fn redis_url() -> Option<String> {
    match std::env::var("IDP_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: IDP_TEST_REDIS_URL not set");
            None
        }
    }
}

/// Three wrong passwords for `email` from 127.0.0.2 at `s`, then the statuses of two more.
async fn fail_three_times(s: &TestServer, email: &str) -> Vec<u16> {
    let http = from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(sign_in_with(&http, s, email, "wrong password").await);
    }
    statuses
}

fn limits_with_redis(url: &str) -> idp_server::RateLimits {
    idp_server::RateLimits {
        login_attempts_per_minute: 2,
        redis_url: Some(url.to_owned()),
        ..idp_server::RateLimits::default()
    }
}

#[tokio::test]
#[cfg_attr(not(idp_test_redis), ignore = "needs IDP_TEST_REDIS_URL")]
async fn replicas_share_sign_in_failures_through_redis() {
    let Some(url) = redis_url() else { return };
    let store: std::sync::Arc<dyn idp_server::store::Store> =
        std::sync::Arc::new(idp_server::store::MemoryStore::new());
    let a = TestServer::start_with(store.clone(), |b| b.rate_limits(limits_with_redis(&url))).await;
    let b = TestServer::start_with(store, |b| b.rate_limits(limits_with_redis(&url))).await;
    setup(&a).await;
    // A fresh account name per run: Redis outlives test runs.
    let email = format!("shared-{}@example.com", uuid_like());
    assert_eq!(fail_three_times(&a, &email).await, [401, 401, 429]);
    // The other replica knows.
    assert_eq!(fail_three_times(&b, &email).await, [429, 429, 429]);
}

#[tokio::test]
async fn without_redis_the_limits_hold_per_process_and_sign_in_works() {
    // Nothing listens on port 1: every Redis call fails fast.
    let s = server(|b| b.rate_limits(limits_with_redis("redis://127.0.0.1:1"))).await;
    setup(&s).await;
    assert_eq!(
        fail_three_times(&s, "nobody@example.com").await,
        [401, 401, 429]
    );
    let owner = crate::browser::Browser::new();
    let params = AUTHORIZE;
    let page = owner.authorize(&s, &params).await;
    let done = owner
        .login(&s, &page, "ada@example.com", crate::browser::PASSWORD)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}-{}", t.as_nanos(), std::process::id())
}

#[tokio::test]
async fn the_parameter_bounds_are_configurable() {
    let s = server(|b| b.parameter_bounds(16, 4096)).await;
    let mut form: Vec<(String, String)> = vec![("grant_type".into(), "client_credentials".into())];
    form.extend((0..16).map(|i| (format!("extra{i}"), "v".into())));
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("at most 16"),
        "{v}"
    );
    let long = vec![("grant_type".to_owned(), "x".repeat(4097))];
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .form(&long)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_description"], "a parameter is too long");
    // The same 17 parameters are fine under the default bounds (a 401: no client).
    let d = TestServer::start().await;
    let r = d
        .http
        .post(d.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_with_the_protocol_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server(|b| b.request_body_timeout(std::time::Duration::from_millis(300))).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // 100 bytes announced, 20 sent, then nothing.
    sock.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=client_cr",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"error\":\"invalid_request\""), "{text}");
}

#[tokio::test]
async fn wrong_passwords_from_ten_addresses_do_not_lock_the_owner_out() {
    use crate::browser::{Browser, PASSWORD};
    let s = server(|b| {
        b.rate_limits(idp_server::RateLimits {
            login_attempts_per_minute: 3,
            ..idp_server::RateLimits::default()
        })
    })
    .await;
    setup(&s).await;
    // Ten attacker addresses, each well within its own limit, all on one account.
    for last in 2..12u8 {
        let attacker = from([127, 0, 0, last]);
        let status = sign_in_with(&attacker, &s, "ada@example.com", "wrong password").await;
        assert_eq!(status, 401);
    }
    let owner = Browser::new();
    let page = owner.authorize(&s, &AUTHORIZE).await;
    let done = owner.login(&s, &page, "ada@example.com", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
}
