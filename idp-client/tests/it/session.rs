//! `TokenManager`: many callers across an expiry share one refresh; a revoked grant is
//! "sign in again".

use std::sync::Arc;
use std::sync::atomic::Ordering;

use idp_client::idp_core::RefreshToken;
use idp_client::{ClientAuth, Error, TokenManager};
use serde_json::json;

use crate::fake::{Fake, Reply};

fn tokens(at: &str, rt: &str) -> Reply {
    Reply::json(
        200,
        json!({"access_token": at, "token_type": "Bearer", "expires_in": 300, "refresh_token": rt}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_callers_across_an_expiry_share_one_refresh() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("web-secret"));
    // The session's tokens, as a sign-in would leave them.
    fake.state.script(tokens("at-1", "rt-1"));
    let first = client
        .refresh(&RefreshToken::new("rt-0"))
        .send()
        .await
        .unwrap();
    let manager = Arc::new(TokenManager::new(client, first));
    assert_eq!(manager.access_token().await.unwrap().secret(), "at-1");
    let hits = fake.token_hits();

    // Past the expiry, with a slow token endpoint: 32 callers at once.
    fake.advance(301);
    fake.state.token_delay_ms.store(200, Ordering::SeqCst);
    fake.state.script(tokens("at-2", "rt-2"));
    let callers: Vec<_> = (0..32)
        .map(|_| {
            let m = Arc::clone(&manager);
            tokio::spawn(async move { m.access_token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap(), "at-2");
    }
    assert_eq!(fake.token_hits(), hits + 1, "one refresh for all callers");
    let form = fake.state.last_token_form();
    assert_eq!(form["refresh_token"], "rt-1");
    // The rotated refresh token is the one sent next.
    fake.state.token_delay_ms.store(0, Ordering::SeqCst);
    fake.advance(290); // within the 30 s refresh-ahead window
    fake.state.script(tokens("at-3", "rt-3"));
    assert_eq!(manager.access_token().await.unwrap().secret(), "at-3");
    assert_eq!(fake.state.last_token_form()["refresh_token"], "rt-2");
    // Fresh: no request.
    let hits = fake.token_hits();
    assert_eq!(manager.access_token().await.unwrap().secret(), "at-3");
    assert_eq!(fake.token_hits(), hits);
}

#[tokio::test]
async fn a_revoked_grant_means_sign_in_again_and_a_failing_provider_keeps_the_valid_token() {
    let fake = Fake::start().await;
    let client = fake.client(ClientAuth::basic("web-secret"));
    fake.state.script(tokens("at-1", "rt-1"));
    let first = client
        .refresh(&RefreshToken::new("rt-0"))
        .send()
        .await
        .unwrap();
    let manager = TokenManager::new(client, first);

    // Within the window but not expired, the provider failing: the current token.
    fake.advance(280);
    fake.state.script(Reply::json(
        503,
        json!({"error": "temporarily_unavailable"}),
    ));
    assert_eq!(manager.access_token().await.unwrap().secret(), "at-1");

    // The grant revoked: sign in again, and no more requests after that.
    fake.advance(30);
    fake.state
        .script(Reply::json(400, json!({"error": "invalid_grant"})));
    assert!(matches!(
        manager.access_token().await,
        Err(Error::SignInRequired)
    ));
    let hits = fake.token_hits();
    assert!(matches!(
        manager.access_token().await,
        Err(Error::SignInRequired)
    ));
    assert_eq!(fake.token_hits(), hits);
}
