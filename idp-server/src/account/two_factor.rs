//! `GET|POST /account/two-factor`: the signed-in user's two-factor page.
//!
//! Off: a QR code (an inline SVG rendered here, no script and no outside service) and the
//! secret as text for the authenticator app, and a form to confirm a current code, which
//! turns two-factor on and shows the ten backup codes once. On: the number of backup codes
//! left, and a form that turns it off with the password. Without a session the page is the
//! sign-in form (with its second step for a user who has two-factor on), posting here.
//! Every form carries a CSRF token bound to the session it is shown to.

use std::net::IpAddr;

use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use idp_core::Password;

use super::login::{self, SignIn};
use super::{FormContext, csrf_page, session};
use crate::Error;
use crate::issuer::paths;
use crate::manage::Actor;
use crate::store::{SessionRecord, User};
use crate::web::client_addr::ClientAddr;
use crate::web::csrf::Purpose;
use crate::web::form::{Bounds, RawBody, body, form_pairs, single};
use crate::web::{App, AppState, retry_after};

/// What the sign-in form on this page says it continues to.
const THIS_PAGE: &str = "your account settings";

/// The sign-in form's context: posting here, with no parameters to carry.
fn sign_in_form() -> FormContext<'static> {
    FormContext {
        tenant: None,
        action: paths::ACCOUNT_TWO_FACTOR,
        params: &[],
        client_name: THIS_PAGE,
        client_id: None,
    }
}

fn server_error(app: &App, e: impl std::fmt::Display) -> Response {
    app.templates.server_error("two-factor", e)
}

pub(crate) async fn get(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Response {
    if let Err(wait) = app.limiters.address(addr).await {
        return too_many(&app, wait);
    }
    match session::current(&app, &headers).await {
        Ok(Some((session, user))) => {
            match settings(&app, &headers, (&session, &user), Notice::None).await {
                Ok(r) => r,
                Err(e) => server_error(&app, e),
            }
        }
        Ok(None) => login::page(&app, &headers, sign_in_form(), StatusCode::OK, None, ""),
        Err(e) => server_error(&app, e),
    }
}

pub(crate) async fn post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    if let Err(wait) = app.limiters.address(addr).await {
        return too_many(&app, wait);
    }
    let Ok(pairs) = body(raw).and_then(|b| form_pairs(&headers, &b, Bounds::of(&app.config)))
    else {
        return app.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be a form of a bounded number of parameters.",
        );
    };
    let result = match single(&pairs, "_action").ok().flatten() {
        Some("login" | "two_factor") => sign_in(&app, addr, &headers, &pairs).await,
        Some(action @ ("enable" | "disable")) => {
            change(&app, addr, &headers, &pairs, action == "enable").await
        }
        _ => Ok(app.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown form action.",
        )),
    };
    result.unwrap_or_else(|e| server_error(&app, e))
}

fn too_many(app: &App, wait: std::time::Duration) -> Response {
    let resp = app.templates.error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "Too many requests from your address. Wait a moment and try again.",
    );
    retry_after(resp, wait)
}

fn forged(app: &App) -> Response {
    app.templates.error(
        StatusCode::FORBIDDEN,
        "invalid_request",
        "The form has expired or did not come from this site. Go back and try again.",
    )
}

/// The sign-in form (or its second step) posted here: on success, back to this page.
async fn sign_in(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Response, Error> {
    if !app.csrf.verify(&app.issuer, headers, pairs, Purpose::Login) {
        return Ok(forged(app));
    }
    match login::sign_in(app, headers, pairs, None, addr, sign_in_form()).await? {
        SignIn::Done(_, cookie) => {
            let target = app.issuer.endpoint(paths::ACCOUNT_TWO_FACTOR);
            let mut resp = Redirect::to(&target).into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(resp)
        }
        SignIn::Refused(resp) => Ok(resp),
    }
}

/// A message at the top of the settings.
#[derive(Debug, Clone, Copy)]
enum Notice<'a> {
    None,
    Info(&'a str),
    Error(&'a str),
}

/// The page for the signed-in user: the enrolment (a secret begun now, or the one begun
/// earlier) when two-factor is off, the way to turn it off when it is on.
async fn settings(
    app: &App,
    headers: &HeaderMap,
    (session, user): (&SessionRecord, &User),
    notice: Notice<'_>,
) -> Result<Response, Error> {
    let (info, error, status) = match notice {
        Notice::None => (None, None, StatusCode::OK),
        Notice::Info(m) => (Some(m), None, StatusCode::OK),
        Notice::Error(m) => (None, Some(m), StatusCode::BAD_REQUEST),
    };
    let users = app.users().by(Actor::User(user.id.clone()));
    let two_factor = users.two_factor();
    let st = two_factor.status(&user.id).await?;
    let ctx = if st.enabled {
        minijinja::context! {
            enabled => true,
            backup_codes_left => st.backup_codes_left,
            user_email => &user.email,
            notice => info,
            error => error,
        }
    } else {
        let label = app
            .issuer
            .as_str()
            .split_once("://")
            .map_or(app.issuer.as_str(), |(_, rest)| rest);
        let enrolment = two_factor.begin(user, label).await?;
        let qr = qr_svg(&enrolment.uri).ok_or_else(|| {
            Error::InvalidInput("the enrolment URI does not fit in a QR code".into())
        })?;
        minijinja::context! {
            enabled => false,
            qr_svg => minijinja::Value::from_safe_string(qr),
            secret => enrolment.secret.as_str(),
            user_email => &user.email,
            notice => info,
            error => error,
        }
    };
    let purpose = Purpose::TwoFactor { sid: &session.sid };
    let page = "totp_setup.html";
    Ok(csrf_page(
        app,
        headers,
        page,
        status,
        paths::ACCOUNT_TWO_FACTOR,
        purpose,
        ctx,
    ))
}

/// `text` as a QR code in an SVG element (black on white, quiet zone included), without
/// the XML declaration, to put inline in a page.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg ", "<svg role=\"img\" aria-label=\"QR code\" ", 1))
}

/// Turning two-factor on (with a code) or off (with the password), for the session's user.
async fn change(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    enable: bool,
) -> Result<Response, Error> {
    let Some((session, user)) = session::current(app, headers).await? else {
        let message = "You are not signed in (any more). Sign in to continue.";
        let form = sign_in_form();
        return Ok(login::page(
            app,
            headers,
            form,
            StatusCode::UNAUTHORIZED,
            Some(message),
            "",
        ));
    };
    let purpose = Purpose::TwoFactor { sid: &session.sid };
    if !app.csrf.verify(&app.issuer, headers, pairs, purpose) {
        return Ok(forged(app));
    }
    let tenant = user.tenant_id.as_deref();
    if let Err(wait) = app.limiters.login_allowed(tenant, &user.email, addr).await {
        let message = "Too many attempts. Wait a minute and try again.";
        let resp = settings(app, headers, (&session, &user), Notice::Error(message)).await?;
        return Ok(retry_after(resp, wait));
    }
    let users = app.users().by(Actor::User(user.id.clone()));
    if enable {
        let typed = single(pairs, "code").ok().flatten().unwrap_or("");
        let Some(codes) = users.two_factor().confirm(&user.id, typed).await? else {
            app.limiters.login_failed(tenant, &user.email, addr).await;
            let message = "That code is not right. Enter the code your authenticator app \
                           shows now (check that the device's clock is right).";
            return settings(app, headers, (&session, &user), Notice::Error(message)).await;
        };
        let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        let ctx = minijinja::context! {
            codes => codes,
            action => app.issuer.endpoint(paths::ACCOUNT_TWO_FACTOR),
        };
        return Ok(app
            .templates
            .render("backup_codes.html", StatusCode::OK, ctx));
    }
    let password = single(pairs, "password").ok().flatten().unwrap_or("");
    let right = !password.is_empty()
        && match users
            .verify_password(tenant, &user.email, &Password::new(password))
            .await
        {
            Ok(u) => u.is_some_and(|u| u.id == user.id),
            Err(Error::Busy) => {
                let message = "The server is busy. Try again in a moment.";
                return settings(app, headers, (&session, &user), Notice::Error(message)).await;
            }
            Err(e) => return Err(e),
        };
    if !right {
        app.limiters.login_failed(tenant, &user.email, addr).await;
        let message = "The password is not right. Two-factor authentication is still on.";
        return settings(app, headers, (&session, &user), Notice::Error(message)).await;
    }
    users.two_factor().disable(&user.id).await?;
    let message = "Two-factor authentication is off.";
    settings(app, headers, (&session, &user), Notice::Info(message)).await
}
