//! `GET|POST /account/sessions`: the person's live sessions (this browser marked), with
//! "sign out" for one of them and for every other. A session is named by its public `sid`,
//! never by its cookie, and only the person's own sessions can be ended.

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::{Person, enter, enter_form, render, see_other, when};
use crate::account::session;
use crate::issuer::paths;
use crate::store::SessionRecord;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{RawBody, single};
use crate::web::{App, AppState};

/// The most sessions the page lists (the newest); "sign out every other" ends them all.
const SHOWN: usize = 50;

pub(super) async fn get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Response {
    match enter(&app, addr, &headers).await {
        Ok(person) => page(&app, &headers, &person, StatusCode::OK, None, None).await,
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
    let live = match app
        .store
        .list_user_sessions(&person.user.id, app.now())
        .await
    {
        Ok(l) => l,
        Err(e) => return app.templates.server_error("account sessions", e),
    };
    let ending: Vec<&SessionRecord> = match single(&pairs, "_action").ok().flatten() {
        Some("end") => {
            let sid = single(&pairs, "sid").ok().flatten().unwrap_or("");
            match live.iter().find(|s| s.sid == sid) {
                Some(s) => vec![s],
                None => {
                    let msg = "That session has already ended.";
                    return page(&app, &headers, &person, StatusCode::OK, Some(msg), None).await;
                }
            }
        }
        Some("end_others") => live
            .iter()
            .filter(|s| s.sid != person.session.sid)
            .collect(),
        _ => {
            return app.templates.error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unknown form action.",
            );
        }
    };
    // This browser's own session is ended below, with its cookie.
    let mut this_one = false;
    for s in &ending {
        if s.sid == person.session.sid {
            this_one = true;
        } else if let Err(e) = app.revoker().end_session(s).await {
            return app.templates.server_error("account sessions", e);
        }
    }
    tracing::info!(target: "idp::audit", event = "sessions_ended_by_user", user_id = %person.user.id, count = ending.len(), "sessions ended from the account page");
    if this_one {
        // Signed out here: to the login page, with the cookie cleared.
        match session::end(&app, &person.session).await {
            Ok(clear) => return see_other(&app, paths::ACCOUNT_LOGIN, Some(clear)),
            Err(e) => return app.templates.server_error("account sessions", e),
        }
    }
    let notice = match ending.len() {
        1 => "The session was signed out.".to_owned(),
        0 => "There was no other session.".to_owned(),
        n => format!("{n} sessions were signed out."),
    };
    page(&app, &headers, &person, StatusCode::OK, None, Some(&notice)).await
}

async fn page(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let live = match app
        .store
        .list_user_sessions(&person.user.id, app.now())
        .await
    {
        Ok(l) => l,
        Err(e) => return app.templates.server_error("account sessions", e),
    };
    let total = live.len();
    let rows: Vec<minijinja::Value> = live
        .iter()
        .take(SHOWN)
        .map(|s| {
            minijinja::context! {
                sid => s.sid,
                signed_in => when(s.auth_time),
                expires => when(s.expires_at),
                current => s.sid == person.session.sid,
            }
        })
        .collect();
    let extra = minijinja::context! {
        sessions => rows,
        hidden => total.saturating_sub(SHOWN),
        others => total > 1,
        error => error,
        notice => notice,
    };
    render(
        app,
        headers,
        person,
        "account_sessions.html",
        paths::ACCOUNT_SESSIONS,
        status,
        extra,
    )
}
