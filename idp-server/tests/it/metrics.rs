//! `/metrics`: what a scrape shows after a token request, label values that clients cannot
//! multiply, the switch on the main router, and the listener of its own.

use std::sync::Arc;

use idp_server::Provider;
use idp_server::store::MemoryStore;
use tokio::sync::oneshot;

use crate::common::{KEY, TestServer};

async fn scrape(server: &TestServer) -> String {
    let resp = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    resp.text().await.unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_tokens_requests_and_store_operations() {
    let server =
        TestServer::start_with(Arc::new(MemoryStore::new()), |b| b.metrics_endpoint()).await;
    server.service_client("svc").await;
    let before = scrape(&server).await;
    assert_eq!(
        sample(
            &before,
            "idp_tokens_issued_total{grant_type=\"client_credentials\"}"
        ),
        None
    );
    server.cc_token("svc", &[]).await;
    let text = scrape(&server).await;
    assert_eq!(
        sample(
            &text,
            "idp_tokens_issued_total{grant_type=\"client_credentials\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "idp_http_requests_total{endpoint=\"/oauth/token\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "idp_http_request_duration_seconds_count{endpoint=\"/oauth/token\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(
            "idp_http_request_duration_seconds_bucket{le=\"0.001\",endpoint=\"/oauth/token\"}"
        ) || text.contains(
            "idp_http_request_duration_seconds_bucket{endpoint=\"/oauth/token\",le=\"0.001\"}"
        ),
        "{text}"
    );
    // The token endpoint's storage operations are timed.
    assert!(
        sample(
            &text,
            "idp_store_operation_duration_seconds_count{operation=\"get_client\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The signing keys in use, by algorithm (the test clock is frozen: age 0).
    for alg in ["ES256", "RS256"] {
        assert_eq!(
            sample(
                &text,
                &format!("idp_signing_key_age_seconds{{alg=\"{alg}\"}}")
            ),
            Some(0.0),
            "{text}"
        );
    }
    // A failed client authentication is not a token.
    let (status, _, _) = server
        .post_form(
            "/oauth/token",
            Some(("svc", "wrong")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 401);
    let text = scrape(&server).await;
    assert_eq!(
        sample(
            &text,
            "idp_tokens_issued_total{grant_type=\"client_credentials\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "idp_http_requests_total{endpoint=\"/oauth/token\",status=\"401\"}"
        ),
        Some(1.0),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_unknown_paths_do_not_create_series() {
    let server =
        TestServer::start_with(Arc::new(MemoryStore::new()), |b| b.metrics_endpoint()).await;
    // Each series (name and labels) but those of the scrapes themselves.
    let series = |t: &str| -> std::collections::BTreeSet<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.contains("endpoint=\"/metrics\""))
            .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_owned()))
            .collect()
    };
    // One unknown path creates the `other` series…
    server.http.get(server.url("/nope")).send().await.unwrap();
    let first = scrape(&server).await;
    // …and a hundred more paths, methods and query strings add none.
    for i in 0..100 {
        let path = format!("/probe-{i}/x?y={i}");
        server.http.get(server.url(&path)).send().await.unwrap();
        server
            .http
            .request(
                reqwest::Method::from_bytes(b"BREW").unwrap(),
                server.url(&path),
            )
            .send()
            .await
            .unwrap();
    }
    let text = scrape(&server).await;
    assert!(!text.contains("probe"), "{text}");
    assert_eq!(
        sample(
            &text,
            "idp_http_requests_total{endpoint=\"other\",status=\"404\"}"
        ),
        Some(201.0),
        "{text}"
    );
    assert_eq!(series(&text), series(&first), "{first}\n---\n{text}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_off_on_the_main_router_unless_switched_on() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn metrics_listener_of_its_own() {
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let side = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (main_addr, side_addr) = (main.local_addr().unwrap(), side.local_addr().unwrap());
    let provider = Provider::builder()
        .issuer(format!("http://{main_addr}"))
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let (stop2, stopped2) = oneshot::channel::<()>();
    let main_task = tokio::spawn(provider.serve(main, stopped));
    let side_task = tokio::spawn(provider.serve_metrics(side, async {
        let _ = stopped2.await;
    }));
    let http = reqwest::Client::new();
    let live = http
        .get(format!("http://{main_addr}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let on_main = http
        .get(format!("http://{main_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let text = http
        .get(format!("http://{side_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(
            &text,
            "idp_http_requests_total{endpoint=\"/health/live\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    // The metrics listener serves nothing else.
    let other = http
        .get(format!("http://{side_addr}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let _ = stop.send(());
    let _ = stop2.send(());
    main_task.await.unwrap().unwrap();
    side_task.await.unwrap().unwrap();
}
