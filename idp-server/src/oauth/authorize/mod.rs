//! `GET|POST /oauth/authorize`: the authorization endpoint (RFC 6749 §4.1, OIDC Core
//! §3.1.2), in three steps: parse the request, run the person's step (sign-in or consent,
//! from `account/`), issue the code.
//!
//! The client and redirect URI are checked first; if either is wrong the browser gets an
//! HTML error page and is never redirected. Every later error is redirected back with
//! `error`, `error_description`, `state` and `iss` (RFC 9207).

mod back;
mod request;

pub(crate) use request::redirect_uri_registered;

use std::net::IpAddr;

use axum::extract::RawQuery;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::{AuthorizationCode, ErrorCode, sha256_b64url};

use crate::Error;
use crate::account::login::{self, SignIn};
use crate::account::{FormContext, consent, session};
use crate::issue::{is_offline, restrict_to, restrict_to_user};
use crate::issuer::paths;
use crate::store::{AuthCodeRecord, GrantRecord, SessionRecord, User};
use crate::web::client_addr::ClientAddr;
use crate::web::csrf::Purpose;
use crate::web::form::{Bounds, RawBody, body, decode_pairs, form_pairs, single};
use crate::web::{App, AppState, retry_after};
use back::Back;
use request::{AuthRequest, check_request};

/// The page for a request over the parameter bounds: there is no redirect, since nothing
/// of it was read.
const TOO_MANY: &str = "The request has too many parameters, or one that is too long.";

/// Early answers of a step: an error page or a redirect.
type Step<T> = Result<T, Response>;

pub(crate) async fn get(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(wait) = app.limiters.address(addr).await {
        return too_many_requests(&app, wait);
    }
    match decode_pairs(
        query.unwrap_or_default().as_bytes(),
        Bounds::of(&app.config),
    ) {
        Ok(pairs) => authorize(&app, addr, &headers, pairs, false).await,
        Err(_) => bad_request(&app, "invalid_request", TOO_MANY),
    }
}

pub(crate) async fn post(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    if let Err(wait) = app.limiters.address(addr).await {
        return too_many_requests(&app, wait);
    }
    match body(raw).and_then(|b| form_pairs(&headers, &b, Bounds::of(&app.config))) {
        Ok(pairs) => authorize(&app, addr, &headers, pairs, true).await,
        Err(_) => bad_request(
            &app,
            "invalid_request",
            "The request body must be a form of a bounded number of parameters.",
        ),
    }
}

async fn authorize(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
    after_post: bool,
) -> Response {
    let (req, back) = match parse(app, &pairs, after_post).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let person = match person_step(app, addr, headers, &pairs, &req, &back).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match finish(app, headers, &req, &back, person).await {
        Ok(resp) | Err(resp) => resp,
    }
}

fn server_error(app: &App, e: impl std::fmt::Display) -> Response {
    app.templates.server_error("authorize", e)
}

/// Over the per-address ceiling: 429 with `Retry-After`, no redirect.
fn too_many_requests(app: &App, wait: std::time::Duration) -> Response {
    let resp = app.templates.error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "Too many requests from your address. Wait a moment and try again.",
    );
    retry_after(resp, wait)
}

fn bad_request(app: &App, code: &str, message: &str) -> Response {
    app.templates.error(StatusCode::BAD_REQUEST, code, message)
}

/// The client and the redirect URI (on failure an error page and no redirect), then the
/// rest of the request (on failure an error redirect).
async fn parse<'a>(
    app: &'a App,
    pairs: &[(String, String)],
    after_post: bool,
) -> Step<(AuthRequest, Back<'a>)> {
    let (Ok(client_id), Ok(redirect)) = (single(pairs, "client_id"), single(pairs, "redirect_uri"))
    else {
        return Err(bad_request(
            app,
            "invalid_request",
            "A parameter is repeated.",
        ));
    };
    let Some(client_id) = client_id else {
        return Err(bad_request(
            app,
            "invalid_request",
            "The request has no client_id.",
        ));
    };
    let client = match app.client(client_id).await {
        Ok(Some(c)) if c.active => c,
        Ok(_) => {
            let msg = "The application is unknown or disabled.";
            return Err(bad_request(app, "invalid_client", msg));
        }
        Err(e) => return Err(server_error(app, e)),
    };
    let client_name = client.name.as_deref().unwrap_or(&client.client_id);
    let (redirect_uri, redirect_given) = match redirect {
        Some(u) if redirect_uri_registered(&client, u) => (u.to_owned(), true),
        Some(u) => {
            let msg = "The redirect URI is not registered for this application, so the \
                       request cannot be sent back to it.";
            return Err(app.templates.client_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                msg,
                client_name,
                Some(u),
            ));
        }
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            let msg = "The request has no redirect_uri.";
            return Err(app.templates.client_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                msg,
                client_name,
                None,
            ));
        }
    };
    // Returned exactly as given: the parameter bounds (`max_parameter_len`) already cap it.
    let state = match single(pairs, "state") {
        Ok(s) => s.map(str::to_owned),
        Err(_) => None,
    };
    let back = Back {
        app,
        redirect_uri,
        state,
        after_post,
    };
    let redirect = back.redirect_uri.clone();
    let mut req = match check_request(app, client, (&redirect, redirect_given), pairs) {
        Ok(req) => req,
        Err((code, msg)) => return Err(back.error(code, msg)),
    };
    // A registered tenant: its look on the pages, and only the scopes it allows.
    if let Some(t) = req.client.tenant_id.as_deref() {
        match app.tenant(t).await {
            Ok(tenant) => req.tenant = tenant,
            Err(e) => return Err(server_error(app, Error::from(e))),
        }
    }
    // Enforced scopes_supported: what the provider does not know is dropped (a client
    // registered before the configuration narrowed may still ask for it).
    if app.config.scopes_enforced() {
        req.scope = req.scope.intersection(&app.scopes_supported);
        if req.scope.is_empty() {
            let msg = "none of the requested scopes is supported";
            return Err(back.error(ErrorCode::InvalidScope, msg));
        }
    }
    if let Some(allowed) = req.tenant.as_ref().and_then(|t| t.allowed_scopes.as_ref()) {
        req.scope = restrict_to(&req.scope, allowed);
        if req.scope.is_empty() {
            let msg = "none of the requested scopes is allowed for this tenant";
            return Err(back.error(ErrorCode::InvalidScope, msg));
        }
    }
    Ok((req, back))
}

/// Where the person stands after the form they submitted, if any.
#[derive(Debug, Default)]
struct Person {
    session: Option<(SessionRecord, User)>,
    /// A new session cookie to set.
    set_cookie: Option<HeaderValue>,
    /// Signed in (or confirmed) by this very request: no reason to ask again.
    fresh_login: bool,
    just_consented: bool,
}

fn form_context(req: &AuthRequest) -> FormContext<'_> {
    FormContext {
        tenant: req.tenant.as_deref(),
        action: paths::AUTHORIZE,
        params: &req.params,
        client_name: req.client.name.as_deref().unwrap_or(&req.client.client_id),
        client_id: Some(&req.client.client_id),
    }
}

/// The session, and the login or consent form this request submits (`_action`).
async fn person_step(
    app: &App,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    req: &AuthRequest,
    back: &Back<'_>,
) -> Step<Person> {
    let action = single(pairs, "_action").ok().flatten();
    if action.is_some() && !back.after_post {
        let msg = "The form must be submitted with POST.";
        return Err(bad_request(app, "invalid_request", msg));
    }
    // Before anything else reads the form: a sign-in form's token, bound to no session.
    // (`two_factor`: the second step of a sign-in, see `account::second_factor`.)
    if matches!(action, Some("login" | "two_factor"))
        && let Some(refused) = refuse_forged(app, headers, pairs, Purpose::Login)
    {
        return Err(refused);
    }
    let tenant = req.client.tenant_id.as_deref();
    let mut person = Person {
        session: match session::current(app, headers).await {
            Ok(s) => s.filter(|(_, u)| u.tenant_id.as_deref() == tenant),
            Err(e) => return Err(server_error(app, e)),
        },
        ..Person::default()
    };
    let form = form_context(req);
    match action {
        Some("login" | "two_factor") => {
            match login::sign_in(app, headers, pairs, tenant, addr, form).await {
                Ok(SignIn::Done(signed_in, cookie)) => {
                    person.session = Some(*signed_in);
                    person.set_cookie = Some(cookie);
                    person.fresh_login = true;
                }
                Ok(SignIn::Refused(resp)) => return Err(resp),
                Err(e) => return Err(server_error(app, e)),
            }
        }
        Some("consent") => {
            let Some((session, user)) = &person.session else {
                return Err(login::page(app, headers, form, StatusCode::OK, None, ""));
            };
            // A consent form's token is bound to the session it was shown to.
            let purpose = Purpose::Consent { sid: &session.sid };
            if let Some(refused) = refuse_forged(app, headers, pairs, purpose) {
                return Err(refused);
            }
            if single(pairs, "decision").ok().flatten() != Some("allow") {
                return Err(back.error(ErrorCode::AccessDenied, "the user denied the request"));
            }
            let scope = restrict_to_user(&req.scope, user);
            if let Err(e) = consent::record(app, user, &req.client.client_id, &scope).await {
                return Err(server_error(app, e));
            }
            person.just_consented = true;
            // The consent form is shown only after sign-in passed every check of this
            // request (prompt=login, max_age, id_token_hint); do not ask again.
            person.fresh_login = true;
        }
        Some(_) => return Err(bad_request(app, "invalid_request", "Unknown form action.")),
        None => {}
    }
    Ok(person)
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

fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Sign-in when needed (no session, `prompt=login`, a session older than `max_age`, or an
/// `id_token_hint` naming another user), consent when needed (clients that are not
/// first-party), then the code.
async fn finish(
    app: &App,
    headers: &HeaderMap,
    req: &AuthRequest,
    back: &Back<'_>,
    person: Person,
) -> Step<Response> {
    let now = app.now();
    let form = form_context(req);
    let session = person.session.filter(|(s, u)| {
        person.fresh_login
            || !(req.prompt.login
                || req.max_age.is_some_and(|m| s.auth_time + m < now)
                || req.hint_sub.as_ref().is_some_and(|sub| *sub != u.id))
    });
    let Some((session, user)) = session else {
        if req.prompt.none {
            return Err(back.error(ErrorCode::LoginRequired, "the user is not signed in"));
        }
        let email = req.login_hint.as_deref().unwrap_or_default();
        return Err(login::page(app, headers, form, StatusCode::OK, None, email));
    };
    let scope = restrict_to_user(&req.scope, &user);
    if !req.client.first_party && !person.just_consented {
        let covered = consent::covers(app, &user, &req.client.client_id, &scope)
            .await
            .map_err(|e| server_error(app, e))?;
        if !covered || req.prompt.consent {
            if req.prompt.none {
                return Err(back.error(ErrorCode::ConsentRequired, "the user has not consented"));
            }
            // A first-party application needs no introduction (and is not asked for
            // consent today); any other names where the person goes next.
            let back_to = (!req.client.first_party).then_some(back.redirect_uri.as_str());
            let page = consent::page(app, headers, form, (&session, &user), &scope, back_to);
            return Ok(with_cookie(page, person.set_cookie));
        }
    }
    let code = issue_code(app, req, back, &session, &user, scope).await?;
    Ok(with_cookie(
        back.to(&[("code", code.secret())]),
        person.set_cookie,
    ))
}

/// Stores a new code (60 s, single use) for the request and returns it.
async fn issue_code(
    app: &App,
    req: &AuthRequest,
    back: &Back<'_>,
    session: &SessionRecord,
    user: &User,
    scope: idp_core::Scope,
) -> Step<AuthorizationCode> {
    let now = app.now();
    let code = AuthorizationCode::generate();
    let mut rec = AuthCodeRecord::new(
        sha256_b64url(code.secret().as_bytes()),
        req.client.client_id.clone(),
        user.id.clone(),
        if req.redirect_given {
            back.redirect_uri.clone()
        } else {
            String::new()
        },
        uuid::Uuid::new_v4().to_string(),
        now,
        now + 60,
    );
    rec.scope = scope;
    rec.nonce = req.nonce.clone();
    rec.code_challenge = req.challenge.as_ref().map(|c| c.as_str().to_owned());
    rec.auth_time = session.auth_time;
    rec.session_id = Some(session.sid.clone());
    // The grant exists from the code on, so that a logout before the exchange, or a
    // replayed code, can revoke it.
    let offline = is_offline(&rec.scope, &req.client);
    let ttl = if offline {
        app.config.refresh_token_secs()
    } else {
        app.config.access_token_secs()
    };
    let mut grant = GrantRecord::new(
        rec.grant_id.clone(),
        req.client.client_id.clone(),
        user.id.clone(),
        now,
        now + 60 + ttl,
    );
    grant.tenant_id = user.tenant_id.clone();
    grant.session_id = Some(session.sid.clone());
    grant.offline = offline;
    grant.amr = session.amr.clone();
    app.store
        .insert_grant(&grant)
        .await
        .map_err(|e| server_error(app, e))?;
    app.store
        .insert_code(&rec)
        .await
        .map_err(|e| server_error(app, e))?;
    Ok(code)
}
