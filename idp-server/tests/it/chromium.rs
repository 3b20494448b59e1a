//! End to end in a real Chromium through WebDriver: open the authorize URL, type the
//! credentials, submit, land on the redirect URI with a code and the right state; then a
//! second client's authorize request completes without the form (SSO); a logout without
//! `id_token_hint` asks, and the confirmation button signs out (no JavaScript involved).
//!
//! Runs when `IDP_TEST_CHROMEDRIVER` names a chromedriver binary (`.ci/run` installs
//! Debian's chromium and chromium-driver and sets it); otherwise it says it was skipped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::RawQuery;
use axum::routing::get;
use idp_server::manage::NewClient;
use serde_json::{Value, json};

use crate::browser::{PASSWORD, setup};
use crate::common::TestServer;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start(chromedriver: &str) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let binary =
            std::env::var("IDP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {resp}"))
            .to_owned();
        Self {
            http,
            base,
            session,
            _child: child,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    /// The computed value of a CSS property of the element (WebDriver "Get Element CSS
    /// Value": no script involved).
    async fn css_value(&self, css: &str, property: &str) -> String {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{id}/css/{property}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Saves a PNG screenshot of the page (WebDriver "Take Screenshot").
    async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(path, png).unwrap();
    }

    async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

/// Waits until `pred` holds for what the callback server received.
async fn wait_for<T: Clone>(seen: &Mutex<Vec<T>>, n: usize) -> T {
    for _ in 0..200 {
        if let Some(v) = seen.lock().unwrap().get(n) {
            return v.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached the redirect URI");
}

#[tokio::test]
#[cfg_attr(not(idp_test_chromium), ignore = "needs IDP_TEST_CHROMEDRIVER")]
async fn chromium_signs_in_and_gets_sso_for_a_second_client() {
    let Ok(chromedriver) = std::env::var("IDP_TEST_CHROMEDRIVER") else {
        eprintln!("skipped: IDP_TEST_CHROMEDRIVER not set");
        return;
    };
    // The application the browser comes back to.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/callback",
        get(move |RawQuery(q): RawQuery| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(q.unwrap_or_default());
                "signed in"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = TestServer::start().await;
    setup(&s).await;
    for id in ["app-one", "app-two"] {
        s.provider
            .clients()
            .insert(NewClient {
                client_id: id.into(),
                secret: Some("s3cret".into()),
                redirect_uris: vec![callback.clone()],
                allowed_scopes: vec!["openid".into(), "email".into()],
                first_party: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let authorize = |client: &str, state: &str| {
        let mut u = url::Url::parse(&s.url("/oauth/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("client_id", client)
            .append_pair("redirect_uri", &callback)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email")
            .append_pair("state", state);
        u.to_string()
    };

    let d = Driver::start(&chromedriver).await;
    d.goto(&authorize("app-one", "state-one")).await;
    // The page is styled by the provider's stylesheet, which its CSP (no 'unsafe-inline')
    // lets the browser apply: the blue button, the narrow card.
    assert_eq!(
        d.css_value("#submit", "background-color").await,
        "rgba(36, 87, 214, 1)"
    );
    assert_eq!(d.css_value("main", "max-width").await, "384px");
    assert_eq!(d.css_value("label[for=email]", "font-weight").await, "600");
    d.type_into("#email", "ada@example.com").await;
    d.type_into("#password", PASSWORD).await;
    d.click("#submit").await;
    let q = wait_for(&seen, 0).await;
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["state"], "state-one");
    assert_eq!(params["iss"], s.base);
    assert!(params["code"].len() >= 43);
    assert!(d.url().await.starts_with(&callback));

    // Second client: no form, straight back with a code.
    d.goto(&authorize("app-two", "state-two")).await;
    let q = wait_for(&seen, 1).await;
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["state"], "state-two");
    assert!(params.contains_key("code"));
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("app-two", "s3cret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", &callback),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Logout without an id_token_hint: the confirmation page, a click, signed out.
    d.goto(&s.url("/oauth/logout")).await;
    assert!(d.source().await.contains("Sign out?"));
    d.click("#logout").await;
    let mut signed_out = false;
    for _ in 0..100 {
        if d.source().await.contains("You are signed out") {
            signed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(signed_out, "{}", d.source().await);
    d.goto(&format!(
        "{}&prompt=none",
        authorize("app-two", "state-three")
    ))
    .await;
    let q = wait_for(&seen, 2).await;
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["error"], "login_required", "{q}");
    d.quit().await;
    s.stop().await;
}

/// The device verification page in a real browser, without JavaScript: sign in from the
/// complete verification URI, the code is kept and prefilled, the review shows the app and
/// its scopes, Allow connects the device, whose poll then gets tokens.
#[tokio::test]
#[cfg_attr(not(idp_test_chromium), ignore = "needs IDP_TEST_CHROMEDRIVER")]
async fn chromium_approves_a_device_on_the_verification_page() {
    let Ok(chromedriver) = std::env::var("IDP_TEST_CHROMEDRIVER") else {
        eprintln!("skipped: IDP_TEST_CHROMEDRIVER not set");
        return;
    };
    let s = TestServer::start().await;
    setup(&s).await;
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "tv".into(),
            public: true,
            name: Some("Living Room TV".into()),
            allowed_scopes: vec!["openid".into(), "profile".into()],
            grant_types: vec!["refresh_token".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    // The management API does not take the device grant yet: add it to the stored record.
    let mut c = s.provider.store().get_client("tv").await.unwrap().unwrap();
    c.grant_types.push(idp_core::GrantType::DeviceCode);
    s.provider.store().update_client(&c).await.unwrap();
    let (status, _, d) = s
        .post_form(
            "/oauth/device_authorization",
            None,
            &[("client_id", "tv"), ("scope", "openid profile")],
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let user_code = d["user_code"].as_str().unwrap().to_owned();
    let poll = || async {
        s.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", d["device_code"].as_str().unwrap()),
                ("client_id", "tv"),
            ],
        )
        .await
    };

    let driver = Driver::start(&chromedriver).await;
    driver
        .goto(d["verification_uri_complete"].as_str().unwrap())
        .await;
    driver.type_into("#email", "ada@example.com").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("#submit").await;
    // The code form, prefilled from the link; submitted as it is.
    let mut source = String::new();
    for _ in 0..100 {
        source = driver.source().await;
        if source.contains("Connect a device") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(source.contains(&user_code), "{source}");
    driver.click("#submit").await;
    for _ in 0..100 {
        source = driver.source().await;
        if source.contains("Allow Living Room TV?") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(source.contains("<li>profile</li>"), "{source}");
    let (_, _, body) = poll().await;
    assert_eq!(body["error"], "authorization_pending");
    driver.click("#allow").await;
    let mut connected = false;
    for _ in 0..100 {
        if driver.source().await.contains("Device connected") {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected, "{}", driver.source().await);
    s.clock.advance(Duration::from_secs(5));
    let (status, _, tokens) = poll().await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
    driver.quit().await;
    s.stop().await;
}

/// Waits until the page's source contains `text`; the source.
async fn wait_for_text(d: &Driver, text: &str) -> String {
    let mut source = String::new();
    for _ in 0..100 {
        source = d.source().await;
        if source.contains(text) {
            return source;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never showed {text:?}: {source}");
}

/// TOTP two-factor through the real pages, without JavaScript: sign in on the account page,
/// enrol with a code computed from the secret the page shows (beside its inline QR code),
/// sign out, then sign in to an application with the password and a code; the ID token's
/// `amr` is `["pwd","otp"]`.
#[tokio::test]
#[cfg_attr(not(idp_test_chromium), ignore = "needs IDP_TEST_CHROMEDRIVER")]
async fn chromium_enrols_totp_and_signs_in_with_password_and_code() {
    use crate::two_factor::{base32_decode, element_text, totp};
    use idp_core::Clock;
    let Ok(chromedriver) = std::env::var("IDP_TEST_CHROMEDRIVER") else {
        eprintln!("skipped: IDP_TEST_CHROMEDRIVER not set");
        return;
    };
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/callback",
        get(move |RawQuery(q): RawQuery| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(q.unwrap_or_default());
                "signed in"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = TestServer::start().await;
    setup(&s).await;
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "app".into(),
            secret: Some("s3cret".into()),
            redirect_uris: vec![callback.clone()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();

    let d = Driver::start(&chromedriver).await;
    d.goto(&s.url("/account/login")).await;
    d.type_into("#email", "ada@example.com").await;
    d.type_into("#password", PASSWORD).await;
    d.click("#submit").await;
    wait_for_text(&d, "Your account").await;
    d.goto(&s.url("/account/two-factor")).await;
    let source = wait_for_text(&d, "id=\"secret\"").await;
    assert!(source.contains("<svg"), "the QR code is inline: {source}");
    let secret = base32_decode(&element_text(&source, "secret").unwrap());
    d.type_into("#code", &totp(&secret, s.clock.unix_now()))
        .await;
    d.click("#enable").await;
    let source = wait_for_text(&d, "id=\"backup-codes\"").await;
    assert_eq!(source.matches("<li><code>").count(), 10, "{source}");

    d.goto(&s.url("/oauth/logout")).await;
    wait_for_text(&d, "Sign out?").await;
    d.click("#logout").await;
    wait_for_text(&d, "You are signed out").await;

    s.clock.advance(Duration::from_secs(30));
    let mut u = url::Url::parse(&s.url("/oauth/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", &callback)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "st-2fa");
    d.goto(u.as_str()).await;
    d.type_into("#email", "ada@example.com").await;
    d.type_into("#password", PASSWORD).await;
    d.click("#submit").await;
    wait_for_text(&d, "Enter your code").await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "no redirect before the code"
    );
    d.type_into("#code", &totp(&secret, s.clock.unix_now()))
        .await;
    d.click("#submit").await;
    let q = wait_for(&seen, 0).await;
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["state"], "st-2fa");
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("app", "s3cret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", &callback),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let claims =
        crate::common::verify_with_jsonwebtoken(&s, body["id_token"].as_str().unwrap(), "app")
            .await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    d.quit().await;
    s.stop().await;
}

/// The whole self-service journey in a real Chromium, with a real SMTP listener on
/// loopback: register → read the verification e-mail → verify → sign in → enrol TOTP (the
/// code computed from the secret the page shows) → sign out → sign in with password and
/// TOTP → sign out → sign in with a backup code → forgot password → reset through the
/// e-mailed link → the old session is gone. A screenshot of each page is saved under
/// `target/tmp/journey/` (the test's artefacts).
#[tokio::test]
#[cfg_attr(not(idp_test_chromium), ignore = "needs IDP_TEST_CHROMEDRIVER")]
async fn chromium_runs_the_whole_account_journey() {
    use crate::two_factor::{base32_decode, element_text, totp};
    use idp_core::Clock;
    use idp_server::Registration;
    use idp_server::testkit::SmtpSink;
    let Ok(chromedriver) = std::env::var("IDP_TEST_CHROMEDRIVER") else {
        eprintln!("skipped: IDP_TEST_CHROMEDRIVER not set");
        return;
    };
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("journey");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let sink = SmtpSink::start().await.unwrap();
    let smtp = sink.smtp_config("id@example.com");
    let s = TestServer::start_with(Arc::new(idp_server::store::MemoryStore::new()), move |b| {
        b.smtp(smtp)
            .registration(Registration::open())
            .require_verified_email()
    })
    .await;
    let link_of = |m: &idp_server::testkit::ReceivedMail| {
        let l = m.links().into_iter().next().expect("a link");
        let at = l.find("/account/").unwrap();
        s.url(&l[at..])
    };
    let d = Driver::start(&chromedriver).await;
    let mut n = 0;
    let mut shot = |name: &str| {
        n += 1;
        shots.join(format!("{n:02}-{name}.png"))
    };
    const NEW_PASSWORD: &str = "a brand new passphrase";
    const FIRST_PASSWORD: &str = "grace's first passphrase";

    // Register.
    d.goto(&s.url("/account/login")).await;
    wait_for_text(&d, "Create an account").await;
    d.screenshot(&shot("login")).await;
    d.click("#register").await;
    wait_for_text(&d, "Create an account").await;
    d.type_into("#name", "Grace Hopper").await;
    d.type_into("#email", "grace@example.com").await;
    d.type_into("#password", FIRST_PASSWORD).await;
    d.type_into("#confirm_password", FIRST_PASSWORD).await;
    d.screenshot(&shot("register")).await;
    d.click("#register").await;
    wait_for_text(&d, "Check your email").await;
    d.screenshot(&shot("check-email")).await;

    // Verify through the e-mailed link.
    let m = sink
        .next_message(Duration::from_secs(10))
        .await
        .expect("a verification mail");
    assert_eq!(m.recipients(), ["grace@example.com"]);
    d.goto(&link_of(&m)).await;
    wait_for_text(&d, "Confirm my address").await;
    d.screenshot(&shot("verify")).await;
    d.click("#confirm").await;
    wait_for_text(&d, "Address confirmed").await;
    d.screenshot(&shot("verified")).await;

    // Sign in; enrol TOTP.
    d.goto(&s.url("/account/login")).await;
    d.type_into("#email", "grace@example.com").await;
    d.type_into("#password", FIRST_PASSWORD).await;
    d.click("#submit").await;
    wait_for_text(&d, "Your account").await;
    d.screenshot(&shot("account")).await;
    d.goto(&s.url("/account/two-factor")).await;
    let source = wait_for_text(&d, "id=\"secret\"").await;
    d.screenshot(&shot("totp-setup")).await;
    let secret = base32_decode(&element_text(&source, "secret").unwrap());
    d.type_into("#code", &totp(&secret, s.clock.unix_now()))
        .await;
    d.click("#enable").await;
    let source = wait_for_text(&d, "id=\"backup-codes\"").await;
    d.screenshot(&shot("backup-codes")).await;
    let backup: Vec<String> = source
        .split("<li><code>")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(backup.len(), 10);

    let sign_out = || async {
        d.goto(&s.url("/oauth/logout")).await;
        wait_for_text(&d, "Sign out?").await;
        d.click("#logout").await;
        wait_for_text(&d, "You are signed out").await;
    };
    let password_step = |password: &'static str| {
        let d = &d;
        let s = &s;
        async move {
            d.goto(&s.url("/account/login")).await;
            d.type_into("#email", "grace@example.com").await;
            d.type_into("#password", password).await;
            d.click("#submit").await;
            wait_for_text(d, "Enter your code").await;
        }
    };

    // Sign out; sign in with password and TOTP.
    sign_out().await;
    d.screenshot(&shot("signed-out")).await;
    s.clock.advance(Duration::from_secs(30));
    password_step(FIRST_PASSWORD).await;
    d.screenshot(&shot("totp-challenge")).await;
    d.type_into("#code", &totp(&secret, s.clock.unix_now()))
        .await;
    d.click("#submit").await;
    wait_for_text(&d, "Your account").await;

    // Sign out; sign in with a backup code.
    sign_out().await;
    password_step(FIRST_PASSWORD).await;
    d.type_into("#code", &backup[0]).await;
    d.click("#submit").await;
    wait_for_text(&d, "Your account").await;
    d.goto(&s.url("/account/sessions")).await;
    wait_for_text(&d, "this browser").await;
    d.screenshot(&shot("sessions")).await;

    // Forgot the password (still signed in here): reset through the e-mailed link.
    let user = s
        .provider
        .users()
        .find_by_email(None, "grace@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.provider
            .store()
            .list_user_sessions(&user.id, s.clock.unix_now())
            .await
            .unwrap()
            .len(),
        1
    );
    d.goto(&s.url("/account/forgot")).await;
    wait_for_text(&d, "Forgot your password?").await;
    d.type_into("#email", "grace@example.com").await;
    d.screenshot(&shot("forgot")).await;
    d.click("#send").await;
    wait_for_text(&d, "Check your email").await;
    let m = sink
        .next_message(Duration::from_secs(10))
        .await
        .expect("a reset mail");
    d.goto(&link_of(&m)).await;
    wait_for_text(&d, "Choose a new password").await;
    d.type_into("#new_password", NEW_PASSWORD).await;
    d.type_into("#confirm_password", NEW_PASSWORD).await;
    d.screenshot(&shot("reset")).await;
    d.click("#reset").await;
    wait_for_text(&d, "Password changed").await;
    d.screenshot(&shot("password-changed")).await;

    // The old session is gone: the account page asks to sign in again.
    assert!(
        s.provider
            .store()
            .list_user_sessions(&user.id, s.clock.unix_now())
            .await
            .unwrap()
            .is_empty()
    );
    d.goto(&s.url("/account")).await;
    wait_for_text(&d, "Sign in").await;
    assert!(d.url().await.ends_with("/account/login"));
    // The new password (and the second factor) sign in.
    s.clock.advance(Duration::from_secs(30));
    password_step(NEW_PASSWORD).await;
    d.type_into("#code", &totp(&secret, s.clock.unix_now()))
        .await;
    d.click("#submit").await;
    wait_for_text(&d, "Your account").await;
    d.screenshot(&shot("account-again")).await;
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 15);
    d.quit().await;
    s.stop().await;
}
