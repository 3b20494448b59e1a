//! The transport seam: a closure wrapping the reqwest transport counts what a discovery and
//! a token call send; a canned responder runs the client with no socket at all; the policy
//! (scheme, timeout, body bound, no redirects) holds around any transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use idp_client::{
    Client, ClientAuth, Discovery, Error, HttpClient, ReqwestTransport, Transport, TransportError,
};
use serde_json::json;

use crate::fake::{Fake, sign};

/// The reqwest transport behind a closure that records each request's method and path.
fn counting(log: Arc<Mutex<Vec<String>>>) -> impl Transport {
    let reqwest = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let inner = ReqwestTransport::new(reqwest);
    move |req: Request<Vec<u8>>| {
        log.lock()
            .unwrap()
            .push(format!("{} {}", req.method(), req.uri().path()));
        inner.send(req)
    }
}

#[tokio::test]
async fn a_counting_closure_sees_every_request_of_discovery_token_and_jwks() {
    let fake = Fake::start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let transport = Arc::new(counting(log.clone()));
    let shared = {
        let t = transport.clone();
        move |req| t.send(req)
    };
    let discovery = Discovery::builder(fake.issuer.clone())
        .http(shared.clone())
        .clock(fake.clock.clone())
        .build()
        .unwrap();
    let metadata = discovery.metadata().await.unwrap();
    discovery.metadata().await.unwrap(); // cached: no request
    let client = Client::builder(metadata, "web")
        .auth(ClientAuth::basic("web-secret"))
        .http(shared)
        .clock(fake.clock.clone())
        .build()
        .unwrap();
    let tokens = client
        .client_credentials()
        .scope("read:orders".parse().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tokens.access_token.secret().starts_with("svc-token-"));
    assert_eq!(
        *log.lock().unwrap(),
        ["GET /.well-known/openid-configuration", "POST /token"]
    );

    // The client's JWKS cache goes through the same transport.
    let token = sign(
        Some("k1"),
        &json!({"iss": fake.issuer, "sub": "u", "aud": "web", "iat": crate::fake::T0,
                "exp": crate::fake::T0 + 60}),
    );
    client.verify_id_token(&token).send().await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 3);
    assert_eq!(log.lock().unwrap()[2], "GET /jwks");
    assert_eq!(fake.state.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.token_hits(), 1);
    assert_eq!(fake.jwks_hits(), 1);
}

/// A provider in a closure: discovery and token answered from memory.
fn canned(calls: Arc<AtomicUsize>) -> impl Transport {
    move |req: Request<Vec<u8>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let body = match (req.method().as_str(), req.uri().path()) {
                ("GET", "/.well-known/openid-configuration") => json!({
                    "issuer": "https://id.example.com",
                    "token_endpoint": "https://id.example.com/oauth/token",
                }),
                ("POST", "/oauth/token") => {
                    let form = String::from_utf8(req.into_body()).unwrap();
                    assert!(form.contains("grant_type=client_credentials"), "{form}");
                    json!({"access_token": "canned", "token_type": "Bearer", "expires_in": 60})
                }
                _ => {
                    let mut r = Response::new(br#"{"error":"invalid_request"}"#.to_vec());
                    *r.status_mut() = StatusCode::NOT_FOUND;
                    return Ok::<_, TransportError>(r);
                }
            };
            Ok(Response::new(body.to_string().into_bytes()))
        }
    }
}

#[tokio::test]
async fn a_canned_responder_needs_no_socket() {
    let calls = Arc::new(AtomicUsize::new(0));
    let http = HttpClient::with_transport(canned(calls.clone()));
    let metadata = Discovery::builder("https://id.example.com")
        .http_client(http.clone())
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap();
    let client = Client::builder(metadata, "worker")
        .auth(ClientAuth::post("s"))
        .http_client(http)
        .build()
        .unwrap();
    let t = client.client_credentials().send().await.unwrap();
    assert_eq!(t.access_token.secret(), "canned");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // No revocation endpoint in the metadata: refused before any request.
    assert!(client.revoke(&t.access_token).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_policy_holds_around_any_transport() {
    // Plain http to a non-loopback host never reaches the transport.
    let calls = Arc::new(AtomicUsize::new(0));
    let d = Discovery::builder("http://id.example.com")
        .http(canned(calls.clone()))
        .build()
        .unwrap();
    assert!(matches!(d.metadata().await, Err(Error::InvalidUrl(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // A transport that never answers is cut by the timeout.
    let http = HttpClient::builder()
        .transport(|_req: Request<Vec<u8>>| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, TransportError>(Response::new(Vec::new()))
        })
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let d = Discovery::builder("https://id.example.com")
        .http_client(http)
        .build()
        .unwrap();
    match d.metadata().await {
        Err(Error::Transport(e)) => assert!(e.is_timeout()),
        other => panic!("{other:?}"),
    }

    // Bodies over the bound are refused; a 3xx is an error, not followed.
    let http = HttpClient::builder()
        .transport(|_req: Request<Vec<u8>>| async {
            Ok::<_, TransportError>(Response::new(vec![b' '; 2048]))
        })
        .max_response_size(1024)
        .build()
        .unwrap();
    let d = Discovery::builder("https://id.example.com")
        .http_client(http)
        .build()
        .unwrap();
    assert!(matches!(d.metadata().await, Err(Error::InvalidResponse(_))));
    let d = Discovery::builder("https://id.example.com")
        .http(|_req: Request<Vec<u8>>| async {
            let mut r = Response::new(Vec::new());
            *r.status_mut() = StatusCode::FOUND;
            Ok::<_, TransportError>(r)
        })
        .build()
        .unwrap();
    assert!(matches!(
        d.metadata().await,
        Err(Error::Redirect { status: 302 })
    ));

    // A transport's own error comes back as Error::Transport with its source.
    let d = Discovery::builder("https://id.example.com")
        .http(|_req: Request<Vec<u8>>| async {
            Err::<Response<Vec<u8>>, _>(std::io::Error::other("boom"))
        })
        .build()
        .unwrap();
    match d.metadata().await {
        Err(Error::Transport(e)) => {
            let src = std::error::Error::source(&e).unwrap().to_string();
            assert_eq!(src, "boom");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_reqwest_client_that_follows_redirects_is_refused() {
    let fake = Fake::start().await;
    // reqwest's default policy follows redirects; /redirect/... answers 302 to the document.
    let d = Discovery::builder(format!("{}/redirect", fake.issuer))
        .http(ReqwestTransport::new(reqwest::Client::new()))
        .build()
        .unwrap();
    assert!(matches!(d.metadata().await, Err(Error::Transport(_))));
    // The same client with redirects off reports the 302 itself.
    let none = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let d = Discovery::builder(format!("{}/redirect", fake.issuer))
        .http(ReqwestTransport::new(none))
        .build()
        .unwrap();
    assert!(matches!(d.metadata().await, Err(Error::Redirect { .. })));
}
