//! Self-service accounts over HTTP, with a real SMTP listener on loopback: registration
//! (policy, domains, terms, an address in use answered like a new one, the hourly e-mail
//! limit), e-mail verification (single use, expiry, resend, sign-in held back until it
//! when configured), the forgotten password (same answer for every address, a link that
//! works once and expires, every session ended) and changing the address from the profile.

use std::sync::Arc;
use std::time::Duration;

use idp_core::Clock;
use idp_server::Registration;
use idp_server::store::MemoryStore;
use idp_server::testkit::{ReceivedMail, SmtpSink};

use crate::browser::{Browser, PASSWORD, Page, setup};
use crate::common::TestServer;

const WAIT: Duration = Duration::from_secs(10);

async fn server(
    sink: &SmtpSink,
    configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
) -> TestServer {
    let smtp = sink.smtp_config("idp@example.com");
    TestServer::start_with(Arc::new(MemoryStore::new()), move |b| {
        configure(b.smtp(smtp))
    })
    .await
}

async fn mail(sink: &SmtpSink) -> ReceivedMail {
    sink.next_message(WAIT).await.expect("a message")
}

/// The link of a message, as a path and query on the test server.
fn link(m: &ReceivedMail) -> String {
    let l = m.links().into_iter().next().expect("a link in the message");
    let at = l.find("/account/").expect("an account link");
    l[at..].to_owned()
}

/// Fills the first form of `page` (hidden fields plus `fields`) and posts it to `path`.
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

async fn register(s: &TestServer, b: &Browser, name: &str, email: &str, password: &str) -> Page {
    let form = b.get(&s.url("/account/register")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    submit(
        s,
        b,
        &form,
        "/account/register",
        &[
            ("name", name),
            ("email", email),
            ("password", password),
            ("confirm_password", password),
        ],
    )
    .await
}

async fn account_sign_in(s: &TestServer, email: &str, password: &str) -> Page {
    let b = Browser::new();
    let login = b.get(&s.url("/account/login")).await;
    let mut form = login.hidden_fields();
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    b.post(&s.url("/account/login"), &form).await
}

/// Opens a verification link and confirms it.
async fn follow_verification(s: &TestServer, b: &Browser, path: &str) -> Page {
    let page = b.get(&s.url(path)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Confirm my address"), "{}", page.body);
    submit(s, b, &page, "/account/verify", &[]).await
}

#[tokio::test]
async fn register_verify_and_sign_in() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| {
        b.registration(Registration::open())
            .require_verified_email()
    })
    .await;
    let b = Browser::new();
    let done = register(
        &s,
        &b,
        "Grace Hopper",
        "grace@example.com",
        "cobol compiles everything",
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Check your email"));
    let user = s
        .provider
        .users()
        .find_by_email(None, "grace@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.email_verified);
    assert_eq!(user.name.as_deref(), Some("Grace Hopper"));

    // Not verified yet: sign-in is held back, with a message that says why.
    let held = account_sign_in(&s, "grace@example.com", "cobol compiles everything").await;
    assert_eq!(held.status, 403);
    assert!(
        held.body.contains("Confirm your email address first"),
        "{}",
        held.body
    );

    let m = mail(&sink).await;
    assert_eq!(m.recipients(), ["grace@example.com"]);
    // The name typed at registration is not in the message: whoever typed it may not own
    // the address, and the name is free text.
    assert!(!m.text().unwrap().contains("Grace Hopper"));
    assert!(!m.html().unwrap().contains("Grace Hopper"));
    let path = link(&m);
    assert!(path.starts_with("/account/verify?token="), "{path}");
    // Opening the link uses nothing (a mail scanner may fetch it); confirming does.
    assert_eq!(b.get(&s.url(&path)).await.status, 200);
    let ok = follow_verification(&s, &b, &path).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Address confirmed"));
    let user = s.provider.users().get(&user.id).await.unwrap().unwrap();
    assert!(user.email_verified);
    // The link works once.
    let again = follow_verification(&s, &b, &path).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("expired or was already used"));

    let signed = account_sign_in(&s, "grace@example.com", "cobol compiles everything").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
}

#[tokio::test]
async fn an_address_in_use_gets_the_same_answer_and_its_owner_is_told() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b.registration(Registration::open())).await;
    setup(&s).await;
    let b = Browser::new();
    let fresh = register(
        &s,
        &b,
        "Someone",
        "someone@example.com",
        "a perfectly good passphrase",
    )
    .await;
    let taken = register(
        &s,
        &b,
        "Mallory",
        "ada@example.com",
        "a perfectly good passphrase",
    )
    .await;
    assert_eq!(fresh.status, taken.status);
    let strip = |p: &Page| {
        p.body
            .lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&fresh), strip(&taken));
    // Two messages: the newcomer's link, and a notice to ada that names no one else.
    let mut got = [mail(&sink).await, mail(&sink).await];
    got.sort_by_key(|m| m.recipients()[0].clone());
    assert_eq!(got[0].recipients(), ["ada@example.com"]);
    let notice = got[0].text().unwrap();
    assert!(!notice.contains("Mallory"), "{notice}");
    assert!(notice.contains("Ada Lovelace"), "{notice}");
    assert!(!notice.contains("token="), "{notice}");
    assert_eq!(got[1].recipients(), ["someone@example.com"]);
    // Ada's account is as it was.
    let ada = s
        .provider
        .users()
        .find_by_email(None, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        account_sign_in(&s, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );
}

#[tokio::test]
async fn the_rules_of_registration_have_readable_messages() {
    let sink = SmtpSink::start().await.unwrap();
    let rules = Registration::open()
        .allow_domain("example.com")
        .block_domain("spam.example.com")
        .terms_url("https://example.com/terms");
    let s = server(&sink, |b| b.registration(rules)).await;
    let b = Browser::new();
    let form = b.get(&s.url("/account/register")).await;
    assert!(
        form.body
            .replace("&#x2f;", "/")
            .contains(r#"href="https://example.com/terms""#)
    );
    let try_ = |email: &'static str,
                password: &'static str,
                confirm: &'static str,
                terms: &'static str| {
        let (s, b, form) = (&s, &b, &form);
        async move {
            let mut fields = vec![
                ("name", "Tester"),
                ("email", email),
                ("password", password),
                ("confirm_password", confirm),
            ];
            if !terms.is_empty() {
                fields.push(("terms", terms));
            }
            submit(s, b, form, "/account/register", &fields).await
        }
    };
    for (email, password, confirm, terms, message) in [
        (
            "not-an-address",
            "a fine passphrase",
            "a fine passphrase",
            "accept",
            "valid email address",
        ),
        (
            "x@elsewhere.org",
            "a fine passphrase",
            "a fine passphrase",
            "accept",
            "cannot register here",
        ),
        (
            "x@spam.example.com",
            "a fine passphrase",
            "a fine passphrase",
            "accept",
            "cannot register here",
        ),
        (
            "x@example.com",
            "a fine passphrase",
            "another",
            "accept",
            "differ",
        ),
        (
            "x@example.com",
            "short",
            "short",
            "accept",
            "at least 8 characters",
        ),
        (
            "x@example.com",
            "iloveyou",
            "iloveyou",
            "accept",
            "most common",
        ),
        (
            "longer.name@example.com",
            "longer.name@example.com",
            "longer.name@example.com",
            "accept",
            "not your email",
        ),
        (
            "x@example.com",
            "a fine passphrase",
            "a fine passphrase",
            "",
            "Accept the terms",
        ),
    ] {
        let r = try_(email, password, confirm, terms).await;
        assert_eq!(r.status, 400, "{message}: {}", r.body);
        assert!(r.body.contains(message), "{message}: {}", r.body);
        // What was typed comes back, except the password.
        assert!(!r.body.contains(r#"value="a fine passphrase""#));
    }
    assert!(s.provider.users().list(None).await.unwrap().is_empty());
    assert!(
        sink.next_message(Duration::from_millis(300))
            .await
            .is_none()
    );
    let ok = try_(
        "x@sub.example.com",
        "a fine passphrase",
        "a fine passphrase",
        "accept",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn registration_is_closed_by_default_and_the_login_page_says_what_is_open() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b).await;
    let b = Browser::new();
    assert_eq!(b.get(&s.url("/account/register")).await.status, 404);
    let login = b.get(&s.url("/account/login")).await;
    assert!(login.body.contains("Forgot your password?"));
    assert!(!login.body.contains("Create an account"));
    // Without a mailer, neither.
    let plain = TestServer::start().await;
    let login = b.get(&plain.url("/account/login")).await;
    assert!(!login.body.contains("Forgot your password?"));
    assert_eq!(b.get(&plain.url("/account/forgot")).await.status, 404);
    let open = server(&sink, |b| b.registration(Registration::open())).await;
    let login = b.get(&open.url("/account/login")).await;
    assert!(login.body.contains("Create an account"));
}

#[tokio::test]
async fn e_mails_to_one_address_are_limited_per_hour() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b.registration(Registration::open())).await;
    let b = Browser::new();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = register(
            &s,
            &b,
            "Flood",
            "victim@example.com",
            "a perfectly good passphrase",
        )
        .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    // Another address is not held back by the flood (the client address has room left).
    let r = register(
        &s,
        &b,
        "Other",
        "other@example.com",
        "a perfectly good passphrase",
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_verification_link_expires_and_a_new_one_replaces_it() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b.registration(Registration::open())).await;
    let b = Browser::new();
    register(
        &s,
        &b,
        "Lin",
        "lin@example.com",
        "a perfectly good passphrase",
    )
    .await;
    let first = link(&mail(&sink).await);

    // Resend: the same answer for an unknown address; a new link for Lin, which replaces
    // the first.
    let page = b.get(&s.url("/account/verify")).await;
    let unknown = submit(
        &s,
        &b,
        &page,
        "/account/verify",
        &[("email", "nobody@example.com")],
    )
    .await;
    let known = submit(
        &s,
        &b,
        &page,
        "/account/verify",
        &[("email", "lin@example.com")],
    )
    .await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert!(
        unknown
            .body
            .contains("If an account with that address still needs confirming")
    );
    assert!(
        known
            .body
            .contains("If an account with that address still needs confirming")
    );
    let second = link(&mail(&sink).await);
    assert_ne!(first, second);
    assert!(
        sink.next_message(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(follow_verification(&s, &b, &first).await.status, 400);

    // 24 hours on, the second has expired too.
    s.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let late = follow_verification(&s, &b, &second).await;
    assert_eq!(late.status, 400);
    let lin = s
        .provider
        .users()
        .find_by_email(None, "lin@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(!lin.email_verified);
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_through_the_link_and_every_session_ends() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b).await;
    setup(&s).await;
    // Ada is signed in somewhere.
    let elsewhere = Browser::new();
    let login = elsewhere.get(&s.url("/account/login")).await;
    let mut form = login.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    assert_eq!(
        elsewhere.post(&s.url("/account/login"), &form).await.status,
        303
    );

    let b = Browser::new();
    let page = b.get(&s.url("/account/forgot")).await;
    assert_eq!(page.status, 200);
    let unknown = submit(
        &s,
        &b,
        &page,
        "/account/forgot",
        &[("email", "nobody@example.com")],
    )
    .await;
    let known = submit(
        &s,
        &b,
        &page,
        "/account/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    assert_eq!((unknown.status, known.status), (200, 200));
    let strip = |p: &Page| {
        p.body
            .lines()
            .filter(|l| !l.contains("csrf"))
            .collect::<String>()
    };
    assert_eq!(strip(&unknown), strip(&known));
    let m = mail(&sink).await;
    assert_eq!(m.recipients(), ["ada@example.com"]);
    assert!(
        sink.next_message(Duration::from_millis(300))
            .await
            .is_none(),
        "no mail for nobody"
    );
    let path = link(&m);
    assert!(path.starts_with("/account/reset?token="), "{path}");

    let form = b.get(&s.url(&path)).await;
    assert_eq!(form.status, 200);
    // A weak password is refused and the link still works.
    let weak = submit(
        &s,
        &b,
        &form,
        "/account/reset",
        &[
            ("new_password", "password1"),
            ("confirm_password", "password1"),
        ],
    )
    .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("most common"));
    let done = submit(
        &s,
        &b,
        &form,
        "/account/reset",
        &[
            ("new_password", "a brand new passphrase"),
            ("confirm_password", "a brand new passphrase"),
        ],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Password changed"));
    // The "password changed" notice.
    let notice = mail(&sink).await;
    assert_eq!(notice.recipients(), ["ada@example.com"]);
    assert!(!notice.text().unwrap().contains("token="));

    assert_eq!(
        elsewhere.get(&s.url("/account")).await.status,
        303,
        "the other session ended"
    );
    assert_eq!(
        account_sign_in(&s, "ada@example.com", PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        account_sign_in(&s, "ada@example.com", "a brand new passphrase")
            .await
            .status,
        303
    );
    // Used: the link does not work again.
    let again = submit(
        &s,
        &b,
        &form,
        "/account/reset",
        &[
            ("new_password", "yet another passphrase"),
            ("confirm_password", "yet another passphrase"),
        ],
    )
    .await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("expired or was already used"));

    // A second link, an hour and a second later, has expired.
    let page = b.get(&s.url("/account/forgot")).await;
    submit(
        &s,
        &b,
        &page,
        "/account/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    let late = link(&mail(&sink).await);
    s.clock.advance(Duration::from_secs(3601));
    let form = b.get(&s.url(&late)).await;
    let r = submit(
        &s,
        &b,
        &form,
        "/account/reset",
        &[
            ("new_password", "yet another passphrase"),
            ("confirm_password", "yet another passphrase"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    let _ = s.clock.unix_now();
}

#[tokio::test]
async fn a_new_address_is_used_once_confirmed() {
    let sink = SmtpSink::start().await.unwrap();
    let s = server(&sink, |b| b).await;
    let id = setup(&s).await;
    let b = Browser::new();
    let login = b.get(&s.url("/account/login")).await;
    let mut form = login.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    b.post(&s.url("/account/login"), &form).await;
    let page = b.get(&s.url("/account")).await;
    let r = submit(
        &s,
        &b,
        &page,
        "/account",
        &[("name", "Ada Lovelace"), ("email", "ada@lovelace.example")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("We sent a link to ada@lovelace.example"));
    // Not yet changed.
    let user = s.provider.users().get(&id).await.unwrap().unwrap();
    assert_eq!(user.email, "ada@example.com");
    let m = mail(&sink).await;
    assert_eq!(m.recipients(), ["ada@lovelace.example"]);
    // The new address's owner did not choose the account's name: it is not in the message.
    assert!(
        !m.text().unwrap().contains("Ada Lovelace"),
        "{:?}",
        m.text()
    );
    let ok = follow_verification(&s, &b, &link(&m)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let user = s.provider.users().get(&id).await.unwrap().unwrap();
    assert_eq!(user.email, "ada@lovelace.example");
    assert!(user.email_verified);
}
