//! The relying-party flows against the fake: authorization URL and callback, code exchange
//! with ID-token checks, refresh with rotation, revocation, introspection, userinfo, client
//! authentication methods.

use std::collections::HashMap;

use idp_client::idp_core::{
    AccessToken, Algorithm, Error as CoreError, ErrorCode, IdTokenClaims, RefreshToken, TokenError,
    TokenTypeHint, at_hash,
};
use idp_client::{CallbackError, Client, ClientAuth, Error, PendingAuthorization};
use serde_json::{Value, json};

use crate::fake::{Fake, Reply, T0, sign};

fn id_token(fake: &Fake, nonce: Option<&str>, access_token: Option<&str>, extra: Value) -> String {
    let mut claims = json!({
        "iss": fake.issuer, "sub": "user-1", "aud": "web", "iat": T0, "exp": T0 + 300,
        "email": "ada@example.com",
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(at) = access_token {
        claims["at_hash"] = json!(at_hash(at, Algorithm::ES256));
    }
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign(Some("k1"), &claims)
}

/// Runs the front-channel part: build the URL, simulate the provider's redirect back.
fn authorize(client: &Client) -> (PendingAuthorization, String) {
    let (url, pending) = client
        .authorization_request()
        .scope("openid email")
        .build()
        .unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    let callback = format!(
        "http://127.0.0.1/cb?code=good-code&state={}&iss={}",
        q["state"],
        url::form_urlencoded::byte_serialize(client.metadata().issuer.as_bytes())
            .collect::<String>()
    );
    (pending, callback)
}

fn code_reply(fake: &Fake, id_token: String) -> Reply {
    Reply::json(
        200,
        json!({"access_token": "at-good", "token_type": "Bearer", "expires_in": 300,
               "refresh_token": "rt-1", "scope": "openid email", "id_token": id_token}),
    )
    .header("cache-control", "no-store")
    .header("x-fake", &fake.issuer)
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_and_id_token() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("web-secret"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    let raw_id_token = id_token(&fake, pending.nonce(), Some("at-good"), json!({}));
    fake.state.script(code_reply(&fake, raw_id_token.clone()));
    let set = client.exchange_code(&pending, code).send().await.unwrap();
    let dbg = format!("{set:?} {pending:?}");
    for secret in [
        "at-good",
        "rt-1",
        &raw_id_token,
        pending.code_verifier().secret(),
    ] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
    assert_eq!(set.tokens.access_token.secret(), "at-good");
    assert_eq!(set.tokens.refresh_token.as_ref().unwrap().secret(), "rt-1");
    let claims = set.id_token_claims.unwrap();
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.profile.email.as_deref(), Some("ada@example.com"));

    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "good-code");
    assert_eq!(form["code_verifier"], pending.code_verifier().secret());
    assert_eq!(form["redirect_uri"], "http://127.0.0.1/cb");
    assert!(!form.contains_key("client_secret"));
    assert!(fake.state.last_token_auth().unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn callback_checks() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    let (pending, _) = authorize(&client);
    let err = |q: &str| match client.validate_callback(&pending, q) {
        Err(Error::Callback(e)) => e,
        other => panic!("expected a callback error, got {other:?}"),
    };
    assert_eq!(err("code=c&state=forged"), CallbackError::StateMismatch);
    let st = pending.state();
    assert_eq!(
        err(&format!(
            "code=c&state={st}&iss=https%3A%2F%2Fother.example"
        )),
        CallbackError::IssuerMismatch
    );
    match err(&format!(
        "error=login_required&error_description=no+session&state={st}"
    )) {
        CallbackError::Authorization(e) => {
            assert_eq!(e.error, ErrorCode::LoginRequired);
            assert_eq!(e.error_description.as_deref(), Some("no session"));
        }
        other => panic!("{other:?}"),
    }
    let e = client
        .validate_callback(&pending, &format!("error=access_denied&state={st}"))
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, ErrorCode::AccessDenied);
    // iss absent is fine unless the provider says it always sends it.
    assert!(
        client
            .validate_callback(&pending, &format!("code=c&state={st}"))
            .is_ok()
    );
    let mut m = fake.metadata();
    m.authorization_response_iss_parameter_supported = Some(true);
    let strict = Client::builder(m, "web").build().unwrap();
    assert!(matches!(
        strict.validate_callback(&pending, &format!("code=c&state={st}")),
        Err(Error::Callback(CallbackError::MissingIssuer))
    ));
}

fn token_error(e: &Error) -> &TokenError {
    match e {
        Error::Token(CoreError::InvalidToken(t)) => t,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    fake.state.script(code_reply(
        &fake,
        id_token(&fake, Some("another-nonce"), Some("at-good"), json!({})),
    ));
    let err = client
        .exchange_code(&pending, code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(token_error(&err), &TokenError::NonceMismatch);
    assert!(err.is_token_rejected());
}

#[tokio::test]
async fn missing_nonce_is_refused() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    fake.state.script(code_reply(
        &fake,
        id_token(&fake, None, Some("at-good"), json!({})),
    ));
    let err = client
        .exchange_code(&pending, code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(token_error(&err), &TokenError::NonceMismatch);
}

#[tokio::test]
async fn at_hash_mismatch_is_refused() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    fake.state.script(code_reply(
        &fake,
        id_token(
            &fake,
            pending.nonce(),
            Some("some-other-access-token"),
            json!({}),
        ),
    ));
    let err = client
        .exchange_code(&pending, code)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AtHashMismatch), "{err:?}");
    assert!(err.is_token_rejected());
}

#[tokio::test]
async fn openid_exchange_without_id_token_is_refused() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at-good", "token_type": "Bearer"}),
    ));
    let err = client
        .exchange_code(&pending, code)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn provider_errors_are_typed() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let (pending, callback) = authorize(&client);
    let code = client.validate_callback(&pending, &callback).unwrap();
    fake.state.script(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "code already used"}),
    ));
    let err = client
        .exchange_code(&pending, code)
        .send()
        .await
        .unwrap_err();
    let body = err.oauth_error().unwrap();
    assert_eq!(body.error, ErrorCode::InvalidGrant);
    assert_eq!(body.error_description.as_deref(), Some("code already used"));
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_token_rejected());
}

#[tokio::test]
async fn verify_id_token_checks_azp_audience_and_expiry() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    let ok = id_token(
        &fake,
        Some("n"),
        None,
        json!({"aud": ["web", "api"], "azp": "web"}),
    );
    let c: IdTokenClaims = client.verify_id_token(&ok).nonce("n").send().await.unwrap();
    assert_eq!(c.azp.as_deref(), Some("web"));

    let cases = [
        (
            json!({"aud": ["web", "api"], "azp": "api"}),
            TokenError::WrongAuthorizedParty,
        ),
        (
            json!({"aud": ["web", "api"]}),
            TokenError::WrongAuthorizedParty,
        ),
        (json!({"aud": "someone-else"}), TokenError::WrongAudience),
        (
            json!({"iss": "https://evil.example"}),
            TokenError::WrongIssuer,
        ),
        (json!({"exp": T0 - 3600}), TokenError::Expired),
    ];
    for (extra, expected) in cases {
        let t = id_token(&fake, None, None, extra.clone());
        let err = client
            .verify_id_token(&t)
            .claims::<Value>()
            .send()
            .await
            .unwrap_err();
        assert_eq!(token_error(&err), &expected, "{extra}");
    }
    // at_hash is checked only when the token carries one and an access token is given.
    let t = id_token(&fake, None, Some("at-good"), json!({}));
    let at = AccessToken::new("at-good");
    client
        .verify_id_token(&t)
        .access_token(&at)
        .claims::<Value>()
        .send()
        .await
        .unwrap();
    client
        .verify_id_token(&t)
        .claims::<Value>()
        .send()
        .await
        .unwrap();
    let wrong = AccessToken::new("other");
    assert!(matches!(
        client
            .verify_id_token(&t)
            .access_token(&wrong)
            .claims::<Value>()
            .send()
            .await,
        Err(Error::AtHashMismatch)
    ));
}

#[tokio::test]
async fn refresh_returns_the_rotated_token() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::post("web-secret"));
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 300, "refresh_token": "rt-2"}),
    ));
    let rt = RefreshToken::new("rt-1");
    let set = client
        .refresh(&rt)
        .scope("openid".parse().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(set.tokens.refresh_token.unwrap().secret(), "rt-2");
    assert!(set.id_token_claims.is_none());
    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert_eq!(form["scope"], "openid");
    assert_eq!(form["client_id"], "web");
    assert_eq!(form["client_secret"], "web-secret");
    assert!(fake.state.last_token_auth().is_none());

    // No rotation: keep using the token sent.
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at-3", "token_type": "Bearer"}),
    ));
    let set = client
        .refresh(&RefreshToken::new("rt-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.tokens.refresh_token.unwrap().secret(), "rt-2");

    // A refreshed ID token is verified too.
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at-4", "token_type": "Bearer",
               "id_token": id_token(&fake, None, Some("at-4"), json!({}))}),
    ));
    let set = client
        .refresh(&RefreshToken::new("rt-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.id_token_claims.unwrap().sub, "user-1");

    // Reuse of a rotated token: the provider's invalid_grant comes back typed.
    fake.state
        .script(Reply::json(400, json!({"error": "invalid_grant"})));
    let err = client.refresh(&rt).send().await.unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn public_clients_send_only_their_id() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at", "token_type": "Bearer", "refresh_token": "rt-9"}),
    ));
    client
        .refresh(&RefreshToken::new("rt-8"))
        .send()
        .await
        .unwrap();
    let form = fake.state.last_token_form();
    assert_eq!(form["client_id"], "web");
    assert!(!form.contains_key("client_secret"));
    assert!(fake.state.last_token_auth().is_none());
}

#[tokio::test]
async fn revoke_sends_the_token_type_hint() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    client.revoke(&RefreshToken::new("rt-1")).await.unwrap();
    client.revoke(&AccessToken::new("at-1")).await.unwrap();
    let forms = fake.state.revoke_forms.lock().unwrap().clone();
    let f0: HashMap<_, _> = forms[0].iter().cloned().collect();
    let f1: HashMap<_, _> = forms[1].iter().cloned().collect();
    assert_eq!(f0["token"], "rt-1");
    assert_eq!(f0["token_type_hint"], TokenTypeHint::RefreshToken.as_str());
    assert_eq!(f1["token"], "at-1");
    assert_eq!(f1["token_type_hint"], "access_token");
}

#[tokio::test]
async fn introspect_parses_active_and_inactive() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let r = client
        .introspect(&AccessToken::new("at-good"))
        .await
        .unwrap();
    assert!(r.active);
    assert_eq!(r.sub.as_deref(), Some("user-1"));
    assert!(r.scope.unwrap().contains("write"));
    let r = client.introspect(&RefreshToken::new("nope")).await.unwrap();
    assert!(!r.active);
    let forms = fake.state.introspect_forms.lock().unwrap().clone();
    assert!(forms[1].contains(&("token_type_hint".into(), "refresh_token".into())));
}

#[tokio::test]
async fn userinfo_returns_claims_or_a_typed_error() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    let u = client.userinfo(&AccessToken::new("at-good")).await.unwrap();
    assert_eq!(u.sub, "user-1");
    assert_eq!(u.profile.email_verified, Some(true));
    assert_eq!(u.claims["tenant_role"], "admin");
    let err = client
        .userinfo(&AccessToken::new("stale"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.oauth_error().unwrap().error, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn missing_endpoints_are_reported() {
    let fake = Fake::start().await;
    let mut m = fake.metadata();
    m.revocation_endpoint = None;
    m.jwks_uri = None;
    let client = Client::builder(m, "web").build().unwrap();
    assert!(matches!(
        client.revoke(&AccessToken::new("x")).await,
        Err(Error::MissingEndpoint("revocation_endpoint"))
    ));
    assert!(matches!(
        client
            .verify_id_token("a.b.c")
            .claims::<Value>()
            .send()
            .await,
        Err(Error::MissingEndpoint("jwks_uri"))
    ));
}

#[tokio::test]
async fn discover_builds_a_confidential_client_in_one_call() {
    let fake = Fake::start().await;
    let client = Client::discover(fake.issuer.clone(), "web", "web-secret")
        .await
        .unwrap();
    assert_eq!(client.metadata().issuer, fake.issuer);
    assert_eq!(client.auth_method(), "client_secret_basic");
    client.client_credentials().send().await.unwrap();
    assert!(fake.state.last_token_auth().unwrap().starts_with("Basic "));
    assert!(client.jwks().is_some());

    *fake.state.auth_methods.lock().unwrap() = Some(vec!["client_secret_post".into()]);
    let client = Client::discover(fake.issuer.clone(), "web", "web-secret")
        .await
        .unwrap();
    client.client_credentials().send().await.unwrap();
    assert_eq!(fake.state.last_token_form()["client_secret"], "web-secret");
    assert!(fake.state.last_token_auth().is_none());

    // A provider whose document names another issuer is refused.
    *fake.state.advertised_issuer.lock().unwrap() = Some("https://evil.example".into());
    let e = Client::discover(fake.issuer.clone(), "web", "web-secret")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::IssuerMismatch { .. }), "{e:?}");
}

#[tokio::test]
async fn token_sets_carry_their_absolute_expiry_on_the_client_clock() {
    use std::time::{Duration, UNIX_EPOCH};
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("web-secret"));
    fake.advance(100);
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300}),
    ));
    let set = client
        .refresh(&RefreshToken::new("rt"))
        .send()
        .await
        .unwrap();
    let t0 = u64::try_from(T0).unwrap();
    assert_eq!(
        set.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(t0 + 100 + 300))
    );
    // No expires_in: unknown. An absurd one: unknown, not a panic.
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at", "token_type": "Bearer"}),
    ));
    let set = client
        .refresh(&RefreshToken::new("rt"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.expires_at(), None);
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": u64::MAX}),
    ));
    let set = client
        .refresh(&RefreshToken::new("rt"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.expires_at(), None);
}
