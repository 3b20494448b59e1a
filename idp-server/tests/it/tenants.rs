//! Tenants as records: the management API, the look of the sign-in page and the scopes a
//! tenant allows, at the authorization and token endpoints.

use std::sync::Arc;

use idp_core::CodeVerifier;
use idp_server::Error;
use idp_server::manage::{NewClient, NewTenant, NewUser, TenantUpdate};
use idp_server::store::MemoryStore;

use crate::browser::{Browser, PASSWORD, REDIRECT};
use crate::common::TestServer;

fn acme() -> NewTenant {
    NewTenant {
        id: "acme".into(),
        display_name: Some("Acme <Corporation>".into()),
        logo_url: Some("https://cdn.acme.example/logo.svg".into()),
        allowed_scopes: Some(vec!["orders:read".into()]),
    }
}

#[tokio::test]
async fn tenants_are_validated_listed_and_updated() {
    let s = TestServer::start().await;
    let tenants = s.provider.tenants();
    let t = tenants.insert(acme()).await.unwrap();
    assert_eq!(t.display_name.as_deref(), Some("Acme <Corporation>"));
    assert!(matches!(
        tenants.insert(acme()).await,
        Err(Error::Conflict(_))
    ));
    for bad in [
        NewTenant {
            id: "a b".into(),
            ..Default::default()
        },
        NewTenant {
            id: "globex".into(),
            logo_url: Some("javascript:alert(1)".into()),
            ..Default::default()
        },
        NewTenant {
            id: "globex".into(),
            logo_url: Some("http://cdn.globex.example/logo.png".into()),
            ..Default::default()
        },
        NewTenant {
            id: "globex".into(),
            display_name: Some("line\nbreak".into()),
            ..Default::default()
        },
    ] {
        let e = tenants.insert(bad.clone()).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{bad:?}: {e}");
    }
    tenants
        .insert(NewTenant {
            id: "globex".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<String> = tenants
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["acme", "globex"]);
    let t = tenants
        .update(
            "acme",
            TenantUpdate {
                logo_url: Some(String::new()),
                allowed_scopes: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(t.logo_url, None);
    assert_eq!(t.allowed_scopes, None);
    assert_eq!(t.display_name.as_deref(), Some("Acme <Corporation>"));
    assert!(matches!(
        tenants.update("initech", TenantUpdate::default()).await,
        Err(Error::NotFound)
    ));
}

async fn setup(s: &TestServer) {
    s.provider.tenants().insert(acme()).await.unwrap();
    s.provider
        .users()
        .insert(NewUser {
            email: "road@acme.example".into(),
            password: Some(PASSWORD.into()),
            tenant_id: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "acme-web".into(),
            secret: Some("acme-web-secret".into()),
            tenant_id: Some("acme".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: ["openid", "orders:read", "orders:admin"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "client_credentials".into()],
            audiences: vec!["orders".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sign_in_page_shows_the_tenant_and_its_scopes_hold() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| b).await;
    setup(&s).await;
    let b = Browser::new();
    let v = CodeVerifier::generate();
    let ch = v.challenge();
    let params = |scope: &'static str| {
        vec![
            ("client_id", "acme-web"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st"),
            ("code_challenge", ch.as_str()),
            ("code_challenge_method", "S256"),
        ]
    };
    let page = b
        .authorize(&s, &params("openid orders:read orders:admin"))
        .await;
    assert!(page.is_login_form());
    // The tenant's name (escaped) and logo head the page, and its CSP lets the logo load.
    assert!(
        page.body.contains("Acme &lt;Corporation&gt;"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<img src="https:&#x2f;&#x2f;cdn.acme.example&#x2f;logo.svg""#)
            || page
                .body
                .contains(r#"<img src="https://cdn.acme.example/logo.svg""#),
        "{}",
        page.body
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' https://cdn.acme.example data:"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-eval"));

    // orders:admin is the client's but not the tenant's: dropped.
    let page = b.login(&s, &page, "road@acme.example", PASSWORD).await;
    let code = page.code();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("acme-web", "acme-web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", v.secret()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid orders:read");

    // The consent page of a third-party client of the tenant shows the tenant too.
    s.provider
        .clients()
        .insert(NewClient {
            client_id: "acme-partner".into(),
            secret: Some("p-secret".into()),
            tenant_id: Some("acme".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["openid".into(), "orders:read".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let consent = b
        .authorize(
            &s,
            &[
                ("client_id", "acme-partner"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid orders:read"),
            ],
        )
        .await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    assert!(
        consent.body.contains("Acme &lt;Corporation&gt;"),
        "{}",
        consent.body
    );

    // Nothing the tenant allows: the error goes back to the client.
    let page = b.authorize(&s, &params("orders:admin")).await;
    assert_eq!(page.redirect_params()["error"], "invalid_scope");

    // client_credentials: asked for, refused; not asked for, narrowed.
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("acme-web", "acme-web-secret")),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:admin"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("acme-web", "acme-web-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "orders:read");

    // The tenant's scopes are cached like clients; a change here applies at once.
    s.provider
        .tenants()
        .update(
            "acme",
            TenantUpdate {
                allowed_scopes: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("acme-web", "acme-web-secret")),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:admin"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "orders:admin");
}

#[tokio::test]
async fn scopes_supported_when_set_is_enforced() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    // Registered while any scope was allowed.
    let open = TestServer::start_with(store.clone(), |b| b).await;
    open.provider
        .clients()
        .insert(NewClient {
            client_id: "legacy".into(),
            secret: Some("legacy-secret".into()),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: ["openid", "orders:read", "orders:write"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "client_credentials".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    open.provider
        .users()
        .insert(NewUser {
            email: "ada@example.com".into(),
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    open.stop().await;

    let s = TestServer::start_with(store, |b| {
        b.scopes_supported(["openid", "profile", "orders:read"])
    })
    .await;
    let (_, _, d) = s.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        d["scopes_supported"],
        serde_json::json!(["openid", "orders:read", "profile"])
    );
    // Registration: only known scopes.
    let e = s
        .provider
        .clients()
        .insert(NewClient {
            client_id: "new".into(),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["orders:write".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("`orders:write` is not in scopes_supported")),
        "{e}"
    );
    let e = s
        .provider
        .tenants()
        .insert(NewTenant {
            id: "t".into(),
            allowed_scopes: Some(vec!["admin".into()]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");

    // Requests: dropped at the authorization endpoint, refused at the token endpoint.
    let b = Browser::new();
    let page = b
        .authorize(
            &s,
            &[
                ("client_id", "legacy"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid orders:read orders:write"),
            ],
        )
        .await;
    let page = b.login(&s, &page, "ada@example.com", PASSWORD).await;
    let code = page.code();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("legacy", "legacy-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid orders:read");
    let cc = |scope: Option<&'static str>| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|s| ("scope", s)));
        let s = &s;
        async move {
            s.post_form("/oauth/token", Some(("legacy", "legacy-secret")), &form)
                .await
        }
    };
    let (status, _, body) = cc(Some("orders:write")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (status, _, body) = cc(None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid orders:read");
}
