//! The management API: validation, hooks, tenants, secrets.

use std::sync::Arc;

use idp_server::Error;
use idp_server::manage::{NewClient, NewUser, UserUpdate};
use idp_server::store::MemoryStore;

use crate::common::TestServer;

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password: Some("long enough password".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn user_validation_and_uniqueness_per_tenant() {
    let s = TestServer::start().await;
    let users = s.provider.users();
    for bad in [
        "",
        "not-an-email",
        "a@b",
        "two@@example.com",
        "sp ace@example.com",
    ] {
        assert!(
            matches!(users.insert(user(bad)).await, Err(Error::InvalidInput(_))),
            "{bad}"
        );
    }
    let short = NewUser {
        password: Some("short".into()),
        ..user("short@example.com")
    };
    assert!(matches!(
        users.insert(short).await,
        Err(Error::InvalidInput(_))
    ));

    let ada = users.insert(user("Ada@Example.com")).await.unwrap();
    assert!(
        ada.password_hash
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with("$argon2id$")
    );
    assert!(
        !format!("{ada:?}").contains("argon2id"),
        "hash in Debug output"
    );
    let dup = users.insert(user("ada@example.COM")).await.unwrap_err();
    assert!(matches!(dup, Error::Conflict(_)), "{dup}");
    // The same address in another tenant is another user.
    let other = users
        .insert(NewUser {
            tenant_id: Some("acme".into()),
            ..user("ada@example.com")
        })
        .await
        .unwrap();
    assert_ne!(other.id, ada.id);
    assert_eq!(users.list(Some("acme")).await.unwrap().len(), 1);
    assert_eq!(users.list(None).await.unwrap().len(), 2);

    // Password checks: right, wrong, disabled.
    let pw = "long enough password".into();
    assert!(
        users
            .verify_password(None, "ada@example.com", &pw)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        users
            .verify_password(None, "ada@example.com", &"nope-nope".into())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .verify_password(None, "nobody@example.com", &pw)
            .await
            .unwrap()
            .is_none()
    );
    users.disable(&ada.id).await.unwrap();
    assert!(
        users
            .verify_password(None, "ada@example.com", &pw)
            .await
            .unwrap()
            .is_none()
    );
    users.enable(&ada.id).await.unwrap();
    users
        .set_password(&ada.id, "another long password".into())
        .await
        .unwrap();
    assert!(
        users
            .verify_password(None, "ada@example.com", &pw)
            .await
            .unwrap()
            .is_none()
    );

    let updated = users
        .update(
            &ada.id,
            UserUpdate {
                name: Some("Ada Lovelace".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Ada Lovelace"));
    assert!(matches!(
        users.update("missing", UserUpdate::default()).await,
        Err(Error::NotFound)
    ));
    users.delete(&ada.id).await.unwrap();
    assert!(users.get(&ada.id).await.unwrap().is_none());
    s.stop().await;
}

#[tokio::test]
async fn client_validation() {
    let s = TestServer::start().await;
    let clients = s.provider.clients();
    let with_redirect = |uri: &str| NewClient {
        client_id: "web".into(),
        redirect_uris: vec![uri.into()],
        ..Default::default()
    };
    for bad in [
        "/relative/callback",
        "https://app.example.com/cb#fragment",
        "http://app.example.com/cb",
        "javascript:alert(1)",
    ] {
        let e = clients.insert(with_redirect(bad)).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e}");
    }
    let e = clients
        .insert(NewClient {
            client_id: "x".into(),
            grant_types: vec!["implicit".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("grant type"), "{e}");
    let e = clients
        .insert(NewClient {
            client_id: "spa".into(),
            public: true,
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)));
    assert!(
        clients.insert(NewClient::default()).await.is_err(),
        "empty client_id"
    );

    // Loopback http is fine; a generated secret is returned once and works.
    let created = clients
        .insert(with_redirect("http://127.0.0.1:8080/cb"))
        .await
        .unwrap();
    assert!(created.generated_secret.is_some());
    assert!(matches!(
        clients
            .insert(with_redirect("http://127.0.0.1:8080/cb"))
            .await,
        Err(Error::Conflict(_))
    ));

    // The insecure option allows http elsewhere.
    let lax = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.insecure_allow_http_redirect_uris()
    })
    .await;
    lax.provider
        .clients()
        .insert(with_redirect("http://intranet.example/cb"))
        .await
        .unwrap();
    lax.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn rotate_secret_disable_and_delete_take_effect_at_once() {
    let s = TestServer::start().await;
    let old = s.service_client("worker").await;
    s.cc_token("worker", &[]).await; // the old secret is now cached as verified
    let new = s.provider.clients().rotate_secret("worker").await.unwrap();
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("worker", &old)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 401, "old secret still accepted after rotation");
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("worker", new.secret())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200);
    s.provider.clients().disable("worker").await.unwrap();
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("worker", new.secret())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 401, "disabled client still gets tokens");
    s.provider.clients().delete("worker").await.unwrap();
    assert!(s.provider.clients().get("worker").await.unwrap().is_none());
    s.stop().await;
}

#[tokio::test]
async fn before_insert_hooks_assign_tenants_and_reject() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.before_insert_user(|_ctx, mut u| async move {
            let domain = u.email.rsplit_once('@').map(|(_, d)| d.to_owned());
            match domain.as_deref() {
                Some("acme.example") => u.tenant_id = Some("acme".into()),
                Some("globex.example") => u.tenant_id = Some("globex".into()),
                _ => return Err("unknown organisation".into()),
            }
            Ok(u)
        })
        .before_insert_client(|_ctx, mut c| async move {
            if c.tenant_id.is_none() {
                c.tenant_id = Some("acme".into());
            }
            Ok(c)
        })
    })
    .await;
    let u = s
        .provider
        .users()
        .insert(user("wile@acme.example"))
        .await
        .unwrap();
    assert_eq!(u.tenant_id.as_deref(), Some("acme"));
    let g = s
        .provider
        .users()
        .insert(user("hank@globex.example"))
        .await
        .unwrap();
    assert_eq!(g.tenant_id.as_deref(), Some("globex"));
    let e = s
        .provider
        .users()
        .insert(user("eve@evil.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Rejected(ref m) if m == "unknown organisation"),
        "{e}"
    );
    assert_eq!(
        s.provider.users().list(Some("acme")).await.unwrap().len(),
        1
    );
    let c = s
        .provider
        .clients()
        .insert(NewClient {
            client_id: "acme-app".into(),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(c.client.tenant_id.as_deref(), Some("acme"));
    s.stop().await;
}

#[tokio::test]
async fn page_templates_can_be_overridden_and_broken_ones_fail_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("login.html"),
        r#"{% extends "base.html" %}{% block content %}<h1>Welcome to ACME</h1><form method="post" action="{{ action }}"><input type="hidden" name="csrf_token" value="{{ csrf }}"><input id="password" name="password"></form>{% endblock %}"#,
    )
    .unwrap();
    let d = dir.path().to_owned();
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), move |b| b.templates_dir(d)).await;
    crate::browser::web_client(&s, "web", true).await;
    let page = crate::browser::Browser::new()
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
    assert!(page.body.contains("Welcome to ACME"), "{}", page.body);
    s.stop().await;

    std::fs::write(dir.path().join("consent.html"), "{% if %}").unwrap();
    let err = idp_server::Provider::builder()
        .issuer("http://localhost:4000")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(crate::common::KEY)
        .templates_dir(dir.path())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("consent.html")),
        "{err}"
    );
}
