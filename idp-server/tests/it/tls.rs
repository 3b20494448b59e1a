//! HTTPS served by `Provider::serve` itself: a self-signed certificate made here with
//! rcgen, trusted by a reqwest client as its only extra root; HTTP/1.1 and HTTP/2 (ALPN),
//! reload of the certificate (when the files change, and at once), errors that name the
//! file, the handshake timeout, and the plain-HTTP listener that only redirects.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use idp_server::store::MemoryStore;
use idp_server::{Error, Provider, ProviderBuilder};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::common::KEY;

/// A self-signed certificate for `localhost`: (certificate PEM, private key PEM).
fn self_signed() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new((cert_pem, key_pem): &(String, String)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = Self {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        files.write((cert_pem, key_pem));
        files
    }

    fn write(&self, (cert_pem, key_pem): (&str, &str)) {
        std::fs::write(&self.cert, cert_pem).unwrap();
        std::fs::write(&self.key, key_pem).unwrap();
    }
}

/// A provider with an https issuer on `localhost:PORT`, served with TLS by
/// `Provider::serve` on 127.0.0.1.
struct Https {
    addr: SocketAddr,
    provider: Provider,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Https {
    async fn start(
        cert: &Path,
        key: &Path,
        configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let builder = Provider::builder()
            .issuer(format!("https://localhost:{}", addr.port()))
            .store(Arc::new(MemoryStore::new()))
            .encryption_key(KEY)
            .tls(cert, key);
        let provider = configure(builder).build().await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(provider.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            provider,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// A client that trusts `cert_pem` (and the public roots) and resolves `localhost` to
    /// the server. A new client for each check of which certificate is served: a client
    /// resumes its TLS sessions, where the server sends no certificate.
    fn client(&self, cert_pem: &str, http1_only: bool) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
            .resolve("localhost", self.addr)
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none());
        if http1_only {
            b = b.http1_only();
        }
        b.build().unwrap()
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

async fn discovery(client: &reqwest::Client, server: &Https) -> reqwest::Result<reqwest::Response> {
    client
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
}

#[tokio::test]
async fn tls_serves_discovery_over_http1_and_http2() {
    let pair = self_signed();
    let files = Files::new(&pair);
    let server = Https::start(&files.cert, &files.key, |b| b).await;
    for (http1_only, version) in [
        (true, reqwest::Version::HTTP_11),
        (false, reqwest::Version::HTTP_2),
    ] {
        let resp = discovery(&server.client(&pair.0, http1_only), &server)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), version);
        // An https issuer: HSTS on every answer.
        assert!(resp.headers().contains_key("strict-transport-security"));
        let doc: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(doc["issuer"], server.url(""));
    }
    // A client that does not trust the certificate does not get through.
    let other = self_signed();
    assert!(
        discovery(&server.client(&other.0, false), &server)
            .await
            .is_err()
    );
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/health/live", server.addr))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    server.stop().await;
}

#[tokio::test]
async fn tls_certificate_is_reloaded_when_the_files_change_and_on_request() {
    let first = self_signed();
    let files = Files::new(&first);
    let server = Https::start(&files.cert, &files.key, |b| b).await;
    let trusts_first = || server.client(&first.0, false);
    assert_eq!(
        discovery(&trusts_first(), &server).await.unwrap().status(),
        200
    );

    // New files: served once the server has seen them (it looks every two seconds).
    let second = self_signed();
    let trusts_second = || server.client(&second.0, false);
    assert!(discovery(&trusts_second(), &server).await.is_err());
    files.write((&second.0, &second.1));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if discovery(&trusts_second(), &server).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(discovery(&trusts_first(), &server).await.is_err());

    // A key that does not match: the reload fails with a message naming the files, and
    // the certificate in use stays.
    let third = self_signed();
    files.write((&third.0, &second.1));
    let e = server.provider.reload_tls().unwrap_err().to_string();
    assert!(
        e.contains("does not match") && e.contains("key.pem") && e.contains("cert.pem"),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        discovery(&trusts_second(), &server).await.unwrap().status(),
        200
    );

    // At once (what SIGHUP does in the binary).
    files.write((&third.0, &third.1));
    assert!(server.provider.reload_tls().unwrap());
    let trusts_third = server.client(&third.0, false);
    assert_eq!(
        discovery(&trusts_third, &server).await.unwrap().status(),
        200
    );

    // The reloads are counted.
    let metrics = server.provider.render_metrics();
    assert!(
        metrics.contains("idp_tls_certificate_reloads_total{result=\"ok\"}")
            && metrics.contains("idp_tls_certificate_reloads_total{result=\"error\"}"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn tls_configuration_errors_name_the_problem() {
    let pair = self_signed();
    let files = Files::new(&pair);
    let build = |b: ProviderBuilder| async move {
        b.issuer("https://localhost:4443")
            .store(Arc::new(MemoryStore::new()))
            .encryption_key(KEY)
            .build()
            .await
            .map(drop)
            .unwrap_err()
            .to_string()
    };
    let missing = files.cert.with_file_name("missing.pem");
    let e = build(Provider::builder().tls(&missing, &files.key)).await;
    assert!(e.contains("tls_cert") && e.contains("missing.pem"), "{e}");

    let other = self_signed();
    std::fs::write(files.key.with_file_name("other.pem"), &other.1).unwrap();
    let e =
        build(Provider::builder().tls(&files.cert, files.key.with_file_name("other.pem"))).await;
    assert!(e.contains("does not match"), "{e}");

    // The certificate given as the key, and the key as the certificate.
    let e = build(Provider::builder().tls(&files.key, &files.cert)).await;
    assert!(e.contains("tls_cert") || e.contains("tls_key"), "{e}");

    // Only one of the two.
    let config: idp_server::Config = serde_json::from_value(serde_json::json!({
        "issuer": "https://localhost:4443",
        "tls_cert": files.cert,
    }))
    .unwrap();
    let e = config.check().unwrap_err().to_string();
    assert!(e.contains("tls_cert is set but tls_key is not"), "{e}");
    let config: idp_server::Config = serde_json::from_value(serde_json::json!({
        "issuer": "http://localhost:4000",
        "http_redirect_listen": "127.0.0.1:8080",
    }))
    .unwrap();
    let e = config.check().unwrap_err().to_string();
    assert!(
        e.contains("http_redirect_listen") && e.contains("https"),
        "{e}"
    );
    // HTTPS with an http:// issuer would advertise URLs nobody can reach.
    let config: idp_server::Config = serde_json::from_value(serde_json::json!({
        "issuer": "http://localhost:4000",
        "tls_cert": files.cert,
        "tls_key": files.key,
    }))
    .unwrap();
    let e = config.check().unwrap_err().to_string();
    assert!(e.contains("https://"), "{e}");
    // A good pair passes `idp config check`.
    let config: idp_server::Config = serde_json::from_value(serde_json::json!({
        "issuer": "https://localhost:4443",
        "tls_cert": files.cert,
        "tls_key": files.key,
    }))
    .unwrap();
    config.check().unwrap();
}

#[tokio::test]
async fn tls_a_silent_client_is_dropped_after_the_handshake_timeout() {
    let pair = self_signed();
    let files = Files::new(&pair);
    let server = Https::start(&files.cert, &files.key, |b| {
        b.header_read_timeout(Duration::from_millis(400))
            .max_connections(2)
    })
    .await;
    // Two connections that send nothing take both slots...
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let start = Instant::now();
    for s in &mut silent {
        let mut buf = [0u8; 64];
        let n = timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("the server closes a silent connection")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // ...and are given back: a real client is served afterwards.
    let resp = discovery(&server.client(&pair.0, false), &server)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn tls_redirect_listener_only_redirects_to_the_https_issuer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let provider = Provider::builder()
        .issuer("https://id.example.com:8443/idp")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(provider.serve_redirects(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    for (method, path, location) in [
        (
            "GET",
            "/idp/oauth/authorize?client_id=a&state=x%20y",
            "https://id.example.com:8443/idp/oauth/authorize?client_id=a&state=x%20y",
        ),
        (
            "POST",
            "/idp/oauth/token",
            "https://id.example.com:8443/idp/oauth/token",
        ),
        ("GET", "/", "https://id.example.com:8443/"),
        (
            "GET",
            "//evil.example/x",
            "https://id.example.com:8443//evil.example/x",
        ),
        (
            "GET",
            "/.well-known/openid-configuration",
            "https://id.example.com:8443/.well-known/openid-configuration",
        ),
    ] {
        let resp = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 308, "{method} {path}");
        assert_eq!(resp.headers()["location"], location, "{method} {path}");
        assert!(resp.text().await.unwrap().is_empty());
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    // An http issuer has nowhere to redirect to.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = Provider::builder()
        .issuer("http://localhost:4000")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    let e = plain
        .serve_redirects(listener, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("https"), "{e}");
}

/// A random-looking encryption key (64 hex characters), as `openssl rand -hex 32` makes.
const HEX_KEY: &str = "3f9c2a7be41d5068c7a9f1e2d3b4c5a6978877665544332211a0b1c2d3e4f5a6";

fn idp(dir: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp"));
    c.current_dir(dir)
        .env_remove("IDP_ENCRYPTION_KEY")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_ISSUER")
        .env_remove("IDP_LISTEN")
        .env_remove("IDP_CONFIG")
        .kill_on_drop(true);
    c
}

#[tokio::test]
async fn tls_idp_serve_runs_https_the_redirect_and_the_metrics_listeners() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let pair = self_signed();
    let files = Files::new(&pair);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = |extra: &str| {
        format!(
            "issuer = \"https://localhost:4443\"\n\
             database_url = \"sqlite://{}\"\n\
             encryption_key = \"{HEX_KEY}\"\n\
             {extra}",
            d.join("tls.db").display()
        )
    };
    std::fs::write(
        d.join("idp.toml"),
        config(&format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n\
             http_redirect_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n",
            files.cert.display(),
            files.key.display()
        )),
    )
    .unwrap();
    let mut child = idp(d)
        .args(["serve", "--config", "idp.toml", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut main, mut redirect, mut metrics) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics.is_none() {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("idp serve did not start in time")
            .unwrap()
            .expect("idp exited early");
        if let Some(url) = line.strip_prefix("idp listening on https://") {
            main = Some(url.parse::<SocketAddr>().unwrap());
        } else if let Some(rest) = line.strip_prefix("redirecting http://") {
            redirect = rest.split(' ').next().map(str::to_owned);
        } else if let Some(url) = line.strip_prefix("metrics: ") {
            metrics = Some(url.to_owned());
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let main = main.expect("listening on https");
    let client = |cert: &str| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
            .resolve("localhost", main)
            .build()
            .unwrap()
    };
    let url = format!("https://localhost:{}/health/live", main.port());
    assert_eq!(
        client(&pair.0).get(&url).send().await.unwrap().status(),
        200
    );

    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = plain
        .get(format!("http://{}/oauth/authorize?a=b", redirect.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(
        resp.headers()["location"],
        "https://localhost:4443/oauth/authorize?a=b"
    );
    let text = plain
        .get(metrics.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("idp_http_requests_total{endpoint=\"/health/live\",status=\"200\"} 1"),
        "{text}"
    );

    // SIGHUP: the new certificate is served, the server goes on.
    let second = self_signed();
    files.write((&second.0, &second.1));
    let pid = child.id().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while client(&second.0).get(&url).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
    drop(child);

    // Only one of the two files: a message at start-up, and no server.
    std::fs::write(
        d.join("half.toml"),
        config(&format!("tls_cert = \"{}\"\n", files.cert.display())),
    )
    .unwrap();
    let out = idp(d)
        .args(["serve", "--config", "half.toml", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls_cert is set but tls_key is not"), "{err}");
    // A key that does not belong to the certificate.
    let other = self_signed();
    std::fs::write(d.join("other-key.pem"), &other.1).unwrap();
    std::fs::write(
        d.join("mismatch.toml"),
        config(&format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            files.cert.display(),
            d.join("other-key.pem").display()
        )),
    )
    .unwrap();
    let out = idp(d)
        .args([
            "serve",
            "--config",
            "mismatch.toml",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match the certificate"), "{err}");
}
