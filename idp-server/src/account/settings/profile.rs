//! `GET|POST /account`: the profile — the e-mail address and whether it is verified, and
//! the name, which the person may change.

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::{Person, enter, enter_form, render};
use crate::issuer::paths;
use crate::manage::{Actor, UserUpdate};
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
    let update = UserUpdate {
        name: Some(name),
        ..UserUpdate::default()
    };
    let mut users = app.users().by(Actor::User(person.user.id.clone()));
    if let Some(a) = addr.0 {
        users = users.from_addr(a);
    }
    match users.update(&person.user.id, update).await {
        Ok(user) => {
            person.user = user;
            page(
                &app,
                &headers,
                &person,
                StatusCode::OK,
                None,
                Some("Saved."),
            )
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
