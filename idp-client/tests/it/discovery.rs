//! Discovery: issuer check, both well-known documents, caching, no redirects, timeouts.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use idp_client::{Discovery, Error, HttpClient, WellKnown};

use crate::fake::Fake;

fn discovery(fake: &Fake, issuer: &str) -> Discovery {
    Discovery::builder(issuer)
        .http_client(fake.http())
        .clock(fake.clock.clone())
        .ttl(Duration::from_secs(600))
        .build()
        .unwrap()
}

#[tokio::test]
async fn fetches_checks_and_caches() {
    let fake = Fake::start().await;
    let d = discovery(&fake, &fake.issuer);
    let m = d.metadata().await.unwrap();
    assert_eq!(m.issuer, fake.issuer);
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some(&*format!("{}/token", fake.issuer))
    );
    d.metadata().await.unwrap();
    fake.advance(599);
    d.metadata().await.unwrap();
    assert_eq!(fake.state.discovery_hits.load(Ordering::SeqCst), 1);
    fake.advance(1);
    d.metadata().await.unwrap();
    assert_eq!(fake.state.discovery_hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rfc8414_document() {
    let fake = Fake::start().await;
    let d = Discovery::builder(&fake.issuer)
        .well_known(WellKnown::OAuthAuthorizationServer)
        .http_client(fake.http())
        .build()
        .unwrap();
    assert!(
        d.url()
            .path()
            .starts_with("/.well-known/oauth-authorization-server")
    );
    assert_eq!(d.metadata().await.unwrap().issuer, fake.issuer);
}

#[tokio::test]
async fn issuer_mismatch_is_an_error() {
    let fake = Fake::start().await;
    *fake.state.advertised_issuer.lock().unwrap() = Some("https://evil.example.com".into());
    let err = discovery(&fake, &fake.issuer).metadata().await.unwrap_err();
    match err {
        Error::IssuerMismatch { expected, found } => {
            assert_eq!(expected, fake.issuer);
            assert_eq!(found, "https://evil.example.com");
        }
        other => panic!("expected IssuerMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn issuer_mismatch_keeps_serving_the_last_good_document() {
    let fake = Fake::start().await;
    let d = discovery(&fake, &fake.issuer);
    d.metadata().await.unwrap();
    *fake.state.advertised_issuer.lock().unwrap() = Some("https://evil.example.com".into());
    assert!(matches!(
        d.refresh().await,
        Err(Error::IssuerMismatch { .. })
    ));
    fake.advance(601);
    assert_eq!(d.metadata().await.unwrap().issuer, fake.issuer);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let fake = Fake::start().await;
    let issuer = format!("{}/redirect", fake.issuer);
    let err = discovery(&fake, &issuer).metadata().await.unwrap_err();
    assert!(matches!(err, Error::Redirect { status: 302 }), "{err:?}");
    assert_eq!(fake.state.discovery_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn requests_time_out() {
    let fake = Fake::start().await;
    let http = HttpClient::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let d = Discovery::builder(format!("{}/slow", fake.issuer))
        .http_client(http)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = d.metadata().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    match err {
        Error::Transport(t) => assert!(t.is_timeout(), "{t:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_to_other_hosts_is_refused() {
    let err = Discovery::builder("http://id.example.com")
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
}
