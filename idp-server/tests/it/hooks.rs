//! Hooks at each moment: before a user or client is written, after a sign-in, before a
//! token; what they see, what they may change, refusals and panics.

use std::sync::{Arc, Mutex};

use idp_server::manage::{Actor, ClientUpdate, HookContext, NewClient, NewUser, UserUpdate};
use idp_server::store::MemoryStore;
use idp_server::{AttributeRule, AttributeSchema, AttributeType, ClaimMapping, Error, TokenKind};
use serde_json::json;

use crate::browser::{Browser, PASSWORD, REDIRECT, web_client, web_code_flow};
use crate::common::{TestServer, verify_with_jsonwebtoken};

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password: Some(PASSWORD.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn write_hooks_see_the_context_change_records_and_refuse() {
    let seen: Arc<Mutex<Vec<HookContext>>> = Arc::default();
    let log = Arc::clone(&seen);
    let log2 = Arc::clone(&seen);
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), move |b| {
        b.before_insert_user(move |ctx, mut u| {
            let log = Arc::clone(&log);
            async move {
                log.lock().unwrap().push(ctx);
                if u.email.starts_with("panic") {
                    panic!("a bug in the hook");
                }
                if u.email.ends_with("@blocked.example") {
                    return Err("sign-ups from blocked.example are closed".into());
                }
                u.name.get_or_insert_with(|| "From the hook".into());
                Ok(u)
            }
        })
        .before_update_user(move |ctx, (current, mut update)| {
            let log = Arc::clone(&log2);
            async move {
                log.lock().unwrap().push(ctx);
                if update.email.is_some() && current.email_verified {
                    return Err("a verified address cannot change here".into());
                }
                update.locale.get_or_insert_with(|| "en".into());
                Ok(update)
            }
        })
        .before_insert_client(|ctx, mut c| async move {
            if ctx.tenant.is_none() {
                c.tenant_id = Some("default".into());
            }
            Ok(c)
        })
        .before_update_client(|_ctx, (current, mut update)| async move {
            if current.first_party && update.first_party == Some(false) {
                return Err("first-party apps stay first-party".into());
            }
            update.name = update.name.map(|n| n.trim().to_owned());
            Ok(update)
        })
    })
    .await;
    let users = s.provider.users();

    let u = users.insert(user("ada@example.com")).await.unwrap();
    assert_eq!(u.name.as_deref(), Some("From the hook"));
    {
        let ctx = &seen.lock().unwrap()[0];
        assert_eq!(ctx.actor, Actor::Code);
        assert_eq!(ctx.tenant, None);
    }
    let e = users.insert(user("eve@blocked.example")).await.unwrap_err();
    assert!(
        matches!(&e, Error::Rejected(m) if m == "sign-ups from blocked.example are closed"),
        "{e}"
    );
    let e = users.insert(user("panic@example.com")).await.unwrap_err();
    assert!(matches!(e, Error::HookFailed("before_insert_user")), "{e}");
    assert_eq!(
        users.list(None).await.unwrap().len(),
        1,
        "refused users were stored"
    );

    // The actor and address a caller names reach the hook.
    let addr: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    s.provider
        .users()
        .by(Actor::Admin("admin-1".into()))
        .from_addr(addr)
        .insert(NewUser {
            tenant_id: Some("acme".into()),
            ..user("bo@acme.example")
        })
        .await
        .unwrap();
    {
        let ctx = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(ctx.actor, Actor::Admin("admin-1".into()));
        assert_eq!(ctx.tenant.as_deref(), Some("acme"));
        assert_eq!(ctx.client_addr, Some(addr));
    }

    // Updates: the hook sees the stored user and may change or refuse the update.
    let upd = users
        .update(
            &u.id,
            UserUpdate {
                name: Some("Ada L.".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(upd.locale.as_deref(), Some("en"));
    users
        .update(
            &u.id,
            UserUpdate {
                email_verified: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = users
        .update(
            &u.id,
            UserUpdate {
                email: Some("new@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Rejected(_)), "{e}");
    assert_eq!(
        users.get(&u.id).await.unwrap().unwrap().email,
        "ada@example.com"
    );

    let c = s
        .provider
        .clients()
        .insert(NewClient {
            client_id: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(c.client.tenant_id.as_deref(), Some("default"));
    let clients = s.provider.clients();
    let c = clients
        .update(
            "svc",
            ClientUpdate {
                name: Some("  Worker  ".into()),
                first_party: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(c.name.as_deref(), Some("Worker"));
    let e = clients
        .update(
            "svc",
            ClientUpdate {
                first_party: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Rejected(m) if m == "first-party apps stay first-party"),
        "{e}"
    );
    assert!(clients.get("svc").await.unwrap().unwrap().first_party);
}

#[tokio::test]
async fn an_after_sign_in_hook_can_refuse_the_sign_in() {
    let seen: Arc<Mutex<Vec<HookContext>>> = Arc::default();
    let log = Arc::clone(&seen);
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), move |b| {
        b.after_sign_in(move |ctx, u| {
            let log = Arc::clone(&log);
            async move {
                log.lock().unwrap().push(ctx);
                match u.email.as_str() {
                    "locked@example.com" => {
                        Err("This account is locked by your administrator.".into())
                    }
                    "panic@example.com" => panic!("a bug in the hook"),
                    _ => Ok(()),
                }
            }
        })
    })
    .await;
    for email in ["ada@example.com", "locked@example.com", "panic@example.com"] {
        s.provider.users().insert(user(email)).await.unwrap();
    }
    web_client(&s, "web", true).await;
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];

    let b = Browser::new();
    let page = b.authorize(&s, &params).await;
    let page = b.login(&s, &page, "locked@example.com", PASSWORD).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body
            .contains("This account is locked by your administrator."),
        "{}",
        page.body
    );
    assert!(page.location.is_none());
    // No session: the next authorization request asks for a sign-in again.
    assert!(b.authorize(&s, &params).await.is_login_form());
    {
        let ctx = seen.lock().unwrap()[0].clone();
        assert_eq!(ctx.client_id.as_deref(), Some("web"));
        assert_eq!(ctx.client_addr, Some("127.0.0.1".parse().unwrap()));
        assert!(matches!(ctx.actor, Actor::User(_)));
    }

    let b = Browser::new();
    let page = b.authorize(&s, &params).await;
    let page = b.login(&s, &page, "panic@example.com", PASSWORD).await;
    assert_eq!(page.status, 500);
    assert!(!page.body.contains("bug"), "{}", page.body);

    let b = Browser::new();
    let page = b.authorize(&s, &params).await;
    let page = b.login(&s, &page, "ada@example.com", PASSWORD).await;
    assert!(page.redirect_params().contains_key("code"));
}

#[tokio::test]
async fn a_before_token_hook_adds_and_removes_custom_claims_within_the_rules() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.user_attributes(
            AttributeSchema::new()
                .attribute("plan", AttributeRule::new(AttributeType::String))
                .attribute("secret_note", AttributeRule::new(AttributeType::String)),
        )
        .claim(ClaimMapping::new("plan", "plan"))
        .claim(ClaimMapping::new("secret_note", "note").tokens([TokenKind::AccessToken]))
        .before_token(|ctx, t| async move {
            let mut claims = t.claims;
            match (t.kind, t.scope.contains("email")) {
                // A refusal and a rule-breaking hook, on demand of the test.
                (_, true)
                    if ctx.client_id.as_deref() == Some("web") && t.scope.contains("profile") =>
                {
                    claims.insert("sub".into(), json!("someone-else"));
                }
                (_, true) => return Err("no e-mail for this app".into()),
                (TokenKind::AccessToken, false) => {
                    claims.remove("note");
                    claims.insert("via".into(), json!(ctx.client_id));
                }
                _ => {}
            }
            Ok(claims)
        })
    })
    .await;
    s.provider
        .users()
        .insert(NewUser {
            attributes: json!({"plan": "pro", "secret_note": "do not leak"})
                .as_object()
                .unwrap()
                .clone(),
            ..user("ada@example.com")
        })
        .await
        .unwrap();
    web_client(&s, "web", true).await;

    let (status, t) = web_code_flow(&s, "openid").await;
    assert_eq!(status, 200, "{t}");
    let at = verify_with_jsonwebtoken(&s, t["access_token"].as_str().unwrap(), "api").await;
    assert_eq!(at["plan"], "pro");
    assert_eq!(at["via"], "web");
    assert!(at.get("note").is_none(), "{at}");

    let (status, body) = web_code_flow(&s, "openid email").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], "no e-mail for this app");

    // Setting a registered claim is a server error, and the token is not issued.
    let (status, body) = web_code_flow(&s, "openid email profile").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "server_error");
    assert!(body.get("access_token").is_none());
}
