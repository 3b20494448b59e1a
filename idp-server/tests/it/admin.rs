//! The management HTTP API (`/admin/api/v1/`): its authorisation (no token, wrong
//! audience, wrong scope, another tenant), its records and its error shape.

use idp_server::manage::NewClient;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestServer;

/// A client_credentials token of a new service client with `scope`, `audience` and
/// `tenant`.
async fn admin_token(
    s: &TestServer,
    id: &str,
    scope: &str,
    audience: &str,
    tenant: Option<&str>,
) -> String {
    s.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            secret: Some(format!("{id}-secret").as_str().into()),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec![scope.into()],
            audiences: vec![audience.into()],
            tenant_id: tenant.map(str::to_owned),
            ..Default::default()
        })
        .await
        .unwrap();
    s.cc_token(id, &[("scope", scope)]).await
}

async fn call(
    s: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s
        .http
        .request(method, s.url(&format!("/admin/api/v1{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn only_admin_tokens_for_the_admin_api_get_in() {
    let s = TestServer::start().await;
    let aud = s.url("/admin/api");
    let (status, headers, body) = call(&s, None, Method::GET, "/users", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let (status, _, body) = call(&s, Some("not-a-jwt"), Method::GET, "/users", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );

    // idp:admin, but for another API.
    let other = admin_token(&s, "other-api", "idp:admin", "orders", None).await;
    let (status, _, body) = call(&s, Some(&other), Method::GET, "/users", None).await;
    assert_eq!(status, 401, "{body}");
    // The admin API's audience, without an admin scope.
    let reader = admin_token(&s, "reader", "read", &aud, None).await;
    let (status, headers, body) = call(&s, Some(&reader), Method::GET, "/users", None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    // A tenant admin without a tenant.
    let no_tenant = admin_token(&s, "lost", "idp:tenant-admin", &aud, None).await;
    let (status, _, _) = call(&s, Some(&no_tenant), Method::GET, "/users", None).await;
    assert_eq!(status, 403);
    // A disabled admin client's token stops working at once.
    let root = admin_token(&s, "root", "idp:admin", &aud, None).await;
    assert_eq!(
        call(&s, Some(&root), Method::GET, "/users", None).await.0,
        200
    );
    s.provider.clients().disable("root").await.unwrap();
    assert_eq!(
        call(&s, Some(&root), Method::GET, "/users", None).await.0,
        401
    );
}

#[tokio::test]
async fn users_clients_and_tenants_within_reach() {
    let s = TestServer::start().await;
    let aud = s.url("/admin/api");
    let root = admin_token(&s, "root", "idp:admin", &aud, None).await;
    let acme = admin_token(&s, "acme-admin", "idp:tenant-admin", &aud, Some("acme")).await;
    let root = Some(root.as_str());
    let acme = Some(acme.as_str());

    // Tenants: only idp:admin registers them.
    for id in ["acme", "globex"] {
        let (status, _, body) = call(
            &s,
            root,
            Method::POST,
            "/tenants",
            Some(json!({"id": id, "display_name": id.to_uppercase()})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _, _) = call(
        &s,
        acme,
        Method::POST,
        "/tenants",
        Some(json!({"id": "initech"})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, _, list) = call(&s, acme, Method::GET, "/tenants", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (status, _, t) = call(
        &s,
        acme,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"display_name": "Acme Corp"})),
    )
    .await;
    assert_eq!(
        (status, t["display_name"].as_str()),
        (200, Some("Acme Corp"))
    );
    let (status, _, _) = call(
        &s,
        acme,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"allowed_scopes": ["x"]})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        call(&s, acme, Method::GET, "/tenants/globex", None).await.0,
        404
    );

    // Users: root places them anywhere; the tenant admin only in acme.
    let (status, _, g) = call(&s, root, Method::POST, "/users", Some(json!({"email": "hank@globex.example", "tenant": "globex", "password": "correct horse battery"}))).await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(g["has_password"], true);
    assert!(g.get("password_hash").is_none() && !g.to_string().contains("argon2"));
    let (status, _, a) = call(
        &s,
        acme,
        Method::POST,
        "/users",
        Some(json!({"email": "road@acme.example"})),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["tenant"], "acme");
    let (status, _, body) = call(
        &s,
        acme,
        Method::POST,
        "/users",
        Some(json!({"email": "x@globex.example", "tenant": "globex"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (_, _, list) = call(&s, acme, Method::GET, "/users", None).await;
    let emails: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["road@acme.example"]);
    assert_eq!(
        call(&s, acme, Method::GET, "/users?tenant=globex", None)
            .await
            .0,
        403
    );
    let gid = g["id"].as_str().unwrap();
    for (m, path) in [
        (Method::GET, format!("/users/{gid}")),
        (Method::DELETE, format!("/users/{gid}")),
        (Method::POST, format!("/users/{gid}/disable")),
    ] {
        assert_eq!(call(&s, acme, m, &path, None).await.0, 404, "{path}");
    }
    assert!(s.provider.users().get(gid).await.unwrap().unwrap().active);
    let (_, _, all) = call(&s, root, Method::GET, "/users", None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // Errors keep one shape and name the problem.
    let (status, _, body) = call(
        &s,
        acme,
        Method::POST,
        "/users",
        Some(json!({"email": "road@acme.example"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, _, body) = call(
        &s,
        acme,
        Method::POST,
        "/users",
        Some(json!({"email": "no-at-sign"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_input")),
        "{body}"
    );
    let (status, _, body) = call(
        &s,
        acme,
        Method::POST,
        "/users",
        Some(json!({"email": "a@acme.example", "admin": true})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("admin"),
        "{body}"
    );

    // Update, password, disable, delete.
    let aid = a["id"].as_str().unwrap();
    let (status, _, u) = call(
        &s,
        acme,
        Method::PATCH,
        &format!("/users/{aid}"),
        Some(json!({"name": "Road Runner", "attributes": {"team": "birds"}})),
    )
    .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["attributes"]["team"], "birds");
    let (status, _, u) = call(
        &s,
        acme,
        Method::POST,
        &format!("/users/{aid}/password"),
        Some(json!({"password": "meep meep meep"})),
    )
    .await;
    assert_eq!((status, u["has_password"].as_bool()), (200, Some(true)));
    let (status, _, u) = call(
        &s,
        acme,
        Method::POST,
        &format!("/users/{aid}/disable"),
        None,
    )
    .await;
    assert_eq!((status, u["active"].as_bool()), (200, Some(false)));
    assert_eq!(
        call(&s, acme, Method::DELETE, &format!("/users/{aid}"), None)
            .await
            .0,
        204
    );
    assert!(s.provider.users().get(aid).await.unwrap().is_none());

    // Clients: the secret is shown once, at creation and at rotation.
    let (status, _, c) = call(&s, acme, Method::POST, "/clients", Some(json!({"client_id": "acme-worker", "grant_types": ["client_credentials"], "allowed_scopes": ["read"]}))).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["tenant"], "acme");
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    let (status, _, got) = call(&s, acme, Method::GET, "/clients/acme-worker", None).await;
    assert_eq!(status, 200);
    assert!(got.get("client_secret").is_none());
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("acme-worker", &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, c) = call(
        &s,
        acme,
        Method::PATCH,
        "/clients/acme-worker",
        Some(json!({"name": "Acme worker"})),
    )
    .await;
    assert_eq!((status, c["name"].as_str()), (200, Some("Acme worker")));
    let (_, _, r) = call(&s, acme, Method::POST, "/clients/acme-worker/secret", None).await;
    let rotated = r["client_secret"].as_str().unwrap();
    assert_ne!(rotated, secret);
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("acme-worker", &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 401, "the old secret still works");
    assert_eq!(
        call(&s, acme, Method::GET, "/clients/root", None).await.0,
        404
    );
    let (_, _, list) = call(&s, acme, Method::GET, "/clients", None).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-admin", "acme-worker"]);
    assert_eq!(
        call(&s, acme, Method::DELETE, "/clients/acme-worker", None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn lists_come_in_pages() {
    let s = TestServer::start().await;
    let root = admin_token(&s, "root", "idp:admin", &s.url("/admin/api"), None).await;
    for i in 0..5 {
        let (status, _, _) = call(
            &s,
            Some(&root),
            Method::POST,
            "/users",
            Some(json!({"email": format!("u{i}@example.com")})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/users?limit=2&cursor={c}"),
            None => "/users?limit=2".into(),
        };
        let (status, _, page) = call(&s, Some(&root), Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for u in page["items"].as_array().unwrap() {
            seen.push(u["email"].as_str().unwrap().to_owned());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("u{i}@example.com"))
            .collect::<Vec<_>>()
    );
    let (status, _, body) = call(&s, Some(&root), Method::GET, "/users?limit=many", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_input"))
    );
}

/// The OpenAPI document lists every operation, and every operation it lists exists (it
/// answers 401 without a token, not 404 or 405).
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let s = TestServer::start().await;
    let (status, _, doc) = s.get_json("/admin/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], s.url("/admin/api/v1"));
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            operations += 1;
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete = path.replace("{id}", "x");
            let (status, _, body) = call(&s, None, m, &concrete, Some(json!({}))).await;
            assert_eq!(status, 401, "{method} {path}: {body}");
        }
    }
    assert_eq!(operations, 20);
}
