//! `GET|POST /account/apps`: the applications the person let in — those they consented
//! to, and those holding a live grant (first-party ones ask no consent) — with "revoke":
//! the consent is forgotten (the application asks again next time) and every grant the
//! person gave it is revoked (its refresh tokens stop working, its access tokens turn
//! inactive, and it is told through back-channel logout where it listens).

use std::collections::BTreeMap;

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::{Person, enter, enter_form, render, when};
use crate::issuer::paths;
use crate::store::GrantsOf;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{RawBody, single};
use crate::web::{App, AppState};

pub(super) async fn get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Response {
    match enter(&app, addr, &headers).await {
        Ok(person) => page(&app, &headers, &person, StatusCode::OK, None).await,
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
    let client_id = single(&pairs, "client_id").ok().flatten().unwrap_or("");
    let user = &person.user.id;
    let forgot = match app.store.delete_consent(user, client_id).await {
        Ok(f) => f,
        Err(e) => return app.templates.server_error("account apps", e),
    };
    let grants = match app.store.grants(GrantsOf::User(user), app.now()).await {
        Ok(g) => g,
        Err(e) => return app.templates.server_error("account apps", e),
    };
    let mut revoked = 0;
    for g in grants.iter().filter(|g| g.client_id == client_id) {
        if let Err(e) = app
            .revoker()
            .end_grant(&g.grant_id, "revoked by the user")
            .await
        {
            return app.templates.server_error("account apps", e);
        }
        revoked += 1;
    }
    let notice = if forgot || revoked > 0 {
        tracing::info!(target: "idp::audit", event = "application_revoked_by_user", user_id = %user, client_id = %client_id, grants = revoked, "access revoked from the account page");
        "Access was revoked. The application will ask again next time."
    } else {
        "That application had no access."
    };
    page(&app, &headers, &person, StatusCode::OK, Some(notice)).await
}

async fn page(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    status: StatusCode,
    notice: Option<&str>,
) -> Response {
    let user = &person.user.id;
    let (consents, grants) = match (
        app.store.list_consents(user).await,
        app.store.grants(GrantsOf::User(user), app.now()).await,
    ) {
        (Ok(c), Ok(g)) => (c, g),
        (Err(e), _) | (_, Err(e)) => return app.templates.server_error("account apps", e),
    };
    // One row per application: the consented scope, or what its grants hold.
    let mut apps: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for c in &consents {
        apps.insert(c.client_id.clone(), (c.scope.to_string(), c.granted_at));
    }
    for g in &grants {
        apps.entry(g.client_id.clone())
            .or_insert_with(|| (String::new(), g.created_at));
    }
    let mut rows = Vec::with_capacity(apps.len());
    for (client_id, (scope, since)) in apps {
        let name = match app.client(&client_id).await {
            Ok(Some(c)) => c.name.clone().unwrap_or_else(|| client_id.clone()),
            Ok(None) => continue,
            Err(e) => return app.templates.server_error("account apps", e),
        };
        rows.push(minijinja::context! {
            client_id => client_id,
            name => name,
            scope => scope,
            since => when(since),
        });
    }
    let extra = minijinja::context! { apps => rows, notice => notice };
    render(
        app,
        headers,
        person,
        "account_apps.html",
        paths::ACCOUNT_APPS,
        status,
        extra,
    )
}
