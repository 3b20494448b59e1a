//! `GET|POST /account/two-factor`: the signed-in person's two-factor authentication.
//!
//! Off: a QR code (an inline SVG rendered here, no script and no outside service) and the
//! secret as text for the authenticator app, and a form to confirm a current code, which
//! turns two-factor on and shows the ten backup codes once. On: the number of backup codes
//! left, and a form that turns it off with the password (checked under the sign-in
//! throttle, as wrong confirmation codes are).

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use idp_core::Password;

use super::{Person, enter, enter_form, render, too_many};
use crate::Error;
use crate::issuer::paths;
use crate::manage::Actor;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{RawBody, single};
use crate::web::{App, AppState, retry_after};

pub(super) async fn get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Response {
    match enter(&app, addr, &headers).await {
        Ok(person) => page(&app, &headers, &person, Notice::None).await,
        Err(r) => r,
    }
}

pub(super) async fn post(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let (person, pairs) = match enter_form(&app, addr, &headers, raw).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenant = person.user.tenant_id.as_deref();
    let email = person.user.email.as_str();
    if let Err(wait) = app.limiters.login_allowed(tenant, email, addr.0).await {
        let message = "Too many attempts. Wait a minute and try again.";
        let resp = page(&app, &headers, &person, Notice::Error(message)).await;
        return retry_after(resp, wait);
    }
    let users = app.users().by(Actor::User(person.user.id.clone()));
    let two_factor = users.two_factor();
    match single(&pairs, "_action").ok().flatten() {
        Some("enable") => {
            let typed = single(&pairs, "code").ok().flatten().unwrap_or("");
            match two_factor.confirm(&person.user.id, typed).await {
                Ok(Some(codes)) => {
                    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                    let ctx = minijinja::context! { codes => codes };
                    render(
                        &app,
                        &headers,
                        &person,
                        "backup_codes.html",
                        paths::ACCOUNT_TWO_FACTOR,
                        StatusCode::OK,
                        ctx,
                    )
                }
                Ok(None) => {
                    app.limiters.login_failed(tenant, email, addr.0).await;
                    let message = "That code is not right. Enter the code your authenticator \
                                   app shows now (check that the device's clock is right).";
                    page(&app, &headers, &person, Notice::Error(message)).await
                }
                Err(e) => app.templates.server_error("two-factor", e),
            }
        }
        Some("disable") => {
            let password = single(&pairs, "password").ok().flatten().unwrap_or("");
            let right = !password.is_empty()
                && match users
                    .verify_password(tenant, email, &Password::new(password))
                    .await
                {
                    Ok(u) => u.is_some_and(|u| u.id == person.user.id),
                    Err(Error::Busy) => {
                        return too_many(&app, std::time::Duration::from_secs(1));
                    }
                    Err(e) => return app.templates.server_error("two-factor", e),
                };
            if !right {
                app.limiters.login_failed(tenant, email, addr.0).await;
                let message = "The password is not right. Two-factor authentication is still on.";
                return page(&app, &headers, &person, Notice::Error(message)).await;
            }
            if let Err(e) = two_factor.disable(&person.user.id).await {
                return app.templates.server_error("two-factor", e);
            }
            let message = "Two-factor authentication is off.";
            page(&app, &headers, &person, Notice::Info(message)).await
        }
        _ => app.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown form action.",
        ),
    }
}

/// A message at the top of the page.
#[derive(Debug, Clone, Copy)]
enum Notice<'a> {
    None,
    Info(&'a str),
    Error(&'a str),
}

/// The page: the enrolment (a secret begun now, or the one begun earlier) when two-factor
/// is off, the way to turn it off when it is on.
async fn page(app: &App, headers: &HeaderMap, person: &Person, notice: Notice<'_>) -> Response {
    match settings(app, headers, person, notice).await {
        Ok(r) => r,
        Err(e) => app.templates.server_error("two-factor", e),
    }
}

async fn settings(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    notice: Notice<'_>,
) -> Result<Response, Error> {
    let (info, error, status) = match notice {
        Notice::None => (None, None, StatusCode::OK),
        Notice::Info(m) => (Some(m), None, StatusCode::OK),
        Notice::Error(m) => (None, Some(m), StatusCode::BAD_REQUEST),
    };
    let user = &person.user;
    let users = app.users().by(Actor::User(user.id.clone()));
    let two_factor = users.two_factor();
    let st = two_factor.status(&user.id).await?;
    let ctx = if st.enabled {
        minijinja::context! {
            enabled => true,
            backup_codes_left => st.backup_codes_left,
            notice => info,
            error => error,
        }
    } else {
        // The name the authenticator app shows: the issuer without its scheme.
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
            notice => info,
            error => error,
        }
    };
    Ok(render(
        app,
        headers,
        person,
        "totp_setup.html",
        paths::ACCOUNT_TWO_FACTOR,
        status,
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
