//! What the consent page and the authorization error page say: scopes in words, the
//! application's name, where the person is sent back to; the refused redirect URI, escaped.

use std::sync::Arc;

use idp_core::CodeVerifier;
use idp_server::manage::NewClient;
use idp_server::store::MemoryStore;

use crate::browser::{Browser, PASSWORD, Page, setup};
use crate::common::TestServer;

/// Undoes minijinja's HTML escaping (which also escapes `/`).
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A client that is not first-party (so it is asked for consent), named with markup.
async fn third_party(s: &TestServer, id: &str, public: bool, redirect: &str) {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            public,
            secret: (!public).then(|| format!("{id}-secret").as_str().into()),
            name: Some("Shop <b>&</b> Co".into()),
            redirect_uris: vec![redirect.into()],
            allowed_scopes: [
                "openid",
                "profile",
                "email",
                "offline_access",
                "read:orders",
                "write:orders",
            ]
            .map(String::from)
            .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: false,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Signs in through the authorization endpoint and returns the page that follows.
async fn consent_page(s: &TestServer, client_id: &str, redirect: &str) -> Page {
    let b = Browser::new();
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let login = b
        .authorize(
            s,
            &[
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                (
                    "scope",
                    "openid profile email offline_access read:orders write:orders",
                ),
                ("state", "st"),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let page = b.login(s, &login, "ada@example.com", PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.is_consent_form(), "{}", page.body);
    page
}

#[tokio::test]
async fn consent_page_explains_scopes_names_the_app_and_where_it_sends_you() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.scope_description("read:orders", "See your orders <and> their status")
    })
    .await;
    setup(&s).await;
    third_party(&s, "shop", false, "https://app.example.com/cb").await;
    let page = consent_page(&s, "shop", "https://app.example.com/cb").await;
    let text = unescape(&page.body);
    for words in [
        "Sign you in with your account",
        "See your name and profile details",
        "See your email address",
        "Keep you signed in: access when you are not present",
        // From the configuration, escaped like everything else.
        "See your orders <and> their status",
        // No words for it: its name.
        "<li>write:orders</li>",
        "Allow Shop <b>&</b> Co?",
        "You will be sent back to <strong>app.example.com</strong>.",
    ] {
        assert!(text.contains(words), "{words:?} missing: {}", page.body);
    }
    assert!(page.body.contains("Shop &lt;b&gt;&amp;&lt;&#x2f;b&gt; Co"));
    assert!(!page.body.contains("<b>"), "{}", page.body);
    assert!(!page.body.contains("<and>"), "{}", page.body);
    // The CSP still allows no script at all.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    s.stop().await;
}

#[tokio::test]
async fn consent_page_of_a_native_app_names_its_scheme() {
    let s = TestServer::start().await;
    setup(&s).await;
    third_party(&s, "mobile", true, "com.example.shop:/cb").await;
    let page = consent_page(&s, "mobile", "com.example.shop:/cb").await;
    let text = unescape(&page.body);
    assert!(
        text.contains(
            "You will be sent back to the app on this device that opens <strong>com.example.shop:</strong> links."
        ),
        "{}",
        page.body
    );
    s.stop().await;
}

/// A redirect URI that is not registered: the page names the app and the URI (escaped,
/// never a link) and redirects nowhere.
#[tokio::test]
async fn error_page_names_the_app_and_the_refused_redirect_uri_escaped() {
    let s = TestServer::start().await;
    setup(&s).await;
    third_party(&s, "shop", false, "https://app.example.com/cb").await;
    let refused = "https://app.example.com/cb?<script>alert(1)</script>\"'";
    let b = Browser::new();
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "shop"),
                ("redirect_uri", refused),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(page.location, None);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(!page.body.contains("<b>"), "{}", page.body);
    // Never a link (the one `href` is the stylesheet's).
    assert!(!page.body.contains("<a "), "{}", page.body);
    assert_eq!(page.body.matches("href").count(), 1, "{}", page.body);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&#x27;"),
        "{}",
        page.body
    );
    let text = unescape(&page.body);
    assert!(text.contains(&format!("<code id=\"redirect-uri\">{refused}</code>")));
    assert!(text.contains("<strong id=\"client-name\">Shop <b>&</b> Co</strong>"));
    assert!(text.contains("not registered for this application"));

    // A very long one is cut, not echoed whole.
    let long = format!("https://app.example.com/{}", "a".repeat(5000));
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "shop"),
                ("redirect_uri", &long),
                ("response_type", "code"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains(&format!("{}…", "a".repeat(200))));
    assert!(!page.body.contains(&"a".repeat(300)), "{}", page.body);

    // An unknown client: no app to name, still no redirect.
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "nobody"),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "code"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(page.location, None);
    assert!(!page.body.contains("evil.example"), "{}", page.body);
    s.stop().await;
}

/// The stylesheet link of a page, unescaped.
fn stylesheet_link(page: &Page) -> String {
    let text = unescape(&page.body);
    let start = text
        .find(r#"<link rel="stylesheet" href=""#)
        .unwrap_or_else(|| panic!("no stylesheet link: {}", page.body));
    let rest = &text[start + r#"<link rel="stylesheet" href=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The login, consent, device, error, logout and signed-out pages: a CSP without
/// `'unsafe-inline'` (nor any script), no inline style anywhere, and the provider's own
/// stylesheet, served as CSS that browsers keep.
#[tokio::test]
async fn pages_have_no_inline_style_and_link_the_served_stylesheet() {
    let s = TestServer::start().await;
    setup(&s).await;
    third_party(&s, "shop", false, "https://app.example.com/cb").await;
    let b = Browser::new();
    let login = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", crate::browser::REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert!(login.is_login_form());
    let signed_in = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let consent = consent_page(&s, "shop", "https://app.example.com/cb").await;
    let device = b.get(&s.url("/device")).await;
    assert!(device.body.contains("Connect a device"), "{}", device.body);
    let error = b
        .authorize(
            &s,
            &[
                ("client_id", "shop"),
                ("redirect_uri", "https://elsewhere.example/cb"),
                ("response_type", "code"),
            ],
        )
        .await;
    assert_eq!(error.status, 400);
    let logout = b.get(&s.url("/oauth/logout")).await;
    assert!(logout.body.contains("Sign out?"), "{}", logout.body);
    let logged_out = b
        .post(&s.url("/oauth/logout"), &logout.hidden_fields())
        .await;
    assert!(
        logged_out.body.contains("You are signed out"),
        "{}",
        logged_out.body
    );

    let mut links = Vec::new();
    for (name, page) in [
        ("login", &login),
        ("consent", &consent),
        ("device", &device),
        ("error", &error),
        ("logout", &logout),
        ("signed out", &logged_out),
    ] {
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("unsafe-inline"), "{name}: {csp}");
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("script-src"),
            "{name}: {csp}"
        );
        assert!(csp.contains("style-src 'self'"), "{name}: {csp}");
        assert!(csp.starts_with("default-src 'none'"), "{name}: {csp}");
        assert!(!page.body.contains("<style"), "{name}: {}", page.body);
        assert!(!page.body.contains(" style="), "{name}: {}", page.body);
        links.push(stylesheet_link(page));
    }
    // One stylesheet, on the provider's origin, versioned by its contents.
    links.dedup();
    assert_eq!(links.len(), 1, "{links:?}");
    let link = &links[0];
    assert!(link.starts_with(&s.url("/assets/idp.css?v=")), "{link}");

    let resp = s.http.get(link).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/css; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let css = resp.text().await.unwrap();
    assert!(
        css.contains("button.secondary { background: #e7e9ee;"),
        "{css}"
    );
    assert!(css.contains(".error {"), "{css}");
    s.stop().await;
}

/// `idp.css` in the templates directory replaces the stylesheet, and its URL changes with
/// it (so that browsers that kept the old one fetch the new one).
#[tokio::test]
async fn a_stylesheet_in_the_templates_dir_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idp.css"), "body { background: #000; }\n").unwrap();
    let default = TestServer::start().await;
    setup(&default).await;
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.templates_dir(dir.path())
    })
    .await;
    setup(&s).await;
    let params = [
        ("client_id", "web"),
        ("redirect_uri", crate::browser::REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let ours = stylesheet_link(&Browser::new().authorize(&s, &params).await);
    let builtin = stylesheet_link(&Browser::new().authorize(&default, &params).await);
    let version = |l: &str| l.split("?v=").nth(1).unwrap().to_owned();
    assert_ne!(version(&ours), version(&builtin));
    let css = s
        .http
        .get(&ours)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(css, "body { background: #000; }\n");
    s.stop().await;
    default.stop().await;
}
