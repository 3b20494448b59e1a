//! The account pages anyone may open, without a session: registration
//! (`/account/register`), e-mail verification (`/account/verify`), the forgotten password
//! (`/account/forgot`) and the new password it leads to (`/account/reset`).
//!
//! What they answer never tells whether an address has an account: registering with an
//! address in use shows the same page (after the same password hash) and e-mails its owner
//! instead; asking for a reset or a new verification link answers the same either way. Each
//! e-mail counts against an hourly limit per recipient and per client address. The links
//! are single-use and expire; opening one shows a form, and only submitting it uses the
//! token (mail scanners that fetch links use nothing).

use std::net::IpAddr;

use axum::extract::RawQuery;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use idp_core::Password;

use super::{forged, hidden_tenant, links, opened, read_form, tenant_param, too_many};
use crate::account::csrf_page;
use crate::issuer::paths;
use crate::mail::MailKind;
use crate::manage::{Actor, NewUser, UserUpdate, password_policy};
use crate::store::{AccountTokenPurpose, User};
use crate::web::client_addr::ClientAddr;
use crate::web::csrf::Purpose;
use crate::web::form::{Pairs, RawBody, single};
use crate::web::{App, AppState, retry_after};

const REGISTER: Purpose<'static> = Purpose::Public("register");
const VERIFY: Purpose<'static> = Purpose::Public("verify");
const FORGOT: Purpose<'static> = Purpose::Public("forgot");
const RESET: Purpose<'static> = Purpose::Public("reset");

/// The longest name kept.
const MAX_NAME: usize = 200;
/// The longest e-mail address read.
const MAX_EMAIL: usize = 254;

type Step<T> = Result<T, Response>;

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    single(pairs, name).ok().flatten().unwrap_or("")
}

/// The address limiter, then the form and its token (POST).
async fn posted(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    raw: RawBody,
    purpose: Purpose<'_>,
) -> Step<Pairs> {
    if let Err(wait) = app.limiters.address(addr).await {
        return Err(too_many(app, wait));
    }
    let pairs = read_form(app, headers, raw).await?;
    if !app.csrf.verify(&app.issuer, headers, &pairs, purpose) {
        return Err(forged(app));
    }
    Ok(pairs)
}

fn page(
    app: &App,
    headers: &HeaderMap,
    template: &str,
    path: &str,
    purpose: Purpose<'_>,
    status: StatusCode,
    extra: minijinja::Value,
) -> Response {
    let ctx = minijinja::context! {
        login => app.issuer.endpoint(paths::ACCOUNT_LOGIN),
        forgot => app.issuer.endpoint(paths::ACCOUNT_FORGOT),
        register => app.issuer.endpoint(paths::ACCOUNT_REGISTER),
        verify => app.issuer.endpoint(paths::ACCOUNT_VERIFY),
        ..extra
    };
    csrf_page(app, headers, template, status, path, purpose, ctx)
}

/// The page that says what happens next ("check your e-mail"), the same whatever the
/// address.
fn told(app: &App, title: &str, message: &str) -> Response {
    app.templates.render(
        "account_message.html",
        StatusCode::OK,
        minijinja::context! {
            login => app.issuer.endpoint(paths::ACCOUNT_LOGIN),
            title => title,
            message => message,
        },
    )
}

fn not_open(app: &App) -> Response {
    app.templates.error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Registration is not open here.",
    )
}

/// Whether registration is open for `tenant` (and e-mail can be sent, which it needs).
async fn registration_open(app: &App, tenant: Option<&str>) -> Result<bool, Response> {
    if !app.mail.is_enabled() || !app.config.registration.open_for(tenant) {
        return Ok(false);
    }
    match tenant {
        None => Ok(true),
        Some(t) => match app.tenant(t).await {
            Ok(found) => Ok(found.is_some()),
            Err(e) => Err(app.templates.server_error("register", e)),
        },
    }
}

// ---- registration ----

fn register_form(
    app: &App,
    headers: &HeaderMap,
    tenant: Option<&str>,
    status: StatusCode,
    error: Option<&str>,
    name: &str,
    email: &str,
) -> Response {
    page(
        app,
        headers,
        "register.html",
        paths::ACCOUNT_REGISTER,
        REGISTER,
        status,
        minijinja::context! {
            params => hidden_tenant(tenant),
            terms_url => app.config.registration.terms_url,
            error => error,
            name => name,
            email => email,
        },
    )
}

pub(super) async fn register_get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = match opened(&app, addr.0, raw).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let tenant = tenant_param(&q);
    match registration_open(&app, tenant.as_deref()).await {
        Ok(true) => register_form(
            &app,
            &headers,
            tenant.as_deref(),
            StatusCode::OK,
            None,
            "",
            "",
        ),
        Ok(false) => not_open(&app),
        Err(r) => r,
    }
}

pub(super) async fn register_post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let pairs = match posted(&app, addr, &headers, raw, REGISTER).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenant = tenant_param(&pairs);
    let tenant = tenant.as_deref();
    match registration_open(&app, tenant).await {
        Ok(true) => {}
        Ok(false) => return not_open(&app),
        Err(r) => return r,
    }
    match register(&app, addr, &headers, &pairs, tenant).await {
        Ok(r) | Err(r) => r,
    }
}

async fn register(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    tenant: Option<&str>,
) -> Step<Response> {
    let name = field(pairs, "name").trim();
    let email = field(pairs, "email").trim();
    let password = field(pairs, "password");
    let refuse_with = |status: StatusCode, msg: &str| {
        let shown_name: String = name.chars().take(MAX_NAME).collect();
        let shown_email: String = email.chars().take(MAX_EMAIL).collect();
        register_form(
            app,
            headers,
            tenant,
            status,
            Some(msg),
            &shown_name,
            &shown_email,
        )
    };
    let refuse = |msg: &str| refuse_with(StatusCode::BAD_REQUEST, msg);
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(refuse("Enter your name (200 characters at most)."));
    }
    let domain = match email.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && email.len() <= MAX_EMAIL
                && !email.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            domain
        }
        _ => return Err(refuse("Enter a valid email address.")),
    };
    if !app.config.registration.domain_allowed(domain) {
        return Err(refuse("Addresses of this domain cannot register here."));
    }
    if password != field(pairs, "confirm_password") {
        return Err(refuse("The password and its confirmation differ."));
    }
    let password = Password::new(password);
    if let Err(v) = password_policy::check(&password, email) {
        return Err(refuse(v.0));
    }
    if app.config.registration.terms_url.is_some() && field(pairs, "terms") != "accept" {
        return Err(refuse("Accept the terms to register."));
    }
    if let Err(wait) = app.limiters.account_email(email, addr).await {
        let resp = refuse_with(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many messages to this address. Wait and try again later.",
        );
        return Err(retry_after(resp, wait));
    }
    let existing = app
        .users()
        .find_by_email(tenant, email)
        .await
        .map_err(|e| app.templates.server_error("register", e))?;
    let users = app.users().by(Actor::Registration).from_addr(addr);
    let user = match existing {
        Some(owner) => {
            // As long as creating an account takes, and the owner hears of it.
            let _ = users.spend_hash(&password).await;
            if let Err(e) = links::notify(app, &owner, MailKind::AccountExists).await {
                return Err(app.templates.server_error("register", e));
            }
            tracing::info!(target: "idp::audit", event = "registration_address_in_use", user_id = %owner.id, client_addr = ?addr, "registration with an address in use; its owner was told");
            None
        }
        None => {
            let new = NewUser {
                email: email.to_owned(),
                password: Some(password),
                name: Some(name.to_owned()),
                email_verified: false,
                tenant_id: tenant.map(str::to_owned),
                ..NewUser::default()
            };
            match users.insert(new).await {
                Ok(u) => Some(u),
                // Registered a moment ago by someone else: the same answer.
                Err(crate::Error::Conflict(_)) => None,
                Err(crate::Error::Rejected(m) | crate::Error::InvalidInput(m)) => {
                    return Err(refuse(&m));
                }
                Err(crate::Error::Busy) => {
                    return Err(too_many(app, std::time::Duration::from_secs(1)));
                }
                Err(e) => return Err(app.templates.server_error("register", e)),
            }
        }
    };
    if let Some(user) = &user {
        tracing::info!(target: "idp::audit", event = "registered", user_id = %user.id, tenant = tenant.unwrap_or("-"), client_addr = ?addr, "a user registered");
        if let Err(e) = links::send(app, user, AccountTokenPurpose::VerifyEmail, &user.email).await
        {
            return Err(app.templates.server_error("register", e));
        }
    }
    Ok(told(
        app,
        "Check your email",
        "We sent a message to the address you entered. Follow its link to confirm the address, then sign in.",
    ))
}

// ---- verification ----

pub(super) async fn verify_get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = match opened(&app, addr.0, raw).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let token = field(&q, "token");
    verify_page(
        &app,
        &headers,
        StatusCode::OK,
        token,
        tenant_param(&q).as_deref(),
        None,
    )
}

fn verify_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    tenant: Option<&str>,
    error: Option<&str>,
) -> Response {
    let token: String = token.chars().take(128).collect();
    page(
        app,
        headers,
        "verify.html",
        paths::ACCOUNT_VERIFY,
        VERIFY,
        status,
        minijinja::context! {
            token => token,
            params => hidden_tenant(tenant),
            error => error,
        },
    )
}

pub(super) async fn verify_post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let pairs = match posted(&app, addr, &headers, raw, VERIFY).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenant = tenant_param(&pairs);
    if field(&pairs, "_action") == "resend" {
        let email = field(&pairs, "email").trim();
        if let Err(wait) = app.limiters.account_email(email, addr).await {
            let msg = "Too many messages to this address. Wait and try again later.";
            let resp = verify_page(
                &app,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                "",
                tenant.as_deref(),
                Some(msg),
            );
            return retry_after(resp, wait);
        }
        match app.users().find_by_email(tenant.as_deref(), email).await {
            Ok(Some(u)) if u.active && !u.email_verified => {
                if let Err(e) =
                    links::send(&app, &u, AccountTokenPurpose::VerifyEmail, &u.email).await
                {
                    return app.templates.server_error("verify", e);
                }
            }
            Ok(_) => {}
            Err(e) => return app.templates.server_error("verify", e),
        }
        return told(
            &app,
            "Check your email",
            "If an account with that address still needs confirming, we sent it a new link.",
        );
    }
    let token = field(&pairs, "token");
    let rec = match links::take(&app, token, AccountTokenPurpose::VerifyEmail).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            let msg = "This link has expired or was already used. Ask for a new one below.";
            return verify_page(
                &app,
                &headers,
                StatusCode::BAD_REQUEST,
                "",
                tenant.as_deref(),
                Some(msg),
            );
        }
        Err(e) => return app.templates.server_error("verify", e),
    };
    match confirm_address(&app, &rec.user_id, &rec.email).await {
        Ok(true) => told(
            &app,
            "Address confirmed",
            "Your email address is confirmed. You can sign in now.",
        ),
        Ok(false) => app.templates.error(
            StatusCode::CONFLICT,
            "invalid_request",
            "That address now belongs to another account, or this account is gone.",
        ),
        Err(e) => app.templates.server_error("verify", e),
    }
}

/// Marks `email` verified for the user: their current address, or the new one they asked
/// for (then it replaces the old, unless another account of the tenant has taken it).
async fn confirm_address(app: &App, user_id: &str, email: &str) -> Result<bool, crate::Error> {
    let Some(user) = app.store.get_user(user_id).await? else {
        return Ok(false);
    };
    let mut update = UserUpdate {
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    if !user.email.eq_ignore_ascii_case(email) {
        let taken = app
            .users()
            .find_by_email(user.tenant_id.as_deref(), email)
            .await?
            .is_some_and(|other| other.id != user.id);
        if taken {
            return Ok(false);
        }
        update.email = Some(email.to_owned());
    }
    let users = app.users().by(Actor::User(user.id.clone()));
    match users.update(&user.id, update).await {
        Ok(_) => {
            tracing::info!(target: "idp::audit", event = "email_verified", user_id = %user.id, "e-mail address verified");
            Ok(true)
        }
        Err(crate::Error::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---- forgotten password ----

pub(super) async fn forgot_get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = match opened(&app, addr.0, raw).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    if !app.mail.is_enabled() {
        return not_available(&app);
    }
    let tenant = tenant_param(&q);
    forgot_page(&app, &headers, StatusCode::OK, tenant.as_deref(), None)
}

fn not_available(app: &App) -> Response {
    app.templates.error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Password reset by email is not available here. Ask your administrator.",
    )
}

fn forgot_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    tenant: Option<&str>,
    error: Option<&str>,
) -> Response {
    page(
        app,
        headers,
        "forgot.html",
        paths::ACCOUNT_FORGOT,
        FORGOT,
        status,
        minijinja::context! { params => hidden_tenant(tenant), error => error },
    )
}

pub(super) async fn forgot_post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let pairs = match posted(&app, addr, &headers, raw, FORGOT).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !app.mail.is_enabled() {
        return not_available(&app);
    }
    let tenant = tenant_param(&pairs);
    let email = field(&pairs, "email").trim();
    if let Err(wait) = app.limiters.account_email(email, addr).await {
        let msg = "Too many messages to this address. Wait and try again later.";
        let resp = forgot_page(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            tenant.as_deref(),
            Some(msg),
        );
        return retry_after(resp, wait);
    }
    match app.users().find_by_email(tenant.as_deref(), email).await {
        Ok(Some(u)) if u.active => {
            if let Err(e) =
                links::send(&app, &u, AccountTokenPurpose::ResetPassword, &u.email).await
            {
                return app.templates.server_error("forgot", e);
            }
            tracing::info!(target: "idp::audit", event = "password_reset_requested", user_id = %u.id, client_addr = ?addr, "password reset link sent");
        }
        Ok(_) => {}
        Err(e) => return app.templates.server_error("forgot", e),
    }
    told(
        &app,
        "Check your email",
        "If an account uses that address, we sent it a link to choose a new password. The link works once, for a limited time.",
    )
}

// ---- new password ----

pub(super) async fn reset_get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = match opened(&app, addr.0, raw).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    reset_page(&app, &headers, StatusCode::OK, field(&q, "token"), None)
}

fn reset_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    error: Option<&str>,
) -> Response {
    let token: String = token.chars().take(128).collect();
    page(
        app,
        headers,
        "reset.html",
        paths::ACCOUNT_RESET,
        RESET,
        status,
        minijinja::context! { token => token, error => error },
    )
}

pub(super) async fn reset_post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let pairs = match posted(&app, addr, &headers, raw, RESET).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let token = field(&pairs, "token");
    let new = field(&pairs, "new_password");
    let refuse =
        |status, msg: &str, token: &str| reset_page(&app, &headers, status, token, Some(msg));
    if new != field(&pairs, "confirm_password") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The new password and its confirmation differ.",
            token,
        );
    }
    let rec = match links::take(&app, token, AccountTokenPurpose::ResetPassword).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            let msg = "This link has expired or was already used. Ask for a new one.";
            return refuse(StatusCode::BAD_REQUEST, msg, "");
        }
        Err(e) => return app.templates.server_error("reset", e),
    };
    let user = match app.store.get_user(&rec.user_id).await {
        Ok(Some(u)) if u.active => u,
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "This account cannot be used.", ""),
        Err(e) => return app.templates.server_error("reset", e),
    };
    let password = Password::new(new);
    if let Err(v) = password_policy::check(&password, &user.email) {
        // The link stays usable for a better password.
        if let Err(e) = app.store.insert_account_token(&rec).await {
            return app.templates.server_error("reset", e);
        }
        return refuse(StatusCode::BAD_REQUEST, v.0, token);
    }
    match set_new_password(&app, &user, password, &rec.email, addr).await {
        Ok(()) => told(
            &app,
            "Password changed",
            "Your password was changed and every session was signed out. Sign in with the new password.",
        ),
        Err(e) => app.templates.server_error("reset", e),
    }
}

/// The new password: every session ends and every grant is revoked (as any password
/// change does), every other reset link dies, and the address the link reached counts as
/// verified.
async fn set_new_password(
    app: &App,
    user: &User,
    password: Password,
    reached: &str,
    addr: Option<IpAddr>,
) -> Result<(), crate::Error> {
    let users = app.users().by(Actor::User(user.id.clone())).from_addr(addr);
    users.set_password(&user.id, password).await?;
    app.store
        .delete_account_tokens(&user.id, AccountTokenPurpose::ResetPassword)
        .await?;
    if !user.email_verified && user.email.eq_ignore_ascii_case(reached) {
        let update = UserUpdate {
            email_verified: Some(true),
            ..UserUpdate::default()
        };
        users.update(&user.id, update).await?;
    }
    links::notify(app, user, MailKind::PasswordChanged).await?;
    tracing::info!(target: "idp::audit", event = "password_reset", user_id = %user.id, client_addr = ?addr, "password reset through an e-mailed link");
    Ok(())
}
