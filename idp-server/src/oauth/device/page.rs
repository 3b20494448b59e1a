//! `GET|POST /device`: the verification page of the device authorization grant (RFC 8628
//! §3.3). A person signs in (the login page of `account/`, posting back here), enters the
//! code their device shows, reviews what the application asks for, and allows or denies.
//!
//! Every form carries a CSRF token: the sign-in form's `Purpose::Login`, the code and
//! decision forms' `Purpose::Device`, bound to the session they are shown to. A wrong,
//! expired or already decided code is a failure of the client address (and of all
//! addresses together) in the limiters, so that eight characters cannot be guessed. Nothing
//! here writes a user code to the log in full.

use std::net::IpAddr;

use axum::extract::RawQuery;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::user_code;
use crate::account::login::{self, SignIn};
use crate::account::{FormContext, csrf_page, session};
use crate::issue::{is_offline, restrict_to_user};
use crate::issuer::paths;
use crate::store::{
    Client, DeviceCodeRecord, DeviceDecision, GrantRecord, GrantsOf, SessionRecord, User,
};
use crate::web::client_addr::ClientAddr;
use crate::web::csrf::Purpose;
use crate::web::form::{Bounds, RawBody, body, decode_pairs, form_pairs, single};
use crate::web::{App, AppState, retry_after};

/// The name the sign-in page gives the application before the code is known.
const ANY_DEVICE: &str = "your device";

/// The longest user code echoed back into a form (what the user typed, or the query).
const MAX_ECHO: usize = 32;

type Step<T> = Result<T, Response>;

pub(crate) async fn get(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(wait) = app.limiters.address(addr).await {
        return too_many(&app, wait);
    }
    let pairs = match decode_pairs(
        query.unwrap_or_default().as_bytes(),
        Bounds::of(&app.config),
    ) {
        Ok(p) => p,
        Err(_) => return bad_request(&app, "The address has too many or too long parameters."),
    };
    let typed = echo(single(&pairs, "user_code").ok().flatten());
    match session::current(&app, &headers).await {
        Ok(Some((session, user))) => code_page(&app, &headers, &session, &user, &typed, None),
        Ok(None) => sign_in_page(&app, &headers, &typed, ANY_DEVICE, None),
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
    let pairs = match body(raw).and_then(|b| form_pairs(&headers, &b, Bounds::of(&app.config))) {
        Ok(p) => p,
        Err(_) => {
            return bad_request(
                &app,
                "The request body must be a form of a bounded number of parameters.",
            );
        }
    };
    let step = match single(&pairs, "_action").ok().flatten() {
        Some("login" | "two_factor") => sign_in(&app, addr, &headers, &pairs).await,
        Some("code") => enter_code(&app, addr, &headers, &pairs).await,
        Some("decide") => decide(&app, addr, &headers, &pairs).await,
        _ => Err(bad_request(&app, "Unknown form action.")),
    };
    match step {
        Ok(r) | Err(r) => r,
    }
}

/// What the user typed (or the link carried), to put back into a form: trimmed and cut.
fn echo(typed: Option<&str>) -> String {
    typed.unwrap_or("").trim().chars().take(MAX_ECHO).collect()
}

fn server_error(app: &App, e: impl std::fmt::Display) -> Response {
    app.templates.server_error("device", e)
}

fn bad_request(app: &App, message: &str) -> Response {
    app.templates
        .error(StatusCode::BAD_REQUEST, "invalid_request", message)
}

fn too_many(app: &App, wait: std::time::Duration) -> Response {
    let resp = app.templates.error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "Too many requests from your address. Wait a moment and try again.",
    );
    retry_after(resp, wait)
}

fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The sign-in page, posting back here with the code the user has so far.
fn sign_in_page(
    app: &App,
    headers: &HeaderMap,
    typed: &str,
    client_name: &str,
    error: Option<&str>,
) -> Response {
    let params = if typed.is_empty() {
        Vec::new()
    } else {
        vec![("user_code".to_owned(), typed.to_owned())]
    };
    let form = FormContext {
        action: paths::DEVICE,
        params: &params,
        client_name,
        client_id: None,
        tenant: None,
    };
    login::page(app, headers, form, StatusCode::OK, error, "")
}

/// The form for the user code, shown to `session`.
fn code_page(
    app: &App,
    headers: &HeaderMap,
    session: &SessionRecord,
    user: &User,
    typed: &str,
    error: Option<(StatusCode, &str)>,
) -> Response {
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let ctx = minijinja::context! {
        step => "code",
        user_email => user.email,
        user_code => typed,
        error => error,
    };
    let purpose = Purpose::Device { sid: &session.sid };
    csrf_page(
        app,
        headers,
        "device.html",
        status,
        paths::DEVICE,
        purpose,
        ctx,
    )
}

/// The page of a decision made (or refused).
fn done_page(app: &App, status: StatusCode, heading: &str, message: &str) -> Response {
    let ctx = minijinja::context! { step => "done", heading => heading, message => message };
    app.templates.render("device.html", status, ctx)
}

/// The 403 page when the form's CSRF token is not the one for `purpose`.
fn refuse_forged(
    app: &App,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    purpose: Purpose<'_>,
) -> Option<Response> {
    (!app.csrf.verify(&app.issuer, headers, pairs, purpose)).then(|| {
        app.templates.error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The form has expired or did not come from this site. Go back and try again.",
        )
    })
}

/// The pending authorization `typed` names, under the guessing limit: an unknown, expired
/// or decided code counts as a failure of `addr` and is answered with a message.
async fn pending(
    app: &App,
    addr: Option<IpAddr>,
    typed: &str,
) -> Result<Result<(DeviceCodeRecord, std::sync::Arc<Client>), Refusal>, Response> {
    if let Err(wait) = app.limiters.user_code_allowed(addr).await {
        tracing::warn!(target: "idp::audit", event = "user_code_throttled", client_addr = ?addr, "user code entry throttled");
        return Ok(Err(Refusal::Throttled(wait)));
    }
    let found = match user_code::normalize(typed) {
        Some(code) => app
            .store
            .find_pending_user_code(&code, app.now())
            .await
            .map_err(|e| server_error(app, e))?,
        None => None,
    };
    let client = match &found {
        Some(rec) => app
            .client(&rec.client_id)
            .await
            .map_err(|e| server_error(app, e))?
            .filter(|c| c.active),
        None => None,
    };
    match (found, client) {
        (Some(rec), Some(client)) => Ok(Ok((rec, client))),
        _ => {
            tracing::info!(target: "idp::audit", event = "user_code_failed", client_addr = ?addr, "wrong user code");
            app.limiters.user_code_failed(addr).await;
            Ok(Err(Refusal::Unknown))
        }
    }
}

/// Why a user code was not taken.
#[derive(Debug)]
enum Refusal {
    Unknown,
    Throttled(std::time::Duration),
}

impl Refusal {
    /// The code form again, with the reason.
    fn page(
        &self,
        app: &App,
        headers: &HeaderMap,
        session: &SessionRecord,
        user: &User,
        typed: &str,
    ) -> Response {
        match self {
            Self::Unknown => code_page(
                app,
                headers,
                session,
                user,
                typed,
                Some((
                    StatusCode::BAD_REQUEST,
                    "That code is not valid, has expired or was already used. Check the code on your device and try again.",
                )),
            ),
            Self::Throttled(wait) => retry_after(
                code_page(
                    app,
                    headers,
                    session,
                    user,
                    typed,
                    Some((
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many wrong codes. Wait a minute and try again.",
                    )),
                ),
                *wait,
            ),
        }
    }
}

/// The signed-in user, if any, and whether their tenant is the client's.
async fn current(app: &App, headers: &HeaderMap) -> Step<Option<(SessionRecord, User)>> {
    session::current(app, headers)
        .await
        .map_err(|e| server_error(app, e))
}

fn same_tenant(client: &Client, user: &User) -> bool {
    client.tenant_id == user.tenant_id
}

fn client_name(client: &Client) -> &str {
    client.name.as_deref().unwrap_or(&client.client_id)
}

/// The sign-in form posted here. The account is looked up in the tenant of the
/// application whose code came with the form, if any; then the code form.
async fn sign_in(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Step<Response> {
    if let Some(refused) = refuse_forged(app, headers, pairs, Purpose::Login) {
        return Err(refused);
    }
    let typed = echo(single(pairs, "user_code").ok().flatten());
    let client = if typed.is_empty() {
        None
    } else {
        pending(app, addr, &typed).await?.ok().map(|(_, c)| c)
    };
    let tenant = client.as_ref().and_then(|c| c.tenant_id.clone());
    let name = client.as_deref().map_or(ANY_DEVICE, client_name);
    let params = if typed.is_empty() {
        Vec::new()
    } else {
        vec![("user_code".to_owned(), typed.clone())]
    };
    let form = FormContext {
        action: paths::DEVICE,
        params: &params,
        client_name: name,
        client_id: client.as_deref().map(|c| c.client_id.as_str()),
        tenant: None,
    };
    match login::sign_in(app, headers, pairs, tenant.as_deref(), addr, form).await {
        Ok(SignIn::Done(signed_in, cookie)) => {
            let (session, user) = *signed_in;
            // The code form for the new session (its CSRF token is bound to it).
            let page = code_page(app, headers, &session, &user, &typed, None);
            Ok(with_cookie(page, Some(cookie)))
        }
        Ok(SignIn::Refused(resp)) => Ok(resp),
        Err(e) => Err(server_error(app, e)),
    }
}

/// The code form posted: the review page for the code, or the form again with a reason.
async fn enter_code(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Step<Response> {
    let typed = echo(single(pairs, "user_code").ok().flatten());
    let Some((session, user)) = current(app, headers).await? else {
        return Ok(sign_in_page(app, headers, &typed, ANY_DEVICE, None));
    };
    if let Some(refused) = refuse_forged(app, headers, pairs, Purpose::Device { sid: &session.sid })
    {
        return Err(refused);
    }
    let (rec, client) = match pending(app, addr, &typed).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(refusal.page(app, headers, &session, &user, &typed)),
    };
    if !same_tenant(&client, &user) {
        return Ok(other_tenant(app, headers, &typed, &client));
    }
    let scope = restrict_to_user(&rec.scope, &user);
    let ctx = minijinja::context! {
        step => "review",
        client_name => client_name(&client),
        user_email => user.email,
        user_code => user_code::display(&rec.user_code),
        scopes => scope.iter().collect::<Vec<_>>(),
    };
    let purpose = Purpose::Device { sid: &session.sid };
    Ok(csrf_page(
        app,
        headers,
        "device.html",
        StatusCode::OK,
        paths::DEVICE,
        purpose,
        ctx,
    ))
}

/// A code of another tenant's application: sign in with an account of that tenant.
fn other_tenant(app: &App, headers: &HeaderMap, typed: &str, client: &Client) -> Response {
    let message = "This code belongs to an application of another organisation. \
                   Sign in with your account there.";
    sign_in_page(app, headers, typed, client_name(client), Some(message))
}

/// The decision form posted: approve (a grant, then the decision) or deny.
async fn decide(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Step<Response> {
    let typed = echo(single(pairs, "user_code").ok().flatten());
    let Some((session, user)) = current(app, headers).await? else {
        return Ok(sign_in_page(app, headers, &typed, ANY_DEVICE, None));
    };
    if let Some(refused) = refuse_forged(app, headers, pairs, Purpose::Device { sid: &session.sid })
    {
        return Err(refused);
    }
    let allow = match single(pairs, "decision").ok().flatten() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(bad_request(app, "The form has no decision.")),
    };
    let (rec, client) = match pending(app, addr, &typed).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(refusal.page(app, headers, &session, &user, &typed)),
    };
    if !same_tenant(&client, &user) {
        return Ok(other_tenant(app, headers, &typed, &client));
    }
    let now = app.now();
    let mut decision = if allow {
        let scope = restrict_to_user(&rec.scope, &user);
        let grant_id = store_grant(app, &rec, &client, &session, &user, &scope, now).await?;
        DeviceDecision::approve(user.id.clone(), grant_id, scope)
    } else {
        DeviceDecision::deny(user.id.clone())
    };
    decision.session_id = Some(session.sid.clone());
    decision.auth_time = Some(session.auth_time);
    let decided = app
        .store
        .decide_device_code(&rec.user_code, &decision, now)
        .await
        .map_err(|e| server_error(app, e))?;
    let Some(decided) = decided else {
        // Decided elsewhere or expired meanwhile: the grant made for it is dropped.
        if let Some(g) = &decision.grant_id {
            app.store
                .revoke_grants(GrantsOf::Grant(g), now)
                .await
                .map_err(|e| server_error(app, e))?;
        }
        return Ok(done_page(
            app,
            StatusCode::CONFLICT,
            "Code no longer valid",
            "This code has expired or was already used. Start again on your device.",
        ));
    };
    let event = if allow {
        "device_approved"
    } else {
        "device_denied"
    };
    tracing::info!(
        target: "idp::audit",
        event,
        client_id = %client.client_id,
        user_id = %user.id,
        sid = %session.sid,
        user_code = %user_code::loggable(&decided.user_code),
        grant_id = ?decided.grant_id,
        client_addr = ?addr,
        "device authorization decided"
    );
    Ok(if allow {
        done_page(
            app,
            StatusCode::OK,
            "Device connected",
            &format!(
                "{} is now connected. You can return to your device.",
                client_name(&client)
            ),
        )
    } else {
        done_page(
            app,
            StatusCode::OK,
            "Access denied",
            "You denied access. The device will not be connected.",
        )
    })
}

/// Stores the grant an approval creates: it lives as long as the device may still collect
/// its tokens, plus what they are valid for, and belongs to the session it was given in
/// (so a logout, a password change or a disabled account revoke it like any other).
async fn store_grant(
    app: &App,
    rec: &DeviceCodeRecord,
    client: &Client,
    session: &SessionRecord,
    user: &User,
    scope: &idp_core::Scope,
    now: i64,
) -> Step<String> {
    let offline = is_offline(scope, client);
    let ttl = if offline {
        app.config.refresh_token_secs()
    } else {
        app.config.access_token_secs()
    };
    let mut grant = GrantRecord::new(
        uuid::Uuid::new_v4().to_string(),
        client.client_id.clone(),
        user.id.clone(),
        now,
        rec.expires_at.max(now) + ttl,
    );
    grant.tenant_id = user.tenant_id.clone();
    grant.session_id = Some(session.sid.clone());
    grant.offline = offline;
    grant.amr = session.amr.clone();
    app.store
        .insert_grant(&grant)
        .await
        .map_err(|e| server_error(app, e))?;
    Ok(grant.grant_id)
}
