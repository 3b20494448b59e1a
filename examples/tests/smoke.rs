//! Each example run against a real provider on loopback, checking what its user sees.
//!
//! `cargo test` builds the examples into `target/<profile>/examples/`; these tests start
//! them as processes with `IDP_*` variables pointing at an in-process provider.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::Body;
use axum::http::Request;
use idp_core::{Algorithm, Jwk, JwsSigner, encode_jws};
use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;
use idp_server::testkit::TestProvider;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(path.exists(), "{} not built", path.display());
    let mut c = Command::new(path);
    c.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("IDP_CLIENT_ID")
        .env_remove("IDP_CLIENT_SECRET")
        .env_remove("IDP_SCOPES")
        .env_remove("IDP_AUDIENCE")
        .kill_on_drop(true);
    c
}

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    async fn line(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("example went quiet")
            .unwrap()
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    async fn until(&mut self, prefix: &str) -> String {
        loop {
            let l = self
                .line()
                .await
                .unwrap_or_else(|| panic!("ended before {prefix:?}"));
            if let Some(rest) = l.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    }

    async fn rest(&mut self) -> String {
        let mut out = String::new();
        while let Some(l) = self.line().await {
            out.push_str(&l);
            out.push('\n');
        }
        let _ = self.child.wait().await;
        out
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A provider with the `idp serve --dev` fixtures (the web client's redirect URI given).
/// The users and clients of every provider these tests start: ada, the web app `test-app`
/// (redirecting to `web_redirect`), the CLI `test-cli`, the worker `test-service` and the
/// device `dev-device`, as `idp serve --dev` has them.
fn fixtures(web_redirect: &str, backchannel: Option<String>) -> (Vec<NewUser>, Vec<NewClient>) {
    let oidc = ["openid", "profile", "email", "offline_access"]
        .map(String::from)
        .to_vec();
    let users = vec![NewUser {
        email: "ada@example.com".into(),
        password: Some(PASSWORD.into()),
        name: Some("Ada Lovelace".into()),
        email_verified: true,
        ..Default::default()
    }];
    let clients = vec![
        NewClient {
            client_id: "test-app".into(),
            secret: Some("test-secret".into()),
            redirect_uris: vec![web_redirect.into()],
            backchannel_logout_uri: backchannel,
            allowed_scopes: oidc.clone(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: true,
            ..Default::default()
        },
        NewClient {
            client_id: "test-cli".into(),
            public: true,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            allowed_scopes: oidc,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: true,
            ..Default::default()
        },
        NewClient {
            client_id: "test-service".into(),
            secret: Some("test-service-secret".into()),
            allowed_scopes: vec!["read:orders".into(), "write:orders".into()],
            grant_types: vec!["client_credentials".into()],
            audiences: vec!["orders-api".into()],
            ..Default::default()
        },
        NewClient {
            client_id: "dev-device".into(),
            public: true,
            name: Some("Dev device".into()),
            allowed_scopes: ["openid", "profile", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["device_code".into(), "refresh_token".into()],
            first_party: true,
            ..Default::default()
        },
    ];
    (users, clients)
}

/// A provider with [`fixtures`], from the test kit; its issuer.
async fn provider(web_redirect: &str) -> (TestProvider, String) {
    let (users, clients) = fixtures(web_redirect, None);
    let mut kit = TestProvider::builder().without_presets();
    for u in users {
        kit = kit.user(u);
    }
    for c in clients {
        kit = kit.client(c);
    }
    let kit = kit.start().await.unwrap();
    let issuer = kit.issuer().to_owned();
    (kit, issuer)
}

/// A provider with [`fixtures`], and with `extra_key` its ID tokens are ES256 and its JWKS
/// also publishes `extra_key`, so that the test can sign what the provider would (logout
/// tokens). `backchannel` is the web client's back-channel logout URI.
async fn provider_with(
    web_redirect: &str,
    extra_key: Option<Jwk>,
    backchannel: Option<String>,
) -> (Provider, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut builder = Provider::builder()
        .issuer(base.clone())
        .store(Arc::new(MemoryStore::new()))
        .encryption_key("smoke test key, at least 32 bytes long");
    if extra_key.is_some() {
        builder = builder.id_token_alg(Algorithm::ES256);
    }
    let p = builder.build().await.unwrap();
    let (users, clients) = fixtures(web_redirect, backchannel);
    for u in users {
        p.users().insert(u).await.unwrap();
    }
    for c in clients {
        p.clients().insert(c).await.unwrap();
    }
    let mut router = p.router();
    if let Some(key) = extra_key {
        let inner = router.clone();
        let jwks = move || async move {
            let req = Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap();
            let resp = inner.oneshot(req).await.unwrap();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            let mut set: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let keys = set["keys"].as_array_mut().unwrap();
            keys.push(serde_json::to_value(&key).unwrap());
            axum::Json(set)
        };
        router = axum::Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(jwks))
            .fallback_service(router);
    }
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (p, base)
}

/// An ES256 key of the test's own, published by [`provider_with`], that signs logout
/// tokens as the provider would.
struct TestSigner(EcdsaKeyPair);

impl TestSigner {
    fn new() -> Self {
        Self(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    fn jwk(&self) -> Jwk {
        let point = self.0.public_key().as_ref(); // 04 || x || y
        Jwk::ec("P-256", &point[1..33], &point[33..65])
            .with_kid("smoke-logout")
            .for_signing(Algorithm::ES256)
    }

    /// A logout token for `test-app` from `issuer` (Back-Channel Logout 1.0 §2.4).
    fn logout_token(
        &self,
        issuer: &str,
        typ: &str,
        sub: Option<&str>,
        sid: Option<&str>,
    ) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = serde_json::json!({
            "iss": issuer, "aud": "test-app", "iat": now, "exp": now + 120,
            "jti": idp_core::random_token(),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        if let Some(sub) = sub {
            claims["sub"] = sub.into();
        }
        if let Some(sid) = sid {
            claims["sid"] = sid.into();
        }
        encode_jws(self, Some(typ), &claims).unwrap()
    }
}

impl JwsSigner for TestSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }

    fn key_id(&self) -> Option<&str> {
        Some("smoke-logout")
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, idp_core::Error> {
        let sig = self
            .0
            .sign(&SystemRandom::new(), signing_input)
            .map_err(|_| idp_core::Error::Signing("ES256"))?;
        Ok(sig.as_ref().to_vec())
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Submits the provider's login form found at `url`; returns the redirect after sign-in.
async fn sign_in(b: &reqwest::Client, issuer: &str, url: &str) -> String {
    let page = b.get(url).send().await.unwrap().text().await.unwrap();
    let mut form: Vec<(String, String)> = page
        .split("<input")
        .skip(1)
        .filter(|t| t.contains(r#"type="hidden""#))
        .filter_map(|t| {
            let attr = |n: &str| {
                let key = format!(r#"{n}=""#);
                let i = t.find(&key)? + key.len();
                let end = t[i..].find('"')?;
                Some(t[i..i + end].replace("&#x2f;", "/").replace("&amp;", "&"))
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect();
    assert!(!form.is_empty(), "no login form at {url}: {page}");
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let r = b
        .post(format!("{issuer}/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    location(&r)
}

#[tokio::test]
async fn dev_sso_serves_discovery() {
    let mut cmd = example("dev-sso");
    cmd.env("IDP_LISTEN", "127.0.0.1:0")
        .env_remove("IDP_ISSUER");
    let mut run = Running::spawn(cmd);
    let base = run.until("dev-sso listening on ").await;
    let issuer = run.until("issuer: ").await;
    let port = base.rsplit(':').next().unwrap();
    assert_eq!(issuer, format!("http://localhost:{port}"));
    let d: serde_json::Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], issuer);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{issuer}/oauth/authorize")
    );
}

#[tokio::test]
async fn multi_tenant_prints_the_tenant_rules() {
    let mut run = Running::spawn(example("multi-tenant"));
    let out = run.rest().await;
    for want in [
        "user road@acme.example -> tenant acme role \"admin\" department \"engineering\"",
        "user runner@acme.example -> tenant acme role \"user\" department \"general\"",
        "user hank@globex.example -> tenant globex role \"owner\"",
        "user eve@unknown.example refused: rejected by hook: no tenant for eve@unknown.example",
        "user wile@acme.example refused: invalid input: attribute `role` must be one of user, admin, owner",
        "acme-web signs in hank@globex.example: refused",
        "road's token: scope \"idp:tenant-admin openid orders:read roles\"",
        "runner's token: scope \"openid orders:read roles\"",
        "orders API on acme.app.example with road's token: 200 {\"department\":\"engineering\",\"role\":\"admin\",\"tenant\":\"acme\"}",
        "orders API on globex.app.example with road's token: 403",
        "tenant admin road lists users: [\"road@acme.example\", \"runner@acme.example\"]",
        "tenant admin road lists globex's users: 403",
        "tenant admin road reads hank@globex.example: 404",
        "runner (no idp:tenant-admin) lists users: 403",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[tokio::test]
async fn web_backend_signs_in_refreshes_and_signs_out_with_revocation() {
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (_p, issuer) = provider(&format!("{app}/callback")).await;
    let mut cmd = example("web-backend");
    cmd.env("IDP_ISSUER", &issuer)
        .env("APP_LISTEN", format!("127.0.0.1:{port}"))
        .env("APP_URL", &app);
    let mut run = Running::spawn(cmd);
    run.until("web-backend listening on ").await;

    let b = browser();
    let home = b.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Not signed in"), "{home}");
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let authorize = location(&r);
    assert!(authorize.starts_with(&format!("{issuer}/oauth/authorize?")));
    assert!(authorize.contains("code_challenge_method=S256"));
    let callback = sign_in(&b, &issuer, &authorize).await;
    assert!(callback.starts_with(&format!("{app}/callback?")));
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(location(&r), "/");
    let home = b.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Signed in as ada@example.com"), "{home}");
    let me: serde_json::Value = b
        .get(format!("{app}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
    let refreshed = b
        .get(format!("{app}/refresh"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refreshed.contains("Refreshed"), "{refreshed}");
    let out = b
        .get(format!("{app}/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(out.contains("2 tokens revoked"), "{out}");
    let home = b.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Not signed in"), "{home}");
}

/// Signs in to the web-backend example at `app` through the provider at `issuer`; returns
/// the (sub, sid) its home page shows.
async fn sign_in_to_app(b: &reqwest::Client, app: &str, issuer: &str) -> (String, String) {
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let callback = sign_in(b, issuer, &location(&r)).await;
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(location(&r), "/");
    let home = b.get(app).send().await.unwrap().text().await.unwrap();
    let ids = home
        .split_once("(sub ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(ids, _)| ids.to_owned())
        .unwrap_or_else(|| panic!("not signed in: {home}"));
    let (sub, sid) = ids.split_once(", sid ").unwrap();
    (sub.to_owned(), sid.to_owned())
}

async fn signed_in(b: &reqwest::Client, app: &str) -> bool {
    let home = b.get(app).send().await.unwrap().text().await.unwrap();
    home.contains("Signed in as")
}

#[tokio::test]
async fn web_backend_ends_sessions_on_back_channel_logout() {
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let signer = TestSigner::new();
    let (_p, issuer) = provider_with(&format!("{app}/callback"), Some(signer.jwk()), None).await;
    let mut cmd = example("web-backend");
    cmd.env("IDP_ISSUER", &issuer)
        .env("APP_LISTEN", format!("127.0.0.1:{port}"))
        .env("APP_URL", &app);
    let mut run = Running::spawn(cmd);
    run.until("web-backend listening on ").await;

    // Two browsers, two sessions at the provider: the same sub, two sids.
    let (b1, b2) = (browser(), browser());
    let (sub, sid1) = sign_in_to_app(&b1, &app, &issuer).await;
    let (sub2, sid2) = sign_in_to_app(&b2, &app, &issuer).await;
    assert_eq!(sub, sub2);
    assert_ne!(sid1, sid2);
    assert_ne!(sid1, "none");

    let provider = reqwest::Client::new();
    let endpoint = format!("{app}/backchannel-logout");
    let post = |form: Vec<(&'static str, String)>| provider.post(&endpoint).form(&form).send();

    // Refused: no token, not a token, an access-token type, another audience's token.
    let refusals = [
        (vec![], "logout_token"),
        (
            vec![("logout_token", "not-a-jwt".to_owned())],
            "invalid token",
        ),
        (
            vec![(
                "logout_token",
                signer.logout_token(&issuer, "at+jwt", Some(&sub), None),
            )],
            "logout+jwt",
        ),
        (
            vec![(
                "logout_token",
                signer.logout_token("http://evil.example", "logout+jwt", Some(&sub), None),
            )],
            "wrong issuer",
        ),
    ];
    for (form, want) in refusals {
        let r = post(form).await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let d = body["error_description"].as_str().unwrap();
        assert!(d.contains(want), "{d:?} lacks {want:?}");
    }
    assert!(signed_in(&b1, &app).await && signed_in(&b2, &app).await);

    // By sid: only the first browser's session ends.
    let token = signer.logout_token(&issuer, "logout+jwt", Some(&sub), Some(&sid1));
    let r = post(vec![("logout_token", token)]).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(!signed_in(&b1, &app).await);
    assert!(signed_in(&b2, &app).await);

    // By sub alone: every session of the user ends.
    let token = signer.logout_token(&issuer, "logout+jwt", Some(&sub), None);
    let r = post(vec![("logout_token", token)]).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!signed_in(&b2, &app).await);
}

/// The whole path: the provider itself tells the example, over HTTP, that the user's
/// sessions ended (a password change, then an admin's "sign out everywhere"), and the
/// example ends its own sessions.
#[tokio::test]
async fn the_provider_ends_the_examples_sessions_through_back_channel_logout() {
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (p, issuer) = provider_with(
        &format!("{app}/callback"),
        None,
        Some(format!("{app}/backchannel-logout")),
    )
    .await;
    let mut cmd = example("web-backend");
    cmd.env("IDP_ISSUER", &issuer)
        .env("APP_LISTEN", format!("127.0.0.1:{port}"))
        .env("APP_URL", &app);
    let mut run = Running::spawn(cmd);
    run.until("web-backend listening on ").await;

    let signed_out_within_10s = |b: reqwest::Client| {
        let app = app.clone();
        async move {
            for _ in 0..100 {
                if !signed_in(&b, &app).await {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    let b = browser();
    let (sub, _) = sign_in_to_app(&b, &app, &issuer).await;
    p.users()
        .set_password(&sub, "a new and long passphrase".into())
        .await
        .unwrap();
    assert!(signed_out_within_10s(b).await, "still signed in");

    let b = browser();
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let authorize = location(&r);
    let page = b
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("password"), "{page}");
    p.users().set_password(&sub, PASSWORD.into()).await.unwrap();
    sign_in_to_app(&b, &app, &issuer).await;
    p.users().end_sessions(&sub).await.unwrap();
    assert!(signed_out_within_10s(b).await, "still signed in");
    assert!(p.flush_notifications(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn pkce_cli_signs_in_through_a_loopback_redirect() {
    let (_p, issuer) = provider("http://localhost:3000/callback").await;
    let mut cmd = example("pkce-cli");
    cmd.env("IDP_ISSUER", &issuer);
    let mut run = Running::spawn(cmd);
    run.until("Open this URL").await;
    let url = run.line().await.unwrap();
    assert!(
        url.contains("client_id=test-cli") && url.contains("code_challenge="),
        "{url}"
    );
    let b = browser();
    let back = sign_in(&b, &issuer, &url).await;
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    let page = b.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("You can close this window"));
    let out = run.rest().await;
    assert!(out.contains(r#""email": "ada@example.com""#), "{out}");
    assert!(out.contains("kept in memory only"), "{out}");
}

/// The hidden fields of the form on `page`.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("<input")
        .skip(1)
        .filter(|t| t.contains(r#"type="hidden""#))
        .filter_map(|t| {
            let attr = |n: &str| {
                let key = format!(r#"{n}=""#);
                let i = t.find(&key)? + key.len();
                let end = t[i..].find('"')?;
                Some(t[i..i + end].replace("&#x2f;", "/").replace("&amp;", "&"))
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

#[tokio::test]
async fn device_cli_gets_tokens_once_the_user_approves_on_the_device_page() {
    let (_p, issuer) = provider("http://localhost:3000/callback").await;
    let mut cmd = example("device-cli");
    cmd.env("IDP_ISSUER", &issuer);
    let mut run = Running::spawn(cmd);
    run.until("On your phone or computer, open:").await;
    let url = run.line().await.unwrap();
    assert_eq!(url, format!("{issuer}/device"));
    let line = run.until("and enter the code: ").await;
    let code = line.trim_start_matches("and enter the code: ").to_owned();
    assert_eq!(code.len(), 9, "{line}");

    // The person: signs in on the device page, types the code, allows.
    let b = browser();
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let post = |form: Vec<(String, String)>| {
        let b = b.clone();
        let url = url.clone();
        async move {
            let r = b.post(&url).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let page = post(form).await;
    let mut form = hidden_fields(&page);
    form.push(("user_code".into(), code.to_lowercase()));
    let review = post(form).await;
    assert!(review.contains("Allow Dev device?"), "{review}");
    let mut form = hidden_fields(&review);
    form.push(("decision".into(), "allow".into()));
    let done = post(form).await;
    assert!(done.contains("Device connected"), "{done}");

    let out = run.rest().await;
    assert!(out.contains(r#""name": "Ada Lovelace""#), "{out}");
    assert!(out.contains(r#""refresh_token": true"#), "{out}");
}

#[tokio::test]
async fn service_worker_calls_the_gateway_with_cached_tokens() {
    let (_p, issuer) = provider("http://localhost:3000/callback").await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let mut cmd = example("api-gateway");
    cmd.env("IDP_ISSUER", &issuer)
        .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"));
    let mut gw = Running::spawn(cmd);
    gw.until("api-gateway listening on ").await;

    let http = reqwest::Client::new();
    let r = http
        .get(format!("{gateway}/api/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    // A token without read:orders is refused with 403.
    let t: serde_json::Value = http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth("test-service", Some("test-service-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "write:orders"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .get(format!("{gateway}/api/orders"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    let mut cmd = example("service-worker");
    cmd.env("IDP_ISSUER", &issuer)
        .env("GATEWAY_URL", &gateway)
        .env("WORKER_CALLS", "3");
    let out = Running::spawn(cmd).rest().await;
    assert!(out.contains("call 1: 200"), "{out}");
    assert!(out.contains(r#""caller":"test-service""#), "{out}");
    assert!(out.contains("call 3: 200"), "{out}");
    assert!(out.contains("(token reused from cache)"), "{out}");
}
