//! Back-Channel Logout: `Client::verify_logout_token` against tokens signed here with the
//! fake provider's keys, one refusal per rule of §2.6.

use idp_client::idp_core::{Error as CoreError, TokenError};
use idp_client::{ClientAuth, Error, LogoutTokenError, logout_token_from_form};
use serde_json::{Value, json};

use crate::fake::{Fake, T0, sign_with_header};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The claims the provider sends, with `changes` applied (a `null` removes the claim).
fn claims(fake: &Fake, changes: Value) -> Value {
    let mut c = json!({
        "iss": fake.issuer, "aud": "web", "iat": T0, "exp": T0 + 120, "jti": "jti-1",
        "sub": "user-1", "sid": "sid-1", "events": { EVENT: {} },
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn logout_token(fake: &Fake, changes: Value) -> String {
    let header = json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k1"});
    sign_with_header(&header, "k1", &claims(fake, changes))
}

fn token_error(e: &Error) -> &TokenError {
    match e {
        Error::Token(CoreError::InvalidToken(t)) => t,
        other => panic!("expected a token error, got {other:?}"),
    }
}

fn logout_error(e: &Error) -> &LogoutTokenError {
    match e {
        Error::LogoutToken(t) => t,
        other => panic!("expected a logout token error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_logout_token_gives_sub_and_sid() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("s"));
    let t = client
        .verify_logout_token(&logout_token(&fake, json!({})))
        .await
        .unwrap();
    assert_eq!(t.iss, fake.issuer);
    assert!(t.aud.contains("web"));
    assert_eq!((t.iat, t.exp), (T0, T0 + 120));
    assert_eq!(t.jti.as_deref(), Some("jti-1"));
    assert_eq!(t.sub.as_deref(), Some("user-1"));
    assert_eq!(t.sid.as_deref(), Some("sid-1"));

    // sid alone, sub alone; several audiences need no azp (unlike an ID token).
    let t = client
        .verify_logout_token(&logout_token(&fake, json!({"sub": null})))
        .await
        .unwrap();
    assert_eq!((t.sub, t.sid.as_deref()), (None, Some("sid-1")));
    let t = client
        .verify_logout_token(&logout_token(
            &fake,
            json!({"sid": null, "jti": null, "aud": ["other", "web"]}),
        ))
        .await
        .unwrap();
    assert_eq!(
        (t.sub.as_deref(), t.sid, t.jti),
        (Some("user-1"), None, None)
    );

    // `typ: JWT`, or no `typ` at all, is accepted too.
    for header in [
        json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}),
        json!({"alg": "ES256", "kid": "k1"}),
    ] {
        let token = sign_with_header(&header, "k1", &claims(&fake, json!({})));
        client.verify_logout_token(&token).await.unwrap();
    }

    // Read from the body the provider POSTs.
    let token = logout_token(&fake, json!({}));
    let body = format!("logout_token={token}");
    assert_eq!(
        logout_token_from_form(body.as_bytes()).as_deref(),
        Some(token.as_str())
    );
}

#[tokio::test]
async fn the_validator_rules_are_enforced() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    let cases = [
        (
            json!({"iss": "https://evil.example"}),
            TokenError::WrongIssuer,
        ),
        (json!({"aud": "someone-else"}), TokenError::WrongAudience),
        (json!({"aud": ["a", "b"]}), TokenError::WrongAudience),
        (json!({"exp": T0 - 3600}), TokenError::Expired),
        (json!({"exp": null}), TokenError::MissingClaim("exp")),
    ];
    for (changes, expected) in cases {
        let err = client
            .verify_logout_token(&logout_token(&fake, changes.clone()))
            .await
            .unwrap_err();
        assert_eq!(token_error(&err), &expected, "{changes}");
        assert!(err.is_token_rejected());
    }

    // Signed by another key than the one its kid names.
    let header = json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k1"});
    let forged = sign_with_header(&header, "k-attacker", &claims(&fake, json!({})));
    let err = client.verify_logout_token(&forged).await.unwrap_err();
    assert_eq!(token_error(&err), &TokenError::BadSignature);
    // A payload swapped under a good signature.
    let good = logout_token(&fake, json!({}));
    let other = logout_token(&fake, json!({"sub": "admin"}));
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    let err = client
        .verify_logout_token(&parts.join("."))
        .await
        .unwrap_err();
    assert_eq!(token_error(&err), &TokenError::BadSignature);
    // An algorithm the provider does not use for ID tokens.
    let header = json!({"alg": "RS256", "typ": "logout+jwt", "kid": "k1"});
    let token = sign_with_header(&header, "k1", &claims(&fake, json!({})));
    let err = client.verify_logout_token(&token).await.unwrap_err();
    assert_eq!(token_error(&err), &TokenError::AlgorithmNotAllowed);
    assert!(
        client
            .verify_logout_token("not a token")
            .await
            .unwrap_err()
            .is_token_rejected()
    );
}

#[tokio::test]
async fn the_logout_rules_are_enforced() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    let cases = [
        (json!({"events": null}), LogoutTokenError::MissingEvent),
        (
            json!({"events": {"urn:example:other": {}}}),
            LogoutTokenError::MissingEvent,
        ),
        (json!({"events": EVENT}), LogoutTokenError::MissingEvent),
        (
            json!({"events": {EVENT: true}}),
            LogoutTokenError::EventNotObject,
        ),
        (
            json!({"events": {EVENT: [{}]}}),
            LogoutTokenError::EventNotObject,
        ),
        (json!({"nonce": "n-1"}), LogoutTokenError::NoncePresent),
        (
            json!({"sub": null, "sid": null}),
            LogoutTokenError::MissingSubject,
        ),
        (json!({"iat": T0 + 3600}), LogoutTokenError::IssuedInFuture),
        (json!({"iat": null}), LogoutTokenError::MissingIat),
        (json!({"sid": 42}), LogoutTokenError::BadClaim("sid")),
    ];
    for (changes, expected) in cases {
        let err = client
            .verify_logout_token(&logout_token(&fake, changes.clone()))
            .await
            .unwrap_err();
        assert_eq!(logout_error(&err), &expected, "{changes}");
        assert!(err.is_token_rejected());
    }
    // iat within the leeway (60 s) passes.
    client
        .verify_logout_token(&logout_token(&fake, json!({"iat": T0 + 30})))
        .await
        .unwrap();

    // The messages say which rule failed.
    let err = client
        .verify_logout_token(&logout_token(&fake, json!({"nonce": "n"})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "logout token refused: a nonce claim is present"
    );
    let err = client
        .verify_logout_token(&logout_token(&fake, json!({"events": null})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(EVENT), "{err}");
}

#[tokio::test]
async fn other_token_types_are_refused_before_any_key_fetch() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "secevent+jwt",
        "id_token+jwt",
    ] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": "k1"});
        let token = sign_with_header(&header, "k1", &claims(&fake, json!({})));
        let err = client.verify_logout_token(&token).await.unwrap_err();
        assert_eq!(logout_error(&err), &LogoutTokenError::WrongType, "{typ}");
        assert!(err.to_string().contains("logout+jwt"), "{err}");
    }
    assert_eq!(fake.jwks_hits(), 0);
}

#[tokio::test]
async fn an_id_token_is_not_a_logout_token() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::None);
    // What an ID token of the same provider looks like: typ JWT, nonce, no events.
    let id_token = json!({
        "iss": fake.issuer, "sub": "user-1", "aud": "web", "iat": T0, "exp": T0 + 300,
        "nonce": "n-1", "sid": "sid-1",
    });
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
    let err = client
        .verify_logout_token(&sign_with_header(&header, "k1", &id_token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LogoutToken(_)), "{err:?}");
    // And a logout token is not an ID token: it has no nonce to match.
    let err = client
        .verify_id_token(&logout_token(&fake, json!({})))
        .nonce("n-1")
        .claims::<Value>()
        .send()
        .await
        .unwrap_err();
    assert_eq!(token_error(&err), &TokenError::NonceMismatch);
}
