//! The device authorization grant (RFC 8628) over HTTP: a device asks for codes, a person
//! signs in on the `/device` page, enters the code (in any case, with or without the dash)
//! and decides; the device polls the token endpoint (`authorization_pending`, `slow_down`,
//! `expired_token`, `access_denied`) until it gets its tokens, exactly once. Wrong codes are
//! throttled, forms without their CSRF token refused, and the grant ends like any other.

use std::time::Duration;

use idp_core::GrantType;
use idp_server::manage::{NewClient, NewUser};
use serde_json::Value;

use crate::browser::{Browser, PASSWORD, Page, setup};
use crate::common::{TestServer, verify_with_jsonwebtoken};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// Registers a device client `id` (public, or confidential with secret `"{id}-secret"`)
/// allowed `openid profile offline_access`, refresh tokens and the device grant.
async fn device_client(s: &TestServer, id: &str, public: bool, tenant: Option<&str>) {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            public,
            secret: (!public).then(|| format!("{id}-secret").as_str().into()),
            name: Some(format!("TV {id}")),
            allowed_scopes: ["openid", "profile", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["refresh_token".into()],
            tenant_id: tenant.map(str::to_owned),
            ..Default::default()
        })
        .await
        .unwrap();
    // The management API does not take the device grant yet: add it to the stored record.
    let store = s.provider.store();
    let mut c = store.get_client(id).await.unwrap().unwrap();
    c.grant_types.push(GrantType::DeviceCode);
    store.update_client(&c).await.unwrap();
}

fn creds(id: &str) -> (String, String) {
    (id.to_owned(), format!("{id}-secret"))
}

/// `POST /oauth/device_authorization` as public client `id` (no secret) or with Basic
/// credentials.
async fn start(
    s: &TestServer,
    id: &str,
    basic: Option<&(String, String)>,
    scope: &str,
) -> (u16, Value) {
    let mut form = vec![("scope", scope)];
    if basic.is_none() {
        form.push(("client_id", id));
    }
    let basic = basic.map(|(u, p)| (u.as_str(), p.as_str()));
    let (status, headers, body) = s
        .post_form("/oauth/device_authorization", basic, &form)
        .await;
    if status == 200 {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status, body)
}

async fn poll(
    s: &TestServer,
    id: &str,
    basic: Option<&(String, String)>,
    device_code: &str,
) -> (u16, Value) {
    let mut form = vec![("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    if basic.is_none() {
        form.push(("client_id", id));
    }
    let basic = basic.map(|(u, p)| (u.as_str(), p.as_str()));
    let (status, _, body) = s.post_form("/oauth/token", basic, &form).await;
    (status, body)
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// Signs ada in on the device page opened at `url` (the login form comes first).
async fn sign_in(s: &TestServer, b: &Browser, url: &str, email: &str) -> Page {
    let page = b.get(url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.is_login_form(), "{}", page.body);
    let mut form = page.hidden_fields();
    form.push(("email".into(), email.into()));
    form.push(("password".into(), PASSWORD.into()));
    b.post(&s.url("/device"), &form).await
}

/// Submits the code form on `page` with `typed` as the code.
async fn enter(s: &TestServer, b: &Browser, page: &Page, typed: &str) -> Page {
    assert!(page.body.contains(r#"value="code""#), "{}", page.body);
    let mut form = page.hidden_fields();
    form.push(("user_code".into(), typed.into()));
    b.post(&s.url("/device"), &form).await
}

/// Submits the review form on `page` with `decision`.
async fn decide(s: &TestServer, b: &Browser, page: &Page, decision: &str) -> Page {
    assert!(page.body.contains(r#"value="decide""#), "{}", page.body);
    let mut form = page.hidden_fields();
    form.push(("decision".into(), decision.into()));
    b.post(&s.url("/device"), &form).await
}

/// Ada, signed in on the device page, decides on `user_code`; the final page.
async fn approve_as_ada(s: &TestServer, b: &Browser, user_code: &str, decision: &str) -> Page {
    let page = sign_in(s, b, &s.url("/device"), "ada@example.com").await;
    let review = enter(s, b, &page, user_code).await;
    assert_eq!(review.status, 200, "{}", review.body);
    let done = decide(s, b, &review, decision).await;
    assert_eq!(done.status, 200, "{}", done.body);
    done
}

#[tokio::test]
async fn a_device_gets_its_tokens_once_after_the_user_approves() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (status, d) = start(&s, "tv", None, "openid profile offline_access").await;
    assert_eq!(status, 200, "{d}");
    let user_code = str_of(&d, "user_code");
    let device_code = str_of(&d, "device_code");
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .replace('-', "")
            .chars()
            .all(|c| ALPHABET.contains(c))
    );
    assert!(device_code.len() >= 43);
    assert_eq!(str_of(&d, "verification_uri"), s.url("/device"));
    assert_eq!(
        str_of(&d, "verification_uri_complete"),
        format!("{}?user_code={user_code}", s.url("/device"))
    );
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 5);

    // Undecided.
    let (status, body) = poll(&s, "tv", None, device_code).await;
    assert_eq!((status, error(&body)), (400, "authorization_pending"));

    // The person follows the complete URI: sign-in first, then the code is there.
    let b = Browser::new();
    let page = sign_in(
        &s,
        &b,
        str_of(&d, "verification_uri_complete"),
        "ada@example.com",
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(user_code), "{}", page.body);
    // Typed in lower case without the dash.
    let typed = user_code.replace('-', "").to_lowercase();
    let review = enter(&s, &b, &page, &format!(" {typed} ")).await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("TV tv"), "{}", review.body);
    assert!(review.body.contains(user_code), "{}", review.body);
    for scope in ["openid", "profile", "offline_access"] {
        assert!(
            review.body.contains(&format!("<li>{scope}</li>")),
            "{}",
            review.body
        );
    }
    let done = decide(&s, &b, &review, "allow").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Device connected"), "{}", done.body);

    s.clock.advance(Duration::from_secs(5));
    let (status, tokens) = poll(&s, "tv", None, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = verify_with_jsonwebtoken(&s, str_of(&tokens, "access_token"), "tv").await;
    assert_eq!(claims["client_id"], "tv");
    let mut scope: Vec<&str> = str_of(&claims, "scope").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["offline_access", "openid", "profile"]);
    let id = verify_with_jsonwebtoken(&s, str_of(&tokens, "id_token"), "tv").await;
    assert_eq!(id["name"], "Ada Lovelace");
    let rt = str_of(&tokens, "refresh_token").to_owned();

    // Exactly once.
    s.clock.advance(Duration::from_secs(5));
    let (status, body) = poll(&s, "tv", None, device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    // The refresh token works (a public client, so client_id in the body).
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", "tv"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The code cannot be decided again.
    let page = b.get(&s.url("/device")).await;
    let again = enter(&s, &b, &page, user_code).await;
    assert_eq!(again.status, 400, "{}", again.body);
    s.stop().await;
}

#[tokio::test]
async fn polling_too_fast_slows_down_and_codes_expire() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (_, d) = start(&s, "tv", None, "openid").await;
    let code = str_of(&d, "device_code");
    let (_, body) = poll(&s, "tv", None, code).await;
    assert_eq!(error(&body), "authorization_pending");
    // At once again: slow_down, and the interval is now 10 s.
    let (status, body) = poll(&s, "tv", None, code).await;
    assert_eq!((status, error(&body)), (400, "slow_down"), "{body}");
    s.clock.advance(Duration::from_secs(5));
    let (_, body) = poll(&s, "tv", None, code).await;
    assert_eq!(
        error(&body),
        "slow_down",
        "5 s is too soon after a slow_down"
    );
    // Now 15 s.
    s.clock.advance(Duration::from_secs(15));
    let (_, body) = poll(&s, "tv", None, code).await;
    assert_eq!(error(&body), "authorization_pending", "{body}");
    // Expired after 600 s: on the token endpoint and on the page.
    s.clock.advance(Duration::from_secs(600));
    let (status, body) = poll(&s, "tv", None, code).await;
    assert_eq!((status, error(&body)), (400, "expired_token"), "{body}");
    let b = Browser::new();
    let page = sign_in(&s, &b, &s.url("/device"), "ada@example.com").await;
    let page = enter(&s, &b, &page, str_of(&d, "user_code")).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("not valid, has expired"),
        "{}",
        page.body
    );
    s.stop().await;
}

#[tokio::test]
async fn a_denial_is_access_denied() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (_, d) = start(&s, "tv", None, "openid").await;
    let b = Browser::new();
    let done = approve_as_ada(&s, &b, str_of(&d, "user_code"), "deny").await;
    assert!(done.body.contains("You denied access"), "{}", done.body);
    for _ in 0..2 {
        let (status, body) = poll(&s, "tv", None, str_of(&d, "device_code")).await;
        assert_eq!((status, error(&body)), (400, "access_denied"), "{body}");
        s.clock.advance(Duration::from_secs(5));
    }
    s.stop().await;
}

#[tokio::test]
async fn a_device_code_is_bound_to_its_client() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    device_client(&s, "other-tv", true, None).await;
    let (_, d) = start(&s, "tv", None, "openid").await;
    let code = str_of(&d, "device_code");
    let b = Browser::new();
    approve_as_ada(&s, &b, str_of(&d, "user_code"), "allow").await;
    let (status, body) = poll(&s, "other-tv", None, code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    // Neither consumed nor slowed down by the wrong client.
    let (status, body) = poll(&s, "tv", None, code).await;
    assert_eq!(status, 200, "{body}");
    // Unknown device codes, a missing one.
    let (_, body) = poll(&s, "tv", None, "not-a-device-code").await;
    assert_eq!(error(&body), "invalid_grant");
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            None,
            &[("grant_type", DEVICE_GRANT), ("client_id", "tv")],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "invalid_request"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn confidential_clients_authenticate_public_ones_name_themselves() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "box", false, None).await;
    device_client(&s, "tv", true, None).await;
    let boxc = creds("box");
    // A confidential client without (or with a wrong) secret.
    let (status, body) = start(&s, "box", None, "openid").await;
    assert_eq!((status, error(&body)), (401, "invalid_client"), "{body}");
    let wrong = ("box".to_owned(), "nope".to_owned());
    let (status, _) = start(&s, "box", Some(&wrong), "openid").await;
    assert_eq!(status, 401);
    // Unknown client, a client without the grant, a scope it may not have.
    let (status, _) = start(&s, "nobody", None, "openid").await;
    assert_eq!(status, 401);
    let (status, body) = start(&s, "web", Some(&creds("web")), "openid").await;
    assert_eq!(
        (status, error(&body)),
        (400, "unauthorized_client"),
        "{body}"
    );
    let (status, body) = start(&s, "tv", None, "openid email").await;
    assert_eq!((status, error(&body)), (400, "invalid_scope"), "{body}");

    let (status, d) = start(&s, "box", Some(&boxc), "openid").await;
    assert_eq!(status, 200, "{d}");
    let b = Browser::new();
    approve_as_ada(&s, &b, str_of(&d, "user_code"), "allow").await;
    let code = str_of(&d, "device_code");
    // The confidential client must authenticate to poll too.
    let (status, body) = poll(&s, "box", None, code).await;
    assert_eq!((status, error(&body)), (401, "invalid_client"), "{body}");
    let (status, tokens) = poll(&s, "box", Some(&boxc), code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "no offline_access");
    assert!(tokens.get("id_token").is_some());
    // Without a scope: everything the client may have.
    let (status, d) = start(&s, "tv", None, "").await;
    assert_eq!(status, 200, "{d}");
    s.stop().await;
}

#[tokio::test]
async fn wrong_user_codes_get_an_error_page_and_are_throttled() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (_, d) = start(&s, "tv", None, "openid").await;
    let b = Browser::new();
    let page = sign_in(&s, &b, &s.url("/device"), "ada@example.com").await;
    for typed in [
        "",
        "BCDF",
        "not a code at all",
        "AAAA-AAAA",
        &"Z".repeat(5000),
    ] {
        let p = enter(&s, &b, &page, typed).await;
        assert_eq!(p.status, 400, "{typed:?}: {}", p.body);
        assert!(p.body.contains("That code is not valid"), "{}", p.body);
    }
    // Eight letters of the alphabet that are nobody's code, until the limit (10 a minute
    // from one address; five failures above already count).
    let mut throttled = None;
    for i in 0..20 {
        let p = enter(&s, &b, &page, "ZZZZ-ZZZZ").await;
        if p.status == 429 {
            throttled = Some((i, p));
            break;
        }
        assert_eq!(p.status, 400, "{}", p.body);
    }
    let (i, p) = throttled.expect("wrong codes are throttled");
    assert_eq!(i, 5, "the sixth guess after five failures");
    assert!(p.headers.contains_key("retry-after"));
    assert!(p.body.contains("Too many wrong codes"), "{}", p.body);
    // While throttled, even the right code is not looked at.
    let p = enter(&s, &b, &page, str_of(&d, "user_code")).await;
    assert_eq!(p.status, 429, "{}", p.body);
    let (_, body) = poll(&s, "tv", None, str_of(&d, "device_code")).await;
    assert_eq!(error(&body), "authorization_pending");
    s.stop().await;
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (_, d) = start(&s, "tv", None, "openid").await;
    let user_code = str_of(&d, "user_code");
    let b = Browser::new();
    // The sign-in form.
    let page = b.get(&s.url("/device")).await;
    let mut form: Vec<(String, String)> = page
        .hidden_fields()
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let p = b.post(&s.url("/device"), &form).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // The code form and the decision form.
    let page = sign_in(&s, &b, &s.url("/device"), "ada@example.com").await;
    let p = b
        .post(
            &s.url("/device"),
            &[
                ("_action".into(), "code".into()),
                ("user_code".into(), user_code.into()),
            ],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    let review = enter(&s, &b, &page, user_code).await;
    let forged: Vec<(String, String)> = review
        .hidden_fields()
        .into_iter()
        .map(|(k, v)| {
            if k == "csrf_token" {
                (k, "forged".to_owned())
            } else {
                (k, v)
            }
        })
        .chain([("decision".to_owned(), "allow".to_owned())])
        .collect();
    let p = b.post(&s.url("/device"), &forged).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // A token of another browser (another session) does not verify either.
    let other = Browser::new();
    let their = sign_in(&s, &other, &s.url("/device"), "ada@example.com").await;
    let mut form = their.hidden_fields();
    form.push(("user_code".into(), user_code.into()));
    let p = b.post(&s.url("/device"), &form).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // Nothing was decided.
    let (_, body) = poll(&s, "tv", None, str_of(&d, "device_code")).await;
    assert_eq!(error(&body), "authorization_pending");
    s.stop().await;
}

async fn userinfo_status(s: &TestServer, at: &str) -> u16 {
    s.http
        .get(s.url("/oauth/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The tokens of one device authorization of `tv` for `scope`, approved by ada in `b`.
async fn device_tokens(s: &TestServer, b: &Browser, scope: &str) -> Value {
    let (_, d) = start(s, "tv", None, scope).await;
    let page = b.get(&s.url("/device")).await;
    let page = if page.is_login_form() {
        sign_in(s, b, &s.url("/device"), "ada@example.com").await
    } else {
        page
    };
    let review = enter(s, b, &page, str_of(&d, "user_code")).await;
    decide(s, b, &review, "allow").await;
    let (status, tokens) = poll(s, "tv", None, str_of(&d, "device_code")).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn device_grants_end_with_the_session_or_the_password() {
    let s = TestServer::start().await;
    let ada = setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let b = Browser::new();
    // Online: the browser session's logout ends it.
    let online = device_tokens(&s, &b, "openid").await;
    let at = str_of(&online, "access_token");
    assert_eq!(userinfo_status(&s, at).await, 200);
    let page = b
        .get(&format!(
            "{}?id_token_hint={}",
            s.url("/oauth/logout"),
            str_of(&online, "id_token")
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(userinfo_status(&s, at).await, 401);

    // Offline: a password change ends it (refresh token and access token).
    let offline = device_tokens(&s, &b, "openid offline_access").await;
    let at = str_of(&offline, "access_token");
    assert_eq!(userinfo_status(&s, at).await, 200);
    s.provider
        .users()
        .set_password(&ada, "a brand new passphrase".into())
        .await
        .unwrap();
    assert_eq!(userinfo_status(&s, at).await, 401);
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&offline, "refresh_token")),
                ("client_id", "tv"),
            ],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");

    // Approved, then the session ends before the device polls: nothing to collect.
    s.provider
        .users()
        .set_password(&ada, PASSWORD.into())
        .await
        .unwrap();
    let b = Browser::new();
    let (_, d) = start(&s, "tv", None, "openid").await;
    approve_as_ada(&s, &b, str_of(&d, "user_code"), "allow").await;
    s.provider
        .users()
        .set_password(&ada, "yet another passphrase".into())
        .await
        .unwrap();
    let (status, body) = poll(&s, "tv", None, str_of(&d, "device_code")).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn a_tenants_device_client_never_gets_another_tenants_user() {
    let s = TestServer::start().await;
    setup(&s).await;
    s.provider
        .users()
        .insert(NewUser {
            email: "wile@acme.example".into(),
            password: Some(PASSWORD.into()),
            tenant_id: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    device_client(&s, "acme-tv", true, Some("acme")).await;
    let (_, d) = start(&s, "acme-tv", None, "openid").await;
    let user_code = str_of(&d, "user_code");
    // Ada (no tenant) is asked to sign in with an account of acme instead.
    let b = Browser::new();
    let page = sign_in(&s, &b, &s.url("/device"), "ada@example.com").await;
    let p = enter(&s, &b, &page, user_code).await;
    assert!(p.is_login_form(), "{}", p.body);
    assert!(p.body.contains("another organisation"), "{}", p.body);
    assert!(!p.body.contains(r#"value="decide""#));
    // Her e-mail does not exist in acme.
    let mut form = p.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let p2 = b.post(&s.url("/device"), &form).await;
    assert_eq!(p2.status, 401, "{}", p2.body);
    let (_, body) = poll(&s, "acme-tv", None, str_of(&d, "device_code")).await;
    assert_eq!(error(&body), "authorization_pending");
    // Wile, of acme, signs in from the same form and approves.
    let mut form = p.hidden_fields();
    form.push(("email".into(), "wile@acme.example".into()));
    form.push(("password".into(), PASSWORD.into()));
    let page = b.post(&s.url("/device"), &form).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(user_code),
        "the code is kept: {}",
        page.body
    );
    let review = enter(&s, &b, &page, user_code).await;
    decide(&s, &b, &review, "allow").await;
    s.clock.advance(Duration::from_secs(5));
    let (status, tokens) = poll(&s, "acme-tv", None, str_of(&d, "device_code")).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_with_jsonwebtoken(&s, str_of(&tokens, "access_token"), "acme-tv").await;
    assert_eq!(claims["tenant"], "acme");
    s.stop().await;
}

#[tokio::test]
async fn discovery_advertises_the_device_endpoint_and_hostile_input_is_answered() {
    let s = TestServer::start().await;
    setup(&s).await;
    device_client(&s, "tv", true, None).await;
    let (_, _, doc) = s.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        doc["device_authorization_endpoint"],
        s.url("/oauth/device_authorization")
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(DEVICE_GRANT))
    );
    // Nothing an attacker sends is a 5xx.
    let b = Browser::new();
    for q in [
        "?user_code=%00%00",
        "?user_code=<script>alert(1)</script>",
        "?user_code=a&user_code=b",
    ] {
        let p = b.get(&format!("{}{q}", s.url("/device"))).await;
        assert!(p.status < 500, "{q}: {}", p.status);
        assert!(!p.body.contains("<script>alert"), "{}", p.body);
    }
    for body in [
        "_action=decide&decision=allow&user_code=BCDFGHJK",
        "_action=zzz",
        "%%%",
        "",
    ] {
        let r = s
            .http
            .post(s.url("/device"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{body}: {}", r.status());
    }
    for form in [
        vec![("client_id", "tv"), ("scope", "\"")],
        vec![("client_id", "tv"), ("client_id", "tv")],
        vec![("client_id", "tv\0")],
    ] {
        let (status, _, _) = s
            .post_form("/oauth/device_authorization", None, &form)
            .await;
        assert_eq!(status / 100, 4, "{form:?}");
    }
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", "tv"),
                ("device_code", "\0"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    s.stop().await;
}
