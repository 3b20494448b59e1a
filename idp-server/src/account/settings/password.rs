//! `GET|POST /account/password`: a new password, chosen under the password policy, after
//! the current one (checked under the sign-in throttle, so this form cannot be used to
//! guess it). A new password ends every session and revokes every grant of the user, as
//! any password change does; this browser is signed in again at once.

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use idp_core::Password;

use super::{Person, enter, enter_form, render, too_many};
use crate::account::session;
use crate::issuer::paths;
use crate::manage::{Actor, password_policy};
use crate::web::client_addr::ClientAddr;
use crate::web::form::{RawBody, single};
use crate::web::{App, AppState, retry_after};

pub(super) async fn get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Response {
    match enter(&app, addr, &headers).await {
        Ok(person) => page(&app, &headers, &person, StatusCode::OK, None, None),
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
    let field = |n| single(&pairs, n).ok().flatten().unwrap_or("");
    let (current, new, confirm) = (
        field("current_password"),
        field("new_password"),
        field("confirm_password"),
    );
    let refuse = |msg: &str| {
        page(
            &app,
            &headers,
            &person,
            StatusCode::BAD_REQUEST,
            Some(msg),
            None,
        )
    };
    let tenant = person.user.tenant_id.as_deref();
    let email = person.user.email.as_str();
    if let Err(wait) = app.limiters.login_allowed(tenant, email, addr.0).await {
        let resp = page(
            &app,
            &headers,
            &person,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many attempts. Wait a minute and try again."),
            None,
        );
        return retry_after(resp, wait);
    }
    let verified = if current.is_empty() {
        None
    } else {
        match app
            .users()
            .verify_password(tenant, email, &Password::new(current))
            .await
        {
            Ok(user) => user.filter(|u| u.id == person.user.id),
            Err(crate::Error::Busy) => return too_many(&app, std::time::Duration::from_secs(1)),
            Err(e) => return app.templates.server_error("account password", e),
        }
    };
    if verified.is_none() {
        app.limiters.login_failed(tenant, email, addr.0).await;
        return refuse("The current password is not right.");
    }
    if new != confirm {
        return refuse("The new password and its confirmation differ.");
    }
    let new = Password::new(new);
    if let Err(v) = password_policy::check(&new, email) {
        return refuse(v.0);
    }
    let users = app
        .users()
        .by(Actor::User(person.user.id.clone()))
        .from_addr(addr.0);
    if let Err(e) = users.set_password(&person.user.id, new).await {
        return match e {
            crate::Error::InvalidInput(m) | crate::Error::Rejected(m) => refuse(&m),
            e => app.templates.server_error("account password", e),
        };
    }
    // Every session ended with the change, this one too: sign this browser in again.
    // (Signed in as before: the same factors.)
    let amr = person.session.amr.clone();
    let (rec, cookie) = match session::start(&app, &headers, &person.user, amr).await {
        Ok(s) => s,
        Err(e) => return app.templates.server_error("account password", e),
    };
    let fresh = Person {
        session: rec,
        user: person.user,
    };
    let mut resp = page(
        &app,
        &headers,
        &fresh,
        StatusCode::OK,
        None,
        Some("Your password was changed. Every other session was signed out."),
    );
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

fn page(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let extra = minijinja::context! { error => error, notice => notice };
    render(
        app,
        headers,
        person,
        "account_password.html",
        paths::ACCOUNT_PASSWORD,
        status,
        extra,
    )
}
