//! Native apps with private-use scheme redirect URIs (RFC 8252 §7.1): registration, an
//! exact match, the code flow with PKCE driven by the `openidconnect` crate, and PKCE
//! required for any client that redirects to such a scheme.

use idp_core::CodeVerifier;
use idp_server::Error;
use idp_server::manage::NewClient;

use crate::browser::{Browser, PASSWORD, setup};
use crate::common::TestServer;

const NATIVE_REDIRECT: &str = "myapp://callback";

async fn native_client(s: &TestServer, id: &str, public: bool, redirect: &str) {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            public,
            secret: (!public).then(|| format!("{id}-secret").as_str().into()),
            name: Some(format!("Native {id}")),
            redirect_uris: vec![redirect.into()],
            allowed_scopes: ["openid", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The `openidconnect` crate as the native app: discovery, the code flow with PKCE and a
/// nonce, the redirect to `myapp://callback` exactly, the exchange, ID-token verification.
#[tokio::test]
async fn openidconnect_crate_native_app_on_a_private_use_scheme() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let s = TestServer::start().await;
    let user_id = setup(&s).await;
    native_client(&s, "native", true, NATIVE_REDIRECT).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    // A public client: no secret.
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("native".into()), None)
        .set_redirect_uri(RedirectUrl::new(NATIVE_REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = Browser::new();
    let login = b.get(url.as_str()).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let params = done.redirect_params();
    let code = params["code"].clone();
    assert!(!code.is_empty());
    let expected = format!(
        "{NATIVE_REDIRECT}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", csrf.secret())
            .append_pair("iss", &s.base)
            .finish()
    );
    assert_eq!(done.location.as_deref(), Some(expected.as_str()));

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    assert!(!tokens.access_token().secret().is_empty());
    s.stop().await;
}

/// Only the registered URI, byte for byte: another scheme, path, query, case or port gets
/// the error page (400, no `Location`), which names the app and the refused URI.
#[tokio::test]
async fn private_use_redirects_match_exactly_or_get_the_error_page() {
    let s = TestServer::start().await;
    setup(&s).await;
    native_client(&s, "native", true, NATIVE_REDIRECT).await;
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let b = Browser::new();
    for wrong in [
        "otherapp://callback",
        "myapp://callback/other",
        "myapp://callback/",
        "myapp://Callback",
        "MYAPP://callback",
        "myapp://callback?x=1",
        "myapp://callback:8080",
        "myapp:/callback",
        "myapp:callback",
        "https://callback",
        "myapp://callback#f",
    ] {
        let page = b
            .authorize(
                &s,
                &[
                    ("client_id", "native"),
                    ("redirect_uri", wrong),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("state", "st"),
                    ("code_challenge", ch.as_str()),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(page.status, 400, "{wrong}: {}", page.body);
        assert_eq!(page.location, None, "{wrong}");
        assert!(page.body.contains("Native native"), "{}", page.body);
        assert!(
            page.body.contains("not registered for this application"),
            "{}",
            page.body
        );
        assert!(
            crate::pages::unescape(&page.body).contains(wrong),
            "{wrong}: {}",
            page.body
        );
    }
    // Without PKCE a public native client gets an error sent back to the app.
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "native"),
                ("redirect_uri", NATIVE_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert!(
        page.location
            .as_deref()
            .is_some_and(|l| l.starts_with("myapp://callback?error=invalid_request")),
        "{:?}",
        page.location
    );
    s.stop().await;
}

/// A confidential client may register a private-use scheme, but the authorization endpoint
/// requires PKCE whenever the redirect goes to one: its secret, shipped in an app, does
/// not stop another app that claims the scheme from redeeming an intercepted code.
#[tokio::test]
async fn confidential_clients_on_private_use_schemes_must_use_pkce() {
    let s = TestServer::start().await;
    setup(&s).await;
    native_client(&s, "desktop", false, "com.example.desktop:/cb").await;
    let b = Browser::new();
    let base = [
        ("client_id", "desktop"),
        ("redirect_uri", "com.example.desktop:/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    let page = b.authorize(&s, &base).await;
    let params = page.redirect_params();
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("private-use scheme requires PKCE"));
    assert!(
        page.location
            .as_deref()
            .unwrap()
            .starts_with("com.example.desktop:/cb?")
    );

    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let mut with_pkce = base.to_vec();
    with_pkce.extend([
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let login = b.authorize(&s, &with_pkce).await;
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    let code = done.code();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("desktop", "desktop-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "com.example.desktop:/cb"),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

/// Registration through the management API: private-use schemes for native apps, never
/// script, file or other special schemes; the message names the URI and the rule.
#[tokio::test]
async fn registration_accepts_app_schemes_and_refuses_dangerous_ones() {
    let s = TestServer::start().await;
    let clients = s.provider.clients();
    for (i, ok) in ["myapp://callback", "com.example.app:/cb"]
        .iter()
        .enumerate()
    {
        clients
            .insert(NewClient {
                client_id: format!("ok{i}"),
                public: true,
                redirect_uris: vec![(*ok).into()],
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, rule) in [
        ("javascript:alert(1)", "not allowed"),
        ("data:text/html,x", "not allowed"),
        ("file:///etc/passwd", "not allowed"),
        ("vbscript:x", "not allowed"),
        ("blob:https://a.example/x", "not allowed"),
        ("about:blank", "not allowed"),
        ("myapp://callback#x", "fragment"),
        ("callback", "absolute URI"),
        ("http://app.example.com/cb", "use https"),
    ] {
        let e = clients
            .insert(NewClient {
                client_id: "bad".into(),
                public: true,
                redirect_uris: vec![bad.into()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(bad) && msg.contains(rule), "{bad}: {msg}");
    }
    s.stop().await;
}
