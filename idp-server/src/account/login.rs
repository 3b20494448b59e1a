//! The sign-in step: the login page, and checking a submitted e-mail and password under the
//! sign-in rate limit.

use std::net::IpAddr;
use std::time::Duration;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use idp_core::Password;

use super::second_factor::{self, Second};
use super::{FormContext, form_page, session};
use crate::Error;
use crate::issuer::paths;
use crate::manage::hooks::run as run_hook;
use crate::manage::{Actor, HookContext};
use crate::metrics::SignInOutcome;
use crate::store::{SessionRecord, User};
use crate::web::csrf::Purpose;
use crate::web::form::single;
use crate::web::{App, retry_after};

/// The login page, with an error message and the e-mail to fill in.
pub(crate) fn page(
    app: &App,
    headers: &HeaderMap,
    form: FormContext<'_>,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
) -> Response {
    // Links to the self-service pages that are open: the forgotten password (with a
    // mailer) and registration (for this tenant, with a mailer).
    let tenant = form.tenant.map(|t| t.id.as_str());
    let with_tenant = |path: &str| match tenant {
        Some(t) => format!("{}?tenant={}", app.issuer.endpoint(path), urlencoding(t)),
        None => app.issuer.endpoint(path),
    };
    let mail = app.mail.is_enabled();
    let forgot = mail.then(|| with_tenant(paths::ACCOUNT_FORGOT));
    let register = (mail && app.config.registration.open_for(tenant))
        .then(|| with_tenant(paths::ACCOUNT_REGISTER));
    let extra = minijinja::context! {
        error => error,
        email => email,
        forgot_url => forgot,
        register_url => register,
    };
    form_page(
        app,
        headers,
        "login.html",
        status,
        form,
        Purpose::Login,
        extra,
    )
}

/// `s` for a query parameter value (tenant ids are plain, but nothing is assumed).
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The outcome of a submitted login form.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// Signed in: the new session and its user, and the cookie to set.
    Done(Box<(SessionRecord, User)>, HeaderValue),
    /// Not signed in (yet): the page to show (the form again with a message, or the form
    /// of the second factor).
    Refused(Response),
}

/// Checks a submitted sign-in form for a user of `tenant` and, when the user is
/// authenticated, starts a session: the login form (`_action=login`: `email` and
/// `password`), or the code form of the second step (`_action=two_factor`, see
/// `second_factor`). A user with two-factor on gets the code form after a right password,
/// never a session.
pub(crate) async fn sign_in(
    app: &App,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    tenant: Option<&str>,
    addr: Option<IpAddr>,
    form: FormContext<'_>,
) -> Result<SignIn, Error> {
    if single(pairs, "_action").ok().flatten() == Some("two_factor") {
        return match second_factor::verify(app, headers, pairs, tenant, addr, form).await? {
            Second::Verified(user) => {
                let email = user.email.clone();
                finish(
                    app,
                    headers,
                    *user,
                    (tenant, addr),
                    form,
                    &email,
                    second_factor::amr(),
                )
                .await
            }
            Second::Refused(resp) => Ok(SignIn::Refused(resp)),
            Second::Restart(message) => {
                let mut resp = page(
                    app,
                    headers,
                    form,
                    StatusCode::UNAUTHORIZED,
                    Some(message),
                    "",
                );
                resp.headers_mut()
                    .append(http::header::SET_COOKIE, second_factor::clear_cookie(app));
                Ok(SignIn::Refused(resp))
            }
        };
    }
    password_step(app, headers, pairs, tenant, addr, form).await
}

/// Checks the `email` and `password` of a login form. A wrong password, an unknown e-mail
/// and a disabled account get the same answer, and count as a failure for that account
/// from `addr`.
async fn password_step(
    app: &App,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    tenant: Option<&str>,
    addr: Option<IpAddr>,
    form: FormContext<'_>,
) -> Result<SignIn, Error> {
    let email = single(pairs, "email")
        .ok()
        .flatten()
        .unwrap_or("")
        .trim()
        .to_owned();
    let password = single(pairs, "password").ok().flatten().unwrap_or("");
    // The form again with a message, when the attempt cannot be made now.
    let later = |status, message, wait| {
        let resp = page(app, headers, form, status, Some(message), &email);
        SignIn::Refused(retry_after(resp, wait))
    };
    if let Err(wait) = app.limiters.login_allowed(tenant, &email, addr).await {
        app.metrics.sign_in(SignInOutcome::Throttled);
        tracing::warn!(target: "idp::audit", event = "sign_in_throttled", tenant = tenant.unwrap_or("-"), client_addr = ?addr, "sign-in throttled");
        let message = "Too many sign-in attempts. Wait a minute and try again.";
        return Ok(later(StatusCode::TOO_MANY_REQUESTS, message, wait));
    }
    let user = if email.is_empty() || password.is_empty() {
        None
    } else {
        match app
            .users()
            .verify_password(tenant, &email, &Password::new(password))
            .await
        {
            Ok(user) => user,
            Err(Error::Busy) => {
                let message = "The server is busy. Try again in a moment.";
                let wait = Duration::from_secs(1);
                return Ok(later(StatusCode::SERVICE_UNAVAILABLE, message, wait));
            }
            Err(e) => return Err(e),
        }
    };
    let Some(user) = user else {
        // Not the e-mail: people type their password into it.
        app.metrics.sign_in(SignInOutcome::Failure);
        tracing::info!(target: "idp::audit", event = "sign_in_failed", tenant = tenant.unwrap_or("-"), client_addr = ?addr, "sign-in failed");
        app.limiters.login_failed(tenant, &email, addr).await;
        let resp = page(
            app,
            headers,
            form,
            StatusCode::UNAUTHORIZED,
            Some("Incorrect email or password."),
            &email,
        );
        return Ok(SignIn::Refused(resp));
    };
    if app.config.require_verified_email && !user.email_verified {
        tracing::info!(target: "idp::audit", event = "sign_in_unverified", user_id = %user.id, client_addr = ?addr, "sign-in refused: address not verified");
        let resp = page(
            app,
            headers,
            form,
            StatusCode::FORBIDDEN,
            Some(
                "Confirm your email address first: follow the link we sent you. \
                 Lost it? Ask for a new one on the confirmation page.",
            ),
            &email,
        );
        return Ok(SignIn::Refused(resp));
    }
    if app.users().two_factor().required(&user.id).await? {
        tracing::info!(target: "idp::audit", event = "sign_in_second_factor_asked", user_id = %user.id, tenant = tenant.unwrap_or("-"), client_addr = ?addr, "password right; second factor asked");
        let resp = second_factor::challenge(app, headers, &user, form).await?;
        return Ok(SignIn::Refused(resp));
    }
    let amr = crate::store::password_amr();
    finish(app, headers, user, (tenant, addr), form, &email, amr).await
}

/// The end of a sign-in whose factors are checked: the after-sign-in hook, then a session
/// that remembers how the user authenticated (`amr`).
async fn finish(
    app: &App,
    headers: &HeaderMap,
    user: User,
    (tenant, addr): (Option<&str>, Option<IpAddr>),
    form: FormContext<'_>,
    email: &str,
    amr: Vec<String>,
) -> Result<SignIn, Error> {
    let mut ctx = HookContext::new(Actor::User(user.id.clone()))
        .tenant(tenant)
        .client_addr(addr);
    if let Some(id) = form.client_id {
        ctx = ctx.client_id(id);
    }
    let hook = app.hooks().after_sign_in.as_ref();
    match run_hook(hook, "after_sign_in", ctx, user.clone(), |_| ()).await {
        Ok(()) => {}
        Err(Error::Rejected(message)) => {
            tracing::info!(target: "idp::audit", event = "sign_in_refused_by_hook", user_id = %user.id, tenant = tenant.unwrap_or("-"), client_addr = ?addr, "sign-in refused by a hook");
            let resp = page(
                app,
                headers,
                form,
                StatusCode::FORBIDDEN,
                Some(&message),
                email,
            );
            return Ok(SignIn::Refused(resp));
        }
        Err(e) => return Err(e),
    }
    let (rec, cookie) = session::start(app, headers, &user, amr).await?;
    app.metrics.sign_in(SignInOutcome::Success);
    tracing::info!(target: "idp::audit", event = "sign_in_succeeded", user_id = %user.id, sid = %rec.sid, tenant = tenant.unwrap_or("-"), client_addr = ?addr, "signed in");
    Ok(SignIn::Done(Box::new((rec, user)), cookie))
}
