//! TOTP two-factor over HTTP: enrolment on `/account/two-factor` (a confirmation code is
//! required, backup codes shown once), sign-in with password then code (`amr` becomes
//! `["pwd","otp"]`), wrong, replayed and backup codes, the pending sign-in's expiry and
//! attempt bound, disabling with the password, the operator's reset (Rust, admin API, CLI),
//! the secret at rest, and users without two-factor signing in as before. Codes are computed
//! here from the secret the page shows, at the server's fixed clock.

use std::sync::Arc;
use std::time::Duration;

use idp_core::{Clock, CodeVerifier};
use idp_server::store::{SqliteStore, Store, TwoFactorStore};
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, Page, REDIRECT, setup};
use crate::common::{TestServer, verify_with_jsonwebtoken};

const ACCOUNT: &str = "/account/two-factor";

// ---- TOTP, computed independently of the server (RFC 6238: SHA-1, 6 digits, 30 s) ----

pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

pub(crate) fn totp(secret: &[u8], unix: i64) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &(unix / 30).to_be_bytes());
    let mac = mac.as_ref();
    let o = (mac[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([mac[o] & 0x7f, mac[o + 1], mac[o + 2], mac[o + 3]]);
    format!("{:06}", bin % 1_000_000)
}

fn now(s: &TestServer) -> i64 {
    s.clock.unix_now()
}

/// The text of the element with `id`, e.g. `<code id="secret">…</code>`.
pub(crate) fn element_text(body: &str, id: &str) -> Option<String> {
    let start = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')? + open;
    Some(rest[open..close].trim().to_owned())
}

fn backup_codes(body: &str) -> Vec<String> {
    let list = &body[body.find("id=\"backup-codes\"").expect("backup codes")..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap()].to_owned())
        .collect()
}

// ---- the browser's steps ----

/// The form of `page` with `extra` fields, posted to `path`.
async fn submit(
    b: &Browser,
    s: &TestServer,
    path: &str,
    page: &Page,
    extra: &[(&str, &str)],
) -> Page {
    let mut form = page.hidden_fields();
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.post(&s.url(path), &form).await
}

/// Signs ada in on `/account/login` (the password, and a code when `code` is given) when
/// the browser has no session, and returns the two-factor page.
async fn account_page(b: &Browser, s: &TestServer, code: Option<String>) -> Page {
    let page = b.get(&s.url(ACCOUNT)).await;
    if page.status != 303 {
        return page;
    }
    let login = b.get(&s.url("/account/login")).await;
    assert!(login.is_login_form(), "{}", login.body);
    let credentials = [("email", "ada@example.com"), ("password", PASSWORD)];
    let mut next = submit(b, s, "/account/login", &login, &credentials).await;
    if is_code_form(&next) {
        let code = code.expect("a code is asked for");
        next = submit(b, s, "/account/login", &next, &[("code", &code)]).await;
    }
    assert_eq!(next.status, 303, "{}", next.body);
    b.get(&s.url(ACCOUNT)).await
}

struct Enrolled {
    secret: Vec<u8>,
    backup: Vec<String>,
}

/// Enrols ada (signed in on the account page) with a code computed from the shown secret.
async fn enrol(s: &TestServer, b: &Browser) -> Enrolled {
    let page = account_page(b, s, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let secret_text = element_text(&page.body, "secret").expect("the secret is shown");
    assert!(page.body.contains("<svg"), "a QR code is shown inline");
    let secret = base32_decode(&secret_text);
    assert_eq!(secret.len(), 20);
    let done = submit(b, s, ACCOUNT, &page, &[("code", &totp(&secret, now(s)))]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let backup = backup_codes(&done.body);
    assert_eq!(backup.len(), 10, "{}", done.body);
    Enrolled { secret, backup }
}

/// Opens the authorize URL of the client `web` with PKCE and submits the password: the
/// page that follows (the code form for a user with two-factor on).
async fn password_step(s: &TestServer, b: &Browser) -> (Page, CodeVerifier) {
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email offline_access"),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = b.authorize(s, &params).await;
    let page = b.login(s, &page, "ada@example.com", PASSWORD).await;
    (page, v)
}

fn is_code_form(page: &Page) -> bool {
    page.body.contains(r#"value="two_factor""#)
}

fn sets_session(page: &Page) -> bool {
    page.headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .any(|c| {
            c.to_str().unwrap().starts_with("idp_session=")
                && !c.to_str().unwrap().starts_with("idp_session=;")
        })
}

/// Submits `code` on the code form of the authorize flow.
async fn second_step(s: &TestServer, b: &Browser, page: &Page, code: &str) -> Page {
    assert!(
        is_code_form(page),
        "not the code form: {} {}",
        page.status,
        page.body
    );
    submit(b, s, "/oauth/authorize", page, &[("code", code)]).await
}

/// Exchanges the code of the redirect `page`; the ID token's claims.
async fn id_token_claims(s: &TestServer, page: &Page, v: &CodeVerifier) -> Value {
    token_response(s, page, v).await.0
}

/// Exchanges the code of the redirect `page`; the ID token's claims and the response.
async fn token_response(s: &TestServer, page: &Page, v: &CodeVerifier) -> (Value, Value) {
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
    assert_eq!(status, 200, "{body}");
    let claims = verify_with_jsonwebtoken(s, body["id_token"].as_str().unwrap(), "web").await;
    (claims, body)
}

/// A server with ada, the client `web`, and ada enrolled; the clock moved to the next
/// step (the confirmation used the current one).
async fn enrolled_server() -> (TestServer, String, Enrolled) {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    let e = enrol(&s, &Browser::new()).await;
    s.clock.advance(Duration::from_secs(30));
    (s, id, e)
}

// ---- the tests ----

#[tokio::test]
async fn enrolment_requires_a_valid_confirmation_code() {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    let b = Browser::new();
    let page = account_page(&b, &s, None).await;
    assert!(
        page.body.contains("is <strong>off</strong>"),
        "{}",
        page.body
    );
    let secret = base32_decode(&element_text(&page.body, "secret").unwrap());
    // A page shown again keeps the same secret until it is confirmed.
    let again = b.get(&s.url(ACCOUNT)).await;
    assert_eq!(
        base32_decode(&element_text(&again.body, "secret").unwrap()),
        secret
    );
    // A code two steps away, a malformed one, and none: refused, still off.
    for wrong in [totp(&secret, now(&s) - 60), "12345".into(), String::new()] {
        let refused = submit(&b, &s, ACCOUNT, &page, &[("code", &wrong)]).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused.body.contains("That code is not right"),
            "{}",
            refused.body
        );
    }
    let st = s.provider.users().two_factor().status(&id).await.unwrap();
    assert!(!st.enabled);
    // Without the form's CSRF token: refused.
    let forged = b
        .post(
            &s.url(ACCOUNT),
            &[
                ("_action".into(), "enable".into()),
                ("code".into(), totp(&secret, now(&s))),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // One step of clock skew is fine.
    let done = submit(
        &b,
        &s,
        ACCOUNT,
        &page,
        &[("code", &totp(&secret, now(&s) + 30))],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(backup_codes(&done.body).len(), 10);
    let st = s.provider.users().two_factor().status(&id).await.unwrap();
    assert!(st.enabled);
    assert_eq!(st.backup_codes_left, 10);
    // The page now says so, and shows neither the secret nor the codes again.
    let page = b.get(&s.url(ACCOUNT)).await;
    assert!(
        page.body.contains("is <strong>on</strong>"),
        "{}",
        page.body
    );
    assert!(element_text(&page.body, "secret").is_none());
    assert!(!page.body.contains("backup-codes"));
    s.stop().await;
}

#[tokio::test]
async fn password_and_totp_sign_in_with_amr_pwd_otp() {
    let (s, _, e) = enrolled_server().await;
    let b = Browser::new();
    let (page, v) = password_step(&s, &b).await;
    assert!(is_code_form(&page), "{}", page.body);
    assert!(!sets_session(&page), "a password alone gives no session");
    assert!(page.body.contains(r#"for="code""#), "the input is labelled");
    // The browser has no session: a new authorize request asks for the password again.
    let fresh = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", v.challenge().as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert!(fresh.is_login_form(), "{}", fresh.body);

    let done = second_step(&s, &b, &page, &totp(&e.secret, now(&s))).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert!(sets_session(&done));
    let (claims, body) = token_response(&s, &done, &v).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    // A refreshed ID token says the same.
    let (status, _, refreshed) = s
        .post_form(
            "/oauth/token",
            Some(("web", "web-secret")),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let id_token = refreshed["id_token"].as_str().unwrap();
    let claims = verify_with_jsonwebtoken(&s, id_token, "web").await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    s.stop().await;
}

/// The device verification page asks for the code too, and the device's ID token says so.
#[tokio::test]
async fn the_device_page_asks_for_the_second_factor() {
    let (s, _, e) = enrolled_server().await;
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "tv".into(),
            public: true,
            allowed_scopes: vec!["openid".into()],
            grant_types: vec!["refresh_token".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut c = s.provider.store().get_client("tv").await.unwrap().unwrap();
    c.grant_types.push(idp_core::GrantType::DeviceCode);
    s.provider.store().update_client(&c).await.unwrap();
    let (status, _, d) = s
        .post_form(
            "/oauth/device_authorization",
            None,
            &[("client_id", "tv"), ("scope", "openid")],
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let b = Browser::new();
    let page = b
        .get(d["verification_uri_complete"].as_str().unwrap())
        .await;
    let credentials = [("email", "ada@example.com"), ("password", PASSWORD)];
    let page = submit(&b, &s, "/device", &page, &credentials).await;
    assert!(is_code_form(&page), "{}", page.body);
    assert!(!sets_session(&page));
    let page = submit(
        &b,
        &s,
        "/device",
        &page,
        &[("code", &totp(&e.secret, now(&s)))],
    )
    .await;
    assert!(sets_session(&page), "{}", page.body);
    let user_code = d["user_code"].as_str().unwrap();
    let page = submit(&b, &s, "/device", &page, &[("user_code", user_code)]).await;
    let page = submit(&b, &s, "/device", &page, &[("decision", "allow")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    s.clock.advance(Duration::from_secs(5));
    let (status, _, tokens) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", d["device_code"].as_str().unwrap()),
                ("client_id", "tv"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_with_jsonwebtoken(&s, tokens["id_token"].as_str().unwrap(), "tv").await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    s.stop().await;
}

#[tokio::test]
async fn wrong_and_replayed_codes_are_refused_with_a_message() {
    let (s, _, e) = enrolled_server().await;
    let b = Browser::new();
    let (page, v) = password_step(&s, &b).await;
    let wrong = second_step(&s, &b, &page, &totp(&e.secret, now(&s) + 90)).await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("That code is not right"),
        "{}",
        wrong.body
    );
    assert!(wrong.headers.get("location").is_none());
    let code = totp(&e.secret, now(&s));
    let done = second_step(&s, &b, &wrong, &code).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert_eq!(
        id_token_claims(&s, &done, &v).await["amr"],
        json!(["pwd", "otp"])
    );

    // The same code again, in another browser within its window: refused.
    let other = Browser::new();
    let (page, _) = password_step(&s, &other).await;
    let replay = second_step(&s, &other, &page, &code).await;
    assert_eq!(replay.status, 401);
    assert!(replay.body.contains("already been used"), "{}", replay.body);
    // The previous step's code (within the skew) is refused too: it is older.
    let older = second_step(&s, &other, &replay, &totp(&e.secret, now(&s) - 30)).await;
    assert_eq!(older.status, 401, "{}", older.body);
    // The next step's code works.
    s.clock.advance(Duration::from_secs(30));
    let next = second_step(&s, &other, &older, &totp(&e.secret, now(&s))).await;
    assert!(matches!(next.status, 302 | 303), "{}", next.body);
    s.stop().await;
}

#[tokio::test]
async fn a_backup_code_works_once() {
    let (s, id, e) = enrolled_server().await;
    let code = e.backup[3].to_uppercase();
    let b = Browser::new();
    let (page, v) = password_step(&s, &b).await;
    let done = second_step(&s, &b, &page, &code).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert_eq!(
        id_token_claims(&s, &done, &v).await["amr"],
        json!(["pwd", "otp"])
    );
    let st = s.provider.users().two_factor().status(&id).await.unwrap();
    assert_eq!(st.backup_codes_left, 9);

    let b = Browser::new();
    let (page, _) = password_step(&s, &b).await;
    let again = second_step(&s, &b, &page, &code).await;
    assert_eq!(again.status, 401);
    assert!(again.body.contains("not right"), "{}", again.body);
    // Another one still works.
    let other = second_step(&s, &b, &again, &e.backup[4]).await;
    assert!(matches!(other.status, 302 | 303), "{}", other.body);
    s.stop().await;
}

#[tokio::test]
async fn the_pending_sign_in_expires_after_five_minutes() {
    let (s, _, e) = enrolled_server().await;
    let b = Browser::new();
    let (page, _) = password_step(&s, &b).await;
    s.clock.advance(Duration::from_secs(301));
    let late = second_step(&s, &b, &page, &totp(&e.secret, now(&s))).await;
    assert_eq!(late.status, 401, "{}", late.body);
    assert!(late.is_login_form(), "back to the password: {}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert!(!sets_session(&late));
    // Within five minutes it works.
    let (page, _) = password_step(&s, &b).await;
    s.clock.advance(Duration::from_secs(290));
    let done = second_step(&s, &b, &page, &totp(&e.secret, now(&s))).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    s.stop().await;
}

#[tokio::test]
async fn the_pending_sign_in_ends_after_too_many_attempts() {
    let (s, _, e) = enrolled_server().await;
    let b = Browser::new();
    let (mut page, _) = password_step(&s, &b).await;
    for i in 1..=5 {
        page = second_step(&s, &b, &page, "000000x").await;
        assert_eq!(page.status, 401, "attempt {i}: {}", page.body);
        if i < 5 {
            assert!(is_code_form(&page), "attempt {i}");
        }
    }
    assert!(page.is_login_form(), "{}", page.body);
    assert!(page.body.contains("Too many wrong codes"), "{}", page.body);
    // Even the right code does not revive it: a new sign-in with the password is needed.
    let mut form = page.hidden_fields();
    form.retain(|(k, _)| k != "_action");
    form.push(("_action".into(), "two_factor".into()));
    form.push(("code".into(), totp(&e.secret, now(&s))));
    let late = b.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(late.status, 401, "{}", late.body);
    assert!(!sets_session(&late));
    s.stop().await;
}

#[tokio::test]
async fn disabling_needs_the_password() {
    let (s, id, e) = enrolled_server().await;
    let b = Browser::new();
    let page = account_page(&b, &s, Some(totp(&e.secret, now(&s)))).await;
    assert!(
        page.body.contains("is <strong>on</strong>"),
        "{}",
        page.body
    );
    let wrong = submit(&b, &s, ACCOUNT, &page, &[("password", "not the password")]).await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body.contains("password is not right"),
        "{}",
        wrong.body
    );
    assert!(
        s.provider
            .users()
            .two_factor()
            .status(&id)
            .await
            .unwrap()
            .enabled
    );
    let off = submit(&b, &s, ACCOUNT, &page, &[("password", PASSWORD)]).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(
        off.body.contains("Two-factor authentication is off."),
        "{}",
        off.body
    );
    assert!(
        !s.provider
            .users()
            .two_factor()
            .status(&id)
            .await
            .unwrap()
            .enabled
    );
    // Signing in asks for the password only again.
    let b = Browser::new();
    let (done, v) = password_step(&s, &b).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert_eq!(id_token_claims(&s, &done, &v).await["amr"], json!(["pwd"]));
    s.stop().await;
}

#[tokio::test]
async fn a_user_without_two_factor_signs_in_as_before() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let (done, v) = password_step(&s, &b).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert!(sets_session(&done));
    assert_eq!(id_token_claims(&s, &done, &v).await["amr"], json!(["pwd"]));
    // The two-factor step cannot be used to skip the password.
    let b = Browser::new();
    let v = CodeVerifier::generate();
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", v.challenge().as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let mut form = page.hidden_fields();
    form.retain(|(k, _)| k != "_action");
    form.push(("_action".into(), "two_factor".into()));
    form.push(("code".into(), "123456".into()));
    let skip = b.post(&s.url("/oauth/authorize"), &form).await;
    assert_eq!(skip.status, 401, "{}", skip.body);
    assert!(skip.is_login_form());
    assert!(!sets_session(&skip));
    s.stop().await;
}

#[tokio::test]
async fn operators_reset_two_factor_in_rust_and_through_the_admin_api() {
    let (s, id, e) = enrolled_server().await;
    // Rust: the management API.
    assert!(s.provider.users().two_factor().reset(&id).await.unwrap());
    assert!(
        !s.provider
            .users()
            .two_factor()
            .status(&id)
            .await
            .unwrap()
            .enabled
    );
    let (done, _) = password_step(&s, &Browser::new()).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    assert!(matches!(
        s.provider.users().two_factor().status("nobody").await,
        Err(idp_server::Error::NotFound)
    ));

    // Enrolled again, then the HTTP admin API.
    let e2 = enrol(&s, &Browser::new()).await;
    assert_ne!(e2.secret, e.secret, "a reset forgets the secret");
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "ops".into(),
            secret: Some("ops-secret".into()),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["idp:admin".into()],
            audiences: vec![s.url("/admin/api")],
            ..Default::default()
        })
        .await
        .unwrap();
    let token = s.cc_token("ops", &[("scope", "idp:admin")]).await;
    let path = s.url(&format!("/admin/api/v1/users/{id}/two-factor"));
    let get = |m: Method| s.http.request(m, &path).bearer_auth(&token).send();
    let st: Value = get(Method::GET).await.unwrap().json().await.unwrap();
    assert_eq!(st["enabled"], true, "{st}");
    assert_eq!(st["backup_codes_left"], 10);
    let resp = get(Method::DELETE).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["enabled"].clone(), body["was_enabled"].clone()),
        (json!(false), json!(true)),
        "{body}"
    );
    let st: Value = get(Method::GET).await.unwrap().json().await.unwrap();
    assert_eq!(st["enabled"], false);
    // No token: 401.
    let anon = s.http.get(&path).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    s.stop().await;
}

/// A provider on a SQLite file with ada enrolled; the file's URL.
async fn enrolled_on_sqlite(dir: &std::path::Path) -> (String, String, Enrolled) {
    let url = format!("sqlite://{}", dir.join("idp.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let s = TestServer::start_with(Arc::new(store.clone()) as Arc<dyn Store>, |b| b).await;
    let id = setup(&s).await;
    let e = enrol(&s, &Browser::new()).await;
    s.stop().await;
    store.close().await;
    (url, id, e)
}

#[tokio::test]
async fn the_secret_and_backup_codes_are_not_stored_in_clear() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let (url, id, e) = enrolled_on_sqlite(dir.path()).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT * FROM two_factor WHERE user_id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get("secret_sealed");
    assert!(sealed.len() > e.secret.len());
    assert!(
        !sealed
            .windows(e.secret.len())
            .any(|w| w == e.secret.as_slice()),
        "the raw secret is in the row"
    );
    let b32 = {
        // The base32 text as the page showed it.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::new();
        let (mut buf, mut bits) = (0u32, 0);
        for b in &e.secret {
            buf = (buf << 8) | u32::from(*b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(A[((buf >> bits) & 31) as usize] as char);
            }
        }
        out
    };
    let dump: Vec<String> = sqlx::query("SELECT quote(secret_sealed) AS q FROM two_factor")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("q"))
        .collect();
    assert!(!dump.iter().any(|d| d.contains(&b32)));
    let hashes: Vec<String> = sqlx::query("SELECT code_hash FROM backup_codes WHERE user_id = $1")
        .bind(&id)
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("code_hash"))
        .collect();
    assert_eq!(hashes.len(), 10);
    for code in &e.backup {
        let bare = code.replace('-', "");
        assert!(
            !hashes
                .iter()
                .any(|h| h.contains(&bare) || h.contains(code.as_str()))
        );
    }
    pool.close().await;
}

#[tokio::test]
async fn idp_users_reset_2fa_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let (url, id, _) = enrolled_on_sqlite(dir.path()).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp"))
        .current_dir(dir.path())
        .env_remove("IDP_ENCRYPTION_KEY")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_CONFIG")
        .args([
            "users",
            "reset-2fa",
            "ada@example.com",
            "--db",
            &url,
            "--encryption-key",
            crate::common::KEY,
            "--json",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v,
        json!({"id": id, "two_factor": false, "was_enabled": true})
    );
    let store = SqliteStore::connect(&url).await.unwrap();
    assert!(store.get_two_factor(&id).await.unwrap().is_none());
    assert_eq!(store.backup_codes_left(&id).await.unwrap(), 0);
    store.close().await;
}
