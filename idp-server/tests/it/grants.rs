//! Access that ends when it should (issue "Sessions and grants"): a password change, a
//! disabled user, a revoked refresh token, a replayed code, a logout and a disabled client
//! each end what hangs below them; a wrong presenter of a code burns and revokes nothing;
//! introspection tells a client only about its own tokens; back-channel logout reaches the
//! relying party; a store failure while ending something is a 500, never silence.

use std::sync::Arc;
use std::time::Duration;

use idp_core::CodeVerifier;
use idp_server::manage::{NewClient, NewUser};
use serde_json::Value;

use crate::browser::{Browser, PASSWORD, REDIRECT, setup, web_client};
use crate::common::{TestServer, verify_with_jsonwebtoken};

const WEB: Option<(&str, &str)> = Some(("web", "web-secret"));

/// The tokens of one authorization of `client` (secret `"{client}-secret"`) in browser `b`,
/// signing in as ada when needed.
async fn tokens(s: &TestServer, b: &Browser, client: &str, scope: &str) -> Value {
    let code = code(s, b, client, scope).await;
    let (status, body) = exchange(s, client, &code.0, &code.1).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn code(s: &TestServer, b: &Browser, client: &str, scope: &str) -> (String, CodeVerifier) {
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let params = [
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut page = b.authorize(s, &params).await;
    if page.is_login_form() {
        page = b.login(s, &page, "ada@example.com", PASSWORD).await;
    }
    assert!(matches!(page.status, 302 | 303), "{}", page.body);
    (page.code(), v)
}

async fn exchange(s: &TestServer, client: &str, code: &str, v: &CodeVerifier) -> (u16, Value) {
    let secret = format!("{client}-secret");
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some((client, &secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    (status, body)
}

async fn refresh(s: &TestServer, rt: &str) -> (u16, Value) {
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    (status, body)
}

async fn active(s: &TestServer, token: &str) -> bool {
    let (status, _, body) = s
        .post_form("/oauth/introspect", WEB, &[("token", token)])
        .await;
    assert_eq!(status, 200, "{body}");
    body["active"] == true
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

/// `prompt=none` in browser `b`: the redirect's `error`, or `None` with a code.
async fn silent(s: &TestServer, b: &Browser) -> Option<String> {
    let v = CodeVerifier::generate();
    let page = b
        .authorize(
            s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
                ("code_challenge", v.challenge().as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let p = page.redirect_params();
    match p.get("error") {
        Some(e) => Some(e.clone()),
        None => {
            assert!(p.contains_key("code"), "{p:?}");
            None
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// Password change and a disabled user: every session, refresh token and access token of
/// the user ends (ASVS V3.3.3), in every browser.
#[tokio::test]
async fn a_password_change_or_a_disabled_user_ends_every_session_and_token() {
    let s = TestServer::start().await;
    let ada = setup(&s).await;
    for end in ["set-password", "disable"] {
        let (b1, b2) = (Browser::new(), Browser::new());
        let t1 = tokens(&s, &b1, "web", "openid offline_access").await;
        let t2 = tokens(&s, &b2, "web", "openid").await;
        let (at1, rt1, at2) = (
            str_of(&t1, "access_token"),
            str_of(&t1, "refresh_token"),
            str_of(&t2, "access_token"),
        );
        assert_eq!(silent(&s, &b1).await, None, "signed in");
        assert!(active(&s, at1).await && active(&s, at2).await);
        assert_eq!(userinfo_status(&s, at1).await, 200);

        match end {
            "set-password" => {
                s.provider
                    .users()
                    .set_password(&ada, "a brand new passphrase".into())
                    .await
                    .unwrap();
            }
            _ => {
                s.provider.users().disable(&ada).await.unwrap();
            }
        }

        for b in [&b1, &b2] {
            assert_eq!(
                silent(&s, b).await.as_deref(),
                Some("login_required"),
                "{end}"
            );
        }
        let (status, body) = refresh(&s, rt1).await;
        assert_eq!(
            (status, str_of(&body, "error")),
            (400, "invalid_grant"),
            "{end}"
        );
        for at in [at1, at2] {
            assert!(!active(&s, at).await, "{end}: access token still active");
            assert_eq!(userinfo_status(&s, at).await, 401, "{end}");
        }
        if end == "disable" {
            break;
        }
        // The new password signs in again, and only the new grant is live.
        let b3 = Browser::new();
        let code_page = {
            let v = CodeVerifier::generate();
            let page = b3
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
            b3.login(&s, &page, "ada@example.com", "a brand new passphrase")
                .await
        };
        assert!(matches!(code_page.status, 302 | 303), "{}", code_page.body);
        s.provider
            .users()
            .set_password(&ada, PASSWORD.into())
            .await
            .unwrap();
    }
    s.stop().await;
}

/// RFC 7009 §2.1: revoking a refresh token revokes the access tokens of its grant, the
/// first one and the refreshed ones.
#[tokio::test]
async fn revoking_a_refresh_token_deactivates_the_access_tokens_of_its_grant() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let first = tokens(&s, &b, "web", "openid offline_access").await;
    let (status, second) = refresh(&s, str_of(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    // Another grant of the same user and client stays.
    let other = tokens(&s, &b, "web", "openid offline_access").await;

    let (status, _, _) = s
        .post_form(
            "/oauth/revoke",
            WEB,
            &[
                ("token", str_of(&second, "refresh_token")),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    for at in [
        str_of(&first, "access_token"),
        str_of(&second, "access_token"),
    ] {
        assert!(!active(&s, at).await);
        assert_eq!(userinfo_status(&s, at).await, 401);
    }
    assert!(active(&s, str_of(&other, "access_token")).await);
    let (status, _) = refresh(&s, str_of(&other, "refresh_token")).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// RFC 6749 §4.1.2: a code replayed after a refresh revokes every token issued from it,
/// including the access token the refresh minted.
#[tokio::test]
async fn a_code_replayed_after_a_refresh_revokes_the_refreshed_tokens() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let (code, v) = code(&s, &b, "web", "openid offline_access").await;
    let (_, first) = exchange(&s, "web", &code, &v).await;
    let (status, second) = refresh(&s, str_of(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    assert!(active(&s, str_of(&second, "access_token")).await);

    let (status, body) = exchange(&s, "web", &code, &v).await;
    assert_eq!((status, str_of(&body, "error")), (400, "invalid_grant"));
    assert!(!active(&s, str_of(&second, "access_token")).await);
    assert_eq!(
        userinfo_status(&s, str_of(&second, "access_token")).await,
        401
    );
    let (status, _) = refresh(&s, str_of(&second, "refresh_token")).await;
    assert_eq!(status, 400);
    s.stop().await;
}

/// RFC 6749 §4.1.3: the client, redirect URI and PKCE verifier are checked before the code
/// is consumed; a wrong presenter neither burns the code nor revokes the grant.
#[tokio::test]
async fn a_wrong_presenter_neither_burns_a_code_nor_revokes_its_grant() {
    let s = TestServer::start().await;
    setup(&s).await;
    web_client(&s, "other", true).await;
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "spa".into(),
            public: true,
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let b = Browser::new();
    let (code, v) = code(&s, &b, "web", "openid offline_access").await;
    let wrong = CodeVerifier::generate();

    // Another confidential client; a public client with any verifier; the right client
    // with a wrong verifier or redirect URI: all refused, none consumes.
    let (status, body) = exchange(&s, "other", &code, &v).await;
    assert_eq!((status, str_of(&body, "error")), (400, "invalid_grant"));
    // The public client presents the code with a verifier of its own.
    let spa_presents = || async {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", wrong.secret()),
        ];
        s.post_form("/oauth/token", None, &form).await
    };
    let (status, _, body) = spa_presents().await;
    assert_eq!((status, str_of(&body, "error")), (400, "invalid_grant"));
    let (status, _) = exchange(&s, "web", &code, &wrong).await;
    assert_eq!(status, 400);
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/elsewhere"),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(status, 400);

    // The rightful exchange still works.
    let (status, t) = exchange(&s, "web", &code, &v).await;
    assert_eq!(status, 200, "{t}");
    let at = str_of(&t, "access_token");

    // Once used, a wrong presenter of the code still revokes nothing.
    let (status, _) = exchange(&s, "other", &code, &v).await;
    assert_eq!(status, 400);
    let (status, _, _) = spa_presents().await;
    assert_eq!(status, 400);
    assert!(active(&s, at).await, "a wrong presenter revoked the grant");
    let (status, _) = refresh(&s, str_of(&t, "refresh_token")).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// Logout ends the session's grants without `offline_access`; refresh tokens granted with
/// `offline_access` survive it (documented in ARCHITECTURE.md).
#[tokio::test]
async fn logout_ends_online_grants_and_keeps_offline_ones() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    let online = tokens(&s, &b, "web", "openid").await;
    let offline = tokens(&s, &b, "web", "openid offline_access").await;
    let page = b
        .get(&format!(
            "{}?id_token_hint={}",
            s.url("/oauth/logout"),
            str_of(&online, "id_token")
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(silent(&s, &b).await.as_deref(), Some("login_required"));
    assert!(!active(&s, str_of(&online, "access_token")).await);
    assert!(active(&s, str_of(&offline, "access_token")).await);
    let (status, body) = refresh(&s, str_of(&offline, "refresh_token")).await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

/// A disabled or deleted client: its grants end, its service tokens are inactive.
#[tokio::test]
async fn a_disabled_or_deleted_client_loses_its_grants_and_tokens() {
    let s = TestServer::start().await;
    setup(&s).await;
    s.service_client("worker").await;
    let service = s.cc_token("worker", &[]).await;
    let b = Browser::new();
    let t = tokens(&s, &b, "web", "openid offline_access").await;
    assert!(active(&s, &service).await);

    s.provider.clients().disable("worker").await.unwrap();
    assert!(!active(&s, &service).await);
    // The web client introspects its own token until it is itself deleted; then another
    // client (of the same audience) finds it inactive.
    s.service_client("api").await;
    let api = Some(("api", "api-secret"));
    let (_, _, body) = s
        .post_form(
            "/oauth/introspect",
            api,
            &[("token", str_of(&t, "access_token"))],
        )
        .await;
    assert_eq!(body["active"], true, "{body}");
    s.provider.clients().delete("web").await.unwrap();
    let (_, _, body) = s
        .post_form(
            "/oauth/introspect",
            api,
            &[("token", str_of(&t, "access_token"))],
        )
        .await;
    assert_eq!(body["active"], false, "{body}");
    assert_eq!(userinfo_status(&s, str_of(&t, "access_token")).await, 401);
    s.stop().await;
}

/// RFC 7662 §4: a client learns only about tokens meant for it (its own, or with its id or
/// one of its audiences in `aud`), and a tenant's client only about its tenant's tokens.
#[tokio::test]
async fn introspection_tells_a_client_only_about_its_own_tokens_and_tenant() {
    let s = TestServer::start().await;
    s.provider
        .users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some(PASSWORD.into()),
            tenant_id: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = |id: &str, tenant: &str, audiences: &[&str], redirect: bool| NewClient {
        client_id: id.into(),
        secret: Some(format!("{id}-secret").as_str().into()),
        redirect_uris: if redirect {
            vec![REDIRECT.into()]
        } else {
            vec![]
        },
        allowed_scopes: vec!["openid".into(), "read".into()],
        audiences: audiences.iter().map(|a| a.to_string()).collect(),
        first_party: true,
        tenant_id: Some(tenant.into()),
        ..Default::default()
    };
    for c in [
        client("acme-web", "acme", &["orders"], true),
        client("orders", "acme", &[], false),
        client("acme-reports", "acme", &["reports"], false),
        client("acme-orders-proxy", "acme", &["orders"], false),
        client("globex-orders", "globex", &["orders"], false),
    ] {
        s.provider.clients().insert(c).await.unwrap();
    }
    let b = Browser::new();
    let t = tokens(&s, &b, "acme-web", "openid read").await;
    let at = str_of(&t, "access_token");
    let ask = |id: &'static str| {
        let secret = format!("{id}-secret");
        let s = &s;
        async move {
            let (status, _, body) = s
                .post_form("/oauth/introspect", Some((id, &secret)), &[("token", at)])
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let own = ask("acme-web").await;
    assert_eq!(own["active"], true);
    assert_eq!(own["tenant"], "acme");
    assert_eq!(ask("orders").await["active"], true, "the audience itself");
    assert_eq!(
        ask("acme-orders-proxy").await["active"],
        true,
        "registered audience"
    );
    assert_eq!(
        ask("acme-reports").await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        ask("globex-orders").await,
        serde_json::json!({"active": false})
    );
    s.stop().await;
}

type Inbox = tokio::sync::mpsc::UnboundedReceiver<(String, String)>;

/// The next logout token the test RP received (form-encoded, within 10 s).
async fn receive(rx: &mut Inbox) -> String {
    let (ct, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no logout token within 10 s")
        .unwrap();
    assert_eq!(ct, "application/x-www-form-urlencoded");
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token in the body")
}

/// A logout token as Back-Channel Logout 1.0 §2.4 defines it, about the session and user
/// of `id_token_claims`.
async fn check_logout_token(s: &TestServer, token: &str, id_token_claims: &Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let claims = verify_with_jsonwebtoken(s, token, "rp").await;
    assert_eq!(claims["sid"], id_token_claims["sid"]);
    assert_eq!(claims["sub"], id_token_claims["sub"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
}

/// OpenID Connect Back-Channel Logout 1.0: a relying party on loopback receives a signed
/// `logout_token` for the session when the user logs out, and when their password changes.
#[tokio::test]
async fn back_channel_logout_reaches_the_relying_party() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let rp = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let ct = headers
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                let _ = tx.send((ct, body));
                http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_addr = listener.local_addr().unwrap();
    let rp_task = tokio::spawn(async move { axum::serve(listener, rp).await });

    let s = TestServer::start().await;
    let ada = setup(&s).await;
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "rp".into(),
            secret: Some("rp-secret".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["openid".into(), "offline_access".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            backchannel_logout_uri: Some(format!("http://{rp_addr}/backchannel")),
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, _, discovery) = s.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    // RP-initiated logout in the browser: the RP is told about that session.
    let b = Browser::new();
    let t = tokens(&s, &b, "rp", "openid").await;
    let id_claims = verify_with_jsonwebtoken(&s, str_of(&t, "id_token"), "rp").await;
    let page = b
        .get(&format!(
            "{}?id_token_hint={}",
            s.url("/oauth/logout"),
            str_of(&t, "id_token")
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = receive(&mut rx).await;
    check_logout_token(&s, &token, &id_claims).await;

    // A password change tells it about the session that was open.
    let b = Browser::new();
    let t = tokens(&s, &b, "rp", "openid offline_access").await;
    let id_claims = verify_with_jsonwebtoken(&s, str_of(&t, "id_token"), "rp").await;
    s.provider
        .users()
        .set_password(&ada, "another long passphrase".into())
        .await
        .unwrap();
    let token = receive(&mut rx).await;
    check_logout_token(&s, &token, &id_claims).await;
    assert!(s.provider.flush_notifications(Duration::from_secs(5)).await);
    s.stop().await;
    rp_task.abort();
}

/// A store failure while ending something is an error (a 500 without detail, logged), not
/// silence: the SQLite store is made to fail with a trigger.
#[tokio::test]
async fn a_store_failure_while_ending_access_is_a_500_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("idp.db").display());
    let store = idp_server::store::SqliteStore::connect(&url).await.unwrap();
    let s = TestServer::start_with(Arc::new(store), |b| b).await;
    setup(&s).await;
    let b = Browser::new();
    let (code, v) = code(&s, &b, "web", "openid offline_access").await;
    let (_, t) = exchange(&s, "web", &code, &v).await;

    let admin = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    for trigger in [
        "CREATE TRIGGER no_delete BEFORE DELETE ON sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        "CREATE TRIGGER no_revoke BEFORE UPDATE ON grants BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    ] {
        sqlx::query(trigger).execute(&admin).await.unwrap();
    }

    // Logout: a page without detail, and the session is still there.
    let page = b
        .get(&format!(
            "{}?id_token_hint={}",
            s.url("/oauth/logout"),
            str_of(&t, "id_token")
        ))
        .await;
    assert_eq!(page.status, 500, "{}", page.body);
    assert!(!page.body.contains("disk on fire"));
    // A replayed code: server_error, and the grant stands (the failure did not half-revoke).
    let (status, body) = exchange(&s, "web", &code, &v).await;
    assert_eq!(
        (status, str_of(&body, "error")),
        (500, "server_error"),
        "{body}"
    );
    assert!(!body.to_string().contains("disk on fire"));

    for trigger in ["DROP TRIGGER no_delete", "DROP TRIGGER no_revoke"] {
        sqlx::query(trigger).execute(&admin).await.unwrap();
    }
    assert_eq!(
        silent(&s, &b).await,
        None,
        "the session survived the failed logout"
    );
    assert!(active(&s, str_of(&t, "access_token")).await);
    s.stop().await;
}
