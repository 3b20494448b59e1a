//! The account pages over HTTP: sign-in at `/account/login`, the profile, the password
//! change (current password, policy, every other session ended, tokens revoked), the
//! sessions list with "sign out", connected applications with "revoke", and the CSRF
//! binding of their forms.

use idp_core::Clock;
use idp_server::store::GrantsOf;

use crate::browser::{Browser, PASSWORD, Page, setup, web_code_flow};
use crate::common::TestServer;

/// Signs `b` in through the account's own login page; the account page it lands on.
async fn sign_in(s: &TestServer, b: &Browser, password: &str) -> Page {
    let login = b.get(&s.url("/account/login")).await;
    assert_eq!(login.status, 200);
    assert!(login.is_login_form(), "{}", login.body);
    let mut form = login.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), password.into()));
    let done = b.post(&s.url("/account/login"), &form).await;
    if done.status != 303 {
        return done;
    }
    assert_eq!(done.location.as_deref(), Some(s.url("/account").as_str()));
    b.get(&s.url("/account")).await
}

/// Posts the first form of `page` (its hidden fields, plus `fields`) to `path`.
async fn submit(
    s: &TestServer,
    b: &Browser,
    page: &Page,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let mut form = page.hidden_fields();
    form.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    b.post(&s.url(path), &form).await
}

/// The hidden fields of the form that holds `marker` (e.g. one session's `sid`).
fn form_with(page: &Page, marker: &str) -> Vec<(String, String)> {
    let start = page.body[..page.body.find(marker).unwrap()]
        .rfind("<form")
        .unwrap();
    let end = start + page.body[start..].find("</form>").unwrap();
    Page {
        status: 200,
        location: None,
        body: page.body[start..end].to_owned(),
        headers: Default::default(),
    }
    .hidden_fields()
}

#[tokio::test]
async fn without_a_session_the_pages_send_you_to_sign_in() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    for path in [
        "/account",
        "/account/password",
        "/account/sessions",
        "/account/apps",
    ] {
        let p = b.get(&s.url(path)).await;
        assert_eq!(p.status, 303, "{path}");
        assert_eq!(
            p.location.as_deref(),
            Some(s.url("/account/login").as_str())
        );
        // A POST without a session changes nothing and goes the same way.
        let p = b.post(&s.url(path), &[("name".into(), "x".into())]).await;
        assert_eq!(p.status, 303, "{path}");
    }
    let wrong = sign_in(&s, &b, "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Incorrect email or password."));
    let page = sign_in(&s, &b, PASSWORD).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ada@example.com"), "{}", page.body);
    assert!(page.body.contains("(verified)"));
    // Signed in, the login page leads to the account.
    assert_eq!(b.get(&s.url("/account/login")).await.status, 303);
}

#[tokio::test]
async fn the_profile_name_can_be_changed_and_forms_need_their_token() {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    let b = Browser::new();
    let page = sign_in(&s, &b, PASSWORD).await;
    let saved = submit(&s, &b, &page, "/account", &[("name", "Augusta Ada King")]).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("Saved."));
    let user = s.provider.users().get(&id).await.unwrap().unwrap();
    assert_eq!(user.name.as_deref(), Some("Augusta Ada King"));

    // A forged form (no token, or a token of another page purpose) changes nothing.
    let forged = b
        .post(&s.url("/account"), &[("name".into(), "Mallory".into())])
        .await;
    assert_eq!(forged.status, 403);
    let login_token = b.get(&s.url("/oauth/authorize?client_id=web&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=openid&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")).await;
    let mut form = login_token.hidden_fields();
    form.push(("name".into(), "Mallory".into()));
    assert_eq!(b.post(&s.url("/account"), &form).await.status, 403);
    let user = s.provider.users().get(&id).await.unwrap().unwrap();
    assert_eq!(user.name.as_deref(), Some("Augusta Ada King"));

    let long = "x".repeat(201);
    let refused = submit(&s, &b, &page, "/account", &[("name", &long)]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("too long"));
}

#[tokio::test]
async fn a_new_password_needs_the_current_one_follows_the_policy_and_ends_other_sessions() {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    // Another browser, signed in to an application: a session and a grant with tokens.
    let (status, tokens) = web_code_flow(&s, "openid offline_access").await;
    assert_eq!(status, 200);
    let other = Browser::new();
    sign_in(&s, &other, PASSWORD).await;

    let b = Browser::new();
    sign_in(&s, &b, PASSWORD).await;
    let page = b.get(&s.url("/account/password")).await;
    assert_eq!(page.status, 200);
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (s, b, page) = (&s, &b, &page);
        async move {
            submit(
                s,
                b,
                page,
                "/account/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await
        }
    };
    for (current, new, confirm, message) in [
        (
            "wrong",
            "a fine new passphrase",
            "a fine new passphrase",
            "current password is not right",
        ),
        (PASSWORD, "a fine new passphrase", "another one", "differ"),
        (PASSWORD, "short", "short", "at least 8 characters"),
        (PASSWORD, "password123", "password123", "most common"),
        (
            PASSWORD,
            "ada@example.com",
            "ada@example.com",
            "not your email",
        ),
    ] {
        let r = change(current, new, confirm).await;
        assert_eq!(r.status, 400, "{message}: {}", r.body);
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    let done = change(PASSWORD, "a fine new passphrase", "a fine new passphrase").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Every other session was signed out."));

    // This browser stays signed in (a new session); the other one is out; the grant is
    // revoked, so its refresh token fails.
    assert_eq!(b.get(&s.url("/account")).await.status, 200);
    assert_eq!(other.get(&s.url("/account")).await.status, 303);
    let now = s.clock.unix_now();
    assert!(
        s.provider
            .store()
            .grants(GrantsOf::User(&id), now)
            .await
            .unwrap()
            .is_empty()
    );
    let refresh = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth("web", Some("web-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    // The new password signs in; the old one does not.
    assert_eq!(sign_in(&s, &Browser::new(), PASSWORD).await.status, 401);
    assert_eq!(
        sign_in(&s, &Browser::new(), "a fine new passphrase")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let s = TestServer::start().await;
    setup(&s).await;
    let b = Browser::new();
    sign_in(&s, &b, PASSWORD).await;
    let page = b.get(&s.url("/account/password")).await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let r = submit(
            &s,
            &b,
            &page,
            "/account/password",
            &[
                ("current_password", "guess"),
                ("new_password", "a fine new passphrase"),
                ("confirm_password", "a fine new passphrase"),
            ],
        )
        .await;
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn sessions_are_listed_and_can_be_signed_out() {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    let (one, two, me) = (Browser::new(), Browser::new(), Browser::new());
    for b in [&one, &two, &me] {
        sign_in(&s, b, PASSWORD).await;
    }
    let now = s.clock.unix_now();
    let sessions = s
        .provider
        .store()
        .list_user_sessions(&id, now)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 3);
    let page = me.get(&s.url("/account/sessions")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("Sign out this session").count(), 3);
    assert_eq!(page.body.matches("this browser").count(), 1);
    // The page names sessions by sid, never by cookie.
    for rec in &sessions {
        assert!(page.body.contains(&rec.sid));
        assert!(!page.body.contains(&rec.session_hash));
    }

    // Sign out one other session.
    let current_sid = {
        let listed = me.get(&s.url("/account/sessions")).await;
        let at = listed.body.find("this browser").unwrap();
        let sid_at = listed.body[at..].find(r#"name="sid" value=""#).unwrap() + at;
        let rest = &listed.body[sid_at + r#"name="sid" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    let victim = sessions.iter().find(|r| r.sid != current_sid).unwrap();
    let form = form_with(&page, &victim.sid);
    let r = me.post(&s.url("/account/sessions"), &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("The session was signed out."));
    let left = s
        .provider
        .store()
        .list_user_sessions(&id, now)
        .await
        .unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|r| r.sid != victim.sid));

    // A sid that is not the person's own (or is gone) ends nothing.
    let mut stale = form.clone();
    for (k, v) in &mut stale {
        if k == "sid" {
            *v = "someone-elses-sid".into();
        }
    }
    let r = me.post(&s.url("/account/sessions"), &stale).await;
    assert!(r.body.contains("already ended"));
    assert_eq!(
        s.provider
            .store()
            .list_user_sessions(&id, now)
            .await
            .unwrap()
            .len(),
        2
    );

    // Every other: only this browser's is left, and it still works.
    let page = me.get(&s.url("/account/sessions")).await;
    let all = form_with(&page, r#"value="end_others""#);
    let r = me.post(&s.url("/account/sessions"), &all).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let left = s
        .provider
        .store()
        .list_user_sessions(&id, now)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].sid, current_sid);
    assert_eq!(me.get(&s.url("/account")).await.status, 200);
    assert_eq!(one.get(&s.url("/account")).await.status, 303);
    assert_eq!(two.get(&s.url("/account")).await.status, 303);

    // Signing out this browser's own session ends at the login page, cookie cleared.
    let page = me.get(&s.url("/account/sessions")).await;
    let form = form_with(&page, &current_sid);
    let r = me.post(&s.url("/account/sessions"), &form).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some(s.url("/account/login").as_str())
    );
    assert_eq!(me.get(&s.url("/account")).await.status, 303);
}

#[tokio::test]
async fn a_connected_application_can_be_revoked() {
    let s = TestServer::start().await;
    let id = setup(&s).await;
    let (status, tokens) = web_code_flow(&s, "openid offline_access").await;
    assert_eq!(status, 200);
    let b = Browser::new();
    sign_in(&s, &b, PASSWORD).await;
    let page = b.get(&s.url("/account/apps")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"name="client_id" value="web""#),
        "{}",
        page.body
    );

    let form = form_with(&page, r#"value="web""#);
    let r = b.post(&s.url("/account/apps"), &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Access was revoked."));
    assert!(r.body.contains("No application has access"));
    let now = s.clock.unix_now();
    assert!(
        s.provider
            .store()
            .grants(GrantsOf::User(&id), now)
            .await
            .unwrap()
            .is_empty()
    );
    // The application's tokens stop working: refresh fails, introspection says inactive.
    let refresh = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth("web", Some("web-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    let userinfo = s
        .http
        .get(s.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    // This browser's own session is untouched.
    assert_eq!(b.get(&s.url("/account")).await.status, 200);
}
