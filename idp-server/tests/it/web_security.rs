//! The browser-facing pages against a hostile site (issue 11): CSRF tokens an attacker cannot
//! choose, `__Host-` cookies, the logout confirmation, `state` returned exactly, loopback
//! redirect URIs that differ only in the port.

use std::collections::BTreeMap;
use std::sync::Arc;

use idp_core::CodeVerifier;
use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;
use tower::ServiceExt;
use url::Url;

use crate::browser::{Browser, PASSWORD, Page, REDIRECT, setup, web_client};
use crate::common::{KEY, TestServer};

const BYE: &str = "http://localhost:3000/bye";

/// A browser whose cookies the test sets by hand: what a site that can plant cookies (a
/// sibling subdomain, plain http on the same host) can do to the victim's browser.
struct Jar {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Jar {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req;
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status,
            location: headers
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: resp.text().await.unwrap(),
            headers,
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let req = self.http.get(url);
        self.send(req).await
    }

    async fn post(&mut self, url: &str, form: &[(String, String)]) -> Page {
        let req = self.http.post(url).form(form);
        self.send(req).await
    }

    async fn authorize(&mut self, s: &TestServer, params: &[(&str, &str)]) -> Page {
        let mut url = Url::parse(&s.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        self.get(url.as_str()).await
    }

    async fn login(&mut self, s: &TestServer, page: &Page, email: &str) -> Page {
        assert!(page.is_login_form(), "{}: {}", page.status, page.body);
        let mut form = page.hidden_fields();
        form.push(("email".into(), email.into()));
        form.push(("password".into(), PASSWORD.into()));
        self.post(&s.url("/oauth/authorize"), &form).await
    }
}

/// `form` with its `csrf_token` replaced by `token`.
fn with_token(form: Vec<(String, String)>, token: &str) -> Vec<(String, String)> {
    form.into_iter()
        .map(|(k, v)| {
            if k == "csrf_token" {
                (k, token.to_owned())
            } else {
                (k, v)
            }
        })
        .collect()
}

fn field(page: &Page, name: &str) -> String {
    page.hidden_fields()
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {}", page.body))
        .1
}

fn set_cookies(page: &Page) -> Vec<String> {
    page.headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn third_party(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![
        ("client_id", "third-party"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st"),
    ];
    p.extend_from_slice(extra);
    p
}

async fn mallory(s: &TestServer) {
    s.provider
        .users()
        .insert(NewUser {
            email: "mallory@example.com".into(),
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_planted_csrf_cookie_is_refused_on_login_and_consent() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "third-party", false).await;
    let planted = "A".repeat(43);

    // Sign-in: a cookie of the attacker's choosing and the same value in the form.
    let mut victim = Jar::new();
    let login = victim.authorize(&s, &third_party(&[])).await;
    assert!(login.is_login_form());
    // The form token is not the cookie's value (that would be a plain double submit).
    assert_ne!(field(&login, "csrf_token"), victim.cookies["idp_csrf"]);
    victim.cookies.insert("idp_csrf".into(), planted.clone());
    let mut form = with_token(login.hidden_fields(), &planted);
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let page = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.location.is_none());
    assert!(!victim.cookies.contains_key("idp_session"), "signed in");
    // The same with the browser's own nonce (set by the provider) copied into the form.
    let login = victim.authorize(&s, &third_party(&[])).await;
    let nonce = victim.cookies["idp_csrf"].clone();
    assert_eq!(nonce, planted, "a well-formed nonce is kept");
    let mut fresh = Jar::new();
    let login2 = fresh.authorize(&s, &third_party(&[])).await;
    let own = fresh.cookies["idp_csrf"].clone();
    let mut form = with_token(login2.hidden_fields(), &own);
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let page = fresh.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403);
    // The genuine token signs in (the test can tell a refusal from a broken form).
    let consent = victim.login(&s, &login, "ada@example.com").await;
    assert!(consent.is_consent_form(), "{}", consent.body);

    // Consent: a planted nonce and the same value as the token.
    let mut form = with_token(consent.hidden_fields(), &planted);
    form.push(("decision".into(), "allow".into()));
    let page = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.location.is_none());
    victim.cookies.insert("idp_csrf".into(), "B".repeat(43));
    let mut form = with_token(consent.hidden_fields(), &"B".repeat(43));
    form.push(("decision".into(), "allow".into()));
    let page = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403);
    // Nothing was consented to: prompt=none still needs consent.
    let page = victim
        .authorize(&s, &third_party(&[("prompt", "none")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "consent_required");
    s.stop().await;
}

#[tokio::test]
async fn a_consent_token_of_another_session_is_refused() {
    let s = TestServer::start().await;
    setup(&s).await;
    mallory(&s).await;
    web_client(&s, "third-party", false).await;

    // The attacker signs in as themselves and keeps their consent form's token and nonce.
    let mut attacker = Jar::new();
    let login = attacker.authorize(&s, &third_party(&[])).await;
    let theirs = attacker.login(&s, &login, "mallory@example.com").await;
    assert!(theirs.is_consent_form(), "{}", theirs.body);
    let their_token = field(&theirs, "csrf_token");
    let their_nonce = attacker.cookies["idp_csrf"].clone();

    // The victim is signed in, on the consent page.
    let mut victim = Jar::new();
    let login = victim.authorize(&s, &third_party(&[])).await;
    let consent = victim.login(&s, &login, "ada@example.com").await;
    assert!(consent.is_consent_form());
    // The consent page after sign-in is bound to the session that response started.
    assert!(victim.cookies.contains_key("idp_session"));

    // The attacker's pair (nonce planted in the victim's browser, token in the form).
    let own_nonce = victim.cookies["idp_csrf"].clone();
    victim.cookies.insert("idp_csrf".into(), their_nonce);
    let mut form = with_token(consent.hidden_fields(), &their_token);
    form.push(("decision".into(), "allow".into()));
    let page = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.location.is_none());
    // The attacker's token with the victim's own nonce: refused too.
    victim.cookies.insert("idp_csrf".into(), own_nonce);
    let page = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403);

    // A sign-in form's token (bound to no session) is not a consent token either.
    let login_token = field(&login, "csrf_token");
    let mut form = with_token(consent.hidden_fields(), &login_token);
    form.push(("decision".into(), "allow".into()));
    assert_eq!(
        victim.post(&s.url("/oauth/authorize"), &form).await.status,
        403
    );

    // The victim's own form goes through.
    let mut form = consent.hidden_fields();
    form.push(("decision".into(), "allow".into()));
    let done = victim.post(&s.url("/oauth/authorize"), &form).await;
    assert!(done.redirect_params().contains_key("code"), "{}", done.body);

    // A new session (signing in again) makes the old session's consent form stale.
    let login = victim
        .authorize(&s, &third_party(&[("prompt", "login consent")]))
        .await;
    let old_form = consent.hidden_fields();
    let consent = victim.login(&s, &login, "ada@example.com").await;
    assert!(consent.is_consent_form());
    let mut stale = with_token(consent.hidden_fields(), &field_of(&old_form, "csrf_token"));
    stale.push(("decision".into(), "allow".into()));
    assert_eq!(
        victim.post(&s.url("/oauth/authorize"), &stale).await.status,
        403
    );
    s.stop().await;
}

fn field_of(form: &[(String, String)], name: &str) -> String {
    form.iter().find(|(k, _)| k == name).unwrap().1.clone()
}

/// A provider with issuer `issuer` behind `oneshot`, a user and a first-party client.
async fn provider(issuer: &str) -> Provider {
    let p = Provider::builder()
        .issuer(issuer)
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    p.users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    p.clients()
        .insert(NewClient {
            client_id: "web".into(),
            secret: Some("web-secret".into()),
            redirect_uris: vec!["https://app.example/cb".into()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    p
}

async fn oneshot(
    p: &Provider,
    req: http::Request<axum::body::Body>,
) -> (http::StatusCode, http::HeaderMap, String) {
    let resp = p.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn cookie_named<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1
}

#[tokio::test]
async fn cookies_are_host_prefixed_with_an_https_issuer_at_the_root() {
    let p = provider("https://id.example").await;
    let authorize = "/oauth/authorize?client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&state=s";
    let req = http::Request::get(authorize)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, body) = oneshot(&p, req).await;
    assert_eq!(status, 200, "{body}");
    let csrf = cookie_named(&headers, "__Host-idp_csrf").expect("a __Host- CSRF cookie");
    assert!(
        csrf.contains("; Path=/;") && csrf.contains("Secure") && !csrf.contains("Domain"),
        "{csrf}"
    );
    assert!(cookie_named(&headers, "idp_csrf").is_none());
    let page = Page {
        status: 200,
        location: None,
        body,
        headers: reqwest::header::HeaderMap::new(),
    };
    let nonce = cookie_value(csrf).to_owned();
    let mut form = page.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let post = |cookie: String| {
        http::Request::post("/oauth/authorize")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(axum::body::Body::from(body.clone()))
            .unwrap()
    };
    // The unprefixed name (what a sibling subdomain could set) is not read.
    let (status, _, _) = oneshot(&p, post(format!("idp_csrf={nonce}"))).await;
    assert_eq!(status, 403);
    let (status, headers, body) = oneshot(&p, post(format!("__Host-idp_csrf={nonce}"))).await;
    assert_eq!(status, 303, "{body}");
    let session = cookie_named(&headers, "__Host-idp_session").expect("a __Host- session");
    assert!(
        session.contains("; Path=/;") && session.contains("Secure") && !session.contains("Domain"),
        "{session}"
    );
    assert!(cookie_named(&headers, "idp_session").is_none());
    // The session is read under the same name: prompt=none gets a code.
    let sid = cookie_value(session).to_owned();
    let again = |cookie: String| {
        http::Request::get(format!("{authorize}&prompt=none"))
            .header("cookie", cookie)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (_, headers, _) = oneshot(&p, again(format!("__Host-idp_session={sid}"))).await;
    let loc = headers[http::header::LOCATION].to_str().unwrap();
    assert!(loc.contains("code="), "{loc}");
    let (_, headers, _) = oneshot(&p, again(format!("idp_session={sid}"))).await;
    let loc = headers[http::header::LOCATION].to_str().unwrap();
    assert!(loc.contains("error=login_required"), "{loc}");
}

#[tokio::test]
async fn cookies_keep_plain_names_on_the_http_loopback_issuer() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let login = b.authorize(&s, &params).await;
    let cookies = set_cookies(&login);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("idp_csrf=") && c.contains("Path=/;")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .all(|c| !c.contains("__Host-") && !c.contains("Secure"))
    );
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    let cookies = set_cookies(&done);
    assert!(
        cookies.iter().any(|c| c.starts_with("idp_session=")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .all(|c| !c.contains("__Host-") && !c.contains("Secure"))
    );
    s.stop().await;
}

fn prompt_none() -> [(&'static str, &'static str); 5] {
    [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("prompt", "none"),
    ]
}

async fn signed_in(s: &TestServer, b: &Browser) {
    let login = b
        .authorize(
            s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    let done = b.login(s, &login, "ada@example.com", PASSWORD).await;
    assert!(done.redirect_params().contains_key("code"), "{}", done.body);
}

async fn still_signed_in(s: &TestServer, b: &Browser) -> bool {
    let p = b.authorize(s, &prompt_none()).await.redirect_params();
    match (p.get("code"), p.get("error")) {
        (Some(_), _) => true,
        (None, Some(e)) if e == "login_required" => false,
        _ => panic!("{p:?}"),
    }
}

#[tokio::test]
async fn logout_without_a_hint_asks_first_and_only_the_form_ends_the_session() {
    let s = TestServer::start().await;
    setup(&s).await;
    mallory(&s).await;
    let b = Browser::new();
    signed_in(&s, &b).await;

    // A cross-site GET (no hint): the confirmation page, nothing ended.
    let logout = format!(
        "{}?client_id=web&post_logout_redirect_uri={}&state=bye-state",
        s.url("/oauth/logout"),
        url::form_urlencoded::byte_serialize(BYE.as_bytes()).collect::<String>()
    );
    let page = b.get(&logout).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none());
    assert!(
        set_cookies(&page)
            .iter()
            .all(|c| !c.starts_with("idp_session="))
    );
    assert!(page.body.contains("ada@example.com"), "{}", page.body);
    assert!(
        page.body
            .contains(r#"<button type="submit" id="logout">Sign out</button>"#)
    );
    assert!(!page.body.contains("<script"));
    let action = format!(r#"action="{}""#, s.url("/oauth/logout"));
    assert!(page.body.replace("&#x2f;", "/").contains(&action));
    let form = page.hidden_fields();
    assert_eq!(field_of(&form, "_action"), "logout");
    assert_eq!(field_of(&form, "post_logout_redirect_uri"), BYE);
    assert_eq!(field_of(&form, "state"), "bye-state");
    assert_eq!(field_of(&form, "client_id"), "web");
    assert!(still_signed_in(&s, &b).await, "a GET ended the session");

    // A cross-site POST: without `_action` it is the same page; with it, but without a
    // valid CSRF token, a 403. Nothing ends.
    let post = |form: Vec<(String, String)>| {
        let b = &b;
        let url = s.url("/oauth/logout");
        async move { b.post(&url, &form).await }
    };
    let plain: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| k != "_action" && k != "csrf_token")
        .cloned()
        .collect();
    assert_eq!(post(plain).await.status, 200);
    let no_token: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| k != "csrf_token")
        .cloned()
        .collect();
    let page = post(no_token).await;
    assert_eq!(page.status, 403);
    assert!(page.location.is_none());
    let nonce_as_token = with_token(form.clone(), &"A".repeat(43));
    assert_eq!(post(nonce_as_token).await.status, 403);
    // The form submitted with GET ends nothing either.
    let mut as_get = Url::parse(&s.url("/oauth/logout")).unwrap();
    as_get.query_pairs_mut().extend_pairs(&form);
    assert_eq!(b.get(as_get.as_str()).await.status, 400);
    assert!(
        still_signed_in(&s, &b).await,
        "a forged POST ended the session"
    );

    // A hint naming another user: asked too.
    let theirs = id_token_for(&s, "mallory@example.com").await;
    let page = b
        .get(&format!(
            "{}?id_token_hint={theirs}",
            s.url("/oauth/logout")
        ))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(field(&page, "_action"), "logout");
    assert!(still_signed_in(&s, &b).await);

    // The confirmation itself: ends the session, then the registered redirect with state.
    let page = post(form).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("http://localhost:3000/bye?state=bye-state")
    );
    assert!(
        set_cookies(&page)
            .iter()
            .any(|c| c.starts_with("idp_session=;") && c.contains("Max-Age=0"))
    );
    assert!(
        !still_signed_in(&s, &b).await,
        "the confirmation did not end it"
    );

    // Without a redirect: the signed-out page.
    signed_in(&s, &b).await;
    let page = b.get(&s.url("/oauth/logout")).await;
    let page = post(page.hidden_fields()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("You are signed out"), "{}", page.body);
    assert!(!still_signed_in(&s, &b).await);

    // No session: nothing to confirm, as before.
    let page = Browser::new().get(&logout).await;
    assert_eq!(
        page.location.as_deref(),
        Some("http://localhost:3000/bye?state=bye-state")
    );
    s.stop().await;
}

/// An ID token for `email` through the code flow of client `web`, in a browser of its own.
async fn id_token_for(s: &TestServer, email: &str) -> String {
    let b = Browser::new();
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let login = b
        .authorize(
            s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let code = b.login(s, &login, email, PASSWORD).await.code();
    token_response(s, &code, &v).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn token_response(s: &TestServer, code: &str, v: &CodeVerifier) -> Value {
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("web", "web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The `openidconnect` crate builds the logout URL (RP-Initiated Logout with the ID token
/// as hint, a post-logout redirect and state): the session ends at once, no page between.
#[tokio::test]
async fn logout_with_an_id_token_hint_is_immediate() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
        PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
    };
    let s = TestServer::start().await;
    setup(&s).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("web".into()),
        Some(ClientSecret::new("web-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .url();
    let b = Browser::new();
    let login = b.get(url.as_str()).await;
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(done.code()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();

    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(BYE.into()).unwrap())
        .set_state(CsrfToken::new("rp-state".into()))
        .http_get_url();
    let page = b.get(logout_url.as_str()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("http://localhost:3000/bye?state=rp-state")
    );
    assert!(
        !still_signed_in(&s, &b).await,
        "the hinted logout did not end the session"
    );
    s.stop().await;
}

#[tokio::test]
async fn state_is_returned_exactly() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "third-party", false).await;
    // 5,000 characters, some of which need encoding.
    let state: String = "aZ09-._~ +/=&?%é€".chars().cycle().take(5_000).collect();
    let b = Browser::new();
    let params = [
        ("client_id", "third-party"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", state.as_str()),
    ];
    // Through the sign-in and consent forms.
    let login = b.authorize(&s, &params).await;
    let consent = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    let done = b.consent(&s, &consent, "allow").await;
    let p = done.redirect_params();
    assert!(p.contains_key("code"));
    assert_eq!(p["state"].chars().count(), 5_000);
    assert_eq!(p["state"], state);
    // Straight back (SSO), and with an error.
    assert_eq!(
        b.authorize(&s, &params).await.redirect_params()["state"],
        state
    );
    let mut bad = params.to_vec();
    bad[3] = ("scope", "admin");
    let p = b.authorize(&s, &bad).await.redirect_params();
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str()),
        ("invalid_scope", state.as_str())
    );
    // Past `max_parameter_len` (16 KiB by default): refused, never cut.
    let long = "s".repeat(16 * 1024 + 1);
    let mut over = params.to_vec();
    over[4] = ("state", long.as_str());
    let page = b.authorize(&s, &over).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    s.stop().await;
}

#[tokio::test]
async fn loopback_redirect_uris_may_differ_only_in_the_port() {
    let s = TestServer::start().await;
    setup(&s).await;
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "native".into(),
            secret: Some("native-secret".into()),
            redirect_uris: vec![
                "http://127.0.0.1:4000/callback".into(),
                "http://[::1]:4000/cb".into(),
            ],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let b = Browser::new();
    let ask = |uri: &str| {
        let b = &b;
        let s = &s;
        let uri = uri.to_owned();
        async move {
            b.authorize(
                s,
                &[
                    ("client_id", "native"),
                    ("redirect_uri", uri.as_str()),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("state", "lb"),
                ],
            )
            .await
        }
    };
    for bad in [
        "http://127.1:5555/callback",
        "http://0x7f000001:5555/callback",
        "http://2130706433:5555/callback",
        "http://:pw@127.0.0.1:5555/callback",
        "http://user@127.0.0.1:5555/callback",
        "http://user@127.0.0.1:4000/callback",
        "http://127.0.0.1:5555/callback#x",
        "http://127.0.0.1:5555/callback?x=1",
        "http://127.0.0.1:5555/Callback",
        "http://[0:0:0:0:0:0:0:1]:5555/cb",
        "http://localhost:5555/callback",
    ] {
        let page = ask(bad).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
        assert!(page.location.is_none(), "{bad} redirected");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{bad}"
        );
        assert!(page.body.contains("not registered"), "{bad}: {}", page.body);
    }
    // The registered host with another port (v4 and v6): the sign-in form, then a code
    // sent to that port.
    for (good, prefix) in [
        (
            "http://127.0.0.1:5555/callback",
            "http://127.0.0.1:5555/callback?",
        ),
        ("http://[::1]:6666/cb", "http://[::1]:6666/cb?"),
        ("http://127.0.0.1/callback", "http://127.0.0.1/callback?"),
    ] {
        let page = ask(good).await;
        let page = if page.is_login_form() {
            b.login(&s, &page, "ada@example.com", PASSWORD).await
        } else {
            page
        };
        let loc = page
            .location
            .clone()
            .unwrap_or_else(|| panic!("{good}: {}", page.body));
        assert!(loc.starts_with(prefix), "{good}: {loc}");
        assert!(page.redirect_params().contains_key("code"), "{good}");
    }
    s.stop().await;
}
