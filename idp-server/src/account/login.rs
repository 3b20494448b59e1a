//! The sign-in step: the login page, and checking a submitted e-mail and password under the
//! sign-in rate limit.

use std::net::IpAddr;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::Password;

use super::{FormContext, form_page, session};
use crate::Error;
use crate::store::{SessionRecord, User};
use crate::web::App;
use crate::web::form::single;

/// The login page, with an error message and the e-mail to fill in.
pub(crate) fn page(
    app: &App,
    headers: &HeaderMap,
    form: FormContext<'_>,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
) -> Response {
    let extra = minijinja::context! { error => error, email => email };
    form_page(app, headers, "login.html", status, form, extra)
}

/// The outcome of a submitted login form.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// Signed in: the new session and its user, and the cookie to set.
    Done(Box<(SessionRecord, User)>, HeaderValue),
    /// Refused: the page to show (the form again, with a message).
    Refused(Response),
}

/// Checks the `email` and `password` of a login form for a user of `tenant` and, when they
/// are right, starts a session. A wrong password, an unknown e-mail and a disabled account
/// get the same answer, and count as a failure for that account from `addr`.
pub(crate) async fn sign_in(
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
    if let Err(wait) = app.limiters.login_allowed(tenant, &email, addr).await {
        let mut resp = page(
            app,
            headers,
            form,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts. Wait a minute and try again."),
            &email,
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(SignIn::Refused(resp));
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
                let mut resp = page(
                    app,
                    headers,
                    form,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some("The server is busy. Try again in a moment."),
                    &email,
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
                return Ok(SignIn::Refused(resp));
            }
            Err(e) => return Err(e),
        }
    };
    let Some(user) = user else {
        tracing::info!("failed sign-in");
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
    let (rec, cookie) = session::start(app, headers, &user).await?;
    Ok(SignIn::Done(Box::new((rec, user)), cookie))
}
