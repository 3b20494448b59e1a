//! A cookie-keeping HTTP client that plays the browser in the authorization flow.

use std::collections::BTreeMap;

use idp_server::manage::{NewClient, NewUser};
use reqwest::header::LOCATION;
use url::Url;

use crate::common::TestServer;

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://localhost:3000/callback";

pub struct Browser {
    pub http: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The query of the redirect, as a map.
    pub fn redirect_params(&self) -> BTreeMap<String, String> {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("expected a redirect, got {}: {}", self.status, self.body));
        Url::parse(loc)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    pub fn code(&self) -> String {
        let p = self.redirect_params();
        p.get("code")
            .unwrap_or_else(|| panic!("no code in redirect: {p:?}"))
            .clone()
    }

    /// The hidden fields of the page's form.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for chunk in self.body.split("<input").skip(1) {
            let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
            if !tag.contains(r#"type="hidden""#) {
                continue;
            }
            let attr = |name: &str| {
                let key = format!(r#"{name}=""#);
                tag.find(&key).map(|i| {
                    let rest = &tag[i + key.len()..];
                    unescape(&rest[..rest.find('"').unwrap()])
                })
            };
            if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                out.push((n, v));
            }
        }
        out
    }

    pub fn is_login_form(&self) -> bool {
        self.body.contains(r#"name="password""#)
    }

    pub fn is_consent_form(&self) -> bool {
        self.body.contains(r#"value="consent""#)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, form: &[(String, String)]) -> Page {
        Self::page(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// Opens the authorize URL with these parameters.
    pub async fn authorize(&self, s: &TestServer, params: &[(&str, &str)]) -> Page {
        let mut url = Url::parse(&s.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        self.get(url.as_str()).await
    }

    /// Submits the login form on `page`.
    pub async fn login(&self, s: &TestServer, page: &Page, email: &str, password: &str) -> Page {
        assert!(
            page.is_login_form(),
            "not a login page: {} {}",
            page.status,
            page.body
        );
        let mut form = page.hidden_fields();
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        self.post(&s.url("/oauth/authorize"), &form).await
    }

    /// Submits the consent form on `page`.
    pub async fn consent(&self, s: &TestServer, page: &Page, decision: &str) -> Page {
        assert!(page.is_consent_form(), "not a consent page: {}", page.body);
        let mut form = page.hidden_fields();
        form.push(("decision".into(), decision.into()));
        self.post(&s.url("/oauth/authorize"), &form).await
    }
}

/// A user `ada@example.com` and a first-party confidential client `web` (secret
/// `web-secret`) with the OIDC scopes and refresh tokens, redirecting to [`REDIRECT`].
pub async fn setup(s: &TestServer) -> String {
    let u = s
        .provider
        .users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some(PASSWORD.into()),
            name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            email_verified: true,
            ..Default::default()
        })
        .await
        .unwrap();
    web_client(s, "web", true).await;
    u.id
}

pub async fn web_client_on(p: &idp_server::Provider, id: &str) {
    p.clients()
        .insert(NewClient {
            client_id: id.into(),
            secret: Some(format!("{id}-secret").as_str().into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

pub async fn web_client(s: &TestServer, id: &str, first_party: bool) {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            secret: Some(format!("{id}-secret").as_str().into()),
            name: Some(format!("App {id}")),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["http://localhost:3000/bye".into()],
            allowed_scopes: ["openid", "profile", "email", "offline_access", "read"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party,
            audiences: vec!["api".into()],
            ..Default::default()
        })
        .await
        .unwrap();
}

pub async fn public_client(s: &TestServer, id: &str) {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            public: true,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            allowed_scopes: ["openid", "offline_access"].map(String::from).to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// A fresh browser signs `ada@example.com` in at the client `web` (secret `web-secret`)
/// with `scope` and PKCE, and the code is exchanged: the token endpoint's status and body.
pub async fn web_code_flow(s: &TestServer, scope: &str) -> (u16, serde_json::Value) {
    let b = Browser::new();
    let v = idp_core::CodeVerifier::generate();
    let ch = v.challenge();
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = b.authorize(s, &params).await;
    let page = b.login(s, &page, "ada@example.com", PASSWORD).await;
    let code = page.code();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("web", "web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    (status, body)
}
