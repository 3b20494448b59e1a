//! `GET|POST /account`: the profile — the name, which the person may change, and the
//! e-mail address with whether it is verified. A new address replaces the old one only
//! once the person follows the link sent to it (and only if no other account of the
//! tenant has it by then).

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::{Person, enter, enter_form, links, render};
use crate::issuer::paths;
use crate::manage::{Actor, UserUpdate};
use crate::store::AccountTokenPurpose;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{RawBody, single};
use crate::web::{App, AppState};

/// The longest name kept.
const MAX_NAME: usize = 200;

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
    let (mut person, pairs) = match enter_form(&app, addr, &headers, raw).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = single(&pairs, "name")
        .ok()
        .flatten()
        .unwrap_or("")
        .trim()
        .to_owned();
    if name.chars().count() > MAX_NAME {
        let msg = "The name is too long (200 characters at most).";
        return page(
            &app,
            &headers,
            &person,
            StatusCode::BAD_REQUEST,
            Some(msg),
            None,
        );
    }
    let new_email = single(&pairs, "email").ok().flatten().unwrap_or("").trim();
    let mut notice = "Saved.".to_owned();
    if !new_email.is_empty() && !new_email.eq_ignore_ascii_case(&person.user.email) {
        let valid = new_email.len() <= 254
            && new_email
                .rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
            && !new_email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            let msg = "Enter a valid email address.";
            return page(
                &app,
                &headers,
                &person,
                StatusCode::BAD_REQUEST,
                Some(msg),
                None,
            );
        }
        if app.limiters.account_email(new_email, addr.0).await.is_err() {
            let msg = "Too many messages to this address. Wait and try again later.";
            let status = StatusCode::TOO_MANY_REQUESTS;
            return page(&app, &headers, &person, status, Some(msg), None);
        }
        let purpose = AccountTokenPurpose::VerifyEmail;
        if let Err(e) = links::send(&app, &person.user, purpose, new_email).await {
            return app.templates.server_error("account profile", e);
        }
        notice = format!(
            "Saved. We sent a link to {new_email}: your address changes when you follow it."
        );
    }
    let update = UserUpdate {
        name: Some(name),
        ..UserUpdate::default()
    };
    let users = app
        .users()
        .by(Actor::User(person.user.id.clone()))
        .from_addr(addr.0);
    match users.update(&person.user.id, update).await {
        Ok(user) => {
            person.user = user;
            page(&app, &headers, &person, StatusCode::OK, None, Some(&notice))
        }
        Err(crate::Error::Rejected(msg) | crate::Error::InvalidInput(msg)) => page(
            &app,
            &headers,
            &person,
            StatusCode::BAD_REQUEST,
            Some(&msg),
            None,
        ),
        Err(e) => app.templates.server_error("account profile", e),
    }
}

fn page(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let extra = minijinja::context! {
        email => person.user.email,
        email_verified => person.user.email_verified,
        name => person.user.name.as_deref().unwrap_or(""),
        error => error,
        notice => notice,
    };
    render(
        app,
        headers,
        person,
        "account.html",
        paths::ACCOUNT,
        status,
        extra,
    )
}
