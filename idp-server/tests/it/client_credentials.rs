//! `grant_type=client_credentials` and the token endpoint's error handling.

use crate::common::{TestServer, verify_with_jsonwebtoken};

type Form<'a> = Vec<(&'a str, &'a str)>;
type Basic<'a> = Option<(&'a str, &'a str)>;

#[tokio::test]
async fn token_verifies_independently_with_jsonwebtoken_and_the_jwks() {
    let s = TestServer::start().await;
    let secret = s.service_client("worker").await;
    let (status, headers, body) = s
        .post_form(
            "/oauth/token",
            Some(("worker", &secret)),
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "read");
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let claims = verify_with_jsonwebtoken(&s, token, "api").await;
    assert_eq!(claims["iss"], s.base);
    assert_eq!(claims["sub"], "worker");
    assert_eq!(claims["client_id"], "worker");
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["token_use"], "service");
    assert_eq!(claims["aud"], serde_json::json!(["api", "other-api"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].as_str().unwrap().len() >= 32);
    s.stop().await;
}

#[tokio::test]
async fn both_client_authentication_methods() {
    let s = TestServer::start().await;
    s.service_client("basic-client").await;
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "post-client".into(),
            secret: Some("post-secret".into()),
            token_endpoint_auth_method: Some("client_secret_post".into()),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["read".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    s.cc_token("basic-client", &[]).await;
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "post-client"),
                ("client_secret", "post-secret"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Audience defaults to the client itself when it has none registered.
    let claims =
        verify_with_jsonwebtoken(&s, body["access_token"].as_str().unwrap(), "post-client").await;
    assert_eq!(claims["scope"], "read");
    // A client registered for one method cannot use the other.
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("post-client", "post-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Percent-encoded credentials in Basic (RFC 6749 §2.3.1).
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "odd".into(),
            secret: Some("p@ss word:%".into()),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("odd", "p%40ss+word%3A%25")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

fn assert_error(status: u16, body: &serde_json::Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], code, "{body}");
}

#[tokio::test]
async fn client_errors_are_invalid_client_401_with_basic_challenge() {
    let s = TestServer::start().await;
    let secret = s.service_client("worker").await;
    s.service_client("disabled").await;
    s.provider.clients().disable("disabled").await.unwrap();
    let cases: Vec<(Basic<'_>, Form<'_>)> = vec![
        (Some(("worker", "wrong")), vec![]),
        (Some(("nobody", "x")), vec![]),
        (Some(("disabled", "disabled-secret")), vec![]),
        (None, vec![]),
        (
            None,
            vec![("client_id", "worker"), ("client_secret", secret.as_str())],
        ),
        (None, vec![("client_id", "worker")]),
    ];
    for (basic, extra) in cases {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(extra);
        let (status, headers, body) = s.post_form("/oauth/token", basic, &form).await;
        assert_error(status, &body, 401, "invalid_client");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
    s.stop().await;
}

#[tokio::test]
async fn request_errors_get_the_rfc_error_never_a_5xx() {
    let s = TestServer::start().await;
    let secret = s.service_client("worker").await;
    let auth = Some(("worker", secret.as_str()));
    let cases: Vec<(Form<'_>, u16, &str)> = vec![
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "urn:example:unknown")],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            400,
            "unauthorized_client",
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", "admin")],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "bad\"scope"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("resource", "https://evil.example"),
            ],
            400,
            "invalid_target",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("scope", "write"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            400,
            "invalid_request",
        ),
        (vec![("scope", "read")], 400, "invalid_request"),
    ];
    for (form, want, code) in cases {
        let (status, headers, body) = s.post_form("/oauth/token", auth, &form).await;
        assert_error(status, &body, want, code);
        assert_eq!(headers["cache-control"], "no-store");
    }
    // Malformed bodies.
    let raw = |ct: &'static str, body: Vec<u8>| {
        s.http
            .post(s.url("/oauth/token"))
            .basic_auth("worker", Some(&secret))
            .header("content-type", ct)
            .body(body)
    };
    for req in [
        raw(
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        raw("text/plain", b"grant_type=client_credentials".to_vec()),
        raw(
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'=', 0x80],
        ),
        raw("application/x-www-form-urlencoded", b"%%%&&&===".to_vec()),
        raw("application/x-www-form-urlencoded", vec![b'a'; 100 * 1024]),
    ] {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "got {status}");
        if status == 400 {
            let body: serde_json::Value = resp.json().await.unwrap();
            assert!(body["error"].is_string(), "{body}");
        }
    }
    // A garbled Authorization header.
    let resp = s
        .http
        .post(s.url("/oauth/token"))
        .header("authorization", "Basic !!!not-base64")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Basic plus a secret in the body: two methods at once.
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            auth,
            &[("grant_type", "client_credentials"), ("client_secret", "x")],
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    // GET is not allowed on the token endpoint.
    let resp = s.http.get(s.url("/oauth/token")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    s.stop().await;
}

#[tokio::test]
async fn scope_and_audience_selection() {
    let s = TestServer::start().await;
    s.service_client("worker").await;
    // No scope → the client's allowed scopes.
    let (_, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("worker", "worker-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(body["scope"], "read write");
    // RFC 8707 resource narrows the audience.
    let t = s.cc_token("worker", &[("resource", "other-api")]).await;
    let claims = verify_with_jsonwebtoken(&s, &t, "other-api").await;
    assert_eq!(claims["aud"], "other-api");
    // A client without client_credentials cannot use it.
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "web".into(),
            secret: Some("web-secret".into()),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, _, body) = s
        .post_form(
            "/oauth/token",
            Some(("web", "web-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_error(status, &body, 400, "unauthorized_client");
    s.stop().await;
}

#[tokio::test]
async fn tenant_claim_comes_from_the_client() {
    let s = TestServer::start().await;
    s.provider
        .clients()
        .insert(idp_server::manage::NewClient {
            client_id: "acme-worker".into(),
            secret: Some("acme-worker-secret".into()),
            grant_types: vec!["client_credentials".into()],
            audiences: vec!["api".into()],
            tenant_id: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let t = s.cc_token("acme-worker", &[]).await;
    let claims = verify_with_jsonwebtoken(&s, &t, "api").await;
    assert_eq!(claims["tenant"], "acme");
    s.stop().await;
}

/// The `oauth2` crate, as an independent client, runs the client-credentials flow.
#[tokio::test]
async fn oauth2_crate_client_credentials_flow() {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
    let s = TestServer::start().await;
    let secret = s.service_client("worker").await;
    let client = BasicClient::new(ClientId::new("worker".into()))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(s.url("/oauth/token")).unwrap());
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("write".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert_eq!(token.expires_in().unwrap().as_secs(), 900);
    assert_eq!(
        token
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["write"]
    );
    let claims = verify_with_jsonwebtoken(&s, token.access_token().secret(), "api").await;
    assert_eq!(claims["scope"], "write");

    // And an error comes back typed.
    let bad = BasicClient::new(ClientId::new("worker".into()))
        .set_client_secret(ClientSecret::new("nope".into()))
        .set_token_uri(TokenUrl::new(s.url("/oauth/token")).unwrap());
    let err = bad
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap_err();
    match err {
        oauth2::RequestTokenError::ServerResponse(r) => {
            assert_eq!(r.error().as_ref(), "invalid_client")
        }
        other => panic!("unexpected {other:?}"),
    }
    s.stop().await;
}

/// Through the provider, a disabled client or a rotated secret takes effect at once,
/// whatever the client cache holds.
#[tokio::test]
async fn a_disabled_client_or_rotated_secret_is_refused_at_once() {
    let s = TestServer::start().await;
    s.service_client("svc").await;
    let token = |secret: String| {
        let s = &s;
        async move {
            s.post_form(
                "/oauth/token",
                Some(("svc", &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .0
        }
    };
    assert_eq!(token("svc-secret".into()).await, 200);
    let new = s.provider.clients().rotate_secret("svc").await.unwrap();
    assert_eq!(token("svc-secret".into()).await, 401);
    assert_eq!(token(new.secret().to_owned()).await, 200);
    s.provider.clients().disable("svc").await.unwrap();
    assert_eq!(token(new.secret().to_owned()).await, 401);
    s.provider.clients().enable("svc").await.unwrap();
    assert_eq!(token(new.secret().to_owned()).await, 200);
    s.stop().await;
}
