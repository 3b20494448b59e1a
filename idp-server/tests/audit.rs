//! The audit log: structured events under target `idp::audit` for what an operator must be
//! able to reconstruct (sign-ins, tokens issued, reuse detected, revocations, session ends,
//! changes to users, clients and keys), and never a secret, password, code or token in any
//! log line of a full flow.
//!
//! A test binary of its own, with one test and a global subscriber: `tracing` caches per
//! call site whether anyone listens, and with tests running in parallel under a
//! thread-local subscriber a call site first reached by another test can stay silent.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

#[path = "it/browser.rs"]
mod browser;
#[path = "it/common.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use idp_core::CodeVerifier;
use serde_json::Value;

use crate::browser::{Browser, PASSWORD, REDIRECT, setup};
use crate::common::TestServer;

const WEB: Option<(&str, &str)> = Some(("web", "web-secret"));

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn a_full_flow_leaves_audit_events_and_no_secret_in_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter("idp_server=trace,idp_core=trace,idp::audit=trace,warn")
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let s = TestServer::start().await;
    let ada = setup(&s).await;
    let b = Browser::new();
    let v = CodeVerifier::generate();
    let challenge = v.challenge();
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = b.authorize(&s, &params).await;
    // A failed sign-in with the password typed into the e-mail field.
    let failed = b.login(&s, &page, PASSWORD, "not the password").await;
    assert_eq!(failed.status, 401);
    let page = b.login(&s, &failed, "ada@example.com", PASSWORD).await;
    let session_cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.contains("idp_session="))
        .expect("a session cookie");
    let session_value = session_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let code = page.code();
    let form = |extra: &[(&'static str, String)]| {
        let mut f: Vec<(&str, String)> = extra.to_vec();
        f.push(("redirect_uri", REDIRECT.into()));
        f
    };
    let body = form(&[
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("code_verifier", v.secret().to_owned()),
    ]);
    let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, t) = s.post_form("/oauth/token", WEB, &body).await;
    assert_eq!(status, 200, "{t}");
    let (at, rt, id) = (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
        t["id_token"].as_str().unwrap().to_owned(),
    );
    let refresh = |rt: String| {
        let s = &s;
        async move {
            s.post_form(
                "/oauth/token",
                WEB,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let (status, _, t2) = refresh(rt.clone()).await;
    assert_eq!(status, 200, "{t2}");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    // Reuse of the rotated token: detected, the grant revoked.
    let (status, _, _) = refresh(rt.clone()).await;
    assert_eq!(status, 400);
    // A wrong client secret; a service token; its revocation.
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("web", "hunter2-wrong")),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        )
        .await;
    assert_eq!(status, 401);
    let worker_secret = s.service_client("worker").await;
    let service = s.cc_token("worker", &[]).await;
    let (status, _, _) = s
        .post_form(
            "/oauth/revoke",
            Some(("worker", &worker_secret)),
            &[("token", &service)],
        )
        .await;
    assert_eq!(status, 200);
    let page = b
        .get(&format!("{}?id_token_hint={id}", s.url("/oauth/logout")))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    s.provider
        .users()
        .set_password(&ada, "the next long passphrase".into())
        .await
        .unwrap();
    s.provider.keys().rotate().await.unwrap();
    s.provider.clients().disable("worker").await.unwrap();
    s.stop().await;

    let log = captured.text();
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["target"] == "idp::audit")
        .collect();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e["fields"]["event"].as_str())
        .collect();
    for expected in [
        "user_created",
        "client_created",
        "sign_in_failed",
        "sign_in_succeeded",
        "token_issued",
        "refresh_token_reused",
        "grant_revoked",
        "client_auth_failed",
        "access_token_revoked",
        "session_ended",
        "password_changed",
        "user_access_ended",
        "keys_rotated",
        "client_disabled",
        "client_access_ended",
    ] {
        assert!(
            names.contains(&expected),
            "no {expected} event in {names:?}"
        );
    }
    let signed_in = events
        .iter()
        .find(|e| e["fields"]["event"] == "sign_in_succeeded")
        .unwrap();
    assert_eq!(signed_in["fields"]["user_id"], ada.as_str());
    assert!(
        signed_in["fields"]["client_addr"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );

    // No secret, password, code or token anywhere in the log, whole or as a JWT's
    // signature.
    let mut secrets = vec![
        PASSWORD.to_owned(),
        "the next long passphrase".into(),
        "web-secret".into(),
        "hunter2-wrong".into(),
        worker_secret,
        code,
        v.secret().to_owned(),
        rt,
        rt2,
        session_value,
    ];
    for jwt in [&at, &id, &service, t2["access_token"].as_str().unwrap()] {
        secrets.push(jwt.to_string());
        secrets.push(jwt.rsplit('.').next().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log contains a secret: {secret}"
        );
    }
}
