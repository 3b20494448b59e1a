//! The browser flows over HTTP: authorization code + PKCE, login, SSO, consent, refresh
//! rotation, ID tokens, userinfo, logout, and their failure cases.

use idp_core::CodeVerifier;
use serde_json::Value;

use crate::browser::{Browser, PASSWORD, REDIRECT, public_client, setup, web_client};
use crate::common::TestServer;

const WEB: Option<(&str, &str)> = Some(("web", "web-secret"));

/// Signs in through the authorize endpoint and returns the code and the verifier.
async fn code_for(s: &TestServer, b: &Browser, extra: &[(&str, &str)]) -> (String, CodeVerifier) {
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let mut params = vec![
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let mut page = b.authorize(s, &params).await;
    if page.is_login_form() {
        page = b.login(s, &page, "ada@example.com", PASSWORD).await;
    }
    assert!(matches!(page.status, 302 | 303), "{}", page.body);
    let p = page.redirect_params();
    assert_eq!(p["state"], "st-1");
    assert_eq!(p["iss"], s.base);
    (page.code(), v)
}

async fn exchange(s: &TestServer, code: &str, verifier: &CodeVerifier) -> (u16, Value) {
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.secret()),
            ],
        )
        .await;
    (status, body)
}

async fn introspect(s: &TestServer, token: &str) -> Value {
    s.post_form("/oauth/introspect", WEB, &[("token", token)])
        .await
        .2
}

/// The `openidconnect` crate as the relying party: discovery, code flow with PKCE and
/// nonce, ID-token verification with its own verifier (and at_hash), userinfo, refresh.
#[tokio::test]
async fn openidconnect_crate_code_flow_userinfo_refresh() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let s = TestServer::start().await;
    let user_id = setup(&s).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("web".into()),
        Some(ClientSecret::new("web-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = Browser::new();
    let login = b.get(url.as_str()).await;
    assert_eq!(login.status, 200);
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    let params = done.redirect_params();
    assert_eq!(&params["state"], csrf.secret());
    assert_eq!(params["iss"], s.base);

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    assert_eq!(claims.email_verified(), Some(true));
    assert!(claims.auth_time().is_some());
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);
    let granted: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        granted.contains(&"offline_access".to_owned()),
        "{granted:?}"
    );

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), user_id);
    assert_eq!(info.email().unwrap().as_str(), "ada@example.com");
    assert_eq!(
        info.name().unwrap().get(None).unwrap().as_str(),
        "Ada Lovelace"
    );

    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    s.stop().await;
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_what_the_first_use_issued() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (status, first) = exchange(&s, &code, &v).await;
    assert_eq!(status, 200, "{first}");
    let at = first["access_token"].as_str().unwrap();
    let rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&s, at).await["active"], true);

    let (status, again) = exchange(&s, &code, &v).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&s, at).await["active"],
        false,
        "first access token not revoked"
    );
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.stop().await;
}

#[tokio::test]
async fn codes_expire_after_60_seconds_and_are_bound_to_the_client() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "other", true).await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("other", "other-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (code, v) = code_for(&s, &b, &[]).await;
    s.clock.advance(std::time::Duration::from_secs(61));
    let (status, body) = exchange(&s, &code, &v).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.stop().await;
}

#[tokio::test]
async fn wrong_redirect_uri_at_both_endpoints() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    // At the authorization endpoint: an error page, never a redirect.
    for bad in [
        "https://evil.example/cb",
        "http://localhost:3000/callback/x",
        "http://localhost:3001/callback",
    ] {
        let page = b
            .authorize(
                &s,
                &[
                    ("client_id", "web"),
                    ("redirect_uri", bad),
                    ("response_type", "code"),
                    ("scope", "openid"),
                ],
            )
            .await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none(), "redirected to {:?}", page.location);
        assert!(page.body.contains("not registered"));
        assert_eq!(page.headers["x-frame-options"], "DENY");
    }
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "nobody"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    // At the token endpoint.
    let (code, v) = code_for(&s, &b, &[]).await;
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/other"),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.stop().await;
}

#[tokio::test]
async fn pkce_verifier_wrong_missing_plain_and_public_clients() {
    let s = TestServer::start().await;
    setup(&s).await;
    public_client(&s, "spa").await;
    let b = Browser::new();
    let (code, _) = code_for(&s, &b, &[]).await;
    let (status, body) = exchange(&s, &code, &CodeVerifier::generate()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (code, _) = code_for(&s, &b, &[]).await;
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // plain is refused with a redirect carrying the error.
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "p"),
                ("code_challenge", &"a".repeat(43)),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    let p = page.redirect_params();
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "p");
    assert_eq!(p["iss"], s.base);

    // A public client without PKCE is refused; with it, it gets tokens with no secret, and
    // on a loopback redirect URI any port is accepted (RFC 8252).
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "spa"),
                ("redirect_uri", "http://127.0.0.1:53682/callback"),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(page.redirect_params()["error"], "invalid_request");
    let v = CodeVerifier::generate();
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "spa"),
                ("redirect_uri", "http://127.0.0.1:53682/callback"),
                ("response_type", "code"),
                ("scope", "openid offline_access"),
                ("code_challenge", v.challenge().as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    // The browser is already signed in (SSO), so no form this time.
    assert!(!page.is_login_form());
    assert!(
        page.location
            .as_deref()
            .unwrap()
            .starts_with("http://127.0.0.1:53682/callback?")
    );
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &page.code()),
                ("redirect_uri", "http://127.0.0.1:53682/callback"),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (_, first) = exchange(&s, &code, &v).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String, scope: Option<&'static str>| {
        let s = &s;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            if let Some(sc) = scope {
                form.push(("scope", sc));
            }
            let (status, _, body) = s.post_form("/oauth/token", WEB, &form).await;
            (status, body)
        }
    };
    let (status, second) = refresh(rt1.clone(), Some("openid offline_access")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "offline_access openid", "scope narrows");
    assert!(second["id_token"].is_string());
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // Widening is refused.
    let (status, body) = refresh(rt2.clone(), Some("openid offline_access email")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Reusing the rotated token revokes the family: rt2 stops working too.
    let (status, body) = refresh(rt1, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(rt2, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.stop().await;
}

#[tokio::test]
async fn disabled_user_cannot_refresh() {
    let s = TestServer::start().await;
    let user = setup(&s).await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (_, first) = exchange(&s, &code, &v).await;
    s.provider.users().disable(&user).await.unwrap();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.stop().await;
}

#[tokio::test]
async fn prompt_none_max_age_and_sso_across_clients() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "second", true).await;
    let b = Browser::new();
    let base = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s1"),
    ];
    // prompt=none without a session.
    let mut params = base.to_vec();
    params.push(("prompt", "none"));
    let page = b.authorize(&s, &params).await;
    assert_eq!(page.status, 302);
    let p = page.redirect_params();
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str()),
        ("login_required", "s1")
    );
    assert_eq!(p["iss"], s.base);

    // Sign in once.
    let login = b.authorize(&s, &base).await;
    let done = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert!(done.redirect_params().contains_key("code"));
    let cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("idp_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "http issuer must not set Secure"
    );

    // SSO: another client, no form.
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "second"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(page.redirect_params().contains_key("code"));
    // prompt=none now works.
    let page = b.authorize(&s, &params).await;
    assert!(page.redirect_params().contains_key("code"));

    // max_age=0 forces the form, and prompt=login too.
    s.clock.advance(std::time::Duration::from_secs(5));
    for extra in [("max_age", "0"), ("prompt", "login")] {
        let mut p = base.to_vec();
        p.push(extra);
        let page = b.authorize(&s, &p).await;
        assert_eq!(page.status, 200, "{extra:?}");
        assert!(page.is_login_form());
        let done = b.login(&s, &page, "ada@example.com", PASSWORD).await;
        assert!(
            done.redirect_params().contains_key("code"),
            "{extra:?}: {}",
            done.body
        );
    }
    // login_hint pre-fills the form for a new browser.
    let fresh = Browser::new();
    let mut p = base.to_vec();
    p.push(("login_hint", "hint@example.com"));
    let page = fresh.authorize(&s, &p).await;
    assert!(page.body.contains(r#"value="hint@example.com""#));
    s.stop().await;
}

#[tokio::test]
async fn login_failures_and_csrf() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let base = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let login = b.authorize(&s, &base).await;
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!login.body.contains("<script"));
    assert!(
        login.body.contains(r#"<label for="email">"#)
            && login.body.contains(r#"<label for="password">"#)
    );
    for (email, pw) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let page = b.login(&s, &login, email, pw).await;
        assert_eq!(page.status, 401);
        assert!(page.location.is_none());
        assert!(
            page.body.contains("Incorrect email or password."),
            "{}",
            page.body
        );
    }
    // The form without its CSRF token is refused.
    let mut form: Vec<(String, String)> = login
        .hidden_fields()
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let page = b.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403);
    assert!(page.location.is_none());
    // And from a browser that never got the CSRF cookie (a cross-site post).
    let attacker = Browser::new();
    let mut form = login.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let page = attacker.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(page.status, 403);
    s.stop().await;
}

#[tokio::test]
async fn consent_is_asked_remembered_and_asked_again_on_prompt_consent() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "third-party", false).await;
    let b = Browser::new();
    let base = [
        ("client_id", "third-party"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "c"),
    ];
    let login = b.authorize(&s, &base).await;
    let consent = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    assert!(
        consent
            .body
            .contains(r#"<li>See your email address <span class="muted">(email)</span></li>"#),
        "{}",
        consent.body
    );
    let denied = b.consent(&s, &consent, "deny").await;
    assert_eq!(denied.redirect_params()["error"], "access_denied");
    let consent = b.authorize(&s, &base).await;
    let done = b.consent(&s, &consent, "allow").await;
    assert!(done.redirect_params().contains_key("code"));
    // Remembered.
    let page = b.authorize(&s, &base).await;
    assert!(page.redirect_params().contains_key("code"));
    // prompt=consent asks again; prompt=none with a wider scope cannot ask.
    let mut p = base.to_vec();
    p.push(("prompt", "consent"));
    assert!(b.authorize(&s, &p).await.is_consent_form());
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "third-party"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid email profile"),
                ("prompt", "none"),
            ],
        )
        .await;
    assert_eq!(page.redirect_params()["error"], "consent_required");
    // Consenting to a narrower request later keeps what was granted before.
    let narrow = [
        ("client_id", "third-party"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("prompt", "consent"),
    ];
    let consent = b.authorize(&s, &narrow).await;
    b.consent(&s, &consent, "allow").await;
    let page = b.authorize(&s, &base).await;
    assert!(
        page.redirect_params().contains_key("code"),
        "the earlier consent to email was lost"
    );
    s.stop().await;
}

#[tokio::test]
async fn authorization_errors_redirect_back() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (
            &[("response_type", "code"), ("scope", "admin")],
            "invalid_scope",
        ),
        (
            &[("response_type", "code"), ("prompt", "none login")],
            "invalid_request",
        ),
        (
            &[("response_type", "code"), ("request", "eyJ.x.y")],
            "request_not_supported",
        ),
        (&[], "invalid_request"),
    ];
    for (extra, code) in cases {
        let mut p = vec![
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("state", "x"),
        ];
        p.extend_from_slice(extra);
        let page = b.authorize(&s, &p).await;
        let params = page.redirect_params();
        assert_eq!(params["error"], code, "{extra:?}");
        assert_eq!(params["state"], "x");
    }
    // Unknown parameters are ignored; scopes the client may not have are dropped.
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid admin"),
                ("foo", "bar"),
            ],
        )
        .await;
    assert!(page.is_login_form());
    let done = b.login(&s, &page, "ada@example.com", PASSWORD).await;
    let code = done.code();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid", "granted scope is reported");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    s.stop().await;
}

#[tokio::test]
async fn userinfo_errors() {
    let s = TestServer::start().await;
    setup(&s).await;
    s.service_client("worker").await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (_, t) = exchange(&s, &code, &v).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let get = |token: Option<String>| {
        let s = &s;
        async move {
            let mut r = s.http.get(s.url("/oauth/userinfo"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap()
        }
    };
    let ok = get(Some(at.clone())).await;
    assert_eq!(ok.status(), 200);
    let info: Value = ok.json().await.unwrap();
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(info["given_name"], "Ada");
    let missing = get(None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="idp""#
    );
    for bad in ["garbage".to_owned(), s.cc_token("worker", &[]).await] {
        let r = get(Some(bad)).await;
        assert_eq!(r.status(), 401);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
    }
    s.post_form("/oauth/revoke", WEB, &[("token", &at)]).await;
    let r = get(Some(at)).await;
    assert_eq!(r.status(), 401, "revoked token accepted");
    s.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_to_registered_uris() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let (code, v) = code_for(&s, &b, &[]).await;
    let (_, t) = exchange(&s, &code, &v).await;
    let id_token = t["id_token"].as_str().unwrap().to_owned();
    // Unregistered target: no redirect.
    let page = b
        .get(&format!(
            "{}?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example/&state=z",
            s.url("/oauth/logout")
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    // The session ended anyway: prompt=none now needs a login.
    let again = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
            ],
        )
        .await;
    assert_eq!(again.redirect_params()["error"], "login_required");

    // Registered target: redirect with state.
    let (code, v) = code_for(&s, &b, &[]).await;
    let (_, t) = exchange(&s, &code, &v).await;
    let page = b
        .get(&format!(
            "{}?id_token_hint={}&post_logout_redirect_uri=http://localhost:3000/bye&state=z",
            s.url("/oauth/logout"),
            t["id_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(
        page.location.as_deref(),
        Some("http://localhost:3000/bye?state=z")
    );
    // A forged hint is refused.
    let page = b
        .get(&format!("{}?id_token_hint=a.b.c", s.url("/oauth/logout")))
        .await;
    assert_eq!(page.status, 400);
    s.stop().await;
}

#[tokio::test]
async fn a_tenants_client_never_signs_in_another_tenants_user() {
    let s = TestServer::start().await;
    s.provider
        .users()
        .insert(idp_server::manage::NewUser {
            email: "wile@example.com".into(),
            password: Some(PASSWORD.into()),
            tenant_id: Some("globex".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "acme-web".into(),
            secret: Some("acme-web-secret".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            tenant_id: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let b = Browser::new();
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "acme-web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    let page = b.login(&s, &page, "wile@example.com", PASSWORD).await;
    assert_eq!(
        page.status, 401,
        "a globex user signed in to an acme client"
    );
    s.stop().await;
}

#[tokio::test]
async fn prompt_login_with_consent_does_not_loop() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "third-party", false).await;
    let b = Browser::new();
    let params = [
        ("client_id", "third-party"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("prompt", "login consent"),
        ("max_age", "0"),
    ];
    let login = b.authorize(&s, &params).await;
    let consent = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    let done = b.consent(&s, &consent, "allow").await;
    assert!(done.redirect_params().contains_key("code"), "{}", done.body);
    // Consent is now stored, but prompt=login consent asks for both again.
    let login = b.authorize(&s, &params).await;
    assert!(login.is_login_form());
    let consent = b.login(&s, &login, "ada@example.com", PASSWORD).await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    s.stop().await;
}
