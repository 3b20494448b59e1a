//! `GET|POST /oauth/logout`: the end-session endpoint (OIDC RP-Initiated Logout 1.0).
//!
//! With an `id_token_hint` that names the signed-in user the session ends at once. Without
//! one (or with one naming someone else) the person is asked first (§2): the confirmation
//! page posts back here with `_action=logout` and a CSRF token bound to the session, and
//! only that ends it. A cross-site request without a valid token ends nothing.

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use url::Url;

use crate::account::{logout as confirm, session};
use crate::store::{SessionRecord, User};
use crate::web::csrf::Purpose;
use crate::web::form::{Bounds, RawBody, body, decode_pairs, single};
use crate::web::{App, AppState};

pub(crate) async fn logout_get(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match decode_pairs(
        query.unwrap_or_default().as_bytes(),
        Bounds::of(&app.config),
    ) {
        Ok(pairs) => logout(&app, &headers, &pairs, false).await,
        Err(_) => too_many(&app),
    }
}

pub(crate) async fn logout_post(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    match body(raw).and_then(|b| decode_pairs(&b, Bounds::of(&app.config))) {
        Ok(pairs) => logout(&app, &headers, &pairs, true).await,
        Err(_) => too_many(&app),
    }
}

fn too_many(app: &App) -> Response {
    app.templates.error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "The request has too many parameters, or one that is too long.",
    )
}

/// Ends the SSO session (at once with a hint naming its user, else once confirmed) and
/// redirects to a registered `post_logout_redirect_uri` (with `state`), or shows the
/// signed-out page. An unregistered URI is never followed.
async fn logout(
    app: &App,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    is_post: bool,
) -> Response {
    let page = |msg: &str| {
        app.templates
            .error(StatusCode::BAD_REQUEST, "invalid_request", msg)
    };
    let (Ok(hint), Ok(target), Ok(state), Ok(client_id), Ok(action)) = (
        single(pairs, "id_token_hint"),
        single(pairs, "post_logout_redirect_uri"),
        single(pairs, "state"),
        single(pairs, "client_id"),
        single(pairs, "_action"),
    ) else {
        return page("A parameter is repeated.");
    };
    let confirmed = match action {
        None => false,
        Some(confirm::ACTION) if is_post => true,
        Some(confirm::ACTION) => return page("The form must be submitted with POST."),
        Some(_) => return page("Unknown form action."),
    };
    let hint = match hint {
        None => None,
        Some(t) => match app.verify_id_token_hint(t) {
            Some(c) => Some(c),
            None => return page("The id_token_hint is not a valid ID token from this provider."),
        },
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.aud.iter().next().map(str::to_owned));
    if let (Some(a), Some(b)) = (&hinted_client, client_id)
        && a != b
    {
        return page("client_id does not match the id_token_hint.");
    }
    let client_id = hinted_client.or(client_id.map(str::to_owned));

    // End the session this browser holds (and only that one): at once when the hint names
    // its user, after the confirmation form otherwise.
    let mut resp_cookies = Vec::new();
    let current = match session::current(app, headers).await {
        Ok(c) => c,
        Err(e) => return app.templates.server_error("logout", e),
    };
    if let Some((s, user)) = current {
        if confirmed {
            if !app
                .csrf
                .verify(&app.issuer, headers, pairs, Purpose::Logout { sid: &s.sid })
            {
                return app.templates.error(
                    StatusCode::FORBIDDEN,
                    "invalid_request",
                    "The form has expired or did not come from this site. You are still signed in.",
                );
            }
        } else if hint.as_ref().is_none_or(|c| c.sub != user.id) {
            let carried = [
                ("post_logout_redirect_uri", target),
                ("state", state),
                ("client_id", client_id.as_deref()),
            ];
            return ask_first(app, headers, &s, &user, &carried).await;
        }
        match session::end(app, &s).await {
            Ok(c) => resp_cookies.push(c),
            Err(e) => return app.templates.server_error("logout", e),
        }
    }

    let mut resp = after_logout(app, target, client_id.as_deref(), state).await;
    for c in resp_cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The confirmation page for `session`, carrying the request's parameters that are set.
async fn ask_first(
    app: &App,
    headers: &HeaderMap,
    session: &SessionRecord,
    user: &User,
    carried: &[(&'static str, Option<&str>)],
) -> Response {
    let carried: Vec<(&str, &str)> = carried
        .iter()
        .filter_map(|(name, value)| value.map(|v| (*name, v)))
        .collect();
    let client_id = carried.iter().find(|(n, _)| *n == "client_id").map(|c| c.1);
    let client = match client_id {
        Some(id) => app.client(id).await.ok().flatten(),
        None => None,
    };
    let client_name = client
        .as_ref()
        .map(|c| c.name.as_deref().unwrap_or(&c.client_id));
    confirm::confirm_page(app, headers, session, user, &carried, client_name)
}

/// Where the browser goes once signed out: a registered `post_logout_redirect_uri` (with
/// `state`), or the signed-out page.
async fn after_logout(
    app: &App,
    target: Option<&str>,
    client_id: Option<&str>,
    state: Option<&str>,
) -> Response {
    let signed_out = || {
        app.templates
            .render("logged_out.html", StatusCode::OK, minijinja::context! {})
    };
    let (target, client_id) = match (target, client_id) {
        (Some(t), Some(c)) => (t, c),
        (Some(_), None) => {
            return app.templates.error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "You are signed out. A post-logout redirect needs id_token_hint or client_id.",
            );
        }
        _ => return signed_out(),
    };
    let client = app.client(client_id).await.ok().flatten();
    let registered = client
        .as_ref()
        .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == target));
    if !registered {
        return app.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "You are signed out, but the post-logout redirect URI is not registered for this application.",
        );
    }
    let Ok(mut url) = Url::parse(target) else {
        return signed_out();
    };
    if let Some(s) = state {
        url.query_pairs_mut().append_pair("state", s);
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
